package course_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/laurel-edu/laurel/internal/browsertest"
)

// An LTI page inside the platform's frame (Chromium, cross-site, as in
// Canvas) asks the platform to fit the frame to it: the simulated Canvas
// page receives lti.frameResize with the page's height on load, and again
// when a taller page (the review list) opens in the frame.
func TestLTIPagesAskThePlatformToResizeTheirFrame(t *testing.T) {
	e := newLaunchEnvOn(t, true)
	e.org.mayPublish.Store(true)
	gid := e.mapByTeacher(t)
	e.mustCredentials(t, gid, e.student, e.other)

	b := browsertest.New(t, browsertest.Options{})
	if err := chromedp.Do(b, chromedp.Navigate(e.sim.LaunchPageURL(e.teacher.ID, e.course.ID, false))); err != nil {
		t.Fatal(err)
	}
	frame := toolFrame(t, b, e.app.URL)
	browsertest.Step(t, frame, "the course view", chromedp.WaitVisible(chromedp.CSS("#review-link")))
	pageHeight := func() int {
		t.Helper()
		h, err := chromedp.Run(frame, chromedp.Evaluate[int](`Math.ceil(document.documentElement.getBoundingClientRect().height)`))
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	// waitFrame waits until the platform set its frame to want px.
	waitFrame := func(what string, want int) {
		t.Helper()
		var got string
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			ctx, cancel := context.WithTimeout(b, 5*time.Second)
			got, _ = chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('tool_content').style.height + ' ' + JSON.stringify(window.frameResizes)`))
			cancel()
			if strings.HasPrefix(got, itoa(int64(want))+"px ") {
				return
			}
		}
		t.Fatalf("%s: the platform's frame is %q, want %dpx", what, got, want)
	}
	first := pageHeight()
	waitFrame("course view", first)

	browsertest.Step(t, frame, "open the review list", chromedp.Click(chromedp.CSS("#review-link")), chromedp.WaitVisible(chromedp.CSS("#publish")))
	second := pageHeight()
	if second == first {
		t.Fatalf("the review list is as tall as the course view (%d px): the test shows nothing", first)
	}
	waitFrame("review list", second)
}
