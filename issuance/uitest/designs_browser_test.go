package uitest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/browsertest"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/svgcheck"
)

// shot keeps a screenshot of the page when DESIGNS_SHOTS=dir is set, to
// look at the templates.
func (b *browser) shot(name string) {
	dir := os.Getenv("DESIGNS_SHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err == nil {
		_ = os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	}
}

// In Chromium, as the Illinois guide names them: "Create Certificate
// Design" and "Create Badge Design" open a gallery of three templates each,
// with previews drawn by Laurel; a template fills the form (its layout,
// title, colours), the user edits it and saves; the saved design has the
// template's layout, and a badge the template's image in the chosen
// colours. Gallery and form are axe-clean at 1280 and 390 px.
func TestBrowserCreateDesignsFromTemplates(t *testing.T) {
	e := mustEnv(t)
	if _, _, err := e.accts.CreateUser(context.Background(), "owner@example.edu", "Olive Owner", auth.Owner, nil, password); err != nil {
		t.Fatal(err)
	}
	axe := browsertest.AxeScript(t)
	b := e.browser(t, "owner@example.edu")
	b.run(chromedp.Navigate(b.base+"/designs"), chromedp.WaitVisible("#create-certificate-design"))
	if strings.Contains(b.text("main"), "New design") || !strings.Contains(b.text("#create-badge-design"), "Create Badge Design") {
		t.Error("the designs page does not offer the guide's two buttons")
	}

	// Certificates.
	b.run(chromedp.Click("#create-certificate-design"), chromedp.WaitVisible("#templates-certificate"))
	if h := b.text("h1"); h != "Create Certificate Design" {
		t.Errorf("gallery heading %q", h)
	}
	b.waitFor("three certificate previews drawn", `[...document.querySelectorAll('#templates-certificate img')].filter(i => i.complete && i.naturalWidth > 0).length === 3`)
	for _, n := range []string{"Classic", "Modern", "Minimal"} {
		if !strings.Contains(b.text("#templates-certificate"), n) {
			t.Errorf("certificate gallery lacks %s", n)
		}
	}
	b.checkPage("certificate gallery", axe)
	b.shot("gallery-certificate")
	b.run(chromedp.Click("#use-modern"), chromedp.WaitVisible("#design-form"))
	if !b.eval(`document.querySelector('#layout-modern').checked && document.querySelector('#title').value === 'Certificate of Achievement' && document.querySelector('#primary_color').value === '#0f4c5c'`) {
		t.Error("the Modern template did not fill the form")
	}
	if b.eval(`!!document.querySelector('#image-field') || !document.querySelector('#slots-field')`) {
		t.Error("a certificate form shows a badge image field or no image places")
	}
	b.waitFor("the modern preview", `!!document.querySelector('#design-preview .certificate.layout-modern .cert-band')`)
	b.run(chromedp.SendKeys("#name", "Engineering certificate"))
	b.checkPage("certificate form", axe)
	b.shot("form-certificate")
	b.run(chromedp.Click("#save-design"), chromedp.WaitVisible("#designs"))
	var cert struct {
		Layout string `db:"layout"`
		Title  string `db:"title"`
	}
	if err := e.db.Get(&cert, `SELECT layout, title FROM designs WHERE name = 'Engineering certificate'`); err != nil {
		t.Fatal(err)
	}
	if cert.Layout != "modern" || cert.Title != "Certificate of Achievement" {
		t.Errorf("saved certificate design %+v", cert)
	}
	if !strings.Contains(b.text("#designs"), "Certificate (Modern)") {
		t.Errorf("the list does not name the layout: %s", b.text("#designs"))
	}

	// Badges.
	b.run(chromedp.Click("#create-badge-design"), chromedp.WaitVisible("#templates-badge"))
	b.waitFor("three badge previews drawn", `[...document.querySelectorAll('#templates-badge img')].filter(i => i.complete && i.naturalWidth > 0).length === 3`)
	b.checkPage("badge gallery", axe)
	b.shot("gallery-badge")
	b.run(chromedp.Click("#use-medal"), chromedp.WaitVisible("#design-form"))
	b.waitFor("the medal in the preview", `(() => { const i = document.querySelector('#design-preview .badge img'); return !!i && i.complete && i.naturalWidth > 0 && i.src.includes('/designs/templates/medal/') })()`)
	b.run(chromedp.SendKeys("#name", "Gold medal"))
	b.eval(`(function(){var c=document.querySelector('#primary_color');c.value='#0a5c36';c.dispatchEvent(new Event('input',{bubbles:true}));return true})()`)
	b.waitFor("the colour in the badge preview", `document.querySelector('#design-preview .badge img').src.includes('primary=%230a5c36')`)
	b.checkPage("badge form", axe)
	b.shot("form-badge")
	b.run(chromedp.Click("#save-design"), chromedp.WaitVisible("#designs"))
	var badge struct {
		Layout string `db:"layout"`
		Image  []byte `db:"image"`
		Type   string `db:"image_type"`
	}
	if err := e.db.Get(&badge, `SELECT layout, image, image_type FROM designs WHERE name = 'Gold medal'`); err != nil {
		t.Fatal(err)
	}
	if badge.Layout != string(issuance.LayoutMedal) || badge.Type != "image/svg+xml" || !strings.Contains(string(badge.Image), `fill="#0a5c36"`) || svgcheck.Problem(badge.Image) != "" {
		t.Errorf("saved badge: layout %q, type %q, %d bytes", badge.Layout, badge.Type, len(badge.Image))
	}

	// The group page's image upload, with a refused file's reason, reads
	// well at both widths.
	g := e.group
	g.Attributes = append(g.Attributes, issuance.Attribute{Key: "signature", Label: "Course director", Type: issuance.ImageAttr,
		Visibility: issuance.VisibilityPublic})
	if _, err := e.svc.UpdateGroup(context.Background(), "test", g); err != nil {
		t.Fatal(err)
	}
	b.run(chromedp.Navigate(b.base+"/groups/"+gid(g)), chromedp.WaitVisible("#group-images"))
	b.checkPage("group page with an image attribute", axe)
	b.shot("group-images")
	if v := b.csp(); len(v) > 0 {
		t.Errorf("CSP violations: %v", v)
	}
}
