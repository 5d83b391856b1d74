package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/lti"
	"github.com/laurel-edu/laurel/lti/course"
)

// An API token limited to group A acts exactly like an account limited to
// A, through the real Bearer authentication: every API route (groups,
// credentials, publish, revoke, mappings) answers 403 or 404 for group B and
// its credentials and mappings, leaving the database unchanged, and works for
// group A.
func TestGroupLimitedTokenOnEveryAPIRoute(t *testing.T) {
	app := mustRun(t)
	ctx := context.Background()
	ga, err := app.Issuance.CreateGroup(ctx, "test", issuance.Group{Name: "Group A", CourseName: "A 101", Language: "en"})
	if err != nil {
		t.Fatal(err)
	}
	gb, err := app.Issuance.CreateGroup(ctx, "test", issuance.Group{Name: "Group B", CourseName: "B 101", Language: "en"})
	if err != nil {
		t.Fatal(err)
	}
	item := func(name string) issuance.NewCredential {
		return issuance.NewCredential{Recipient: issuance.Recipient{Name: name, Email: name + "@example.edu"}, IssuedOn: "2026-06-30"}
	}
	credsA, err := app.Issuance.CreateCredentials(ctx, "test", ga.ID, issuance.FromAPI, []issuance.NewCredential{item("alice"), item("amir")})
	if err != nil {
		t.Fatal(err)
	}
	credsB, err := app.Issuance.CreateCredentials(ctx, "test", gb.ID, issuance.FromAPI, []issuance.NewCredential{item("bob"), item("bea")})
	if err != nil {
		t.Fatal(err)
	}
	pl, err := app.LTI.Registry().AddPlatform(ctx, lti.PlatformInput{Name: "Canvas", Issuer: "https://canvas.instructure.com",
		ClientID: "170000000000077", DeploymentIDs: []string{"1:abc"}})
	if err != nil {
		t.Fatal(err)
	}
	mapping := func(courseID string, group int64) course.Mapping {
		t.Helper()
		rule := "manual"
		m, err := app.Course.CreateMapping(ctx, "test", course.MappingInput{PlatformID: &pl.ID, CanvasCourseID: &courseID, GroupID: &group, CompletionRule: &rule})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	ma, mb := mapping("101", ga.ID), mapping("202", gb.ID)

	limited, err := app.Accounts.CreateToken(ctx, "registrar script", auth.TeamMember, ga.ID)
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path string, body any) (int, map[string]any) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			j, _ := json.Marshal(body)
			rd = bytes.NewReader(j)
		}
		req, _ := http.NewRequest(method, app.URL+"/api/v1"+path, rd)
		req.Header.Set("Authorization", "Bearer "+limited)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		raw, _ := io.ReadAll(resp.Body)
		json.Unmarshal(raw, &out)
		return resp.StatusCode, out
	}
	// Scheduled jobs (reconciliation) re-enqueue themselves in the background
	// while the app runs: only the jobs a request could queue count.
	snapshot := func() string {
		t.Helper()
		var s string
		const q = `SELECT (SELECT count(*) FROM groups)::text || '/' || (SELECT count(*) FROM jobs WHERE schedule IS NULL)::text || '/' ||
			(SELECT count(*) FROM audit_log)::text || '/' || (SELECT count(*) FROM course_mappings)::text || '/' ||
			COALESCE((SELECT string_agg(id || state || recipient_name || recipient_email, ',' ORDER BY seq) FROM credentials), '') || '/' ||
			COALESCE((SELECT string_agg(name || course_name, ',' ORDER BY id) FROM groups), '') || '/' ||
			COALESCE((SELECT string_agg(id::text || group_id::text || completion_rule || auto_publish::text, ',' ORDER BY id) FROM course_mappings), '')`
		if err := app.DB.Get(&s, q); err != nil {
			t.Fatal(err)
		}
		return s
	}

	b, cb, mB := fmt.Sprint(gb.ID), credsB[0].ID, fmt.Sprint(mb.ID)
	refused := []struct {
		method, path string
		body         any
	}{
		{"POST", "/groups", map[string]any{"name": "New", "course_name": "New"}},
		{"GET", "/groups/" + b, nil},
		{"PATCH", "/groups/" + b, map[string]any{"name": "Renamed"}},
		{"POST", "/groups/" + b + "/credentials", map[string]any{"credentials": []any{map[string]any{"recipient": map[string]any{"name": "X", "email": "x@example.edu"}, "issued_on": "2026-06-30"}}}},
		{"GET", "/groups/" + b + "/credentials", nil},
		{"GET", "/groups/" + b + "/credentials?state=unpublished", nil},
		{"GET", "/credentials/" + cb, nil},
		{"PATCH", "/credentials/" + cb, map[string]any{"recipient": map[string]any{"name": "Changed"}}},
		{"POST", "/credentials/publish", map[string]any{"ids": []string{cb}}},
		{"POST", "/credentials/publish", map[string]any{"ids": []string{credsA[0].ID, cb}}},
		{"POST", "/credentials/publish", map[string]any{"group_id": gb.ID, "all_unpublished": true}},
		{"POST", "/credentials/publish", map[string]any{"ids": []string{cb}, "publish_at": "2099-01-01T09:00:00Z"}},
		{"POST", "/credentials/" + cb + "/revoke", map[string]any{"reason": "x"}},
		{"POST", "/credentials/" + cb + "/resend", nil},
		{"POST", "/mappings", map[string]any{"platform_id": pl.ID, "canvas_course_id": "303", "group_id": gb.ID}},
		{"GET", "/mappings/" + mB, nil},
		{"PATCH", "/mappings/" + mB, map[string]any{"auto_publish": true}},
		{"PATCH", "/mappings/" + fmt.Sprint(ma.ID), map[string]any{"group_id": gb.ID}},
		{"DELETE", "/mappings/" + mB, nil},
		{"POST", "/mappings/" + mB + "/reconcile", nil},
	}
	// Creating a group is refused while the owner keeps limited members
	// from it (on by default; see the end).
	setLimitedCreate := func(on bool) {
		t.Helper()
		o, err := app.Issuance.Organisation(ctx)
		if err != nil {
			t.Fatal(err)
		}
		o.LimitedMembersCreateGroups = on
		if _, err := app.Issuance.UpdateOrganisation(ctx, "test", issuance.OrganisationUpdate{Organisation: o}); err != nil {
			t.Fatal(err)
		}
	}
	setLimitedCreate(false)
	before := snapshot()
	for _, r := range refused {
		code, body := call(r.method, r.path, r.body)
		if code != http.StatusForbidden && code != http.StatusNotFound {
			t.Errorf("%s %s with a token limited to group A: %d %v, want 403 or 404", r.method, r.path, code, body)
		}
	}
	if after := snapshot(); after != before {
		t.Fatalf("refused requests changed the database:\n%s\n%s", before, after)
	}
	// Lists show group A's only.
	if code, body := call("GET", "/groups", nil); code != 200 || len(body["groups"].([]any)) != 1 ||
		body["groups"].([]any)[0].(map[string]any)["name"] != "Group A" {
		t.Errorf("GET /groups: %d %v, want group A alone", code, body)
	}
	for _, path := range []string{"/mappings", "/mappings?group_id=" + b} {
		code, body := call("GET", path, nil)
		list, _ := body["mappings"].([]any)
		for _, m := range list {
			if m.(map[string]any)["group_id"] != float64(ga.ID) {
				t.Errorf("GET %s lists a mapping of another group: %v", path, m)
			}
		}
		if code != 200 || (path == "/mappings" && len(list) != 1) {
			t.Errorf("GET %s: %d %v", path, code, body)
		}
	}

	// Group A: every route works.
	a, ca := fmt.Sprint(ga.ID), credsA[0].ID
	allowed := []struct {
		method, path string
		body         any
		want         int
	}{
		{"GET", "/groups/" + a, nil, 200},
		{"PATCH", "/groups/" + a, map[string]any{"description": "Now described"}, 200},
		{"POST", "/groups/" + a + "/credentials", map[string]any{"credentials": []any{map[string]any{"recipient": map[string]any{"name": "Ada", "email": "ada@example.edu"}, "issued_on": "2026-06-30"}}}, 201},
		{"GET", "/groups/" + a + "/credentials", nil, 200},
		{"GET", "/credentials/" + ca, nil, 200},
		{"PATCH", "/credentials/" + ca, map[string]any{"recipient": map[string]any{"name": "Alice Liddell"}}, 200},
		{"POST", "/credentials/publish", map[string]any{"ids": []string{ca}}, 200},
		{"POST", "/credentials/" + ca + "/resend", nil, 202},
		{"POST", "/credentials/" + credsA[1].ID + "/revoke", map[string]any{"reason": "issued in error"}, 200},
		{"POST", "/mappings", map[string]any{"platform_id": pl.ID, "canvas_course_id": "404", "group_id": ga.ID}, 201},
		{"GET", "/mappings/" + fmt.Sprint(ma.ID), nil, 200},
		{"PATCH", "/mappings/" + fmt.Sprint(ma.ID), map[string]any{"completion_rule": "canvas_completion"}, 200},
		{"DELETE", "/mappings/" + fmt.Sprint(ma.ID), nil, 204},
	}
	for _, r := range allowed {
		if code, body := call(r.method, r.path, r.body); code != r.want {
			t.Errorf("%s %s on group A: %d %v, want %d", r.method, r.path, code, body, r.want)
		}
	}
	var published, revoked int
	app.DB.Get(&published, `SELECT count(*) FROM credentials WHERE group_id = $1 AND state = 'published'`, ga.ID)
	app.DB.Get(&revoked, `SELECT count(*) FROM credentials WHERE group_id = $1 AND state = 'revoked'`, ga.ID)
	if published != 1 || revoked != 1 {
		t.Errorf("group A: %d published, %d revoked; want 1 and 1", published, revoked)
	}

	// With the setting on, the token creates a group, which joins its limit.
	setLimitedCreate(true)
	code, body := call("POST", "/groups", map[string]any{"name": "Made by the script", "course_name": "S 1"})
	if code != http.StatusCreated {
		t.Fatalf("POST /groups with the setting on: %d %v", code, body)
	}
	if code, body := call("GET", fmt.Sprintf("/groups/%v", body["id"]), nil); code != 200 {
		t.Errorf("the token cannot read the group it created: %d %v", code, body)
	}
	if code, body := call("GET", "/groups/"+b, nil); code != 403 && code != 404 {
		t.Errorf("creating a group widened the limit beyond it: group B %d %v", code, body)
	}
}
