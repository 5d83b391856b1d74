package uitest

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/browsertest"
)

// The pages' JavaScript in a real Chromium: "Add Another Recipient" adds a
// row without submitting, and "select all" ticks every row for Publish.
func TestBrowserAddRecipientAndSelectAll(t *testing.T) {
	e := mustEnv(t)
	if _, _, err := e.accts.CreateUser(context.Background(), "owner@example.edu", "Owner", auth.Owner, nil, password); err != nil {
		t.Fatal(err)
	}
	bctx := browsertest.New(t, browsertest.Options{BlockThirdPartyCookies: true})
	run := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		browsertest.Step(t, bctx, "browser step", steps...)
	}
	text := func(sel string) string {
		t.Helper()
		return browsertest.Text(t, bctx, sel)
	}
	run(chromedp.Navigate(e.srv.URL+"/groups/"+gid(e.group)+"/credentials/new"),
		chromedp.WaitVisible("#email"),
		chromedp.SendKeys("#email", "owner@example.edu"),
		chromedp.SendKeys("#password", password),
		chromedp.Click("#sign-in"),
		chromedp.WaitVisible("#name_0"),
		browsertest.Loaded,
		chromedp.SendKeys("#name_0", "Ada Lovelace"),
		chromedp.SendKeys("#email_0", "ada@example.edu"),
		chromedp.SendKeys("#attr_grade_0", "A"),
		chromedp.Evaluate[chromedp.Void](`window.samePage = true`), // a submit would load a new page without it
		chromedp.Click("#add-recipient"),
		chromedp.WaitVisible("#name_1"),
		chromedp.SendKeys("#name_1", "Alan Turing"),
		chromedp.SendKeys("#email_1", "alan@example.edu"),
		chromedp.SendKeys("#attr_grade_1", "B"),
	)
	if ok, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`window.samePage === true`)); err != nil || !ok {
		t.Fatalf("adding a row loaded a new page (%v)", err)
	}
	if n := e.count(`SELECT count(*) FROM credentials`); n != 0 {
		t.Fatalf("adding a row created %d credentials", n)
	}
	run(chromedp.Click("#create-credentials"), chromedp.WaitVisible("#flash"))
	if f := text("#flash"); !strings.Contains(f, "2 credentials created (unpublished)") {
		t.Fatalf("flash %q", f)
	}
	run(browsertest.Loaded, chromedp.Click("#select-all"), chromedp.Click("#publish"), chromedp.WaitVisible("#confirm"))
	if q := text("#confirm-question"); q != "Publish 2 credentials and send 2 emails?" {
		t.Fatalf("confirm question %q", q)
	}
	run(chromedp.Click("#confirm"), chromedp.WaitVisible("#flash"))
	if f := text("#flash"); !strings.Contains(f, "Published 2 credentials") {
		t.Fatalf("flash %q", f)
	}
	if n := e.count(`SELECT count(*) FROM credentials WHERE state = 'published' AND issued_on = current_date`); n != 2 {
		t.Fatalf("%d published today, want 2", n)
	}
}
