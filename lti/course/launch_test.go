package course_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/canvas"
	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/lti"
	"github.com/laurel-edu/laurel/lti/course"
)

func TestLaunchViews(t *testing.T) {
	e := newLaunchEnv(t)
	ctx := context.Background()

	// Unmapped: the TA sees it read-only and may not map.
	st, page := e.launch(e.ta.ID, canvassim.LaunchOptions{})
	if st != 200 || strings.Contains(page, `action="/lti/app/map"`) {
		t.Fatalf("TA on an unmapped course: %d, form shown: %v", st, strings.Contains(page, `action="/lti/app/map"`))
	}
	mustContain(t, page, "A teacher of the course can map it")

	// Unmapped: the teacher gets the form, prefilled from the course title.
	st, page = e.launch(e.teacher.ID, canvassim.LaunchOptions{})
	if st != 200 {
		t.Fatalf("teacher launch: %d %s", st, page)
	}
	mustContain(t, page, `action="/lti/app/map"`, `id="group_name" name="group_name" value="Astronomy 101"`, `value="canvas_completion" checked`)
	tok := ltik(t, page)

	// A bad form re-renders with the field named, and maps nothing.
	st, page = e.post("/lti/app/map", url.Values{"ltik": {tok}, "group": {"new"}, "group_name": {""}, "course_name": {"Astronomy 101"}, "design_id": {"1"}, "completion_rule": {"canvas_completion"}})
	if st != 422 {
		t.Fatalf("bad map form: %d", st)
	}
	mustContain(t, page, "Give the new group a name.")
	if n := e.count(`SELECT count(*) FROM course_mappings`); n != 0 {
		t.Fatalf("a refused form created %d mappings", n)
	}
	// The TA's token may not map.
	taTok := ltik(t, mustLaunch(t, e, e.ta.ID))
	if st, _ := e.post("/lti/app/map", url.Values{"ltik": {taTok}, "group": {"new"}, "group_name": {"x"}, "course_name": {"x"}, "design_id": {"1"}, "completion_rule": {"manual"}}); st != 403 {
		t.Fatalf("TA map: %d, want 403", st)
	}
	// No token: refused.
	if st, _ := e.post("/lti/app/map", url.Values{"group": {"new"}}); st != 401 {
		t.Fatalf("no token: %d, want 401", st)
	}

	designs, err := e.iss.Designs(ctx)
	if err != nil || len(designs) == 0 {
		t.Fatalf("designs: %v", err)
	}
	st, page = e.post("/lti/app/map", url.Values{"ltik": {tok}, "group": {"new"}, "group_name": {"Astronomy 101"},
		"course_name": {"Astronomy 101"}, "design_id": {itoa(designs[0].ID)}, "completion_rule": {"canvas_completion"}, "auto_publish": {"0"}})
	if st != 200 {
		t.Fatalf("map: %d %s", st, page)
	}
	mustContain(t, page, "The course is mapped", "Credential group: Astronomy 101", `id="count-unpublished">0<`, `id="count-published">0<`,
		"Sam Student", "Olga Other", "not yet earned", `id="no-token"`)
	if strings.Contains(page, "Tina Teacher</td>") {
		t.Fatal("the roster lists the teacher as a student")
	}
	var m course.Mapping
	if err := e.db.Get(&m, `SELECT id, platform_id, group_id, COALESCE(canvas_course_id, '') AS canvas_course_id, COALESCE(context_id, '') AS context_id,
		completion_rule, auto_publish FROM course_mappings`); err != nil {
		t.Fatal(err)
	}
	if m.PlatformID != e.ltiPlat.ID || m.CanvasCourseID != e.course.ID || m.ContextID != e.course.ContextID || m.CompletionRule != course.RuleCanvasCompletion || m.AutoPublish {
		t.Fatalf("mapping = %+v", m)
	}

	// The student: not yet earned, with what the course requires.
	st, page = e.launch(e.student.ID, canvassim.LaunchOptions{})
	if st != 200 {
		t.Fatalf("student launch: %d", st)
	}
	mustContain(t, page, "Not yet earned", "Astronomy 101")

	// The student completes the course: Canvas sends the event.
	ev := e.events.CourseCompleted(canvassim.Completion{CourseID: e.course.ID, CourseName: "Astronomy 101", UserID: e.student.ID, UserName: "Sam Student"})
	ev["metadata"].(map[string]any)["hostname"] = e.live.Host() // the simulator's Canvas host
	evTok, err := e.events.Sign(ev)
	if err != nil {
		t.Fatal(err)
	}
	if st, b, err := e.events.Deliver(ctx, e.webhookURL(), evTok); err != nil || st != 200 {
		t.Fatalf("deliver: %d %s %v", st, b, err)
	}
	e.drain()
	var credID string
	if err := e.db.Get(&credID, `SELECT id FROM credentials WHERE group_id = $1 AND recipient_email = 'sam@example.edu'`, m.GroupID); err != nil {
		t.Fatalf("no credential for the student (email known from the launch): %v", err)
	}
	if st, page = e.launch(e.teacher.ID, canvassim.LaunchOptions{}); st != 200 {
		t.Fatalf("teacher launch after the completion: status %d", st)
	}
	// Review stays inside the course (no staff sign-in page): with the
	// owner's default, the page says who reviews.
	mustContain(t, page, `id="count-unpublished">1<`, "state-unpublished", credID, `href="/lti/app/credentials?ltik=`,
		`id="who-reviews">Staff at Example University review and publish these credentials.`)
	if strings.Contains(page, "/groups/"+itoa(m.GroupID)+"/unpublished") {
		t.Fatal("the course view links to a staff page an instructor cannot sign in to")
	}
	// Unpublished: the student sees it awaiting review, without a link.
	_, page = e.launch(e.student.ID, canvassim.LaunchOptions{})
	mustContain(t, page, "Awaiting review.", "Staff at Example University review credentials before they are published.")
	if strings.Contains(page, "Not yet earned") || strings.Contains(page, "/c/"+credID) {
		t.Fatalf("unpublished credential: the student page says not yet earned or links it:\n%s", page)
	}

	if _, err := e.iss.Publish(ctx, "test", issuance.Selection{IDs: []string{credID}}); err != nil {
		t.Fatal(err)
	}
	_, page = e.launch(e.student.ID, canvassim.LaunchOptions{})
	mustContain(t, page, "View your credential", "/c/"+credID)
	_, page = e.launch(e.other.ID, canvassim.LaunchOptions{})
	mustContain(t, page, "Not yet earned")

	// "Check completions now" without a Canvas API token says so.
	st, page = e.post("/lti/app/reconcile", url.Values{"ltik": {ltik(t, mustLaunch(t, e, e.teacher.ID))}})
	if st != 422 {
		t.Fatalf("check without token: %d", st)
	}
	mustContain(t, page, "No Canvas API token is configured")
}

func TestLaunchCheckCompletionsNowAndDeepLink(t *testing.T) {
	e := newLaunchEnv(t)
	ctx := context.Background()
	if _, err := e.tool.Registry().UpdatePlatform(ctx, e.ltiPlat.ID, lti.PlatformInput{Extra: canvas.PlatformExtra("", canvasToken)}); err != nil {
		t.Fatal(err)
	}
	rest := canvassim.NewREST(e.sim, canvasToken)
	done := time.Now().Add(-time.Hour)
	// The REST API serves the Sim course's own students.
	rest.Complete(e.course.ID, e.student.ID, done)
	pid, gid, courseID, rule := e.ltiPlat.ID, e.group.ID, e.course.ID, "canvas_completion"
	if _, err := e.courses.CreateMapping(ctx, "test", course.MappingInput{PlatformID: &pid, GroupID: &gid, CanvasCourseID: &courseID, CompletionRule: &rule}); err != nil {
		t.Fatal(err)
	}
	page := mustLaunch(t, e, e.teacher.ID)
	mustContain(t, page, "Check completions now")
	st, page := e.post("/lti/app/reconcile", url.Values{"ltik": {ltik(t, page)}})
	if st != 200 {
		t.Fatalf("check now: %d %s", st, page)
	}
	mustContain(t, page, "2 students checked, 1 credentials created", `id="count-unpublished">1<`)

	// Deep linking: the teacher places "My credential" in a module.
	st, page = e.launch(e.teacher.ID, canvassim.LaunchOptions{MessageType: lti.MessageDeepLinking})
	if st != 200 {
		t.Fatalf("deep linking launch: %d %s", st, page)
	}
	mustContain(t, page, `action="/lti/app/deeplink"`)
	st, page = e.post("/lti/app/deeplink", url.Values{"ltik": {ltik(t, page)}, "title": {"My credential"}})
	if st != 200 {
		t.Fatalf("deep link response: %d %s", st, page)
	}
	action, vals, err := canvassim.FormFromHTML([]byte(page))
	if err != nil || vals.Get("JWT") == "" {
		t.Fatalf("no auto-posting response form: %v %s", err, page)
	}
	resp, err := http.PostForm(action, vals)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	links := e.sim.DeepLinks()
	if resp.StatusCode != 200 || len(links) != 1 {
		t.Fatalf("platform got %d deep links (status %d)", len(links), resp.StatusCode)
	}
}

// The instructor maps the course on a score rule: without the score the
// form names the field and maps nothing; with it, "Check completions now"
// reads the posted scores and the roster says where each student stands.
func TestLaunchScoreRule(t *testing.T) {
	e := newLaunchEnv(t)
	ctx := context.Background()
	if _, err := e.tool.Registry().UpdatePlatform(ctx, e.ltiPlat.ID, lti.PlatformInput{Extra: canvas.PlatformExtra("", canvasToken)}); err != nil {
		t.Fatal(err)
	}
	rest := canvassim.NewREST(e.sim, canvasToken)
	rest.AddModule(e.course.ID, "12")
	// The students launch once, so Laurel knows their Canvas ids.
	mustLaunch(t, e, e.student.ID)
	mustLaunch(t, e, e.other.ID)
	page := mustLaunch(t, e, e.teacher.ID)
	// The module is picked from the course's modules, read with the token.
	mustContain(t, page, `value="canvas_score"`, `value="canvas_module"`, `id="min_score"`, `<select id="module_id" name="module_id"`, `<option value="12" >Module 12</option>`)
	tok := ltik(t, page)
	designs, err := e.iss.Designs(ctx)
	if err != nil || len(designs) == 0 {
		t.Fatalf("designs: %v", err)
	}
	form := url.Values{"ltik": {tok}, "group": {"new"}, "group_name": {"Astronomy 101"}, "course_name": {"Astronomy 101"},
		"design_id": {itoa(designs[0].ID)}, "completion_rule": {"canvas_score"}, "score_kind": {"final"}, "auto_publish": {"0"}}
	st, page := e.post("/lti/app/map", form)
	if st != 422 {
		t.Fatalf("score rule without a score: %d", st)
	}
	mustContain(t, page, `id="min_score-err"`, "Give the lowest course score that earns the credential")
	form.Set("completion_rule", "canvas_module")
	st, page = e.post("/lti/app/map", form)
	if st != 422 {
		t.Fatalf("module rule without a module: %d", st)
	}
	mustContain(t, page, `id="module_id-err"`, "Give the Canvas module id")
	if n := e.count(`SELECT count(*) FROM course_mappings`); n != 0 {
		t.Fatalf("refused forms created %d mappings", n)
	}
	form.Set("completion_rule", "canvas_score")
	form.Set("min_score", "80")
	st, page = e.post("/lti/app/map", form)
	if st != 200 {
		t.Fatalf("map: %d %s", st, page)
	}
	mustContain(t, page, `a posted final score of at least 80% creates a credential`, "Against the rule", "Not checked yet.")

	rest.SetScores(e.course.ID, e.student.ID, canvassim.Scores{Current: score(80), Final: score(80)})
	rest.SetScores(e.course.ID, e.other.ID, canvassim.Scores{Current: score(90), Final: score(70), UnpostedFinal: score(99)})
	st, page = e.post("/lti/app/reconcile", url.Values{"ltik": {ltik(t, mustLaunch(t, e, e.teacher.ID))}})
	if st != 200 {
		t.Fatalf("check now: %d %s", st, page)
	}
	mustContain(t, page, "2 students checked, 1 credentials created", `id="count-unpublished">1<`,
		"Final score 80%, at least 80%: met since", "Final score 70%, below 80%.")
	_, page = e.launch(e.other.ID, canvassim.LaunchOptions{})
	mustContain(t, page, "Not yet earned", "when your posted final course score reaches 80%")
}

func score(v float64) *float64 { return &v }
