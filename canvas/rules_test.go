package canvas_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/lti/course"
)

func score(v float64) *float64 { return &v }

// mustMapRule maps courseID with a score or module rule.
func (e *env) mustMapRule(courseID string, in course.MappingInput) course.Mapping {
	e.t.Helper()
	pid, gid := e.platform.ID, e.group.ID
	in.PlatformID, in.GroupID, in.CanvasCourseID = &pid, &gid, &courseID
	m, err := e.courses.CreateMapping(context.Background(), "test", in)
	if err != nil {
		e.t.Fatalf("map course %s: %v", courseID, err)
	}
	return m
}

func ptr[T any](v T) *T { return &v }

// "Final score at least 80": exactly 80.0 earns it; 79.99, an unposted 95
// and the current score do not. The credential is dated the day the check
// first saw the score; a score dropping afterwards revokes nothing, and the
// roster line says so.
func TestReconcileScoreRule(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	day1 := e.clock.Now().UTC()
	d1, l1 := day1.Format("2006-01-02"), day1.Format("2 Jan 2006")
	d2, l2 := day1.Add(48*time.Hour).Format("2006-01-02"), day1.Add(48*time.Hour).Format("2 Jan 2006")
	m := e.mustMapRule("720", course.MappingInput{CompletionRule: ptr("canvas_score"), MinScore: ptr(80.0), ScoreKind: ptr("final")})
	e.rest.PageSize = 2
	e.rest.AddStudents("720",
		canvassim.RESTStudent{ID: "31", Name: "Exactly Eighty", Email: "a@example.com"},
		canvassim.RESTStudent{ID: "32", Name: "Just Below", Email: "b@example.com"},
		canvassim.RESTStudent{ID: "33", Name: "Unposted High", Email: "c@example.com"},
		canvassim.RESTStudent{ID: "34", Name: "No Score", Email: "d@example.com"},
		canvassim.RESTStudent{ID: "35", Name: "Current Only", Email: "e@example.com"},
	)
	e.rest.SetScores("720", "31", canvassim.Scores{Current: score(80), Final: score(80.0)})
	e.rest.SetScores("720", "32", canvassim.Scores{Current: score(79.99), Final: score(79.99)})
	e.rest.SetScores("720", "33", canvassim.Scores{Current: score(60), Final: score(60), UnpostedCurrent: score(95), UnpostedFinal: score(95)})
	e.rest.SetScores("720", "35", canvassim.Scores{Current: score(92), Final: score(70)})

	res, err := e.svc.Reconcile(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Checked != 5 || res.Completed != 1 || len(res.Created) != 1 {
		t.Fatalf("first run: checked %d earned %d created %d (skipped %v), want 5/1/1", res.Checked, res.Completed, len(res.Created), res.Skipped)
	}
	creds := e.credentials()
	if len(creds) != 1 || creds[0].Email != "a@example.com" || creds[0].IssuedOn != d1 || creds[0].State != "unpublished" || creds[0].Source != "reconciliation" {
		t.Fatalf("credentials = %+v", creds)
	}

	// Two days later: the student at 80 drops to 50, the one below rises.
	e.clock.Advance(48 * time.Hour)
	e.rest.SetScores("720", "31", canvassim.Scores{Current: score(50), Final: score(50)})
	e.rest.SetScores("720", "32", canvassim.Scores{Current: score(85.5), Final: score(85.5)})
	res, err = e.svc.Reconcile(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Created) != 1 || res.Created[0].Recipient.Email != "b@example.com" {
		t.Fatalf("second run created %+v, want b@example.com only", res.Created)
	}
	creds = e.credentials()
	if len(creds) != 2 {
		t.Fatalf("%d credentials, want 2", len(creds))
	}
	for _, c := range creds {
		want := map[string]string{"a@example.com": d1, "b@example.com": d2}[c.Email]
		if c.IssuedOn != want || c.State != "unpublished" {
			t.Fatalf("credential %+v: want issued %s, unpublished (nothing revoked)", c, want)
		}
	}
	res, err = e.svc.Reconcile(ctx, m.ID)
	if err != nil || len(res.Created) != 0 {
		t.Fatalf("third run: created %d, err %v; want nothing", len(res.Created), err)
	}

	lines, err := e.svc.Checker().RuleLines(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{
		"31": "Final score 50%, below 80% now; it was met on " + l1 + ", so the credential stays",
		"32": "Final score 85.5%, at least 80%: met since " + l2 + ".",
		"33": "Final score 60%, below 80%.",
		"34": "No posted final score yet (needs 80%).",
		"35": "Final score 70%, below 80%.",
	} {
		if !strings.Contains(lines[id], want) {
			t.Errorf("line of %s = %q, want %q", id, lines[id], want)
		}
	}
}

// "Current score at least 90" reads the current score.
func TestReconcileCurrentScoreRule(t *testing.T) {
	e := newEnv(t)
	m := e.mustMapRule("721", course.MappingInput{CompletionRule: ptr("canvas_score"), MinScore: ptr(90.0), ScoreKind: ptr("current")})
	e.rest.AddStudents("721", canvassim.RESTStudent{ID: "41", Name: "Graded So Far", Email: "g@example.com"},
		canvassim.RESTStudent{ID: "42", Name: "Final High", Email: "h@example.com"})
	e.rest.SetScores("721", "41", canvassim.Scores{Current: score(90), Final: score(40)})
	e.rest.SetScores("721", "42", canvassim.Scores{Current: score(89.9), Final: score(99)})
	res, err := e.svc.Reconcile(context.Background(), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Created) != 1 || res.Created[0].Recipient.Email != "g@example.com" {
		t.Fatalf("created %+v, want g@example.com only", res.Created)
	}
}

// "Completed module 12": the credential is dated on the module's
// completed_at, one request per student, and a second run creates nothing.
func TestReconcileModuleRule(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	m := e.mustMapRule("730", course.MappingInput{CompletionRule: ptr("canvas_module"), ModuleID: ptr("12")})
	e.rest.PageSize = 2
	e.rest.AddStudents("730",
		canvassim.RESTStudent{ID: "51", Name: "Done", Email: "done@example.com"},
		canvassim.RESTStudent{ID: "52", Name: "Started", Email: "started@example.com"},
		canvassim.RESTStudent{ID: "53", Name: "Untouched", Email: "untouched@example.com"},
	)
	at := time.Date(2026, 10, 20, 23, 30, 0, 0, time.UTC)
	e.rest.SetModuleState("730", "12", "51", canvassim.ModuleState{State: "completed", CompletedAt: &at})
	e.rest.SetModuleState("730", "12", "52", canvassim.ModuleState{State: "started"})
	// Another module's completion does not count.
	e.rest.SetModuleState("730", "13", "52", canvassim.ModuleState{State: "completed", CompletedAt: &at})

	mod0 := e.rest.ModuleRequests()
	res, err := e.svc.Reconcile(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Checked != 3 || len(res.Created) != 1 || res.Created[0].Recipient.Email != "done@example.com" {
		t.Fatalf("first run: checked %d created %+v", res.Checked, res.Created)
	}
	if n := e.rest.ModuleRequests() - mod0; n != 3 {
		t.Fatalf("module requests = %d, want one per student (3)", n)
	}
	if c := e.credentials(); len(c) != 1 || c[0].IssuedOn != "2026-10-20" {
		t.Fatalf("credentials = %+v, want one dated 2026-10-20", c)
	}
	res, err = e.svc.Reconcile(ctx, m.ID)
	if err != nil || len(res.Created) != 0 {
		t.Fatalf("second run: created %d, err %v", len(res.Created), err)
	}
	lines, err := e.svc.Checker().RuleLines(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if lines["51"] == "" || !strings.HasPrefix(lines["51"], "Module completed") || lines["52"] != "Module started, not completed yet." || lines["53"] != "Module unlocked, not completed yet." {
		t.Fatalf("lines = %q", lines)
	}

	// A module id Canvas does not know is named.
	bad := e.mustMapRule("731", course.MappingInput{CompletionRule: ptr("canvas_module"), ModuleID: ptr("99")})
	e.rest.AddStudents("731", canvassim.RESTStudent{ID: "61", Name: "X", Email: "x@example.com"})
	_, err = e.svc.Reconcile(ctx, bad.ID)
	if apperr.Code(err) != apperr.Invalid || !strings.Contains(apperr.Message(err), "no module 99") {
		t.Fatalf("unknown module: %v", err)
	}
}

// A rule without its field is refused naming it, through the API, and
// nothing is stored; a course_completed event does not issue for a score
// mapping.
func TestMappingRuleFields(t *testing.T) {
	e := newEnv(t)
	tok := e.token("owner")
	for _, c := range []struct{ body, field string }{
		{`{"completion_rule":"canvas_score"}`, "min_score"},
		{`{"completion_rule":"canvas_score","min_score":"eighty"}`, "min_score"},
		{`{"completion_rule":"canvas_score","min_score":80,"score_kind":"best"}`, "score_kind"},
		{`{"completion_rule":"canvas_module"}`, "module_id"},
		{`{"completion_rule":"canvas_module","module_id":"m12"}`, "module_id"},
		{`{"completion_rule":"canvas_completion","module_id":"12"}`, "module_id"},
	} {
		body := fmt.Sprintf(`{"platform_id":%d,"group_id":%d,"canvas_course_id":"740",%s`, e.platform.ID, e.group.ID, c.body[1:])
		st, out := e.api("POST", "/mappings", tok, body)
		if st != 422 && st != 400 || !strings.Contains(out, `"`+c.field+`"`) {
			t.Errorf("%s: %d %s, want a refusal naming %s", c.body, st, out, c.field)
		}
	}
	if n := e.count(`SELECT count(*) FROM course_mappings`); n != 0 {
		t.Fatalf("%d mappings stored after refusals", n)
	}
	st, out := e.api("POST", "/mappings", tok, fmt.Sprintf(`{"platform_id":%d,"group_id":%d,"canvas_course_id":"740","completion_rule":"canvas_score","min_score":72.5}`, e.platform.ID, e.group.ID))
	if st != 201 || !strings.Contains(out, `"min_score":72.5`) || !strings.Contains(out, `"score_kind":"final"`) {
		t.Fatalf("create: %d %s", st, out)
	}
	var id int64
	if err := e.db.Get(&id, `SELECT id FROM course_mappings`); err != nil {
		t.Fatal(err)
	}
	// Switching to the module rule needs module_id, and drops min_score.
	st, out = e.api("PATCH", fmt.Sprintf("/mappings/%d", id), tok, `{"completion_rule":"canvas_module"}`)
	if st != 422 && st != 400 || !strings.Contains(out, `"module_id"`) {
		t.Fatalf("patch without module_id: %d %s", st, out)
	}
	st, out = e.api("PATCH", fmt.Sprintf("/mappings/%d", id), tok, `{"completion_rule":"canvas_module","module_id":"12"}`)
	if st != 200 || !strings.Contains(out, `"module_id":"12"`) || strings.Contains(out, "min_score") {
		t.Fatalf("patch: %d %s", st, out)
	}
	st, out = e.api("PATCH", fmt.Sprintf("/mappings/%d", id), tok, `{"completion_rule":"canvas_score","min_score":80}`)
	if st != 200 {
		t.Fatalf("patch back: %d %s", st, out)
	}
	// A completion event for a score mapping issues nothing.
	if st, b := e.deliver(canvassim.Completion{CourseID: "740", UserID: "71", UserName: "Event", UserEmail: "ev@example.com", CompletedAt: time.Now()}); st != 200 {
		t.Fatalf("deliver: %d %s", st, b)
	}
	e.drain()
	if n := len(e.credentials()); n != 0 {
		t.Fatalf("%d credentials from a completion event on a score mapping", n)
	}
}
