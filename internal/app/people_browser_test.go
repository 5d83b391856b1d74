package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/browsertest"
	"github.com/laurel-edu/laurel/issuance"
)

// TestPeoplePageLooksUpExportsAndErasesWithConfirmation: an owner finds Ada
// on /admin/people (in Chromium, axe-clean), sees her credentials, downloads
// her JSON, and erases her after a confirm step that says what will happen;
// the flash says what was done and a new search finds nothing. A team
// member may not open the page, and a cross-origin erase is refused with
// nothing changed.
func TestPeoplePageLooksUpExportsAndErasesWithConfirmation(t *testing.T) {
	axe := browsertest.AxeScript(t)
	app := mustRun(t)
	ctx := context.Background()
	f := mustPeople(t, app)
	if _, _, err := app.Accounts.CreateUser(ctx, "it@uni.example.edu", "Iris Owner", auth.Owner, nil, ownerPassword); err != nil {
		t.Fatal(err)
	}

	// Team members: no page, no export (403).
	team := mustSignIn(t, app, auth.TeamMember)
	for _, path := range []string{"/admin/people", "/admin/people/export?email=" + url.QueryEscape(adaEmail)} {
		if resp, body := team.do("GET", path, "", ""); resp.StatusCode != http.StatusForbidden || strings.Contains(body, "Lovelace") {
			t.Fatalf("team member %s: %d", path, resp.StatusCode)
		}
	}
	// An admin may; the download is the JSON export.
	admin := mustSignIn(t, app, auth.Admin)
	resp, body := admin.do("GET", "/admin/people/export?email="+url.QueryEscape(adaEmail), "", "")
	var rec struct {
		Email       string `json:"email"`
		Credentials []any  `json:"credentials"`
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") ||
		json.Unmarshal([]byte(body), &rec) != nil || rec.Email != adaEmail || len(rec.Credentials) != 2 {
		t.Fatalf("export download: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	// A cross-origin form post is refused before it reaches the handler.
	req, _ := http.NewRequest("POST", app.URL+"/admin/people/erase", strings.NewReader(url.Values{"email": {adaEmail}, "confirm": {"yes"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example.com")
	if r, err := admin.http.Do(req); err != nil || r.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin erase: %v %v", r, err)
	}
	if c, err := app.Issuance.Credential(ctx, f.adaPub.ID); err != nil || c.State != issuance.Published || c.Recipient.Name != adaName {
		t.Fatalf("after a refused erase: %+v %v", c, err)
	}

	b := browsertest.New(t, browsertest.Options{})
	audit := func(name string) {
		t.Helper()
		vs, err := browsertest.Audit(b, axe)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, v := range vs {
			t.Errorf("%s: axe: %s", name, v)
		}
	}
	browsertest.Step(t, b, "owner signs in and opens People",
		chromedp.Navigate(app.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS("#email"), "it@uni.example.edu"),
		chromedp.SendKeys(chromedp.CSS("#password"), ownerPassword),
		chromedp.Click(chromedp.CSS("#sign-in")),
		chromedp.WaitVisible(chromedp.CSS("#groups")),
		chromedp.Click(chromedp.CSS("#nav-people")),
		chromedp.WaitVisible(chromedp.CSS("#people-search")),
	)
	audit("search form")
	browsertest.Step(t, b, "a bad email is named on the form",
		chromedp.SendKeys(chromedp.CSS("#person-email"), "ada"),
		chromedp.Click(chromedp.CSS("#find-person")),
		chromedp.WaitVisible(chromedp.CSS("#email-error")),
	)
	if e := browsertest.Text(t, b, "#email-error"); !strings.Contains(e, `"ada" is not one email address`) {
		t.Fatalf("error: %q", e)
	}
	browsertest.Step(t, b, "look Ada up",
		chromedp.Navigate(app.URL+"/admin/people"),
		chromedp.WaitVisible(chromedp.CSS("#person-email")),
		chromedp.SendKeys(chromedp.CSS("#person-email"), strings.ToUpper(adaEmail)),
		chromedp.Click(chromedp.CSS("#find-person")),
		chromedp.WaitVisible(chromedp.CSS("#person-credentials")),
	)
	audit("a person")
	// At a phone's width too: no sideways scroll, axe-clean.
	browsertest.Step(t, b, "a person at 390 px",
		chromedp.EmulateViewport(390, 844),
		browsertest.Relayout,
	)
	if ov, err := chromedp.Run(b, chromedp.Evaluate[overflow](overflowJS)); err != nil || ov.ScrollWidth > ov.InnerWidth {
		t.Fatalf("a person at 390 px scrolls sideways: %+v %v", ov, err)
	}
	audit("a person at 390 px")
	browsertest.Step(t, b, "back to 1280 px", chromedp.EmulateViewport(1280, 800))
	creds := browsertest.Text(t, b, "#person-credentials")
	for _, want := range []string{f.adaPub.ID, f.adaUnpub.ID, "Data Science Foundations", "Marine Biology", "unpublished", "published"} {
		if !strings.Contains(creds, want) {
			t.Fatalf("credentials table lacks %q:\n%s", want, creds)
		}
	}
	if strings.Contains(browsertest.Text(t, b, "main"), bobName) {
		t.Fatal("Ada's page names Bob")
	}
	for sel, want := range map[string]string{"#person-emails": adaEmail, "#person-import-rows": "ds101.csv", "#person-courses": "ctx-ds101",
		"#person-lms-users": "Canvas user 101", "#person-audit": "publish"} {
		if got := browsertest.Text(t, b, sel); !strings.Contains(got, want) {
			t.Fatalf("%s lacks %q: %q", sel, want, got)
		}
	}
	// The counts name what erasure deletes too (her row of the update by
	// spreadsheet).
	if got := browsertest.Text(t, b, "#person-counts"); !strings.Contains(got, "1 row(s) of spreadsheet updates") ||
		!strings.Contains(got, "0 name correction request(s)") || !strings.Contains(got, "0 expiry reminder(s) and 0 renewal request(s)") {
		t.Fatalf("counts: %q", got)
	}
	href, err := chromedp.Run(b, chromedp.AttributeValue(chromedp.CSS("#export-person"), "href"))
	if err != nil || !strings.Contains(href.Value, "/admin/people/export?email="+url.QueryEscape(adaEmail)) {
		t.Fatalf("export link %q %v", href.Value, err)
	}

	browsertest.Step(t, b, "erase asks first",
		chromedp.Click(chromedp.CSS("#erase-person")),
		chromedp.WaitVisible(chromedp.CSS("#erase-confirm")),
	)
	audit("confirm step")
	if c := browsertest.Text(t, b, "#erase-confirm"); !strings.Contains(c, "cannot be undone") || !strings.Contains(c, "erased at the recipient's request") ||
		!strings.Contains(c, "rows of spreadsheet updates") {
		t.Fatalf("confirm step: %q", c)
	}
	if c, _ := app.Issuance.Credential(ctx, f.adaPub.ID); c.State != issuance.Published {
		t.Fatal("the confirm step erased already")
	}
	browsertest.Step(t, b, "cancel, then erase for real",
		chromedp.Click(chromedp.CSS("#erase-cancel")),
		chromedp.WaitVisible(chromedp.CSS("#erase-person")),
		chromedp.Click(chromedp.CSS("#erase-person")),
		chromedp.WaitVisible(chromedp.CSS("#erase-confirm-button")),
		chromedp.Click(chromedp.CSS("#erase-confirm-button")),
		chromedp.WaitVisible(chromedp.CSS("#flash")),
	)
	if fl := browsertest.Text(t, b, "#flash"); !strings.Contains(fl, "The person was erased") || !strings.Contains(fl, "1 published credential revoked") ||
		!strings.Contains(fl, "1 unpublished credential deleted") || strings.Contains(fl, "Lovelace") {
		t.Fatalf("flash: %q", fl)
	}
	if c, err := app.Issuance.Credential(ctx, f.adaPub.ID); err != nil || !c.Erased() || c.State != issuance.Revoked {
		t.Fatalf("after erasing on the page: %+v %v", c, err)
	}
	if c, err := app.Issuance.Credential(ctx, f.bobPub.ID); err != nil || c.Recipient.Name != bobName || c.State != issuance.Published {
		t.Fatalf("Bob after Ada's erasure: %+v %v", c, err)
	}
	browsertest.Step(t, b, "a new search finds nothing",
		chromedp.SendKeys(chromedp.CSS("#person-email"), adaEmail),
		chromedp.Click(chromedp.CSS("#find-person")),
		chromedp.WaitVisible(chromedp.CSS("#person-nothing")),
	)
	audit("nothing found")
}
