package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/browsertest"
	"github.com/laurel-edu/laurel/issuance"
)

// TestStaffScriptsWorkUnderCSP drives the pages whose scripts moved from
// inline <script> to /static/ files in a real Chromium, under the
// Content-Security-Policy that forbids inline script: "Add attribute" on the
// group form, "Add Another Recipient" without a round trip, and "select
// all" on the review page; the browser must report no CSP violation.
func TestStaffScriptsWorkUnderCSP(t *testing.T) {
	app := mustRun(t)
	ctx := context.Background()
	const password = "correct horse battery staple"
	if _, _, err := app.Accounts.CreateUser(ctx, "registrar@uni.example.edu", "Rita Registrar", auth.Owner, nil, password); err != nil {
		t.Fatal(err)
	}
	g, err := app.Issuance.CreateGroup(ctx, "test", issuance.Group{Name: "Data Science", CourseName: "DS 101", Language: "en"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.Issuance.CreateCredentials(ctx, "test", g.ID, issuance.FromAPI, []issuance.NewCredential{
		{Recipient: issuance.Recipient{Name: "Ada Lovelace", Email: "ada@uni.example.edu"}, IssuedOn: "2026-01-02"},
		{Recipient: issuance.Recipient{Name: "Alan Turing", Email: "alan@uni.example.edu"}, IssuedOn: "2026-01-02"},
	}); err != nil {
		t.Fatal(err)
	}
	b := browsertest.New(t, browsertest.Options{})
	violations := browsertest.WatchCSP(t, b)
	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(b, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			html, _ := chromedp.Run(b, chromedp.OuterHTML(chromedp.CSS("body")))
			t.Fatalf("%s: %v\npage: %.2000s\nCSP violations: %v", name, err, html, violations())
		}
	}
	eval := func(expr string) int {
		t.Helper()
		v, err := chromedp.Run(b, chromedp.Evaluate[int](expr))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return v
	}

	step("sign in",
		chromedp.Navigate(app.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS("#email"), "registrar@uni.example.edu"),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("#nav-groups")))

	// The button is hidden until its script runs.
	step("group form: add an attribute",
		chromedp.Navigate(app.URL+"/groups/new"),
		chromedp.WaitVisible(chromedp.CSS("#add-attribute")))
	before := eval(`document.querySelectorAll("#attributes tr.attr-row").length`)
	step("click Add attribute", chromedp.Click(chromedp.CSS("#add-attribute")))
	if after := eval(`document.querySelectorAll("#attributes tr.attr-row").length`); after != before+1 {
		t.Errorf("Add attribute: %d rows → %d, want one more", before, after)
	}

	// Without script the button submits the form and reloads the page;
	// with it a row appears and the page's state survives.
	step("create credentials page", chromedp.Navigate(fmt.Sprintf("%s/groups/%d/credentials/new", app.URL, g.ID)),
		chromedp.WaitVisible(chromedp.CSS("#add-recipient")))
	eval(`window.laurelNoReload = 1`)
	step("Add Another Recipient", chromedp.Click(chromedp.CSS("#add-recipient")), chromedp.WaitVisible(chromedp.CSS("#name_1")))
	if eval(`window.laurelNoReload || 0`) != 1 {
		t.Error("Add Another Recipient reloaded the page: its script did not run")
	}

	step("review page: select all",
		chromedp.Navigate(fmt.Sprintf("%s/groups/%d/unpublished", app.URL, g.ID)),
		chromedp.WaitVisible(chromedp.CSS("#select-all")),
		chromedp.Click(chromedp.CSS("#select-all")))
	if n := eval(`document.querySelectorAll("input.select-one:checked").length`); n != 2 {
		t.Errorf("select all checked %d of 2", n)
	}
	time.Sleep(300 * time.Millisecond) // let late console messages arrive
	if v := violations(); len(v) > 0 {
		t.Errorf("the browser reported CSP violations: %v", v)
	}
}
