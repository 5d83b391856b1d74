package issuance

// Renewal requests (table renewal_requests): where a group's reminder
// settings allow it, a recipient follows a signed link (no login) from an
// expiry email or the credential page and asks to renew; staff are told (the
// RenewalNoticeJob, sent by delivery) and see the request on the group page
// until they give the credential a new expiry date (amend).

import (
	"context"
	"crypto/hmac"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/jobs"
)

// RenewalNoticeJob is the job kind that tells a group's staff about a
// renewal request (payload RenewalNoticePayload).
const RenewalNoticeJob = "renewal_request_notice"

// RenewalNoticePayload is a RenewalNoticeJob's payload.
type RenewalNoticePayload struct {
	RequestID int64 `json:"request_id"`
}

// RenewalRequest is a recipient's request to renew a credential expiring
// (or expired) on ExpiresOn.
type RenewalRequest struct {
	ID            int64
	CredentialID  string
	GroupID       int64
	RecipientName string
	Email         string
	ExpiresOn     time.Time // a date
	CreatedAt     time.Time
}

// renewToken is the signature of a renewal link for credential id expiring
// on expires: it binds both, so a link stops working once the date changes.
func (s *Service) renewToken(id string, expires time.Time) string {
	mac := s.Keys.MAC([]byte("renew\x00" + id + "\x00" + expires.Format(DateLayout)))
	return base64.RawURLEncoding.EncodeToString(mac[:18])
}

// RenewURL is the "Ask to renew" link of credential c, or "" when c has no
// expiry date or links cannot be signed (no keys). Whether the group allows
// renewal is the caller's check (ReminderSettings.Renewal).
func (s *Service) RenewURL(c Credential) string {
	if s.Keys == nil || c.ExpiresOn == nil {
		return ""
	}
	return s.CredentialURL(c.ID) + "/renew?" + url.Values{"e": {c.ExpiresOn.Format(DateLayout)}, "t": {s.renewToken(c.ID, *c.ExpiresOn)}}.Encode()
}

// RenewalOffer is what a renewal link leads to.
type RenewalOffer struct {
	Credential Credential
	Group      Group
	// Requested: a request for this expiry date exists already.
	Requested bool
}

// CheckRenewal checks the renewal link of credential id with expiry date e
// (YYYY-MM-DD) and token t. Errors: NotFound (no such credential, or a link
// that is not Laurel's), Conflict with a message for the recipient (revoked,
// the expiry date has changed since, or the group no longer takes requests).
func (s *Service) CheckRenewal(ctx context.Context, id, e, t string) (RenewalOffer, error) {
	var out RenewalOffer
	err := s.checkRenewal(ctx, s.DB, id, e, t, false, &out)
	return out, err
}

func (s *Service) checkRenewal(ctx context.Context, q sqlx.QueryerContext, id, e, t string, lock bool, out *RenewalOffer) error {
	notFound := apperr.Errorf(apperr.NotFound, "This renewal link is not valid. Check that you copied the whole link from the email.")
	exp, err := time.Parse(DateLayout, e)
	if err != nil || s.Keys == nil || !hmac.Equal([]byte(t), []byte(s.renewToken(id, exp))) {
		return notFound
	}
	c, err := credentialTx(ctx, q, id, lock)
	if err != nil {
		if apperr.Code(err) == apperr.NotFound {
			return notFound
		}
		return err
	}
	g, err := s.Group(ctx, c.GroupID)
	if err != nil {
		return err
	}
	out.Credential, out.Group = c, g
	switch {
	case c.State != Published:
		return apperr.Errorf(apperr.Conflict, "This credential is no longer valid, so it cannot be renewed.")
	case c.ExpiresOn == nil || !c.ExpiresOn.Equal(exp):
		return apperr.Errorf(apperr.Conflict, "The expiry date of this credential has changed since this link was sent, so there is nothing to ask: open the credential to see its date.")
	}
	rs, err := s.GroupReminders(ctx, c.GroupID)
	if err != nil {
		return err
	}
	if !rs.Renewal {
		return apperr.Errorf(apperr.Conflict, "This credential can no longer be renewed by request. Contact the issuer if you need it renewed.")
	}
	const rq = `SELECT EXISTS (SELECT FROM renewal_requests WHERE credential_id = $1 AND expires_on = $2)`
	if err := sqlx.GetContext(ctx, q, &out.Requested, rq, id, exp); err != nil {
		return fmt.Errorf("renewal of credential %s: %w", id, err)
	}
	return nil
}

// RequestRenewal records the request a renewal link makes (see CheckRenewal
// for the errors), audited on the credential, and queues the notice to
// staff; asking again for the same expiry date changes nothing (requested
// false).
func (s *Service) RequestRenewal(ctx context.Context, id, e, t string) (offer RenewalOffer, requested bool, err error) {
	err = db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		offer, requested = RenewalOffer{}, false
		if err := s.checkRenewal(ctx, tx, id, e, t, true, &offer); err != nil {
			return err
		}
		if offer.Requested {
			return nil
		}
		now := s.Time()
		const q = `INSERT INTO renewal_requests (credential_id, group_id, expires_on, created_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (credential_id, expires_on) DO NOTHING RETURNING id`
		var rid int64
		switch err := tx.GetContext(ctx, &rid, q, id, offer.Group.ID, *offer.Credential.ExpiresOn, now); {
		case errors.Is(err, sql.ErrNoRows):
			return nil
		case err != nil:
			return fmt.Errorf("request renewal of credential %s: %w", id, err)
		}
		requested = true
		if _, err := jobs.Enqueue(ctx, tx, RenewalNoticeJob, RenewalNoticePayload{RequestID: rid}); err != nil {
			return fmt.Errorf("request renewal of credential %s: %w", id, err)
		}
		return audit(ctx, tx, now, "recipient", "request_renewal", "credential", id, nil,
			map[string]any{"request_id": rid, "expires_on": offer.Credential.ExpiresOn.Format(DateLayout)})
	})
	offer.Requested = offer.Requested || requested
	return offer, requested, err
}

const renewalCols = `r.id, r.credential_id, r.group_id, c.recipient_name, c.recipient_email, r.expires_on, r.created_at`

func scanRenewals(rows *sqlx.Rows) ([]RenewalRequest, error) {
	defer rows.Close()
	out := []RenewalRequest{}
	for rows.Next() {
		var r RenewalRequest
		if err := rows.Scan(&r.ID, &r.CredentialID, &r.GroupID, &r.RecipientName, &r.Email, &r.ExpiresOn, &r.CreatedAt); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// maxRenewalList bounds the requests a group page lists.
const maxRenewalList = 200

// RenewalRequests lists group gid's open renewal requests, newest first:
// those whose credential is still published with the expiry date the
// request was made under (a new expiry date answers a request).
func (s *Service) RenewalRequests(ctx context.Context, gid int64) ([]RenewalRequest, error) {
	const q = `SELECT ` + renewalCols + ` FROM renewal_requests r JOIN credentials c ON c.id = r.credential_id
		WHERE r.group_id = $1 AND c.state = 'published' AND c.expires_on = r.expires_on
		ORDER BY r.created_at DESC, r.id DESC LIMIT $2`
	rows, err := s.DB.QueryxContext(ctx, q, gid, maxRenewalList)
	if err != nil {
		return nil, fmt.Errorf("renewal requests of group %d: %w", gid, err)
	}
	out, err := scanRenewals(rows)
	if err != nil {
		return nil, fmt.Errorf("renewal requests of group %d: %w", gid, err)
	}
	return out, nil
}

// Renewal returns renewal request id. Errors: NotFound.
func (s *Service) Renewal(ctx context.Context, id int64) (RenewalRequest, error) {
	const q = `SELECT ` + renewalCols + ` FROM renewal_requests r JOIN credentials c ON c.id = r.credential_id WHERE r.id = $1`
	rows, err := s.DB.QueryxContext(ctx, q, id)
	if err != nil {
		return RenewalRequest{}, fmt.Errorf("renewal request %d: %w", id, err)
	}
	out, err := scanRenewals(rows)
	if err != nil {
		return RenewalRequest{}, fmt.Errorf("renewal request %d: %w", id, err)
	}
	if len(out) == 0 {
		return RenewalRequest{}, apperr.Errorf(apperr.NotFound, "There is no renewal request %d.", id)
	}
	return out[0], nil
}
