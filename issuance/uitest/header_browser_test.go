package uitest

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/browsertest"
)

// On a phone (390 px) the staff header is one line with a Menu button that
// opens the links; at 1280 px the links show and the button does not.
// Axe-clean with the menu closed and open.
func TestBrowserPhoneHeaderMenu(t *testing.T) {
	axe := browsertest.AxeScript(t)
	e := mustEnv(t)
	if _, _, err := e.accts.CreateUser(context.Background(), "owner@example.edu", "Olive Owner", auth.Owner, nil, password); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t, "owner@example.edu")
	// checkVisibility: a closed <details> hides its content without removing its boxes.
	visible := func(sel string) bool {
		return b.eval(`(function(){var el=document.querySelector('` + sel + `');if(!el)return false;var r=el.getBoundingClientRect();return el.checkVisibility()&&r.width>0&&r.height>0})()`)
	}
	b.run(chromedp.EmulateViewport(390, 844), chromedp.Navigate(b.base+"/groups"), chromedp.WaitVisible("#menu-toggle"))
	if visible("#nav-groups") || visible("#nav-account") {
		st, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`JSON.stringify({open: document.querySelector('details.site-menu').open, mm: matchMedia('(max-width: 700px)').matches, w: innerWidth, scripts: [...document.scripts].map(s=>s.src)})`))
		t.Errorf("at 390 px the links show before the menu is opened: %s", st)
	}
	if h := b.eval(`document.querySelector('header.top').getBoundingClientRect().height < 60`); !h {
		t.Error("at 390 px the closed header is more than one line")
	}
	b.checkPage("groups with the menu closed", axe)
	// Back to phone width (the page check may have resized it): the click
	// waits until the menu has folded and the toggle is laid out again, or
	// a busy machine lands it where the wider layout had it, or the fold
	// closes the menu the click opened.
	b.run(chromedp.EmulateViewport(390, 844), browsertest.Relayout, chromedp.WaitVisible("#menu-toggle"))
	b.run(chromedp.Click("#menu-toggle", chromedp.NodeVisible))
	b.waitFor("the open menu", `document.querySelector('details.site-menu').open`)
	for _, sel := range []string{"#nav-groups", "#nav-designs", "#nav-organisation", "#nav-staff", "#nav-account"} {
		if !visible(sel) {
			t.Errorf("menu open at 390 px: %s hidden", sel)
		}
	}
	if vs, err := browsertest.Audit(b.ctx, axe); err != nil || len(vs) > 0 {
		t.Errorf("menu open: axe %v %v", vs, err)
	}
	b.run(chromedp.Click("#nav-designs"), chromedp.WaitVisible("#designs, main h1"))
	if got := b.eval(`location.pathname === '/designs'`); !got {
		t.Error("the menu's Designs link did not navigate")
	}
	b.run(chromedp.EmulateViewport(1280, 900), chromedp.Navigate(b.base+"/groups"), chromedp.WaitVisible("#nav-groups"))
	if visible("#menu-toggle") {
		t.Error("at 1280 px the Menu button shows")
	}
}
