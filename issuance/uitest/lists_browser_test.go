package uitest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/browsertest"
	"github.com/laurel-edu/laurel/issuance"
)

// browser is a signed-in Chromium on e, with helpers that fail the test.
type browser struct {
	t    *testing.T
	ctx  context.Context
	csp  func() []string
	base string
}

func (e *env) browser(t *testing.T, email string) *browser {
	t.Helper()
	bctx := browsertest.New(t, browsertest.Options{})
	b := &browser{t: t, ctx: bctx, csp: browsertest.WatchCSP(t, bctx), base: e.srv.URL}
	b.run(chromedp.Navigate(e.srv.URL+"/groups"),
		chromedp.WaitVisible("#email"),
		chromedp.SendKeys("#email", email),
		chromedp.SendKeys("#password", password),
		chromedp.Click("#sign-in"),
		chromedp.WaitVisible("#groups"))
	return b
}

func (b *browser) run(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		body, _ := chromedp.Run(b.ctx, chromedp.Text("body"))
		b.t.Fatalf("%v\npage: %s", err, body)
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(sel))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func (b *browser) eval(js string) bool {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
	if err != nil {
		b.t.Fatalf("%s: %v", js, err)
	}
	return ok
}

// waitFor polls js until it is true.
func (b *browser) waitFor(what, js string) {
	b.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if b.eval(js) {
			return
		}
	}
	b.t.Fatalf("timed out waiting for %s (%s)", what, js)
}

// audit checks the page as it is now, once its layout has settled:
// nothing scrolls sideways and axe-core finds no WCAG 2.1 A/AA violation.
func (b *browser) audit(what, axe string) {
	b.t.Helper()
	b.run(browsertest.Relayout)
	if !b.eval(`document.documentElement.scrollWidth <= window.innerWidth`) {
		b.t.Errorf("%s scrolls sideways", what)
	}
	vs, err := browsertest.Audit(b.ctx, axe)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	for _, v := range vs {
		b.t.Errorf("%s: axe: %s", what, v)
	}
}

// checkPage audits the page of b at 390 and 1280 px, and leaves it at
// 1280.
func (b *browser) checkPage(name, axe string) {
	b.t.Helper()
	for _, w := range []int64{390, 1280} {
		b.run(chromedp.EmulateViewport(w, 844))
		b.audit(fmt.Sprintf("%s at %d px", name, w), axe)
	}
}

// In Chromium: the review list labels its two "select all"s (this page /
// all N in the group), searches by name and says how many match, links the
// recipient's name to the credential, and deletes an unpublished
// credential only after a confirm page, audited.
func TestBrowserReviewSearchSelectAllDelete(t *testing.T) {
	e := mustEnv(t)
	e.seed(e.group.ID, 60)
	ctx := context.Background()
	ada, err := e.svc.CreateCredentials(ctx, "test", e.group.ID, issuance.FromForm, []issuance.NewCredential{{
		Recipient: issuance.Recipient{Name: "Ada Lovelace", Email: "ada@example.edu"}, IssuedOn: "2026-06-30", Attributes: map[string]string{"grade": "A"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.accts.CreateUser(ctx, "owner@example.edu", "Olive Owner", auth.Owner, nil, password); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t, "owner@example.edu")
	b.run(chromedp.Navigate(b.base+"/groups/"+gid(e.group)+"/unpublished"), chromedp.WaitVisible("#select-all"))
	if got := b.text("#select-page"); got != "Select the 50 on this page" {
		t.Errorf("page select-all label %q", got)
	}
	if got := b.text(`label:has(#select-all-group)`); got != "Select all 61 unpublished credentials in this group, not only this page" {
		t.Errorf("group select-all label %q", got)
	}

	b.run(chromedp.SendKeys("#q", "LOVEL"), chromedp.Click("#apply-filter"), chromedp.WaitVisible("#filter-matches"))
	if got := b.text("#filter-matches"); got != "1 credential matches the search." {
		t.Errorf("matches %q", got)
	}
	if !b.eval(`document.querySelectorAll('#credentials tbody tr').length === 1 && document.querySelector('.recipient-name').textContent === 'Ada Lovelace'`) {
		t.Errorf("search rows: %s", b.text("#credentials"))
	}
	if got := b.text(`label:has(#select-all-group)`); !strings.Contains(got, "not only those matching the search") {
		t.Errorf("group select-all label while searching %q", got)
	}
	// No match: says so.
	b.run(chromedp.Navigate(b.base+"/groups/"+gid(e.group)+"/unpublished?q=nobody-here"), chromedp.WaitVisible("#no-matches"))

	// The name links to the credential; Delete asks first.
	b.run(chromedp.Navigate(b.base+"/groups/"+gid(e.group)+"/unpublished?q=lovelace"), chromedp.WaitVisible(".recipient-link"),
		chromedp.Click(".recipient-link"), chromedp.WaitVisible("#credential-id"))
	if got := b.text("#credential-id"); got != ada[0].ID {
		t.Fatalf("name link opened %q, want %q", got, ada[0].ID)
	}
	b.run(chromedp.Click("#delete"), chromedp.WaitVisible("#confirm-question"))
	if got := b.text("#confirm-question"); got != "Delete the unpublished credential of Ada Lovelace?" {
		t.Errorf("confirm question %q", got)
	}
	if n := e.count(`SELECT count(*) FROM credentials WHERE id = $1`, ada[0].ID); n != 1 {
		t.Fatal("deleted before confirming")
	}
	b.run(chromedp.Click("#confirm"), chromedp.WaitVisible("#flash"))
	if got := b.text("#flash"); !strings.Contains(got, "Deleted the unpublished credential of Ada Lovelace") {
		t.Errorf("flash %q", got)
	}
	if n := e.count(`SELECT count(*) FROM credentials WHERE id = $1`, ada[0].ID); n != 0 {
		t.Fatal("not deleted")
	}
	if n := e.count(`SELECT count(*) FROM audit_log WHERE entity_id = $1 AND action = 'delete' AND actor LIKE 'user:%:owner@example.edu'`, ada[0].ID); n != 1 {
		t.Fatalf("%d delete audit entries", n)
	}
	if got := b.text("#unpublished-total"); got != "60 unpublished credentials in this group." {
		t.Errorf("after delete: %q", got)
	}
	if v := b.csp(); len(v) > 0 {
		t.Errorf("CSP violations: %v", v)
	}
}

// In Chromium: Revoke shows the reason on a confirm page and revokes only
// when confirmed; Cancel leaves the credential published.
func TestBrowserRevokeConfirm(t *testing.T) {
	e := mustEnv(t)
	ctx := context.Background()
	cs, err := e.svc.CreateCredentials(ctx, "test", e.group.ID, issuance.FromForm, []issuance.NewCredential{{
		Recipient: issuance.Recipient{Name: "Alan Turing", Email: "alan@example.edu"}, IssuedOn: "2026-06-30", Attributes: map[string]string{"grade": "A"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Publish(ctx, "test", issuance.Selection{IDs: []string{cs[0].ID}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.accts.CreateUser(ctx, "owner@example.edu", "Olive Owner", auth.Owner, nil, password); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t, "owner@example.edu")
	state := func() string {
		var s string
		if err := e.db.Get(&s, `SELECT state FROM credentials WHERE id = $1`, cs[0].ID); err != nil {
			t.Fatal(err)
		}
		return s
	}
	b.run(chromedp.Navigate(b.base+"/credentials/"+cs[0].ID), chromedp.WaitVisible("#reason"),
		chromedp.SendKeys("#reason", "Issued in error"), chromedp.Click("#revoke"), chromedp.WaitVisible("#confirm-question"))
	if got := b.text("#confirm-question"); got != "Revoke the credential of Alan Turing?" {
		t.Errorf("question %q", got)
	}
	if got := b.text("#confirm-reason"); got != "Issued in error" {
		t.Errorf("reason %q", got)
	}
	if s := state(); s != "published" {
		t.Fatalf("state %s before confirming", s)
	}
	b.run(chromedp.Click("#cancel"), chromedp.WaitVisible("#credential-id"))
	if s := state(); s != "published" {
		t.Fatalf("state %s after cancel", s)
	}
	b.run(chromedp.SendKeys("#reason", "Issued in error"), chromedp.Click("#revoke"), chromedp.WaitVisible("#confirm"),
		chromedp.Click("#confirm"), chromedp.WaitVisible("#flash"))
	if got := b.text("#flash"); got != "Credential revoked." {
		t.Errorf("flash %q", got)
	}
	if s := state(); s != "revoked" {
		t.Fatalf("state %s after confirming", s)
	}
	if v := b.csp(); len(v) > 0 {
		t.Errorf("CSP violations: %v", v)
	}
}

// In Chromium: the design form redraws its preview as the title, a colour
// and the printed attributes change; attributes are ticked from the group's
// list; a certificate's form has no badge image field; choosing another
// template redraws the preview in its layout. Nothing is saved.
func TestBrowserDesignLivePreview(t *testing.T) {
	e := mustEnv(t)
	if _, _, err := e.accts.CreateUser(context.Background(), "owner@example.edu", "Olive Owner", auth.Owner, nil, password); err != nil {
		t.Fatal(err)
	}
	// Hours is public (a certificate may draw it); grade is not.
	g := e.group
	g.Attributes[1].Visibility = issuance.VisibilityPublic
	if _, err := e.svc.UpdateGroup(context.Background(), "test", g); err != nil {
		t.Fatal(err)
	}
	des := e.group.DesignID
	before := e.designRow(des)
	b := e.browser(t, "owner@example.edu")
	b.run(chromedp.Navigate(b.base+"/designs/"+sprint(des)+"/edit"), chromedp.WaitVisible("#design-preview .certificate"))
	// Grade is ticked but not public: the preview does not draw it.
	if b.eval(`[...document.querySelectorAll('#design-preview dt')].some(d => d.textContent === 'Grade')`) {
		t.Error("a ticked attribute that is not public is drawn")
	}
	visible := func(sel string) bool {
		return b.eval(`(function(){var el=document.querySelector(` + "'" + sel + "'" + `);return !!el && el.checkVisibility()})()`)
	}
	if !visible("#title-field") || visible("#image-field") {
		t.Error("certificate: title hidden or badge image shown")
	}
	if !b.eval(`document.querySelector('#primary_color').type === 'color' && document.querySelector('#secondary_color').type === 'color'`) {
		t.Error("colours are not colour pickers")
	}
	// The group's attributes are offered by label; grade is ticked (printed).
	if !b.eval(`document.querySelector('#print_attr_grade').checked && !document.querySelector('#print_attr_hours').checked`) {
		t.Error("attribute checklist")
	}
	if !strings.Contains(b.text(`label:has(#print_attr_hours)`), "Hours") {
		t.Error("hours not offered by its label")
	}

	b.eval(`document.querySelector('#title').value = '', true`)
	b.run(chromedp.SendKeys("#title", "Diploma of Honours"))
	b.waitFor("the title in the preview", `document.querySelector('#design-preview .certificate h2').textContent === 'Diploma of Honours'`)
	b.eval(`(function(){var c=document.querySelector('#primary_color');c.value='#aa3300';c.dispatchEvent(new Event('input',{bubbles:true}));return true})()`)
	b.waitFor("the colour in the preview", `getComputedStyle(document.querySelector('#design-preview .preview')).getPropertyValue('--c1').trim() === '#aa3300'`)
	b.run(chromedp.Click("#print_attr_hours"))
	b.waitFor("hours printed in the preview", `[...document.querySelectorAll('#design-preview dt')].some(d => d.textContent === 'Hours')`)

	// Another template's layout redraws the preview in it.
	b.run(chromedp.Click("#layout-minimal"))
	b.waitFor("the minimal layout in the preview", `!!document.querySelector('#design-preview .certificate.layout-minimal .cert-rule')`)

	if after := e.designRow(des); after != before {
		t.Fatalf("the preview saved the design:\n%s\n%s", before, after)
	}
	if v := b.csp(); len(v) > 0 {
		t.Errorf("CSP violations: %v", v)
	}
}

// At phone width (390 px) the new parts of the list and design pages stay
// inside the screen: the search form, the list table's box, the design form
// and its preview.
func TestBrowserListAndDesignAtPhoneWidth(t *testing.T) {
	e := mustEnv(t)
	e.seed(e.group.ID, 3)
	if _, _, err := e.accts.CreateUser(context.Background(), "owner@example.edu", "Olive Owner", auth.Owner, nil, password); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t, "owner@example.edu")
	inside := func(sel string) bool {
		return b.eval(`(function(){var el=document.querySelector('` + sel + `');if(!el)return false;var r=el.getBoundingClientRect();return r.left >= 0 && r.right <= window.innerWidth + 0.5})()`)
	}
	b.run(chromedp.EmulateViewport(390, 844))
	b.run(chromedp.Navigate(b.base+"/groups/"+gid(e.group)+"/unpublished"), chromedp.WaitVisible("#list-filter"))
	for _, sel := range []string{"#list-filter", "#apply-filter", "#q", "#issued_to", "#select-all-group"} {
		if !inside(sel) {
			t.Errorf("review list at 390 px: %s goes past the screen", sel)
		}
	}
	b.run(chromedp.Navigate(b.base+"/designs/"+sprint(e.group.DesignID)+"/edit"), chromedp.WaitVisible("#design-preview .certificate"))
	for _, sel := range []string{"#design-form", "#design-preview", "#printed-field", "#primary_color"} {
		if !inside(sel) {
			t.Errorf("design form at 390 px: %s goes past the screen", sel)
		}
	}
}
