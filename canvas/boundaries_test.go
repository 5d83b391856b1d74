package canvas_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/internal/testenv/boundary"
)

// Package canvas reads and writes only its own tables: credentials go
// through issuance's API, platforms through lti's registry, course mappings
// through package course.
func TestCanvasSQLTouchesOnlyCanvasTables(t *testing.T) {
	own := map[string]bool{"unnest": true}
	tables := boundary.SQLTables(t, ".")
	if len(tables) == 0 {
		t.Fatal("no SQL found in package canvas: the scan is broken")
	}
	for table, where := range tables {
		if !own[table] && !strings.HasPrefix(table, "canvas_") {
			t.Errorf("package canvas names table %s (owned by another package) at %v", table, where)
		}
	}
}

// The credentials a reconciliation creates are answered in the one JSON
// shape of a credential: exactly what GET /api/v1/credentials/:id answers.
func TestReconcileAnswersTheCredentialShape(t *testing.T) {
	e := newEnv(t)
	m := e.mustMap("720", false)
	done := time.Now()
	e.rest.AddStudents("720", canvassim.RESTStudent{ID: "1", Name: "Solo Ünal", Email: "solo@example.com", CompletedAt: &done})
	tok := e.token("admin")
	st, body := e.api("POST", fmt.Sprintf("/mappings/%d/reconcile", m.ID), tok, "")
	if st != 200 {
		t.Fatalf("reconcile: %d %s", st, body)
	}
	var res struct {
		Created []map[string]any `json:"created"`
	}
	if err := json.Unmarshal([]byte(body), &res); err != nil || len(res.Created) != 1 {
		t.Fatalf("reconcile answer %s (%v)", body, err)
	}
	id, _ := res.Created[0]["id"].(string)
	st, body = e.api("GET", "/credentials/"+id, tok, "")
	if st != 200 {
		t.Fatalf("get credential %q: %d %s", id, st, body)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, res.Created[0]); diff != "" {
		t.Fatalf("reconciliation's credential differs from the API's (-api +reconcile):\n%s", diff)
	}
	for _, k := range []string{"evidence_url", "updated_at", "attributes", "expires_on", "url"} {
		if _, ok := res.Created[0][k]; !ok {
			t.Errorf("the credential lacks %q: %v", k, res.Created[0])
		}
	}
}
