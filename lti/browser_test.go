package lti_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/laurel-edu/laurel/internal/browsertest"
	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/lti"
)

// The iframe flow in a real browser with third-party cookies blocked: the
// platform page (on localhost) frames the tool (on 127.0.0.1, another site),
// so the tool's state cookie is dropped; the launch completes through the
// platform's postMessage storage (login page put_data, check page get_data).
func TestBrowserLaunchInIframeWithThirdPartyCookiesBlocked(t *testing.T) {
	browserLaunch(t, true, 2)
}

// When the state cookie survives (here: platform and tool on the same site,
// 127.0.0.1 on two ports), it binds the browser and the launch completes on
// the first POST.
func TestBrowserLaunchInIframeWithCookies(t *testing.T) {
	browserLaunch(t, false, 1)
}

// browserLaunch runs the iframe launch; with block, the platform is on
// another site (localhost) than the tool (127.0.0.1) and Chromium blocks
// third-party cookies.
func browserLaunch(t *testing.T, block bool, wantPosts int32) {
	e := newEnv(t)
	var launchPosts atomic.Int32
	inner := e.srv.Config.Handler
	e.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/lti/launch" {
			launchPosts.Add(1)
		}
		inner.ServeHTTP(w, r)
	})
	sim := canvassim.New().Start()
	defer sim.Close()
	if block {
		sim.SetURL(strings.Replace(sim.URL(), "127.0.0.1", "localhost", 1))
	}
	if _, err := sim.Register(context.Background(), e.tool, "browser sim"); err != nil {
		t.Fatal(err)
	}
	course := sim.AddCourse(canvassim.Course{Title: "History"})
	u := sim.AddUser(canvassim.User{Name: "Ida Instructor"})
	must(t, sim.Enroll(course.ID, u.ID, canvassim.Teacher))

	ctx := browsertest.New(t, browsertest.Options{BlockThirdPartyCookies: block})
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, chromedp.Navigate(sim.LaunchPageURL(u.ID, course.ID, false))); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if l := e.lastLaunch(); l != nil {
			if l.Sub != u.LTIID || !l.IsInstructor() || l.Context.Title != "History" {
				t.Fatalf("launch = %+v", l)
			}
			if n := launchPosts.Load(); n != wantPosts {
				t.Fatalf("launch POSTs = %d, want %d (2: the check page re-posted after lti.get_data)", n, wantPosts)
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no launch completed in the browser (launch POSTs: %d)", launchPosts.Load())
}

// A platform without client-side storage (Moodle 4.5) in a browser that
// blocks third-party cookies: the launch inside the iframe is refused, but
// the refusal offers one click that re-runs the login in a new top-level
// window, where Laurel's cookie is first-party, and the launch completes
// there.
func TestBrowserNoCookiesNoStorageNewWindow(t *testing.T) {
	e := newEnv(t)
	var launchPosts atomic.Int32
	inner := e.srv.Config.Handler
	e.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/lti/launch" {
			launchPosts.Add(1)
		}
		inner.ServeHTTP(w, r)
	})
	sim := canvassim.New().Start()
	defer sim.Close()
	sim.SetURL(strings.Replace(sim.URL(), "127.0.0.1", "localhost", 1))
	if _, err := sim.Register(context.Background(), e.tool, "moodle-like sim"); err != nil {
		t.Fatal(err)
	}
	course := sim.AddCourse(canvassim.Course{Title: "Geology"})
	u := sim.AddUser(canvassim.User{Name: "Gail Student"})
	must(t, sim.Enroll(course.ID, u.ID, canvassim.Student))

	ctx := browsertest.New(t, browsertest.Options{BlockThirdPartyCookies: true})
	sctx, cancel := context.WithTimeout(ctx, 40*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, chromedp.Navigate(sim.LaunchPageURL(u.ID, course.ID, false)+"&storage=none")); err != nil {
		t.Fatal(err)
	}
	// The tool's frame (another site than the platform page) shows the
	// refusal with the new-window link.
	fctx, fcancel := targetContext(t, sctx, "iframe", e.srv.URL+"/lti/launch")
	defer fcancel()
	if err := chromedp.Do(fctx, chromedp.WaitVisible(chromedp.CSS("#lti-new-window"))); err != nil {
		t.Fatalf("refused page with the new-window link: %v", err)
	}
	reason, err := chromedp.Run(fctx, chromedp.Text(chromedp.CSS("#lti-refused-reason")))
	if err != nil || reason != lti.ReasonStateNotBound || e.lastLaunch() != nil {
		t.Fatalf("reason %q (%v), launch %v: want the iframe launch refused for want of cookie and storage", reason, err, e.lastLaunch())
	}
	// One click, as the person would (a user gesture, so no popup blocker).
	if _, err := chromedp.Run(fctx, chromedp.Evaluate[bool](`document.getElementById("lti-new-window").click(), true`,
		func(p *runtime.EvaluateParams) { gesture := true; p.UserGesture = &gesture })); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := targetContext(t, sctx, "page", e.srv.URL+"/lti/")
	defer wcancel()
	if _, err := chromedp.Run(wctx, chromedp.Poll[bool](`!!document.body && document.body.innerText.indexOf('"sub"') >= 0`, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("the new window did not complete the launch: %v (launch POSTs: %d)", err, launchPosts.Load())
	}
	body, err := chromedp.Run(wctx, chromedp.Text(chromedp.CSS("body")))
	must(t, err)
	l := e.lastLaunch()
	if l == nil || l.Sub != u.LTIID || !strings.Contains(body, u.LTIID) {
		t.Fatalf("launch in the new window = %+v, page %q", l, body)
	}
	if n := launchPosts.Load(); n != 2 {
		t.Fatalf("launch POSTs = %d, want 2 (refused in the frame, accepted in the window)", n)
	}
	status, err := chromedp.Run(fctx, chromedp.Text(chromedp.CSS("#lti-new-window-status")))
	if err != nil || !strings.Contains(status, "continue there") {
		t.Fatalf("the frame does not say where to continue: %q %v", status, err)
	}
}

// targetContext attaches to the target of type typ ("page": a window;
// "iframe": a cross-site frame, its own target in Chromium) whose URL starts
// with prefix.
func targetContext(t *testing.T, ctx context.Context, typ, prefix string) (context.Context, context.CancelFunc) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var seen []string
	for time.Now().Before(deadline) {
		ts, err := chromedp.Targets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		seen = seen[:0]
		for _, ti := range ts {
			seen = append(seen, ti.Type+" "+ti.URL)
			if ti.Type == typ && strings.HasPrefix(ti.URL, prefix) {
				return chromedp.NewContext(ctx, chromedp.WithTargetID(ti.TargetID))
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no %s at %s; targets: %v", typ, prefix, seen)
	return nil, nil
}
