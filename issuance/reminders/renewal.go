package reminders

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
	auditlog "github.com/laurel-edu/laurel/internal/audit"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/issuance"
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
	mac := s.Keys.MAC([]byte("renew\x00" + id + "\x00" + expires.Format(issuance.DateLayout)))
	return base64.RawURLEncoding.EncodeToString(mac[:18])
}

// RenewURL is the "Ask to renew" link of credential c, or "" when c has no
// expiry date or links cannot be signed (no keys). Whether the group allows
// renewal is the caller's check (Settings.Renewal).
func (s *Service) RenewURL(c issuance.Credential) string {
	if s.Keys == nil || c.ExpiresOn == nil {
		return ""
	}
	return s.Core.CredentialURL(c.ID) + "/renew?" + url.Values{"e": {c.ExpiresOn.Format(issuance.DateLayout)}, "t": {s.renewToken(c.ID, *c.ExpiresOn)}}.Encode()
}

// RenewalOffer is what a renewal link leads to.
type RenewalOffer struct {
	Credential issuance.Credential
	Group      issuance.Group
	// Requested: a request for this expiry date exists already.
	Requested bool
}

// CheckRenewal checks the renewal link of credential id with expiry date e
// (YYYY-MM-DD) and token t. Errors: NotFound (no such credential, or a link
// that is not Laurel's), Conflict with a message for the recipient (revoked,
// the expiry date has changed since, or the group no longer takes requests).
func (s *Service) CheckRenewal(ctx context.Context, id, e, t string) (RenewalOffer, error) {
	var out RenewalOffer
	exp, ok := s.renewLink(id, e, t)
	if !ok {
		return out, errRenewLink()
	}
	c, err := s.Core.Credential(ctx, id)
	if err != nil {
		return out, renewalCredentialErr(err)
	}
	err = s.checkRenewal(ctx, s.db(), c, exp, &out)
	return out, err
}

// errRenewLink refuses a renewal link that Laurel did not sign.
func errRenewLink() error {
	return apperr.Errorf(apperr.NotFound, "This renewal link is not valid. Check that you copied the whole link from the email.")
}

// renewLink reads the expiry date e of a renewal link of credential id,
// and whether t is its signature.
func (s *Service) renewLink(id, e, t string) (time.Time, bool) {
	exp, err := time.Parse(issuance.DateLayout, e)
	return exp, err == nil && s.Keys != nil && hmac.Equal([]byte(t), []byte(s.renewToken(id, exp)))
}

// renewalCredentialErr is what a renewal link says when its credential
// cannot be read: an unknown one is an invalid link.
func renewalCredentialErr(err error) error {
	if apperr.Code(err) == apperr.NotFound {
		return errRenewLink()
	}
	return err
}

// checkRenewal checks that credential c, as read through q, can be asked
// to renew at expiry date exp, and fills out.
func (s *Service) checkRenewal(ctx context.Context, q sqlx.QueryerContext, c issuance.Credential, exp time.Time, out *RenewalOffer) error {
	g, err := s.Core.Group(ctx, c.GroupID)
	if err != nil {
		return err
	}
	out.Credential, out.Group = c, g
	switch {
	case c.State != issuance.Published:
		return apperr.Errorf(apperr.Conflict, "This credential is no longer valid, so it cannot be renewed.")
	case c.ExpiresOn == nil || !c.ExpiresOn.Equal(exp):
		return apperr.Errorf(apperr.Conflict, "The expiry date of this credential has changed since this link was sent, so there is nothing to ask: open the credential to see its date.")
	}
	rs, err := s.Group(ctx, c.GroupID)
	if err != nil {
		return err
	}
	if !rs.Renewal {
		return apperr.Errorf(apperr.Conflict, "This credential can no longer be renewed by request. Contact the issuer if you need it renewed.")
	}
	const rq = `SELECT EXISTS (SELECT FROM renewal_requests WHERE credential_id = $1 AND expires_on = $2)`
	if err := sqlx.GetContext(ctx, q, &out.Requested, rq, c.ID, exp); err != nil {
		return fmt.Errorf("renewal of credential %s: %w", c.ID, err)
	}
	return nil
}

// RequestRenewal records the request a renewal link makes (see CheckRenewal
// for the errors), audited on the credential, and queues the notice to
// staff; asking again for the same expiry date changes nothing (requested
// false).
func (s *Service) RequestRenewal(ctx context.Context, id, e, t string) (offer RenewalOffer, requested bool, err error) {
	exp, ok := s.renewLink(id, e, t)
	if !ok {
		return offer, false, errRenewLink()
	}
	err = db.InTx(ctx, s.db(), func(tx *sqlx.Tx) error {
		offer, requested = RenewalOffer{}, false
		// Locked until the request is recorded: an amend of the expiry
		// date waits, so a request never names a date already replaced.
		c, err := s.Core.LockCredential(ctx, tx, id)
		if err != nil {
			return renewalCredentialErr(err)
		}
		if err := s.checkRenewal(ctx, tx, c, exp, &offer); err != nil {
			return err
		}
		if offer.Requested {
			return nil
		}
		now := s.Core.Time()
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
		return auditlog.Record(ctx, tx, now, "recipient", "request_renewal", "credential", id, nil,
			map[string]any{"request_id": rid, "expires_on": offer.Credential.ExpiresOn.Format(issuance.DateLayout)})
	})
	offer.Requested = offer.Requested || requested
	return offer, requested, err
}

// requestRow is a row of renewal_requests.
type requestRow struct {
	ID           int64     `db:"id"`
	CredentialID string    `db:"credential_id"`
	GroupID      int64     `db:"group_id"`
	ExpiresOn    time.Time `db:"expires_on"`
	CreatedAt    time.Time `db:"created_at"`
}

const requestCols = `id, credential_id, group_id, expires_on, created_at`

// request is r with its credential's recipient.
func (r requestRow) request(c issuance.Credential) RenewalRequest {
	return RenewalRequest{ID: r.ID, CredentialID: r.CredentialID, GroupID: r.GroupID, RecipientName: c.Recipient.Name,
		Email: c.Recipient.Email, ExpiresOn: r.ExpiresOn, CreatedAt: r.CreatedAt}
}

// maxRenewalList bounds the requests a group page lists.
const maxRenewalList = 200

// RenewalRequests lists group gid's open renewal requests, newest first:
// those whose credential is still published with the expiry date the
// request was made under (a new expiry date answers a request).
func (s *Service) RenewalRequests(ctx context.Context, gid int64) ([]RenewalRequest, error) {
	const q = `SELECT ` + requestCols + ` FROM renewal_requests
		WHERE group_id = $1 AND (created_at, id) < ($2, $3)
		ORDER BY created_at DESC, id DESC LIMIT $4`
	out := []RenewalRequest{}
	before := requestRow{CreatedAt: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)} // the page's cursor
	for len(out) < maxRenewalList {
		var rows []requestRow
		if err := s.db().SelectContext(ctx, &rows, q, gid, before.CreatedAt, before.ID, maxRenewalList); err != nil {
			return nil, fmt.Errorf("renewal requests of group %d: %w", gid, err)
		}
		ids := make([]string, len(rows))
		for i, r := range rows {
			ids[i] = r.CredentialID
		}
		creds, err := s.Core.CredentialsByID(ctx, ids)
		if err != nil {
			return nil, fmt.Errorf("renewal requests of group %d: %w", gid, err)
		}
		for _, r := range rows {
			c, ok := creds[r.CredentialID]
			if ok && c.State == issuance.Published && c.ExpiresOn != nil && c.ExpiresOn.Equal(r.ExpiresOn) && len(out) < maxRenewalList {
				out = append(out, r.request(c))
			}
		}
		if len(rows) < maxRenewalList {
			break
		}
		before = rows[len(rows)-1]
	}
	return out, nil
}

// Renewal returns renewal request id. Errors: NotFound.
func (s *Service) Renewal(ctx context.Context, id int64) (RenewalRequest, error) {
	const q = `SELECT ` + requestCols + ` FROM renewal_requests WHERE id = $1`
	var r requestRow
	err := s.db().GetContext(ctx, &r, q, id)
	if errors.Is(err, sql.ErrNoRows) {
		return RenewalRequest{}, apperr.Errorf(apperr.NotFound, "There is no renewal request %d.", id)
	}
	if err != nil {
		return RenewalRequest{}, fmt.Errorf("renewal request %d: %w", id, err)
	}
	c, err := s.Core.Credential(ctx, r.CredentialID)
	if err != nil {
		return RenewalRequest{}, fmt.Errorf("renewal request %d: %w", id, err)
	}
	return r.request(c), nil
}
