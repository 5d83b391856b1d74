package wallet

// Offers: one per request, for one published credential, with a bounded
// lifetime and a number of uses the group sets.

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/apperr"
	auditlog "github.com/laurel-edu/laurel/internal/audit"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/issuance"
)

// GroupSettings is what a group asks of its credentials' offers.
type GroupSettings struct {
	// Uses is how many wallets one offer may fill (1 unless staff allow
	// more, up to 10).
	Uses int `db:"offer_uses" json:"offer_uses"`
	// TxCode sends a transaction code in a separate email, which the
	// OpenID4VCI wallet asks the recipient for.
	TxCode bool `db:"tx_code" json:"tx_code"`
}

// Settings returns group gid's offer settings (the defaults when never set).
func (s *Service) Settings(ctx context.Context, gid int64) (GroupSettings, error) {
	const q = `SELECT offer_uses, tx_code FROM wallet_group_settings WHERE group_id = $1`
	var g GroupSettings
	switch err := s.DB.GetContext(ctx, &g, q, gid); {
	case errors.Is(err, sql.ErrNoRows):
		return GroupSettings{Uses: 1}, nil
	case err != nil:
		return GroupSettings{}, fmt.Errorf("wallet settings of group %d: %w", gid, err)
	}
	return g, nil
}

// SetSettings stores group gid's offer settings, audited as actor. Uses
// outside 1–10 is Invalid and changes nothing.
func (s *Service) SetSettings(ctx context.Context, actor string, gid int64, g GroupSettings) error {
	if g.Uses < 1 || g.Uses > 10 {
		return apperr.Fields("Check the wallet settings.", []apperr.FieldError{{Index: -1, Field: "offer_uses",
			Message: fmt.Sprintf("A wallet offer can be used 1 to 10 times, not %d.", g.Uses)}})
	}
	if _, err := s.Core.Group(ctx, gid); err != nil {
		return err
	}
	before, err := s.Settings(ctx, gid)
	if err != nil {
		return err
	}
	now := s.now()
	return db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		const q = `INSERT INTO wallet_group_settings (group_id, offer_uses, tx_code, updated_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (group_id) DO UPDATE SET offer_uses = EXCLUDED.offer_uses, tx_code = EXCLUDED.tx_code, updated_at = EXCLUDED.updated_at`
		if _, err := tx.ExecContext(ctx, q, gid, g.Uses, g.TxCode, now); err != nil {
			return fmt.Errorf("set wallet settings of group %d: %w", gid, err)
		}
		return auditlog.Record(ctx, tx, now, actor, "wallet-settings", "group", fmt.Sprint(gid), before, g)
	})
}

// Offer is a new offer's secrets, shown only once: the link token and, when
// the group asks for one, the transaction code.
type Offer struct {
	ID           int64
	CredentialID string
	Token        string
	TxCode       string // "" when the group asks for none
	ExpiresAt    time.Time
}

// PageURL is the recipient's page of the offer: its QR code and links.
func (s *Service) PageURL(token string) string { return s.Issuer() + ClaimPath(token) }

// ClaimPath is the path of the wallet link page of token. Secrets travel in
// query strings, which the request log never records.
func ClaimPath(token string) string { return "/wallet/claim?t=" + url.QueryEscape(token) }

// ExchangeURL is the VC-API exchange of the offer whose secret is token.
func (s *Service) ExchangeURL(token string) string {
	return s.Issuer() + "/wallet/exchange?t=" + url.QueryEscape(token)
}

// OfferURI is the credential_offer_uri of the offer.
func (s *Service) OfferURI(token string) string {
	return s.Issuer() + "/wallet/offer?t=" + url.QueryEscape(token)
}

// OfferLink is the OpenID4VCI credential offer link a wallet opens.
func (s *Service) OfferLink(token string) string {
	return "openid-credential-offer://?credential_offer_uri=" + url.QueryEscape(s.OfferURI(token))
}

// EmailJob is the job kind that emails an offer's link (and, separately,
// its transaction code) to the credential's recipient.
const EmailJob = "wallet_offer_email"

type emailPayload struct {
	OfferID int64 `json:"offer_id"`
}

// CreateOffer makes a fresh offer of published credential id, with its
// group's settings, and queues its email when mail is true (the secrets are
// sealed in the row until it is sent). A missing or unpublished credential
// is NotFound, a revoked one Gone.
func (s *Service) CreateOffer(ctx context.Context, actor, id string, mail bool) (Offer, error) {
	mode := mailNothing
	if mail {
		mode = mailAll
	}
	offers, err := s.createOffers(ctx, actor, []string{id}, mode)
	if err != nil {
		return Offer{}, err
	}
	return offers[0], nil
}

// mailMode is what an offer's email carries.
type mailMode int

const (
	mailNothing mailMode = iota // no email (the caller shows the offer)
	mailAll                     // the link, and the code separately
	mailCode                    // the code only (the recipient is on the page)
)

// createOffers makes one offer of each of ids (all published).
func (s *Service) createOffers(ctx context.Context, actor string, ids []string, mode mailMode) ([]Offer, error) {
	var out []Offer
	var uses []int
	now := s.now()
	settings := map[int64]GroupSettings{}
	for _, id := range ids {
		c, err := s.Core.Credential(ctx, id)
		if err != nil {
			return nil, err
		}
		switch c.State {
		case issuance.Published:
		case issuance.Revoked:
			return nil, apperr.Errorf(apperr.Gone, "This credential has been revoked, so it cannot be added to a wallet.")
		default:
			return nil, apperr.Errorf(apperr.NotFound, "Credential %q does not exist.", id)
		}
		g, ok := settings[c.GroupID]
		if !ok {
			if g, err = s.Settings(ctx, c.GroupID); err != nil {
				return nil, err
			}
			settings[c.GroupID] = g
		}
		o := Offer{CredentialID: c.ID, Token: randomToken(), ExpiresAt: now.Add(OfferLifetime)}
		if g.TxCode {
			o.TxCode = txCode()
		}
		out = append(out, o)
		uses = append(uses, g.Uses)
	}
	err := db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		for i := range out {
			o := &out[i]
			var txHash, sealed []byte
			if o.TxCode != "" {
				txHash = hash(o.TxCode)
			}
			m := sealedMail{TxCode: o.TxCode}
			if mode == mailAll {
				m.Token = o.Token
			}
			mail := mode != mailNothing && (m.Token != "" || m.TxCode != "")
			if mail {
				if s.Keys == nil {
					return apperr.Errorf(apperr.Unavailable, "Wallet links cannot be emailed: secret keys are not configured.")
				}
				b, _ := json.Marshal(m)
				sealed = s.Keys.Seal(b, "wallet-offer-mail")
			}
			const q = `INSERT INTO wallet_offers (credential_id, token_hash, code_hash, tx_code_hash, challenge, uses_left, mail_sealed, expires_at, created_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`
			if err := tx.GetContext(ctx, &o.ID, q, o.CredentialID, hash(o.Token), hash(preAuthCode(o.Token)), txHash,
				randomToken(), uses[i], sealed, o.ExpiresAt, now); err != nil {
				return fmt.Errorf("create wallet offer of credential %s: %w", o.CredentialID, err)
			}
			if mail {
				if _, err := jobs.Enqueue(ctx, tx, EmailJob, emailPayload{OfferID: o.ID}); err != nil {
					return fmt.Errorf("queue wallet offer email: %w", err)
				}
			}
			if err := auditlog.Record(ctx, tx, now, actor, "wallet-offer", "credential", o.CredentialID, nil,
				map[string]any{"uses": uses[i], "transaction code": yesNo(o.TxCode != ""), "emailed": yesNo(mail)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

type sealedMail struct {
	Token  string `json:"token"`
	TxCode string `json:"tx_code,omitempty"`
}

// txCode is six random digits.
func txCode() string {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf("%06d", n.Int64())
}

// offerRow is an offer as its table holds it.
type offerRow struct {
	ID           int64     `db:"id"`
	CredentialID string    `db:"credential_id"`
	TxCodeHash   []byte    `db:"tx_code_hash"`
	TxFailures   int       `db:"tx_failures"`
	Challenge    string    `db:"challenge"`
	UsesLeft     int       `db:"uses_left"`
	ExpiresAt    time.Time `db:"expires_at"`
}

const offerCols = `id, credential_id, tx_code_hash, tx_failures, challenge, uses_left, expires_at`

// liveOffer returns the offer whose link secret is token, when it can still
// be used: NotFound otherwise (unknown, expired or used up look the same).
func (s *Service) liveOffer(ctx context.Context, q sqlx.QueryerContext, token string, lock bool) (offerRow, error) {
	qs := `SELECT ` + offerCols + ` FROM wallet_offers WHERE token_hash = $1`
	if lock {
		qs += ` FOR UPDATE`
	}
	var o offerRow
	switch err := sqlx.GetContext(ctx, q, &o, qs, hash(token)); {
	case errors.Is(err, sql.ErrNoRows):
		return o, apperr.Errorf(apperr.NotFound, "This wallet link does not exist. Ask for a new one on your credential's page.")
	case err != nil:
		return o, fmt.Errorf("wallet offer: %w", err)
	}
	if o.UsesLeft <= 0 || !s.now().Before(o.ExpiresAt) {
		return o, apperr.Errorf(apperr.NotFound, "This wallet link has been used or has expired. Ask for a new one on your credential's page.")
	}
	return o, nil
}

// checkTxCode compares a transaction code in constant time.
func checkTxCode(want []byte, got string) bool {
	return subtle.ConstantTimeCompare(want, hash(got)) == 1
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
