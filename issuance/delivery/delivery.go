// Package delivery sends the credential emails: the EmailJob handler
// (render, send over one SMTP connection, mark sent or failed; the publish,
// resend and expiry emails), the 5-day retry policy (EmailRetry), the
// email's text and HTML (emailwriter.go, specified by the templates in
// testdata), the notice of a renewal request to the group's staff
// (RenewalNoticeJob) and the staff page /admin/mail with its retry action.
//
// It owns no table: the core writes the outbox rows (credential_emails) in
// the publish transaction, and delivery reads and marks them through the
// core, and the expiry emails' texts and renewal requests through
// issuance/reminders. It signs a batch's credentials before sending through
// signing's one entrance (Signer).
package delivery

import (
	"context"
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/reminders"
)

// Signer is signing as delivery uses it: its one entrance.
type Signer interface {
	// Sign signs those of ids that need it, waiting for ones being signed.
	Sign(ctx context.Context, ids []string, skipLocked bool) error
	// Enabled reports whether credentials are signed at all.
	Enabled() bool
}

// Service sends credential emails.
type Service struct {
	Core *issuance.Service
	// Reminders are the expiry emails' settings and renewal requests (the
	// emails' renewal link is signed by its keys).
	Reminders *reminders.Service
	Signer    Signer // nil: nothing is signed before sending, no badge link
	// WalletLink is the link a credential email offers to add the
	// credential to a digital wallet (issuance/wallet); nil: none.
	WalletLink func(credentialID, email string) string
	// Staff are told of renewal requests (nil: the organisation's contact
	// address only).
	Staff Staff
	// CountClicks sends the email's "View your credential" button to
	// /c/:id?src=email, which counts the click (issuance/insight) and
	// redirects to the page.
	CountClicks bool
}

// New returns the delivery service over core, signing through signer.
func New(core *issuance.Service, rem *reminders.Service, signer Signer) *Service {
	return &Service{Core: core, Reminders: rem, Signer: signer}
}

// RegisterUI mounts /admin/mail and its retry action on r, which the app
// protects with auth.RequireStaff.
func (s *Service) RegisterUI(r gin.IRouter, rd *web.Renderer) {
	p := &page{s: s, rd: rd}
	r.GET("/admin/mail", rd.Page(p.mail))
	r.POST("/admin/mail/:id/retry", rd.Page(p.mailRetry))
}

// now is the core's clock.
func (s *Service) now() time.Time { return s.Core.Time() }

func (s *Service) logger() *slog.Logger { return s.Core.Logger() }
