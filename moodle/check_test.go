package moodle_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/sandbox/moodlesim"
	"github.com/laurel-edu/laurel/lti"
	"github.com/laurel-edu/laurel/lti/course"
)

// storyCourse is a course with two completion criteria (all required), two
// students and a teacher: Ada completes both, Bo only the first.
func storyCourse() moodlesim.Course {
	return moodlesim.Course{ID: 42, Aggregation: 1,
		Criteria: []moodlesim.Criterion{{Type: 4, Title: "Quiz: Final exam"}, {Type: 4, Title: "Assignment: Essay"}},
		Users: []moodlesim.User{
			{ID: 7, FullName: "Ada Lovelace", Email: "ada@example.edu", Role: "student"},
			{ID: 8, FullName: "Bo Ibsen", Email: "bo@example.edu", Role: "student"},
			{ID: 3, FullName: "Tess Teacher", Email: "tess@example.edu", Role: "editingteacher"},
		}}
}

// A course with completion criteria, two students, one completes: one
// unpublished credential, dated on the completion (the later criterion,
// aggregation "all"), the other student none; a second run creates nothing.
// Each person's line says why.
func TestMoodleCompletionIssuesOnceDatedOnCompletion(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.site.AddCourse(storyCourse())
	e.site.Complete(42, 7, 0, day("2026-03-02T10:00:00Z"))
	e.site.Complete(42, 7, 1, day("2026-03-04T23:30:00Z"))
	e.site.Complete(42, 8, 0, day("2026-03-03T09:00:00Z"))
	m := e.mustMap("42")

	res, err := e.courses.Reconcile(ctx, m.ID, course.TriggerManual)
	if err != nil {
		t.Fatal(err)
	}
	if res.Checked != 3 || res.Completed != 1 || len(res.Created) != 1 {
		t.Fatalf("first run: checked %d completed %d created %d, want 3 1 1", res.Checked, res.Completed, len(res.Created))
	}
	want := []credRow{{Name: "Ada Lovelace", Email: "ada@example.edu", IssuedOn: "2026-03-04", State: "unpublished",
		Source: "reconciliation", Ref: fmt.Sprintf("moodle:%d:7", e.platform.ID)}}
	if diff := cmp.Diff(want, e.credentials()); diff != "" {
		t.Fatalf("credentials (-want +got):\n%s", diff)
	}

	again, err := e.courses.Reconcile(ctx, m.ID, course.TriggerSchedule)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Created) != 0 || len(e.credentials()) != 1 {
		t.Fatalf("second run created %d (total %d), want nothing new", len(again.Created), len(e.credentials()))
	}

	lines, err := e.svc.Checker().RuleLines(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	wantLines := map[string]string{
		"7": "Course completed on 4 Mar 2026.",
		"8": "Not completed yet: 1 of 2 completion criteria met.",
		"3": "Not tracked by the course's completion in Moodle (not a student).",
	}
	if diff := cmp.Diff(wantLines, lines); diff != "" {
		t.Fatalf("why lines (-want +got):\n%s", diff)
	}
	last, err := e.svc.Checker().LastCheck(ctx, m.ID)
	if err != nil || last == nil || last.Trigger != "schedule" || last.Checked != 3 || last.Created != 0 || last.Error != "" {
		t.Fatalf("last check %+v (%v)", last, err)
	}
}

// Aggregation "any": the course was complete when the first criterion was.
func TestMoodleCompletionAnyCriterionDatesOnFirst(t *testing.T) {
	e := newEnv(t)
	c := storyCourse()
	c.Aggregation = 2
	e.site.AddCourse(c)
	e.site.Complete(42, 8, 1, day("2026-05-10T08:00:00Z"))
	e.site.Complete(42, 8, 0, day("2026-05-12T08:00:00Z"))
	m := e.mustMap("42")
	if _, err := e.courses.Reconcile(context.Background(), m.ID, course.TriggerManual); err != nil {
		t.Fatal(err)
	}
	got := e.credentials()
	if len(got) != 1 || got[0].Email != "bo@example.edu" || got[0].IssuedOn != "2026-05-10" {
		t.Fatalf("credentials %+v, want Bo's dated 2026-05-10", got)
	}
}

// A token that lacks a function or a capability gives a message naming
// what to switch on in Moodle, recorded as the check's outcome, and
// changes nothing.
func TestMoodleRefusalsNameWhatIsMissing(t *testing.T) {
	cases := []struct {
		name  string
		tok   moodlesim.Token
		token string
		want  []string
	}{
		{"function missing", moodlesim.Token{Functions: []string{moodlesim.FnEnrolledUsers}, Capabilities: moodlesim.AllCapabilities}, "",
			[]string{"core_completion_get_course_completion_status", "add the function", "external service"}},
		{"roster function missing", moodlesim.Token{Functions: []string{moodlesim.FnCourseCompletion}, Capabilities: moodlesim.AllCapabilities}, "",
			[]string{"core_enrol_get_enrolled_users", "external service"}},
		{"participants capability missing", moodlesim.Token{Functions: moodlesim.AllFunctions, Capabilities: []string{moodlesim.CapCompletionView}}, "",
			[]string{"moodle/course:viewparticipants", "View participants"}},
		{"profile capability missing (students silently left out)", moodlesim.Token{Functions: moodlesim.AllFunctions, Capabilities: []string{moodlesim.CapViewParticipants, moodlesim.CapUserEmail, moodlesim.CapCompletionView}}, "",
			[]string{"moodle/user:viewdetails", "no student"}},
		{"completion capability missing", moodlesim.Token{Functions: moodlesim.AllFunctions, Capabilities: []string{moodlesim.CapViewParticipants, moodlesim.CapUserEmail}}, "",
			[]string{"report/completion:view"}},
		{"wrong token", moodlesim.Token{}, "not-a-token", []string{"refused the web service token", "Invalid token"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			e.site.AddCourse(storyCourse())
			e.site.Complete(42, 7, 0, day("2026-03-02T10:00:00Z"))
			e.site.Complete(42, 7, 1, day("2026-03-02T11:00:00Z"))
			tok := tc.token
			if tok == "" {
				tok = "limited0123456789abcdef0123456789"
				e.site.AddToken(tok, tc.tok)
			}
			if _, err := e.registry.UpdatePlatform(ctx, e.platform.ID, lti.PlatformInput{Extra: map[string]string{"moodle_token": tok}}); err != nil {
				t.Fatal(err)
			}
			m := e.mustMap("42")
			_, err := e.courses.Reconcile(ctx, m.ID, course.TriggerButton)
			if !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("err = %v, want a refusal", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(apperr.Message(err), w) {
					t.Errorf("message %q does not say %q", apperr.Message(err), w)
				}
			}
			if n := len(e.credentials()); n != 0 {
				t.Fatalf("%d credentials after a refusal", n)
			}
			last, lerr := e.svc.Checker().LastCheck(ctx, m.ID)
			if lerr != nil || last == nil || last.Error != apperr.Message(err) {
				t.Fatalf("last check %+v (%v): the instructor's view shows its error", last, lerr)
			}
		})
	}
}

// The mappings API checks a Moodle mapping on the same route as Canvas's.
func TestMoodleReconcileThroughAPI(t *testing.T) {
	e := newEnv(t)
	e.site.AddCourse(storyCourse())
	e.site.Complete(42, 7, 0, day("2026-03-02T10:00:00Z"))
	e.site.Complete(42, 7, 1, day("2026-03-02T11:00:00Z"))
	m := e.mustMap("42")
	st, body := e.api("POST", fmt.Sprintf("/mappings/%d/reconcile", m.ID), "")
	if st != 200 {
		t.Fatalf("status %d: %s", st, body)
	}
	var got struct {
		Checked int `json:"checked"`
		Created []struct {
			Recipient struct{ Email string } `json:"recipient"`
			IssuedOn  string                 `json:"issued_on"`
		} `json:"created"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if got.Checked != 3 || len(got.Created) != 1 || got.Created[0].Recipient.Email != "ada@example.edu" || got.Created[0].IssuedOn != "2026-03-02" {
		t.Fatalf("answer %s", body)
	}
}

// A moodle_completion mapping needs the Moodle course id as its context id;
// a refused mapping changes nothing.
func TestMoodleMappingFields(t *testing.T) {
	e := newEnv(t)
	pid, gid, rule := e.platform.ID, e.group.ID, string(course.RuleMoodleCompletion)
	for _, tc := range []struct {
		in    course.MappingInput
		field string
	}{
		{course.MappingInput{PlatformID: &pid, GroupID: &gid, ContextID: ptr("course-v1:abc"), CompletionRule: &rule}, "context_id"},
		{course.MappingInput{PlatformID: &pid, GroupID: &gid, CanvasCourseID: ptr("42"), CompletionRule: &rule}, "context_id"},
		{course.MappingInput{PlatformID: &pid, GroupID: &gid, ContextID: ptr("42"), CanvasCourseID: ptr("42"), CompletionRule: &rule}, "canvas_course_id"},
	} {
		_, err := e.courses.CreateMapping(context.Background(), "test", tc.in)
		found := false
		for _, f := range apperr.FieldErrors(err) {
			found = found || f.Field == tc.field
		}
		if !found {
			t.Errorf("%+v: err %v, want a field error on %s", tc.in, err, tc.field)
		}
	}
	var n int
	if err := e.db.Get(&n, `SELECT count(*) FROM course_mappings`); err != nil || n != 0 {
		t.Fatalf("%d mappings after refusals (%v)", n, err)
	}
}

func ptr[T any](v T) *T { return &v }
