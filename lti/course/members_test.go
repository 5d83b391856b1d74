package course_test

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/issuance"
)

// get opens a page inside the iframe (the launch token only).
func (e *launchEnv) get(t *testing.T, path string, q url.Values) (int, string) {
	t.Helper()
	c := noRedirects()
	c.Jar = nil
	resp, err := c.Get(e.app.URL + path + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, readAll(t, resp)
}

// countsOf reads the course page's "N unpublished" and "N published".
var countRE = regexp.MustCompile(`id="count-(unpublished|published)">(\d+)<`)

func countsOf(t *testing.T, page string) string {
	t.Helper()
	var out []string
	for _, m := range countRE.FindAllStringSubmatch(page, -1) {
		out = append(out, m[2]+" "+m[1])
	}
	if len(out) != 2 {
		t.Fatalf("no counts on the course page:\n%s", page)
	}
	return strings.Join(out, ", ")
}

// TestInstructorSeesOwnStudentsOnly (issue 16, item 2): two courses share
// one group, which also holds a staff-issued credential of someone in
// neither. Each course's instructor sees, counts and publishes only the
// credentials of the course's people (its launch users by their Canvas
// reference, its NRPS roster by email); anything else is a 404, in the
// pages and in forged forms; staff still see the whole group.
func TestInstructorSeesOwnStudentsOnly(t *testing.T) {
	e := newLaunchEnv(t)
	e.org.mayPublish.Store(true)
	ctx := context.Background()
	gid := e.mapByTeacher(t) // course A: Tina, Tom, Sam, Olga
	if _, err := e.db.Exec(`UPDATE groups SET available_to_instructors = true WHERE id = $1`, gid); err != nil {
		t.Fatal(err)
	}

	// Abe is in course A; his completion credential names him by his
	// Canvas user (external reference) under another email.
	abe := e.sim.AddUser(canvassim.User{Name: "Abe Able", Email: "abe@example.edu"})
	// Course B shares the group: Bob teaches, Bea studies.
	courseB := e.sim.AddCourse(canvassim.Course{Title: "Astronomy 102", Label: "AST102"})
	bob := e.sim.AddUser(canvassim.User{Name: "Bob Teacher", Email: "bob@example.edu"})
	bea := e.sim.AddUser(canvassim.User{Name: "Bea Beta", Email: "bea@example.edu"})
	for _, en := range []struct {
		course string
		u      *canvassim.User
		role   canvassim.Role
	}{{e.course.ID, abe, canvassim.Student}, {courseB.ID, bob, canvassim.Teacher}, {courseB.ID, bea, canvassim.Student}} {
		if err := e.sim.Enroll(en.course, en.u.ID, en.role); err != nil {
			t.Fatal(err)
		}
	}
	if st, page := e.launch(abe.ID, canvassim.LaunchOptions{}); st != 200 {
		t.Fatalf("Abe's launch: %d %s", st, page)
	}
	st, page := e.launchOn(e.sim, courseB.ID, bob.ID, canvassim.LaunchOptions{})
	if st != 200 {
		t.Fatalf("Bob's launch: %d %s", st, page)
	}
	if st, page := e.post("/lti/app/map", url.Values{"ltik": {ltik(t, page)}, "group": {itoa(gid)}, "completion_rule": {"canvas_completion"}}); st != 200 {
		t.Fatalf("map course B onto the shared group: %d %s", st, page)
	}
	if n := e.count(`SELECT count(DISTINCT context_id) FROM course_mappings WHERE group_id = $1`, gid); n != 2 {
		t.Fatalf("%d courses mapped onto the group, want 2", n)
	}

	ids := e.mustCredentials(t, gid, e.student, e.other, bea, &canvassim.User{Name: "Stella Staff", Email: "stella@example.org"})
	sam, olga, beaCred, stella := ids[0], ids[1], ids[2], ids[3]
	ref := fmt.Sprintf("canvas:%d:%s", e.ltiPlat.ID, abe.ID)
	cs, err := e.iss.CreateCredentials(ctx, "test", gid, issuance.FromCompletion, []issuance.NewCredential{{
		Recipient: issuance.Recipient{Name: "Abe Able", Email: "abe.home@example.com"}, IssuedOn: "2026-11-30", ExternalRef: ref}})
	if err != nil {
		t.Fatal(err)
	}
	abeCred := cs[0].ID

	// Tina (course A): her course's three, counted and listed; never Bea's
	// or Stella's.
	page = mustLaunch(t, e, e.teacher.ID)
	if got := countsOf(t, page); got != "3 unpublished, 0 published" {
		t.Fatalf("course A counts %q, want 3 unpublished, 0 published", got)
	}
	tok := ltik(t, page)
	st, list := e.get(t, "/lti/app/credentials", url.Values{"ltik": {tok}})
	if st != 200 {
		t.Fatalf("list: %d %s", st, list)
	}
	for id, want := range map[string]bool{sam: true, olga: true, abeCred: true, beaCred: false, stella: false} {
		if got := strings.Contains(list, `id="cred-`+id+`"`); got != want {
			t.Fatalf("course A's list shows %s: %v, want %v\n%s", id, got, want, list)
		}
	}
	for _, id := range []string{sam, abeCred} {
		if st, page := e.get(t, "/lti/app/credentials/"+id, url.Values{"ltik": {tok}}); st != 200 {
			t.Fatalf("course A opens its student's %s: %d %s", id, st, page)
		}
	}

	// Another course's or staff's credential: 404 in the pages and in
	// forged forms, and nothing changes.
	before := e.dbState(t)
	for _, id := range []string{beaCred, stella} {
		if st, page := e.get(t, "/lti/app/credentials/"+id, url.Values{"ltik": {tok}}); st != 404 || !strings.Contains(page, "is not one of this course") {
			t.Fatalf("course A opens %s: %d, want 404\n%s", id, st, page)
		}
		for _, f := range []struct {
			path string
			form url.Values
		}{
			{"/lti/app/credentials/" + id, url.Values{"ltik": {tok}, "name": {"Mallory"}, "email": {"m@example.edu"}, "issued_on": {"2026-11-30"}}},
			{"/lti/app/publish/confirm", url.Values{"ltik": {tok}, "ids": {id}}},
			{"/lti/app/publish", url.Values{"ltik": {tok}, "ids": {id}}},
			{"/lti/app/publish", url.Values{"ltik": {tok}, "ids": {sam, id}}},
		} {
			if st, page := e.post(f.path, f.form); st != 404 {
				t.Fatalf("forged POST %s %v: %d, want 404\n%s", f.path, f.form["ids"], st, page)
			}
		}
	}
	if after := e.dbState(t); after != before {
		t.Fatalf("a forged request changed the database:\n%s\n%s", before, after)
	}

	// "All unpublished" is all of the course's, not the group's.
	if st, page := e.post("/lti/app/publish/confirm", url.Values{"ltik": {tok}, "all": {"1"}}); st != 200 || !strings.Contains(page, "Publish 3 credentials and send 3 emails?") {
		t.Fatalf("confirm all: %d %s", st, page)
	}
	if st, page := e.post("/lti/app/publish", url.Values{"ltik": {tok}, "all": {"1"}}); st != 200 || !strings.Contains(page, "Published 3 credentials; 3 emails queued for sending.") {
		t.Fatalf("publish all: %d %s", st, page)
	}
	var states []string
	if err := e.db.Select(&states, `SELECT recipient_name || '=' || state FROM credentials WHERE group_id = $1 ORDER BY seq`, gid); err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(states), "[Sam Student=published Olga Other=published Bea Beta=unpublished Stella Staff=unpublished Abe Able=published]"; got != want {
		t.Fatalf("states %s, want %s", got, want)
	}
	if got := countsOf(t, mustLaunch(t, e, e.teacher.ID)); got != "0 unpublished, 3 published" {
		t.Fatalf("course A counts after publishing %q", got)
	}

	// Bob (course B) sees Bea's alone.
	st, page = e.launchOn(e.sim, courseB.ID, bob.ID, canvassim.LaunchOptions{})
	if st != 200 {
		t.Fatalf("Bob's launch: %d %s", st, page)
	}
	if got := countsOf(t, page); got != "1 unpublished, 0 published" {
		t.Fatalf("course B counts %q, want 1 unpublished, 0 published", got)
	}
	tokB := ltik(t, page)
	for _, s := range []string{"unpublished", "published"} {
		_, list := e.get(t, "/lti/app/credentials", url.Values{"ltik": {tokB}, "state": {s}})
		for id, want := range map[string]bool{sam: false, olga: false, abeCred: false, beaCred: s == "unpublished", stella: false} {
			if got := strings.Contains(list, `id="cred-`+id+`"`); got != want {
				t.Fatalf("course B's %s list shows %s: %v, want %v", s, id, got, want)
			}
		}
	}
	if st, _ := e.get(t, "/lti/app/credentials/"+sam, url.Values{"ltik": {tokB}}); st != 404 {
		t.Fatalf("course B opens course A's credential: %d, want 404", st)
	}

	// Staff still see the whole group.
	all, _, err := e.iss.Credentials(ctx, gid, issuance.ListOptions{})
	if err != nil || len(all) != 5 {
		t.Fatalf("staff list: %d credentials (%v), want 5", len(all), err)
	}
	sums, err := e.iss.Groups(ctx, []int64{gid})
	if err != nil || len(sums) != 1 || sums[0].Published != 3 || sums[0].Unpublished != 2 {
		t.Fatalf("staff counts %+v (%v), want 3 published, 2 unpublished", sums, err)
	}
}
