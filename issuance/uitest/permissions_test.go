package uitest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/auth"
)

func forbidden(t *testing.T, r response, what string) {
	t.Helper()
	if r.code != http.StatusForbidden || !strings.Contains(r.body, "403 Forbidden") {
		t.Errorf("%s: status %d, want a 403 page\n%s", what, r.code, r.body)
	}
}

// A viewer sees a group's credentials but has no buttons to change them, and
// every change they POST anyway is a 403 page that changes nothing.
func TestViewerCannotChange(t *testing.T) {
	e := mustEnv(t)
	e.seed(e.group.ID, 3)
	var id string
	if err := e.db.Get(&id, `SELECT id FROM credentials LIMIT 1`); err != nil {
		t.Fatal(err)
	}
	v := e.signIn("viewer@example.edu", auth.Viewer)
	g := gid(e.group)

	r := v.get("/groups/" + g + "/unpublished")
	if r.code != 200 {
		t.Fatalf("viewer list: %d", r.code)
	}
	contains(t, r.body, "Learner 1")
	for _, button := range []string{`id="publish"`, `id="select-all"`, `name="ids"`, `id="tab-create"`} {
		if strings.Contains(r.body, button) {
			t.Errorf("viewer sees %s", button)
		}
	}
	r = v.get("/credentials/" + id)
	if r.code != 200 || strings.Contains(r.body, `id="amend-form"`) || strings.Contains(r.body, `id="publish-one"`) {
		t.Errorf("viewer credential page: %d, with change controls", r.code)
	}
	if strings.Contains(v.get("/groups").body, `href="/groups/new"`) {
		t.Error("viewer offered New group")
	}

	before := e.snapshot()
	forbidden(t, v.post("/groups/"+g+"/publish", url.Values{"all": {"1"}}), "viewer publish all")
	forbidden(t, v.post("/groups/"+g+"/publish", url.Values{"ids": {id}}), "viewer publish ids")
	forbidden(t, v.post("/groups/"+g+"/publish/confirm", url.Values{"ids": {id}}), "viewer confirm")
	forbidden(t, v.post("/groups/"+g+"/credentials/new", url.Values{"action": {"create"}, "name_0": {"X"}, "email_0": {"x@example.edu"}, "issued_on_0": {"2026-01-01"}, "attr_grade_0": {"A"}}), "viewer create")
	forbidden(t, v.get("/groups/"+g+"/credentials/new"), "viewer create form")
	forbidden(t, v.post("/credentials/"+id, url.Values{"name": {"Changed"}}), "viewer amend")
	forbidden(t, v.post("/credentials/"+id+"/revoke", url.Values{"reason": {"x"}}), "viewer revoke")
	forbidden(t, v.post("/credentials/"+id+"/revoke", url.Values{"reason": {"x"}, "confirm": {"1"}}), "viewer revoke confirmed")
	forbidden(t, v.get("/credentials/"+id+"/delete"), "viewer delete confirm page")
	forbidden(t, v.post("/credentials/"+id+"/delete", nil), "viewer delete")
	forbidden(t, v.post("/credentials/"+id+"/resend", nil), "viewer resend")
	forbidden(t, v.post("/groups/new", url.Values{"name": {"G"}, "course_name": {"C"}}), "viewer new group")
	forbidden(t, v.post("/groups/"+g+"/edit", url.Values{"name": {"G"}, "course_name": {"C"}}), "viewer edit group")
	forbidden(t, v.post("/designs/new", url.Values{"name": {"D"}}), "viewer new design")
	if after := e.snapshot(); after != before {
		t.Fatalf("viewer changed the database:\n%s\n%s", before, after)
	}
	if n := e.count(`SELECT count(*) FROM credentials WHERE state = 'published'`); n != 0 {
		t.Fatalf("viewer published %d", n)
	}
}

// A team member limited to one group sees and works in it only: every page
// and action of another group is a 403 page.
func TestTeamMemberOutsideGroups(t *testing.T) {
	e := mustEnv(t)
	e.seed(e.other.ID, 2)
	var otherID string
	if err := e.db.Get(&otherID, `SELECT id FROM credentials WHERE group_id = $1 LIMIT 1`, e.other.ID); err != nil {
		t.Fatal(err)
	}
	tm := e.signIn("tm@example.edu", auth.TeamMember, e.group.ID)

	r := tm.get("/groups")
	contains(t, r.body, "Data Science 101")
	if strings.Contains(r.body, "Other Course") {
		t.Error("team member sees a group outside their limit")
	}
	// Their own group works.
	if r := tm.get("/groups/" + gid(e.group) + "/credentials/new"); r.code != 200 {
		t.Fatalf("own group: %d", r.code)
	}

	o := gid(e.other)
	e.setLimitedCreate(false) // creating groups is their right only while the owner allows it
	before := e.snapshot()
	for _, p := range []string{"/groups/" + o, "/groups/" + o + "/unpublished", "/groups/" + o + "/published", "/groups/" + o + "/credentials/new", "/groups/" + o + "/edit", "/credentials/" + otherID, "/credentials/" + otherID + "/preview"} {
		forbidden(t, tm.get(p), "GET "+p)
	}
	forbidden(t, tm.post("/groups/"+o+"/publish", url.Values{"all": {"1"}}), "publish other group")
	forbidden(t, tm.post("/groups/"+o+"/credentials/new", url.Values{"action": {"create"}, "name_0": {"X"}, "email_0": {"x@example.edu"}, "issued_on_0": {"2026-01-01"}}), "create in other group")
	forbidden(t, tm.post("/credentials/"+otherID, url.Values{"name": {"Changed"}}), "amend in other group")
	forbidden(t, tm.post("/groups/new", url.Values{"name": {"G"}, "course_name": {"C"}}), "limited member creating a group while the owner does not allow it")
	// Smuggling another group's IDs through their own group's publish form
	// publishes nothing: the selection is limited to the group in the URL.
	r = tm.post("/groups/"+gid(e.group)+"/publish/confirm", url.Values{"ids": {otherID}})
	if r.code != http.StatusSeeOther {
		t.Errorf("confirm with a foreign id: %d", r.code)
	}
	tm.post("/groups/"+gid(e.group)+"/publish", url.Values{"ids": {otherID}})
	if after := e.snapshot(); after != before {
		t.Fatalf("team member changed another group:\n%s\n%s", before, after)
	}
}

// A forged cross-site form post (a page elsewhere making the signed-in
// staff member's browser publish) is refused before any handler runs.
func TestForgedCrossSitePost(t *testing.T) {
	e := mustEnv(t)
	e.seed(e.group.ID, 2)
	c := e.signIn("owner@example.edu", auth.Owner)
	before := e.snapshot()
	for name, hdr := range map[string][2]string{
		"fetch metadata": {"Sec-Fetch-Site", "cross-site"},
		"foreign origin": {"Origin", "https://evil.example"},
	} {
		for _, path := range []string{"/groups/" + gid(e.group) + "/publish", "/groups/" + gid(e.group) + "/credentials/new", "/groups/new"} {
			req, _ := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(url.Values{"all": {"1"}, "action": {"create"}, "name_0": {"X"}, "email_0": {"x@example.edu"}, "issued_on_0": {"2026-01-01"}, "attr_grade_0": {"A"}, "name": {"G"}, "course_name": {"C"}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if hdr[0] == "Origin" {
				req.Header.Set("Sec-Fetch-Site", "") // only Origin, as older browsers send
			}
			req.Header.Set(hdr[0], hdr[1])
			resp, err := c.hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s POST %s: %d, want 403", name, path, resp.StatusCode)
			}
		}
	}
	if after := e.snapshot(); after != before {
		t.Fatalf("forged post changed the database:\n%s\n%s", before, after)
	}
}

// Anonymous visitors are sent to sign in and come back where they were.
func TestAnonymousRedirectsToLogin(t *testing.T) {
	e := mustEnv(t)
	r := (&client{e: e, hc: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}).get("/groups/" + gid(e.group) + "/unpublished")
	if r.code != http.StatusSeeOther || r.location != "/login?next=%2Fgroups%2F"+gid(e.group)+"%2Funpublished" {
		t.Fatalf("anonymous: %d %q", r.code, r.location)
	}
}
