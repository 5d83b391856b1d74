package public

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/signing"
)

// Recipients is what the public pages need of recipient self-service
// (issuance/recipient, wired by the app): whether a credential's recipient
// hid it from the public, and whether the request comes from its recipient.
type Recipients interface {
	Hidden(ctx context.Context, credentialID string) (bool, error)
	Proven(c *gin.Context, credentialID string) bool
}

// privacy is how the request may see credential cr: hidden (its recipient
// hid it) and own (the request proved it is the recipient's).
func (p *public) privacy(c *gin.Context, cr issuance.Credential) (hidden, own bool, err error) {
	r := p.s.Recipients
	if r == nil {
		return false, false, nil
	}
	own = r.Proven(c, cr.ID)
	if hidden, err = r.Hidden(c.Request.Context(), cr.ID); err != nil {
		return false, false, err
	}
	return hidden, own, nil
}

// refuseHidden refuses a download of a credential its recipient hid to
// anyone but the recipient (nil: go on). The signed Open Badges documents
// are not refused: verifiers still verify what the holder gives them.
func (p *public) refuseHidden(c *gin.Context, cr issuance.Credential) error {
	hidden, own, err := p.privacy(c, cr)
	if err != nil || !hidden {
		return err
	}
	c.Header("Cache-Control", "no-store")
	if own {
		return nil
	}
	return apperr.Errorf(apperr.NotFound, "The holder of this credential has chosen not to show it publicly, so it cannot be downloaded here. Its page says whether it is valid: %s",
		p.s.Core.CredentialURL(cr.ID))
}

// hiddenPage is what the public sees of a credential its recipient hid:
// that it exists, who issued it and whether it is valid.
type hiddenPage struct {
	Credential   issuance.Credential
	Issuer       string
	Expired      bool
	ExpiresOn    string
	Verification signing.Verification
	URL          string
}

func (p *public) hidden(c *gin.Context, cr issuance.Credential, ver signing.Verification) error {
	iss, err := p.s.Signing.Identity(c.Request.Context())
	if err != nil {
		return err
	}
	hp := hiddenPage{Credential: cr, Issuer: iss.Name, Expired: cr.Expired(p.s.now()), Verification: ver, URL: p.s.Core.CredentialURL(cr.ID)}
	if cr.ExpiresOn != nil {
		hp.ExpiresOn = cr.ExpiresOn.Format(issuance.HumanDate)
	}
	c.Header("Cache-Control", "no-store")
	return p.rd.Render(c, http.StatusOK, "public_hidden.html", hp)
}
