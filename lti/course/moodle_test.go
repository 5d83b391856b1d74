package course_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/internal/sandbox/moodlesim"
	"github.com/laurel-edu/laurel/lti"
	"github.com/laurel-edu/laurel/moodle"
)

// A Moodle course with a web service: the teacher's form offers (and
// picks) Moodle course completion; "Check completions now" reads Moodle's
// completions through the rule engine, creates Ada's credential dated on
// her completion, and the roster says why each student has one or not. A
// token whose service lacks a function gives the teacher the message
// naming it.
func TestMoodleCompletionInTheCourseView(t *testing.T) {
	e := newLaunchEnv(t)
	ctx := context.Background()
	site := moodlesim.New()
	t.Cleanup(site.Close)
	const tok = "0123456789abcdef0123456789abcdef"
	site.AddToken(tok, moodlesim.Token{Functions: moodlesim.AllFunctions, Capabilities: moodlesim.AllCapabilities})
	e.tool.Registry().AddExtension(moodle.NewPlatformSettings(e.db, e.keys))
	msvc, err := moodle.New(moodle.Options{DB: e.db, Keys: e.keys, Issuer: e.iss, Courses: e.courses, Platforms: e.tool.Registry()})
	if err != nil {
		t.Fatal(err)
	}
	e.courses.AddChecker(msvc.Checker())

	// The LTI side looks like Moodle's: context.id is the course id, sub
	// the user id.
	ml := canvassim.New()
	ml.ProductFamilyCode = "moodle"
	ml.CustomFields = map[string]string{}
	ml.Start()
	t.Cleanup(ml.Close)
	plat, err := ml.Register(ctx, e.tool, "Moodle 4.5")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.tool.Registry().UpdatePlatform(ctx, plat.ID, lti.PlatformInput{Extra: moodle.PlatformExtra(site.URL(), tok)}); err != nil {
		t.Fatal(err)
	}
	crs := ml.AddCourse(canvassim.Course{ContextID: "42", Title: "Geology 300", Label: "GEO300"})
	teacher := ml.AddUser(canvassim.User{LTIID: "3", Name: "Gil Geologist", Email: "gil@example.edu"})
	ada := ml.AddUser(canvassim.User{LTIID: "7", Name: "Ada Lovelace", Email: "ada@example.edu"})
	bo := ml.AddUser(canvassim.User{LTIID: "8", Name: "Bo Ibsen", Email: "bo@example.edu"})
	for _, en := range []struct {
		id   string
		role canvassim.Role
	}{{teacher.ID, canvassim.Teacher}, {ada.ID, canvassim.Student}, {bo.ID, canvassim.Student}} {
		if err := ml.Enroll(crs.ID, en.id, en.role); err != nil {
			t.Fatal(err)
		}
	}
	site.AddCourse(moodlesim.Course{ID: 42, Aggregation: 1,
		Criteria: []moodlesim.Criterion{{Type: 4, Title: "Quiz"}, {Type: 4, Title: "Essay"}},
		Users: []moodlesim.User{
			{ID: 3, FullName: "Gil Geologist", Email: "gil@example.edu", Role: "editingteacher"},
			{ID: 7, FullName: "Ada Lovelace", Email: "ada@example.edu", Role: "student"},
			{ID: 8, FullName: "Bo Ibsen", Email: "bo@example.edu", Role: "student"},
		}})
	site.Complete(42, 7, 0, time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))
	site.Complete(42, 7, 1, time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC))
	site.Complete(42, 8, 0, time.Date(2026, 3, 3, 9, 0, 0, 0, time.UTC))

	st, page := e.launchOn(ml, crs.ID, teacher.ID, canvassim.LaunchOptions{})
	if st != 200 {
		t.Fatalf("launch: %d %s", st, page)
	}
	mustContain(t, page, `value="moodle_completion" checked`)
	if strings.Contains(page, "Canvas") || strings.Contains(page, `id="manual-only-note"`) {
		t.Fatalf("a Moodle course with a web service is shown Canvas or manual-only wording:\n%s", page)
	}
	f := url.Values{"ltik": {ltik(t, page)}, "group": {"new"}, "group_name": {"Geology 300"}, "course_name": {"Geology 300"},
		"auto_publish": {"0"}, "completion_rule": {"moodle_completion"}}
	if st, page = e.post("/lti/app/map", f); st != 200 {
		t.Fatalf("map: %d %s", st, page)
	}
	mustContain(t, page, "each Moodle course completion creates a credential", "Check completions now")
	st, page = e.post("/lti/app/reconcile", url.Values{"ltik": {ltik(t, page)}})
	if st != 200 {
		t.Fatalf("check now: %d %s", st, page)
	}
	mustContain(t, page, "1 credentials created", "Course completed on 4 Mar 2026.", "Not completed yet: 1 of 2 completion criteria met.")
	var issued string
	if err := e.db.Get(&issued, `SELECT to_char(issued_on, 'YYYY-MM-DD') FROM credentials WHERE recipient_email = 'ada@example.edu'`); err != nil || issued != "2026-03-04" {
		t.Fatalf("Ada's credential issued on %q (%v)", issued, err)
	}
	if n := e.count(`SELECT count(*) FROM credentials WHERE recipient_email = 'bo@example.edu'`); n != 0 {
		t.Fatalf("Bo has %d credentials", n)
	}

	// The owner stores a token whose service lacks the completion function.
	const limited = "fedcba9876543210fedcba9876543210"
	site.AddToken(limited, moodlesim.Token{Functions: []string{moodlesim.FnEnrolledUsers}, Capabilities: moodlesim.AllCapabilities})
	if _, err := e.tool.Registry().UpdatePlatform(ctx, plat.ID, lti.PlatformInput{Extra: moodle.PlatformExtra("", limited)}); err != nil {
		t.Fatal(err)
	}
	_, page = e.launchOn(ml, crs.ID, teacher.ID, canvassim.LaunchOptions{})
	st, page = e.post("/lti/app/reconcile", url.Values{"ltik": {ltik(t, page)}})
	if st != http.StatusUnprocessableEntity {
		t.Fatalf("check with a limited token: %d", st)
	}
	mustContain(t, page, "core_completion_get_course_completion_status")
	if n := e.count(`SELECT count(*) FROM credentials`); n != 1 {
		t.Fatalf("%d credentials after the refused check, want 1", n)
	}
}
