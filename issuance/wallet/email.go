package wallet

// The wallet link email: the offer's page link, and its transaction code
// in a separate message, to the credential's recipient.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/internal/mail"
)

// SendOfferEmail returns the handler of EmailJob: it opens the offer's
// sealed secrets, sends the link (and the code, separately) to the
// credential's address, and forgets the secrets.
func (s *Service) SendOfferEmail(sender *mail.Sender, from string) jobs.Handler {
	return func(ctx context.Context, j jobs.Job) error {
		var p emailPayload
		if err := json.Unmarshal(j.Payload, &p); err != nil || p.OfferID == 0 {
			return fmt.Errorf("wallet offer email job %d: bad payload %s", j.ID, j.Payload)
		}
		var row struct {
			CredentialID string    `db:"credential_id"`
			Sealed       []byte    `db:"mail_sealed"`
			ExpiresAt    time.Time `db:"expires_at"`
		}
		const q = `SELECT credential_id, mail_sealed, expires_at FROM wallet_offers WHERE id = $1`
		switch err := s.DB.GetContext(ctx, &row, q, p.OfferID); {
		case errors.Is(err, sql.ErrNoRows):
			return nil // the credential was deleted
		case err != nil:
			return fmt.Errorf("wallet offer %d: %w", p.OfferID, err)
		}
		if row.Sealed == nil {
			return nil // sent already
		}
		if sender == nil || s.Keys == nil {
			return fmt.Errorf("wallet offer email %d: mail or secret keys are not configured", p.OfferID)
		}
		plain, err := s.Keys.Open(row.Sealed, "wallet-offer-mail")
		if err != nil {
			return fmt.Errorf("wallet offer %d: %w", p.OfferID, err)
		}
		var m sealedMail
		if err := json.Unmarshal(plain, &m); err != nil {
			return fmt.Errorf("wallet offer %d: %w", p.OfferID, err)
		}
		c, err := s.Core.Credential(ctx, row.CredentialID)
		if err != nil {
			return err
		}
		g, err := s.Core.Group(ctx, c.GroupID)
		if err != nil {
			return err
		}
		iss, err := s.Signing.Identity(ctx)
		if err != nil {
			return err
		}
		l := s.Core.Locale(ctx)
		var b strings.Builder
		fmt.Fprintf(&b, "Hello %s,\n\n", c.Recipient.Name)
		fmt.Fprintf(&b, "Here is your link to add your credential \"%s\" from %s to a digital wallet app on your phone:\n\n", g.Name, iss.Name)
		fmt.Fprintf(&b, "%s\n\n", s.PageURL(m.Token))
		b.WriteString("The page shows a QR code to scan with your wallet app.\n")
		fmt.Fprintf(&b, "The link works until %s (%s time). Keep it to yourself: whoever uses it first gets the credential in their wallet.\n", l.DateTime(row.ExpiresAt), l.ZoneName())
		if m.TxCode != "" {
			b.WriteString("\nYour wallet will ask for a six-digit code: we send it in a separate email.\n")
		}
		fmt.Fprintf(&b, "\nIf you did not ask for this link, you can ignore this email.\n\n%s\n", iss.Name)
		msg := mail.Message{From: from, To: c.Recipient.Email, Subject: "Add your credential to a wallet: " + g.Name, Text: b.String()}
		if m.Token != "" { // "" when only the code is left to send
			if err := sender.Send(ctx, msg); err != nil {
				return fmt.Errorf("send wallet offer email %d: %w", p.OfferID, err)
			}
		}
		if m.TxCode != "" {
			code := mail.Message{From: from, To: c.Recipient.Email, Subject: "Your wallet code: " + g.Name,
				Text: fmt.Sprintf("Hello %s,\n\nWhen your wallet app asks for a code to add \"%s\", enter:\n\n%s\n\nThe link to add it came in a separate email.\n\n%s\n", c.Recipient.Name, g.Name, m.TxCode, iss.Name)}
			if err := sender.Send(ctx, code); err != nil {
				// The link went out: keep the code to retry only it.
				b, _ := json.Marshal(sealedMail{TxCode: m.TxCode})
				const qk = `UPDATE wallet_offers SET mail_sealed = $2 WHERE id = $1`
				if _, uerr := s.DB.ExecContext(ctx, qk, p.OfferID, s.Keys.Seal(b, "wallet-offer-mail")); uerr != nil {
					return fmt.Errorf("wallet offer %d: %w", p.OfferID, uerr)
				}
				return fmt.Errorf("send wallet code email %d: %w", p.OfferID, err)
			}
		}
		const qd = `UPDATE wallet_offers SET mail_sealed = NULL WHERE id = $1`
		if _, err := s.DB.ExecContext(ctx, qd, p.OfferID); err != nil {
			return fmt.Errorf("wallet offer %d: forget secrets: %w", p.OfferID, err)
		}
		return nil
	}
}
