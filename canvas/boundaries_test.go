package canvas_test

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
)

// sqlTables finds the tables a package's SQL names: every string literal of
// its non-test files, after FROM, JOIN, INTO, UPDATE or REFERENCES.
func sqlTables(t *testing.T, dir string) map[string][]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	// The project writes SQL keywords in capitals; "DO UPDATE SET" and
	// "FOR UPDATE SKIP LOCKED" name no table.
	re := regexp.MustCompile(`\b(?:FROM|JOIN|INTO|UPDATE|REFERENCES)\s+([a-z_][a-z0-9_]*)`)
	notTables := map[string]bool{"set": true, "skip": true, "of": true, "nowait": true}
	out := map[string][]string{}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(af, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			for _, m := range re.FindAllStringSubmatch(s, -1) {
				if !notTables[m[1]] {
					out[m[1]] = append(out[m[1]], fset.Position(lit.Pos()).String())
				}
			}
			return true
		})
	}
	return out
}

// Package canvas reads and writes only its own tables: credentials go
// through issuance's API, platforms through lti's registry, course mappings
// through package course.
func TestCanvasSQLTouchesOnlyCanvasTables(t *testing.T) {
	own := map[string]bool{"unnest": true}
	tables := sqlTables(t, ".")
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
