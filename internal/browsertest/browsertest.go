// Package browsertest starts a real headless Chromium for end-to-end tests
// (chromedp), with the flags this sandboxed, offline machine needs.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath finds the browser: $LAUREL_CHROMIUM, /usr/bin/chromium, or
// chromium / chromium-browser / google-chrome on PATH.
func chromiumPath() string {
	if p := os.Getenv("LAUREL_CHROMIUM"); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Options tune the browser.
type Options struct {
	// BlockThirdPartyCookies makes Chromium refuse cookies in cross-site
	// frames, as Safari and privacy-minded Chrome users do.
	BlockThirdPartyCookies bool
}

// New starts a headless Chromium and returns a browser context whose
// lifetime is the test's. It skips the test when Chromium is missing, except
// with CI=true, where it fails.
func New(t testing.TB, opt Options) context.Context {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("Chromium not found (CI=true, so this fails rather than skips): apt-get install chromium")
		}
		t.Skip("Chromium not found: apt-get install chromium")
	}
	flags := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	if opt.BlockThirdPartyCookies {
		flags = append(flags, chromedp.Flag("block-third-party-cookies", true),
			chromedp.Flag("test-third-party-cookie-phaseout", true))
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), flags...)
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	// The first run starts the browser, which lives as long as ctx: no timeout
	// here (derive one per step instead).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// stepTimeout bounds one Step: a page that has not done what a step waits
// for by then will not.
const stepTimeout = 30 * time.Second

// Step runs actions in the browser b within stepTimeout; when they fail it
// fails the test, naming the step and showing the start of the page.
func Step(t testing.TB, b context.Context, name string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		html, _ := chromedp.Run(b, chromedp.OuterHTML("body"))
		t.Fatalf("%s: %v\npage: %.3000s", name, err, html)
	}
}

// Relayout waits two animation frames: after a viewport change, the page's
// resize and media-query handlers (internal/web/static/layout.js: the
// phone menu, the tables that scroll) have run by then, so what a test
// measures next is the page as a person sees it.
var Relayout = chromedp.Evaluate[chromedp.Void](`new Promise(function (r) {
  requestAnimationFrame(function () { requestAnimationFrame(r); }); })`, chromedp.EvalAwaitPromise)

// Loaded waits until the page has loaded, its deferred scripts included:
// a button that a script takes over (and that submits the form without
// it) is clicked only once the script has run.
var Loaded = chromedp.Poll[chromedp.Void](`document.readyState === "complete"`)

// Text returns the text of the element sel matches in b, or fails the test.
func Text(t testing.TB, b context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(b, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("read %s: %v", sel, err)
	}
	return s
}
