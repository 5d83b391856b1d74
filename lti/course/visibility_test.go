package course_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/issuance"
)

// TestAttributeVisibilityInLMS: the learner's own view and the course's
// instructors see the public and recipient attributes of a credential,
// never a staff-only one; an instructor's amendment keeps the staff-only
// value it could not see.
func TestAttributeVisibilityInLMS(t *testing.T) {
	e := newLaunchEnv(t)
	e.org.mayPublish.Store(true)
	ctx := context.Background()
	gid := e.mapByTeacher(t)
	g, err := e.iss.Group(ctx, gid)
	if err != nil {
		t.Fatal(err)
	}
	g.Attributes = []issuance.Attribute{
		{Key: "grade", Label: "Grade", Visibility: issuance.VisibilityRecipient},
		{Key: "advisor_note", Label: "Advisor note", Visibility: issuance.VisibilityStaff},
		{Key: "honours", Label: "Honours", Visibility: issuance.VisibilityPublic},
	}
	if _, err := e.iss.UpdateGroup(ctx, "test", g); err != nil {
		t.Fatal(err)
	}
	cs, err := e.iss.CreateCredentials(ctx, "test", gid, issuance.FromForm, []issuance.NewCredential{{
		Recipient: issuance.Recipient{Name: e.student.Name, Email: e.student.Email}, IssuedOn: "2026-11-30",
		Attributes: map[string]string{"grade": "A-", "advisor_note": "Staff-only remark", "honours": "Cum laude"}}})
	if err != nil {
		t.Fatal(err)
	}
	id := cs[0].ID
	hidden := func(t *testing.T, where, page string) {
		t.Helper()
		if strings.Contains(page, "Advisor note") || strings.Contains(page, "Staff-only remark") {
			t.Fatalf("%s shows the staff-only attribute:\n%s", where, page)
		}
	}
	// Awaiting review: the learner sees no values yet.
	_, page := e.launch(e.student.ID, canvassim.LaunchOptions{})
	mustContain(t, page, "Awaiting review")
	if strings.Contains(page, "A-") {
		t.Fatalf("an unpublished credential's values are shown to the learner:\n%s", page)
	}
	if _, err := e.iss.Publish(ctx, "test", issuance.Selection{IDs: []string{id}}); err != nil {
		t.Fatal(err)
	}

	_, page = e.launch(e.student.ID, canvassim.LaunchOptions{})
	mustContain(t, page, "You have earned", `id="my-attributes"`, "<dt>Grade</dt><dd>A-</dd>", "<dt>Honours</dt><dd>Cum laude</dd>")
	hidden(t, "the learner's view", page)
	// Another student sees nothing of it.
	_, page = e.launch(e.other.ID, canvassim.LaunchOptions{})
	if strings.Contains(page, "A-") || strings.Contains(page, "Cum laude") {
		t.Fatalf("another learner sees the credential's values:\n%s", page)
	}

	tok := ltik(t, mustLaunch(t, e, e.teacher.ID))
	st, page := e.get(t, "/lti/app/credentials/"+id, url.Values{"ltik": {tok}})
	if st != 200 {
		t.Fatalf("instructor's credential page: %d %s", st, page)
	}
	mustContain(t, page, "<dt>Grade</dt><dd>A-</dd>", `id="attr_grade"`, `id="attr_honours"`)
	hidden(t, "the instructor's credential page", page)
	if strings.Contains(page, "attr_advisor_note") {
		t.Fatal("the instructor's amend form has the staff-only attribute")
	}

	// The instructor changes the grade; the staff-only value stays.
	st, page = e.post("/lti/app/credentials/"+id, url.Values{"ltik": {tok}, "name": {e.student.Name}, "email": {e.student.Email},
		"issued_on": {"2026-11-30"}, "attr_grade": {"A"}, "attr_honours": {"Cum laude"}})
	if st != 200 || !strings.Contains(page, "Credential amended.") {
		t.Fatalf("amend: %d %s", st, page)
	}
	hidden(t, "the amended page", page)
	var raw []byte
	if err := e.db.Get(&raw, `SELECT attributes FROM credentials WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	var attrs map[string]string
	if err := json.Unmarshal(raw, &attrs); err != nil {
		t.Fatal(err)
	}
	if attrs["grade"] != "A" || attrs["advisor_note"] != "Staff-only remark" || attrs["honours"] != "Cum laude" {
		t.Fatalf("attributes after the instructor's amendment: %v", attrs)
	}
}
