package uitest

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/browsertest"
)

// In Chromium, at 1280 and 390 px: the Credentials tab is in the staff
// navigation; typing a Cyrillic surname in lower case finds it; the name
// column sorts; a bad date is marked on its field; Create Credentials →
// Single Group opens the chosen group's form; every state is axe-clean and
// nothing scrolls sideways.
func TestBrowserCredentialsTab(t *testing.T) {
	e, _ := credentialsTabEnv(t)
	if _, _, err := e.accts.CreateUser(context.Background(), "owner@example.edu", "Olive Owner", auth.Owner, nil, password); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t, "owner@example.edu")
	axe := browsertest.AxeScript(t)
	for _, w := range []int64{1280, 390} {
		b.run(chromedp.EmulateViewport(w, 844))
		b.run(chromedp.Navigate(b.base+"/groups"), chromedp.WaitVisible("header.top"))
		if w == 390 { // on a phone the links are behind the menu button
			b.run(chromedp.Click("#menu-toggle"))
		}
		b.run(chromedp.WaitVisible("#nav-credentials"), chromedp.Click("#nav-credentials"), chromedp.WaitVisible("#credentials"))
		if !b.eval(`document.querySelectorAll('#credentials tbody tr').length === 5`) {
			t.Errorf("at %d px: rows %s", w, b.text("#credentials"))
		}
		b.audit(sprint(w)+" px list", axe)

		b.run(chromedp.SendKeys("#q", "соколов"), chromedp.Click("#apply-filter"), chromedp.WaitVisible("#filter-matches"))
		if got := b.text("#filter-matches"); got != "1 credential matches." {
			t.Errorf("at %d px: matches %q", w, got)
		}
		if got := b.text(".recipient-name"); got != "Dmitri Соколов" {
			t.Errorf("at %d px: found %q", w, got)
		}
		b.audit(sprint(w)+" px search", axe)

		b.run(chromedp.Navigate(b.base+"/credentials?q=example"), chromedp.WaitVisible("#sort-name"), chromedp.Click("#sort-name"),
			chromedp.WaitVisible(`th[aria-sort="ascending"]`))
		if !b.eval(`Array.from(document.querySelectorAll('.recipient-name')).map(function(e){return e.textContent}).join('|') === '=HYPERLINK("http://evil.example")|李娜|Agnieszka Wiśniewska|Dmitri Соколов|Other Person'`) {
			t.Errorf("at %d px: name order %s", w, b.text("#credentials"))
		}
		b.run(chromedp.Click("#sort-name"), chromedp.WaitVisible(`th[aria-sort="descending"]`))
		if got := b.text(".recipient-name"); got != "Other Person" {
			t.Errorf("at %d px: first by name, descending: %q", w, got)
		}

		b.run(chromedp.Navigate(b.base+"/credentials?expires_from=2027-02-30"), chromedp.WaitVisible("#filter-problem"))
		if got := b.text("#expires_from-error"); got != "Enter a date, for example with the date picker." {
			t.Errorf("at %d px: date error %q", w, got)
		}
		b.audit(sprint(w)+" px bad filter", axe)

		b.run(chromedp.Navigate(b.base+"/credentials"), chromedp.WaitVisible("#create-credentials"), chromedp.Click("#create-credentials"),
			chromedp.WaitVisible("#single-group-form"))
		b.audit(sprint(w)+" px create", axe)
		b.run(chromedp.SetValue("#group", gid(e.group)), chromedp.Click("#single-form"), chromedp.WaitVisible("#tab-create.active"))
	}
	if v := b.csp(); len(v) > 0 {
		t.Errorf("CSP violations: %v", v)
	}
}
