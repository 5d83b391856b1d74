package public

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/insight"
)

// Clicks go through Laurel's own redirects, so they are counted without a
// tracking pixel, a cookie or a third party (issuance/insight's rule):
//
//	/c/:id/go/linkedin          LinkedIn's "Add to profile" form, filled in
//	/c/:id/go/share/:network    a share form (linkedin, x or facebook)
//	/c/:id?src=email            the credential email's button, on to /c/:id
//
// The credential page's own URL stays the one verifiers and QR codes use.
func (p *public) registerClicks(r gin.IRouter) {
	r.GET("/c/:id/go/linkedin", p.rd.Page(p.goLinkedIn))
	r.GET("/c/:id/go/share/:network", p.rd.Page(p.goShare))
}

// count counts k for credential id when the app wired a counter.
func (p *public) count(c *gin.Context, id string, k insight.Kind) {
	if p.s.Counter != nil {
		p.s.Counter.Count(c.Request, id, k)
	}
}

// redirect sends a click on, never cached, so every click reaches Laurel.
func redirect(c *gin.Context, to string) {
	c.Header("Cache-Control", "no-store")
	c.Header("Referrer-Policy", "no-referrer")
	c.Redirect(http.StatusFound, to)
}

// clickView is the view of the :id credential a click is about; ok is
// false (after answering) when only its page can be shown: unknown or
// unpublished (404), revoked or erased (its page says why).
func (p *public) clickView(c *gin.Context) (CredentialView, bool, error) {
	cr, ok, err := p.visible(c)
	if err != nil || !ok {
		if err == nil {
			err = p.notFound(c)
		}
		return CredentialView{}, false, err
	}
	if cr.State != issuance.Published || cr.Erased() {
		redirect(c, p.s.Core.CredentialURL(cr.ID))
		return CredentialView{}, false, nil
	}
	v, err := p.s.View(c.Request.Context(), cr, false)
	return v, err == nil, err
}

func (p *public) goLinkedIn(c *gin.Context) error {
	v, ok, err := p.clickView(c)
	if !ok {
		return err
	}
	p.count(c, v.Credential.ID, insight.LinkedIn)
	redirect(c, v.LinkedInURL())
	return nil
}

func (p *public) goShare(c *gin.Context) error {
	to := ""
	v, ok, err := p.clickView(c)
	if !ok {
		return err
	}
	for _, l := range v.shareTargets() {
		if l.network == c.Param("network") {
			to = l.url
		}
	}
	if to == "" {
		return p.notFound(c)
	}
	p.count(c, v.Credential.ID, insight.Share)
	redirect(c, to)
	return nil
}

// fromEmail counts a click on the email's button (/c/:id?src=email) and
// sends the browser on to the page's own URL, so a bookmark or a shared
// link does not count as another click.
func (p *public) fromEmail(c *gin.Context) error {
	cr, ok, err := p.visible(c)
	if err != nil {
		return err
	}
	if !ok {
		return p.notFound(c)
	}
	p.count(c, cr.ID, insight.Email)
	redirect(c, p.s.Core.CredentialURL(cr.ID))
	return nil
}

// LinkedInLink is the page's "Add to LinkedIn profile" link: through the
// counting redirect when counting is on, LinkedIn's own otherwise.
func (v CredentialView) LinkedInLink() string {
	if v.Counted {
		return v.URL + "/go/linkedin"
	}
	return v.LinkedInURL()
}

// shareTarget is one share site's form for the credential page.
type shareTarget struct{ network, label, url string }

// shareTargets are the share sites' forms, each with the page's URL (no
// script, no tracking on our side).
func (v CredentialView) shareTargets() []shareTarget {
	u := url.QueryEscape(v.URL)
	text := url.QueryEscape(v.Credential.Recipient.Name + ": " + v.Group.Name + " (" + v.Issuer + ")")
	return []shareTarget{
		{"linkedin", "LinkedIn", "https://www.linkedin.com/sharing/share-offsite/?url=" + u},
		{"x", "X", "https://x.com/intent/post?url=" + u + "&text=" + text},
		{"facebook", "Facebook", "https://www.facebook.com/sharer/sharer.php?u=" + u},
	}
}

// ShareLinks are the share links of the credential page: each opens the
// network's own share form with the page's URL (through the counting
// redirect when counting is on), and an email to write oneself (a mailto:
// link, which no redirect can count).
func (v CredentialView) ShareLinks() []issuance.Link {
	var out []issuance.Link
	for _, t := range v.shareTargets() {
		to := t.url
		if v.Counted {
			to = v.URL + "/go/share/" + t.network
		}
		out = append(out, issuance.Link{Label: t.label, URL: to})
	}
	text := v.Credential.Recipient.Name + ": " + v.Group.Name + " (" + v.Issuer + ")"
	return append(out, issuance.Link{Label: "Email", URL: "mailto:?subject=" + strings.ReplaceAll(url.QueryEscape(text), "+", "%20") + "&body=" + url.QueryEscape(v.URL)})
}
