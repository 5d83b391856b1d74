package uitest

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/browsertest"
)

// In Chromium: the Attributes section, reached from the header, lists the
// group's variables with the group that uses each and the design that
// prints it (links); an owner creates a web link variable, renames one
// (the group follows, the key stays) and retires one, each audited; the
// page is axe-clean and does not scroll sideways at 1280 and 390 px.
func TestBrowserAttributesSection(t *testing.T) {
	axe := browsertest.AxeScript(t)
	e := mustEnv(t)
	ctx := context.Background()
	if _, _, err := e.accts.CreateUser(ctx, "owner@example.edu", "Olive Owner", auth.Owner, nil, password); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t, "owner@example.edu")
	b.run(chromedp.EmulateViewport(1280, 844), chromedp.Click("#nav-attributes"), chromedp.WaitVisible("#attributes"))
	grade := b.text("#attr-grade")
	for _, want := range []string{"Grade", "Text", "Recipient and staff only", e.group.Name} {
		if !strings.Contains(grade, want) {
			t.Errorf("grade row lacks %q: %s", want, grade)
		}
	}
	if !b.eval(`!!document.querySelector('#attr-grade a[href="/groups/` + sprint(e.group.ID) + `"]') && !!document.querySelector('#attr-grade a[href^="/designs/"]')`) {
		t.Errorf("grade row does not link its group and its design: %s", grade)
	}
	if !b.eval(`!document.querySelector('#attr-hours a[href^="/designs/"]')`) {
		t.Errorf("hours is printed by no design: %s", b.text("#attr-hours"))
	}
	b.checkPage("attributes", axe)

	// Create: the key is made from the name.
	b.run(chromedp.EmulateViewport(1280, 844),
		chromedp.SendKeys("#new-label", "Portfolio link"),
		chromedp.SetValue("#new-type", "url"),
		chromedp.Click("#create-attribute"),
		chromedp.WaitVisible("#attr-portfolio_link"))
	if got := b.text("#attr-portfolio_link"); !strings.Contains(got, "Web link") || !strings.Contains(got, "None") {
		t.Errorf("created row: %s", got)
	}
	// A second variable with the same name, other case: refused, named.
	b.run(chromedp.SendKeys("#new-label", "PORTFOLIO LINK"), chromedp.Click("#create-attribute"), chromedp.WaitVisible("#new-label-error"))
	if got := b.text("#new-label-error"); !strings.Contains(got, "already used") {
		t.Errorf("same label: %q", got)
	}
	b.checkPage("attributes with a refused name", axe)

	// Rename: the group's label follows.
	b.run(chromedp.EmulateViewport(1280, 844), chromedp.Navigate(b.base+"/attributes"), chromedp.WaitVisible("#label-hours"),
		chromedp.SetValue("#label-hours", "Study hours"), chromedp.Click("#rename-hours"))
	b.waitFor("the renamed row", `((document.querySelector('#attr-hours td')||{}).textContent||'').startsWith('Study hours')`)
	if got := b.text("#attr-hours .former-labels"); got != "Formerly Hours" {
		t.Errorf("former name: %q", got)
	}
	g, err := e.svc.Group(ctx, e.group.ID)
	if err != nil {
		t.Fatal(err)
	}
	if g.Attributes[1].Key != "hours" || g.Attributes[1].Label != "Study hours" {
		t.Errorf("group after rename %+v", g.Attributes)
	}

	// Retire: listed apart, with what it means; the group keeps it.
	b.run(chromedp.Click("#retire-hours"), chromedp.WaitVisible("#retired-attributes"))
	if got := b.text("#retired-attributes"); !strings.Contains(got, "Study hours") || !strings.Contains(got, e.group.Name) {
		t.Errorf("retired table: %s", got)
	}
	if got := b.text("main"); !strings.Contains(got, "Groups that already use it keep it") {
		t.Errorf("the page does not say what retiring means: %s", got)
	}
	b.checkPage("attributes with a retired one", axe)
	if !b.eval(`!!document.querySelector('#attr-recipient_name a[href^="/designs/"]')`) {
		t.Errorf("the recipient's name is printed by the default design: %s", b.text("#attr-recipient_name"))
	}
	b.run(chromedp.Navigate(b.base+"/groups/new"), chromedp.WaitVisible("#attr_key_0"))
	b.checkPage("group form with the picker", axe)
	if b.eval(`!!document.querySelector('#attr_key_0 option[value="hours"]')`) || !b.eval(`!!document.querySelector('#attr_key_0 option[value="grade"]')`) {
		t.Error("the new group's picker offers the retired variable, or not the live one")
	}
	b.run(chromedp.Navigate(b.base+"/groups/"+sprint(e.group.ID)+"/edit"), chromedp.WaitVisible("#attr_key_1"))
	if !b.eval(`document.querySelector('#attr_key_1').value === 'hours'`) {
		t.Error("the group that uses the retired variable lost it on its form")
	}

	var actions string
	if err := e.db.Get(&actions, `SELECT string_agg(action || ' ' || entity_id, ', ' ORDER BY id) FROM audit_log WHERE entity_type = 'attribute'`); err != nil {
		t.Fatal(err)
	}
	if want := "create grade, create hours, create portfolio_link, update hours, retire hours"; actions != want {
		t.Errorf("audit: %s, want %s", actions, want)
	}
	if v := b.csp(); len(v) > 0 {
		t.Errorf("CSP violations: %v", v)
	}
}
