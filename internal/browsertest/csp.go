package browsertest

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// WatchCSP records every Content-Security-Policy violation the pages of ctx
// report from now on: the browser's own console message and the page's
// securitypolicyviolation event (a listener added by DevTools, which the
// policy does not block). The returned func lists what was seen so far.
func WatchCSP(t testing.TB, ctx context.Context) func() []string {
	t.Helper()
	const listener = `document.addEventListener("securitypolicyviolation", function (e) {
  console.error("CSP violation: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline") + " at " + e.sourceFile + ":" + e.lineNumber);
});`
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: listener}); err != nil {
		t.Fatalf("add the CSP listener: %v", err)
	}
	var mu sync.Mutex
	var seen []string
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if strings.Contains(m.Text, "CSP violation") || strings.Contains(m.Text, "Content Security Policy") {
				mu.Lock()
				seen = append(seen, m.String())
				mu.Unlock()
			}
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}
