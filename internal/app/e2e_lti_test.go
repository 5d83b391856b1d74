package app_test

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/laurel-edu/laurel/canvas"
	"github.com/laurel-edu/laurel/internal/browsertest"
	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/lti"
)

// TestCanvasLaunchWithThirdPartyCookiesBlocked launches Laurel the way Canvas
// shows it: in a cross-site iframe of the (simulated) Canvas course page, in a
// Chromium that blocks third-party cookies. The launch must still complete
// (state and nonce travel through Canvas's postMessage storage), the teacher
// maps the course to a new group, and a student then sees "not yet earned".
func TestCanvasLaunchWithThirdPartyCookiesBlocked(t *testing.T) {
	app := mustRun(t) // on 127.0.0.1
	ctx := context.Background()

	// Canvas on "localhost": another site than Laurel's 127.0.0.1, so
	// Laurel's cookies inside Canvas's page are third-party.
	sim := canvassim.New()
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	sim.SetURL(strings.Replace(srv.URL, "127.0.0.1", "localhost", 1))
	sim.UseTool(app.URL+"/lti/login", app.URL+"/lti/launch", app.URL+"/lti/jwks")
	course := sim.AddCourse(canvassim.Course{ID: "565", Title: "Computer Science I", Label: "CS 101"})
	teacher := sim.AddUser(canvassim.User{ID: "123", Name: "Isaac Newton", Email: "inewton@example.edu"})
	student := sim.AddUser(canvassim.User{ID: "124", Name: "Emmy Noether", Email: "enoether@example.edu"})
	for _, e := range []struct {
		id   string
		role canvassim.Role
	}{{teacher.ID, canvassim.Teacher}, {student.ID, canvassim.Student}} {
		if err := sim.Enroll(course.ID, e.id, e.role); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := app.LTI.Registry().AddPlatform(ctx, lti.PlatformInput{
		Name: "Canvas", Issuer: sim.Issuer, ClientID: sim.ClientID, AuthURL: sim.AuthURL(), TokenURL: sim.TokenURL(),
		JWKSURL: sim.JWKSURL(), DeploymentIDs: []string{sim.DeploymentID}, Extra: canvas.PlatformExtra(sim.URL(), ""),
	}); err != nil {
		t.Fatal(err)
	}

	b := browsertest.New(t, browsertest.Options{BlockThirdPartyCookies: true})
	launch := func(userID string) context.Context {
		t.Helper()
		q := url.Values{"course": {course.ID}, "user": {userID}}
		if err := chromedp.Do(b, chromedp.Navigate(sim.URL()+"/sim/launch?"+q.Encode())); err != nil {
			t.Fatal(err)
		}
		return toolFrame(t, b, app.URL)
	}

	frame := launch(teacher.ID)
	browsertest.Step(t, frame, "teacher sees the mapping form",
		chromedp.WaitVisible(chromedp.CSS(`form[action="/lti/app/map"]`)))
	if v := frameText(t, frame, chromedp.Value(chromedp.CSS("#group_name"))); v != "Computer Science I" {
		t.Errorf("group name prefilled with %q, want the course title", v)
	}
	browsertest.Step(t, frame, "map the course to a new group",
		chromedp.Click(chromedp.CSS(`form[action="/lti/app/map"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#count-unpublished")))
	var mapped struct {
		GroupID int64  `db:"group_id"`
		Rule    string `db:"completion_rule"`
		Auto    bool   `db:"auto_publish"`
		Name    string `db:"name"`
	}
	if err := app.DB.Get(&mapped, `SELECT m.group_id, m.completion_rule, m.auto_publish, g.name
		FROM course_mappings m JOIN groups g ON g.id = m.group_id WHERE m.canvas_course_id = '565'`); err != nil {
		t.Fatalf("no mapping for the course after the teacher mapped it: %v", err)
	}
	if mapped.Name != "Computer Science I" || mapped.Rule != "canvas_completion" || mapped.Auto {
		t.Fatalf("mapping = %+v, want a new group named after the course, canvas completion, waiting unpublished", mapped)
	}

	frame = launch(student.ID)
	browsertest.Step(t, frame, "student sees their status", chromedp.WaitVisible(chromedp.CSS("#status")))
	status := frameText(t, frame, chromedp.Text(chromedp.CSS("#status")))
	if !strings.Contains(status, "Not yet earned") {
		t.Fatalf("student status %q, want \"Not yet earned\"", status)
	}
}

// toolFrame waits for Laurel's iframe inside the platform page to finish the
// launch and returns a context attached to it (a cross-site iframe runs as its
// own target).
func toolFrame(t *testing.T, b context.Context, toolURL string) context.Context {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		infos, err := chromedp.Targets(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, info := range infos {
			if info.Type == "iframe" && strings.HasPrefix(info.URL, toolURL+"/lti/launch") {
				return attach(t, b, info.TargetID)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	infos, _ := chromedp.Targets(b)
	var seen []string
	for _, i := range infos {
		seen = append(seen, i.Type+" "+i.URL)
	}
	t.Fatalf("the launch never reached %s/lti/launch; targets: %v", toolURL, seen)
	return nil
}

func frameText(t *testing.T, ctx context.Context, a chromedp.Action[string]) string {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		t.Fatalf("read from the tool's frame: %v", err)
	}
	return v
}

func attach(t *testing.T, b context.Context, id target.ID) context.Context {
	fctx, cancel := chromedp.NewContext(b, chromedp.WithTargetID(id))
	t.Cleanup(cancel)
	// Attach with a context that lives as long as the test: a first run under
	// a timeout would detach when that timeout's context ends.
	if err := chromedp.Do(fctx); err != nil {
		t.Fatalf("attach to the tool's frame: %v", err)
	}
	return fctx
}
