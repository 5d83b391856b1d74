package lti_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/laurel-edu/laurel/canvas/canvassim"
	"github.com/laurel-edu/laurel/internal/browsertest"
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
