package app_test

import (
	"context"
	"html"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/laurel-edu/laurel/internal/browsertest"
	"github.com/laurel-edu/laurel/issuance"
)

// TestEngagementBrowser: a recipient clicks the button in their real
// publish email in a real Chromium and lands on the credential page's own
// URL; that is one email click and one page view, however many requests
// the browser made. The owner then finds the figures through the header's
// Insights link, on the group's page and on the credential's page.
func TestEngagementBrowser(t *testing.T) {
	app := mustRun(t)
	ctx := context.Background()
	g, cr := seedOwnerAndCredential(t, app)
	if _, err := app.Issuance.Publish(ctx, "test", issuance.Selection{IDs: []string{cr.ID}}); err != nil {
		t.Fatal(err)
	}
	msgs, err := app.Mail.WaitFor(1, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`<a href="([^"]*)"[^>]*>View your credential</a>`).FindStringSubmatch(msgs[0].HTML)
	page := app.URL + "/c/" + cr.ID
	if m == nil || html.UnescapeString(m[1]) != page+"?src=email" {
		t.Fatalf("email button %v, want %s?src=email", m, page)
	}
	b := browsertest.New(t, browsertest.Options{})
	browsertest.Step(t, b, "recipient clicks the email's button",
		chromedp.Navigate(html.UnescapeString(m[1])),
		chromedp.WaitVisible(chromedp.CSS("#credential-status")))
	landed, err := chromedp.Run(b, chromedp.Location())
	if err != nil || landed != page {
		t.Fatalf("landed on %s, want the page's own URL %s", landed, page)
	}
	if err := app.Insight.MovePending(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Insight.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(b, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("%s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	browsertest.Step(t, b, "owner signs in and opens Insights",
		chromedp.Navigate(app.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS("#email"), "it@uni.example.edu"),
		chromedp.SendKeys(chromedp.CSS("#password"), ownerPassword),
		chromedp.Click(chromedp.CSS("#sign-in")),
		chromedp.WaitVisible(chromedp.CSS("#nav-insights")),
		chromedp.Click(chromedp.CSS("#nav-insights")),
		chromedp.WaitVisible(chromedp.CSS("#total-viewed")))
	total := text("#total-viewed")
	browsertest.Step(t, b, "the group's page",
		chromedp.Navigate(app.URL+"/groups/"+itoa(g.ID)),
		chromedp.WaitVisible(chromedp.CSS("#insight-panel")))
	views, emails := text("#insight-views"), text("#insight-emails")
	browsertest.Step(t, b, "the credential's page",
		chromedp.Navigate(app.URL+"/credentials/"+cr.ID),
		chromedp.WaitVisible(chromedp.CSS("#insight-panel")))
	credViews := text("#insight-views")
	if total != "1" || views != "1" || emails != "1" || credViews != "1" {
		t.Fatalf("views on /insights %q, group page %q (email clicks %q), credential page %q; want 1 each", total, views, emails, credViews)
	}
}
