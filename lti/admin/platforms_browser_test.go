package admin_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/browsertest"
	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/lti"
)

// The platforms table stays readable at 1280 px and on a phone's 390 px: no
// column is squeezed until its issuer or client ID wraps a character or
// two per line (the table scrolls inside its box instead), and the page
// itself never scrolls sideways. Axe-clean.
func TestBrowserPlatformsTableDoesNotWrapPerCharacter(t *testing.T) {
	axe := browsertest.AxeScript(t)
	e := newAdminEnv(t)
	ctx := context.Background()
	on := true
	if _, err := e.tool.Registry().AddPlatform(ctx, lti.PlatformInput{Name: "Canvas Beta (self-hosted, Faculty of Medicine)",
		Issuer: "https://canvas.beta.instructure.medicine.example.edu", ClientID: "100000000000012345678",
		AuthURL: "https://sso.canvaslms.example.edu/api/lti/authorize_redirect", TokenURL: "https://sso.canvaslms.example.edu/login/oauth2/token",
		JWKSURL: "https://sso.canvaslms.example.edu/api/lti/security/jwks", DeploymentIDs: []string{"1:8865aa05b4b79b64a91a86042e43af5ea8ae79eb", "2:deadbeef"},
		AutoRegisterDeployments: &on,
		GrantedScopes:           []string{"https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly", "https://purl.imsglobal.org/spec/lti-ags/scope/score"}}); err != nil {
		t.Fatal(err)
	}
	// A platform registered dynamically: its row lists the scopes granted.
	o := e.signIn(auth.Owner) // owner@example.edu
	m := newLinkRE.FindStringSubmatch(o.post("/admin/platforms/links", url.Values{"expires": {"1h"}}).body)
	if m == nil {
		t.Fatal("no registration link")
	}
	other := canvassim.New().Start()
	defer other.Close()
	if status, body := e.register(htmlUnescape(m[1]), other.OpenIDConfigurationURL(), ""); status != 200 {
		t.Fatalf("dynamic registration: %d %s", status, body)
	}
	b := browsertest.New(t, browsertest.Options{})
	browsertest.Step(t, b, "sign in", chromedp.Navigate(e.srv.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS("#email"), "owner@example.edu"), chromedp.SendKeys(chromedp.CSS("#password"), adminPassword),
		chromedp.Submit(chromedp.CSS("#password")), chromedp.Sleep(500e6))
	for _, w := range []int64{1280, 390} {
		browsertest.Step(t, b, fmt.Sprint("platforms at ", w), chromedp.EmulateViewport(w, 900),
			chromedp.Navigate(e.srv.URL+"/admin/platforms"), chromedp.WaitVisible(chromedp.CSS("#platforms")))
		// Each identifier and scope keeps at least 12 characters per line
		// (an inline element has one client rect per line), and no header
		// is squeezed below the width of a short word.
		narrow, err := chromedp.Run(b, chromedp.Evaluate[[]string](`(function(){
			var out = [];
			document.querySelectorAll('#platforms td code').forEach(function (c) {
				var n = c.textContent.trim().length, lines = c.getClientRects().length;
				if (lines > 1 && n / lines < 12) { out.push(c.textContent.trim().slice(0, 40) + ': ' + lines + ' lines'); }
			});
			document.querySelectorAll('#platforms th').forEach(function (c) {
				if (c.textContent.trim() && c.clientWidth < 60) { out.push('header ' + c.textContent.trim() + ': ' + c.clientWidth + ' px'); }
			});
			return out;
		})()`))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range narrow {
			t.Errorf("at %d px squeezed: %s", w, c)
		}
		if w == 1280 {
			if ok, _ := chromedp.Run(b, chromedp.Evaluate[bool](`(function(){var x=document.querySelector('.platforms-box');return x.scrollWidth<=x.clientWidth})()`)); !ok {
				t.Errorf("at 1280 px the platforms table does not fit its box")
			}
		}
		if ok, _ := chromedp.Run(b, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`)); !ok {
			t.Errorf("at %d px the page scrolls sideways", w)
		}
		vs, err := browsertest.Audit(b, axe)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			t.Errorf("at %d px: axe: %s", w, v)
		}
	}
}
