package public

import (
	"context"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/reminders"
)

// renewPage is /c/:id/renew: the page a recipient's "Ask to renew" link
// opens. Opening it changes nothing (mail scanners open links); the button
// posts the request.
type renewPage struct {
	Issuer, Recipient, Achievement, ExpiresOn, CredentialURL string
	E, T                                                     string
	// Requested: a request for this expiry date has been sent; Sent: by
	// this very post.
	Requested, Sent bool
	// Problem is why nothing can be asked (an invalid or outdated link).
	Problem string
}

func (p *public) registerRenew(r gin.IRouter) {
	r.GET("/c/:id/renew", p.rd.Page(p.renewForm))
	r.POST("/c/:id/renew", p.rd.Page(p.renewSend))
}

func (p *public) renewForm(c *gin.Context) error {
	offer, err := p.s.Reminders.CheckRenewal(c.Request.Context(), strings.ToLower(c.Param("id")), c.Query("e"), c.Query("t"))
	return p.renderRenew(c, offer, err, c.Query("e"), c.Query("t"), false)
}

func (p *public) renewSend(c *gin.Context) error {
	e, t := c.PostForm("e"), c.PostForm("t")
	offer, sent, err := p.s.Reminders.RequestRenewal(c.Request.Context(), strings.ToLower(c.Param("id")), e, t)
	return p.renderRenew(c, offer, err, e, t, sent)
}

func (p *public) renderRenew(c *gin.Context, offer reminders.RenewalOffer, err error, e, t string, sent bool) error {
	ctx := c.Request.Context()
	c.Header("Cache-Control", "no-store")
	o, oerr := p.s.Core.Organisation(ctx)
	if oerr != nil {
		return oerr
	}
	page := renewPage{Issuer: o.Name, E: e, T: t, Sent: sent, Requested: offer.Requested}
	status := http.StatusOK
	switch code := apperr.Code(err); code {
	case "":
	case apperr.NotFound, apperr.Conflict:
		page.Problem = apperr.Message(err)
		status = map[string]int{apperr.NotFound: http.StatusNotFound, apperr.Conflict: http.StatusConflict}[code]
	default:
		return err
	}
	if offer.Credential.ID != "" {
		page.Recipient, page.Achievement = offer.Credential.Recipient.Name, offer.Group.Name
		page.CredentialURL = p.s.Core.CredentialURL(offer.Credential.ID)
		page.ExpiresOn = p.s.Core.Locale(ctx).Date(offer.Credential.ExpiresOn)
	}
	return p.rd.Render(c, status, "public_renew.html", page)
}

// renewURL is the "Ask to renew" link the credential page shows for c, ""
// when it shows none: the group must allow renewal, and the credential
// expire within the group's largest reminder offset or have expired (the
// page is public, so the link appears only when a renewal is relevant; one
// request per expiry date bounds what a stranger can do with it).
func (s *Service) renewURL(ctx context.Context, c issuance.Credential) string {
	if c.State != issuance.Published || c.ExpiresOn == nil {
		return ""
	}
	rs, err := s.Reminders.Group(ctx, c.GroupID)
	if err != nil {
		s.logger().Warn("public page: cannot read reminder settings", "credential", c.ID, "err", err)
		return ""
	}
	if !rs.Renewal {
		return ""
	}
	window := 30
	if len(rs.Offsets) > 0 {
		window = max(window, rs.Offsets[0])
	}
	if c.ExpiresOn.After(s.Core.Locale(ctx).Today(s.now()).AddDate(0, 0, window)) {
		return ""
	}
	return s.Reminders.RenewURL(c)
}
