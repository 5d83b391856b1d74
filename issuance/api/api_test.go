package api_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/issuance"
)

func TestAPI(t *testing.T) {
	s, d := mustService(t)
	ctx := context.Background()
	other := mustGroup(t, s, func(g *issuance.Group) { g.Name = "Other" })
	principals := map[string]*auth.Principal{
		"owner":  {TokenID: 1, Name: "ci", Role: auth.Owner},
		"viewer": {TokenID: 2, Name: "ro", Role: auth.Viewer},
		// A team member limited to the "Other" group.
		"limited": {UserID: 3, Email: "tm@example.edu", Role: auth.TeamMember, Groups: []int64{other.ID}},
	}
	srv := apiServer(t, s, principals)
	api := apiClient{T: t, URL: srv.URL}

	// Groups.
	code, body := api.Do("owner", "POST", "/groups", map[string]any{"name": "API Course", "course_name": "API 101", "validity_months": 12,
		"attributes": []map[string]any{{"key": "hours", "label": "Hours", "type": "number", "required": true}}})
	if code != 201 || body["name"] != "API Course" || body["design_id"] == float64(0) || body["validity_months"] != float64(12) {
		t.Fatalf("create group: %d %v", code, body)
	}
	gid := int64(body["id"].(float64))
	gp := "/groups/" + itoa(int(gid))
	if code, body = api.Do("owner", "POST", "/groups", map[string]any{"name": ""}); code != 422 || len(body["errors"].([]any)) != 2 {
		t.Fatalf("bad group: %d %v", code, body)
	}
	if code, body = api.Do("owner", "POST", "/groups", `{"name": "x", "course_name": "y", "nmae": 1}`); code != 400 || !strings.Contains(body["error"].(map[string]any)["message"].(string), "nmae") {
		t.Fatalf("unknown field: %d %v", code, body)
	}
	if code, body = api.Do("owner", "POST", "/groups", `{not json`); code != 400 {
		t.Fatalf("bad json: %d %v", code, body)
	}
	if code, body = api.Do("viewer", "POST", "/groups", map[string]any{"name": "x", "course_name": "y"}); code != 403 || errCode(body) != "forbidden" {
		t.Fatalf("viewer creates group: %d %v", code, body)
	}
	if code, body = api.Do("", "GET", "/groups", nil); code != 401 || errCode(body) != "unauthorized" {
		t.Fatalf("anonymous: %d %v", code, body)
	}
	if code, body = api.Do("viewer", "GET", "/groups", nil); code != 200 || len(body["groups"].([]any)) != 2 {
		t.Fatalf("list groups: %d %v", code, body)
	}
	if code, body = api.Do("limited", "GET", "/groups", nil); code != 200 || len(body["groups"].([]any)) != 1 {
		t.Fatalf("limited list: %d %v", code, body)
	}
	if code, body = api.Do("viewer", "GET", gp, nil); code != 200 || body["course_name"] != "API 101" {
		t.Fatalf("get group: %d %v", code, body)
	}
	if code, _ = api.Do("limited", "GET", gp, nil); code != 403 {
		t.Fatalf("limited member reads another group: %d", code)
	}
	if code, _ = api.Do("owner", "GET", "/groups/999", nil); code != 404 {
		t.Fatalf("unknown group: %d", code)
	}
	if code, body = api.Do("owner", "PATCH", gp, map[string]any{"description": "Learn APIs", "validity_months": nil}); code != 200 ||
		body["description"] != "Learn APIs" || body["name"] != "API Course" || body["validity_months"] != nil || len(body["attributes"].([]any)) != 1 {
		t.Fatalf("patch group: %d %v", code, body)
	}

	// Batch create: one bad item → 422 with per-item errors, nothing created.
	snap := tableCounts(t, d)
	code, body = api.Do("owner", "POST", gp+"/credentials", map[string]any{"credentials": []map[string]any{
		{"recipient": map[string]any{"name": "Ada", "email": "ada@example.edu"}, "issued_on": "2026-06-30", "attributes": map[string]any{"hours": 12}},
		{"recipient": map[string]any{"name": "", "email": "bad"}, "issued_on": "2026-06-31", "attributes": map[string]any{"hours": "many", "x": "y"}},
	}})
	if code != 422 || errCode(body) != "invalid" {
		t.Fatalf("bad batch: %d %v", code, body)
	}
	var got []string
	for _, e := range body["errors"].([]any) {
		m := e.(map[string]any)
		got = append(got, itoa(int(m["index"].(float64)))+":"+m["field"].(string))
	}
	if diff := cmp.Diff([]string{"1:recipient.name", "1:recipient.email", "1:issued_on", "1:attributes.x", "1:attributes.hours"}, got); diff != "" {
		t.Fatalf("per-item errors:\n%s", diff)
	}
	assertUnchanged(t, d, snap)

	code, body = api.Do("owner", "POST", gp+"/credentials", map[string]any{"credentials": []map[string]any{
		{"recipient": map[string]any{"name": "Ada", "email": "ada@example.edu"}, "issued_on": "2026-06-30", "attributes": map[string]any{"hours": 12}},
		{"recipient": map[string]any{"name": "Grace", "email": "grace@example.edu"}, "issued_on": "2026-06-30", "expires_on": "2027-01-01", "attributes": map[string]any{"hours": "7.5"}},
	}})
	if code != 201 {
		t.Fatalf("create: %d %v", code, body)
	}
	creds := body["credentials"].([]any)
	c0 := creds[0].(map[string]any)
	id0 := c0["id"].(string)
	id1 := creds[1].(map[string]any)["id"].(string)
	if c0["state"] != "unpublished" || c0["url"] != "https://laurel.test/c/"+id0 || c0["issued_on"] != "2026-06-30" ||
		c0["expires_on"] != nil || c0["source"] != "api" || c0["attributes"].(map[string]any)["hours"] != "12" ||
		c0["recipient"].(map[string]any)["email"] != "ada@example.edu" || c0["group_id"] != float64(gid) {
		t.Fatalf("credential object: %v", c0)
	}
	if code, body = api.Do("limited", "POST", gp+"/credentials", map[string]any{"credentials": []any{}}); code != 403 {
		t.Fatalf("limited create: %d %v", code, body)
	}
	if code, _ = api.Do("viewer", "POST", gp+"/credentials", map[string]any{"credentials": []any{}}); code != 403 {
		t.Fatalf("viewer create: %d", code)
	}
	// Already held → 422 naming the email.
	code, body = api.Do("owner", "POST", gp+"/credentials", map[string]any{"credentials": []map[string]any{
		{"recipient": map[string]any{"name": "Ada", "email": "ADA@example.edu"}, "issued_on": "2026-06-30", "attributes": map[string]any{"hours": 1}}}})
	if code != 422 || !strings.Contains(body["errors"].([]any)[0].(map[string]any)["message"].(string), "ADA@example.edu") {
		t.Fatalf("held: %d %v", code, body)
	}

	// List with cursor.
	code, body = api.Do("viewer", "GET", gp+"/credentials?state=unpublished&limit=1", nil)
	if code != 200 || len(body["credentials"].([]any)) != 1 || body["next_cursor"] == nil {
		t.Fatalf("list page 1: %d %v", code, body)
	}
	code, body = api.Do("viewer", "GET", gp+"/credentials?state=unpublished&limit=1&cursor="+body["next_cursor"].(string), nil)
	if code != 200 || len(body["credentials"].([]any)) != 1 || body["next_cursor"] != nil {
		t.Fatalf("list page 2: %d %v", code, body)
	}
	if code, body = api.Do("viewer", "GET", gp+"/credentials?state=bogus", nil); code != 422 {
		t.Fatalf("bad state: %d %v", code, body)
	}
	if code, _ = api.Do("limited", "GET", gp+"/credentials", nil); code != 403 {
		t.Fatalf("limited list: %d", code)
	}

	// Get and patch.
	if code, body = api.Do("viewer", "GET", "/credentials/"+id0, nil); code != 200 || body["id"] != id0 {
		t.Fatalf("get: %d %v", code, body)
	}
	if code, _ = api.Do("owner", "GET", "/credentials/"+strings.Repeat("b", 32), nil); code != 404 {
		t.Fatalf("unknown credential: %d", code)
	}
	if code, _ = api.Do("viewer", "PATCH", "/credentials/"+id0, map[string]any{"recipient": map[string]any{"name": "X"}}); code != 403 {
		t.Fatalf("viewer patch: %d", code)
	}
	code, body = api.Do("owner", "PATCH", "/credentials/"+id0, map[string]any{"recipient": map[string]any{"name": "Ada Lovelace"}, "expires_on": "2030-01-01"})
	if code != 200 || body["recipient"].(map[string]any)["name"] != "Ada Lovelace" || body["recipient"].(map[string]any)["email"] != "ada@example.edu" ||
		body["expires_on"] != "2030-01-01" || body["attributes"].(map[string]any)["hours"] != "12" {
		t.Fatalf("patch: %d %v", code, body)
	}
	if code, body = api.Do("owner", "PATCH", "/credentials/"+id0, map[string]any{"expires_on": "2020-01-01"}); code != 422 || body["errors"].([]any)[0].(map[string]any)["field"] != "expires_on" {
		t.Fatalf("bad patch: %d %v", code, body)
	}

	// Publish: the viewer may not; the owner publishes and queues emails.
	if code, _ = api.Do("viewer", "POST", "/credentials/publish", map[string]any{"ids": []string{id0}}); code != 403 {
		t.Fatalf("viewer publish: %d", code)
	}
	if code, _ = api.Do("limited", "POST", "/credentials/publish", map[string]any{"ids": []string{id0}}); code != 403 {
		t.Fatalf("limited publish: %d", code)
	}
	if code, body = api.Do("owner", "POST", "/credentials/publish", map[string]any{"ids": []string{}}); code != 422 {
		t.Fatalf("empty publish: %d %v", code, body)
	}
	if code, body = api.Do("owner", "POST", "/credentials/publish", map[string]any{"ids": []string{id0, id1}}); code != 200 || body["published"] != float64(2) || body["emails"] != float64(2) {
		t.Fatalf("publish: %d %v", code, body)
	}
	if n := jobCount(t, d, issuance.EmailJob); n != 2 {
		t.Fatalf("%d jobs", n)
	}

	// Resend and revoke.
	if code, body = api.Do("owner", "POST", "/credentials/"+id0+"/resend", nil); code != 202 {
		t.Fatalf("resend: %d %v", code, body)
	}
	if code, body = api.Do("owner", "POST", "/credentials/"+id0+"/revoke", map[string]any{}); code != 422 || body["errors"].([]any)[0].(map[string]any)["field"] != "reason" {
		t.Fatalf("revoke without reason: %d %v", code, body)
	}
	if code, _ = api.Do("viewer", "POST", "/credentials/"+id0+"/revoke", map[string]any{"reason": "x"}); code != 403 {
		t.Fatalf("viewer revoke: %d", code)
	}
	code, body = api.Do("owner", "POST", "/credentials/"+id0+"/revoke", map[string]any{"reason": "Duplicate record"})
	if code != 200 || body["state"] != "revoked" || body["revocation_reason"] != "Duplicate record" || body["revoked_at"] == nil {
		t.Fatalf("revoke: %d %v", code, body)
	}
	if code, body = api.Do("owner", "POST", "/credentials/"+id0+"/revoke", map[string]any{"reason": "again"}); code != 409 || errCode(body) != "conflict" {
		t.Fatalf("revoke twice: %d %v", code, body)
	}
	if code, _ = api.Do("owner", "POST", "/credentials/"+id0+"/resend", nil); code != 409 {
		t.Fatalf("resend revoked: %d", code)
	}
	h, _ := s.History(ctx, id0)
	if len(h) != 5 || h[0].Actor != "token:1:ci" {
		t.Fatalf("history %+v", h)
	}
}
