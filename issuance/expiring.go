package issuance

// What the expiry reminders (issuance/reminders) need from the core: the
// published credentials whose expiry date falls in a window, a credential
// locked while a recipient asks to renew it, and the outbox's expiry
// emails. They read and write the core's tables through these methods only.

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/jobs"
)

// The outbox reasons of the expiry emails, which issuance/reminders queues
// (QueueExpiryEmails) and delivery renders with the group's reminder texts.
const (
	ReminderKind = "reminder" // some days before the expiry date
	ExpiredKind  = "expired"  // after the expiry date
)

// Expiring is a published credential with an expiry date, as the expiry
// reminder scan decides on it.
type Expiring struct {
	ID          string     `db:"id"`
	GroupID     int64      `db:"group_id"`
	Email       string     `db:"recipient_email"`
	ExpiresOn   time.Time  `db:"expires_on"`   // a date
	PublishedAt *time.Time `db:"published_at"` // nil when not recorded
}

// ExpiringCredentials lists, through q, at most limit published
// credentials whose expiry date is from from to to (dates, inclusive), in
// the order of expiry date and id, after credential after (the last of the
// previous page; the zero Expiring starts at from). It reads the index
// credentials_expiring in its order, so a page costs its own rows.
func (s *Service) ExpiringCredentials(ctx context.Context, q sqlx.QueryerContext, from, to time.Time, after Expiring, limit int) ([]Expiring, error) {
	const query = `SELECT id, group_id, recipient_email, expires_on, published_at FROM credentials
		WHERE state = 'published' AND expires_on IS NOT NULL
			AND expires_on BETWEEN $1::date AND $2::date AND (expires_on, id) > ($1::date, $3)
		ORDER BY expires_on, id
		LIMIT $4`
	if after.ID != "" {
		from = after.ExpiresOn
	}
	out := []Expiring{}
	if err := sqlx.SelectContext(ctx, q, &out, query, from, to, after.ID, limit); err != nil {
		return nil, fmt.Errorf("credentials expiring from %s to %s: %w", from.Format(DateLayout), to.Format(DateLayout), err)
	}
	return out, nil
}

// ExpiryEmail is an expiry email to queue: for credential CredentialID,
// to To, of kind ReminderKind or ExpiredKind, about expiry date ExpiresOn.
type ExpiryEmail struct {
	CredentialID, To, Kind string
	ExpiresOn              time.Time
}

// QueueExpiryEmails queues emails, at most one per credential, in tx (the
// transaction that records why they are due) with the jobs that send them,
// and returns each email's id by its credential's. Delivery drops an email
// whose credential's expiry date has changed by the time it is sent.
func (s *Service) QueueExpiryEmails(ctx context.Context, tx *sqlx.Tx, emails []ExpiryEmail) (map[string]int64, error) {
	out := make(map[string]int64, len(emails))
	if len(emails) == 0 {
		return out, nil
	}
	cids, tos, kinds, exps := make([]string, len(emails)), make([]string, len(emails)), make([]string, len(emails)), make([]string, len(emails))
	for i, e := range emails {
		if _, twice := out[e.CredentialID]; twice {
			return nil, fmt.Errorf("queue %d expiry emails: two for credential %s", len(emails), e.CredentialID)
		}
		out[e.CredentialID] = 0
		cids[i], tos[i], kinds[i], exps[i] = e.CredentialID, e.To, e.Kind, e.ExpiresOn.Format(DateLayout)
	}
	const q = `INSERT INTO credential_emails (credential_id, to_address, reason, created_at, expires_on)
		SELECT e.credential_id, e.to_address, e.reason, $5, e.expires_on
		FROM unnest($1::text[], $2::text[], $3::text[], $4::date[]) AS e(credential_id, to_address, reason, expires_on)
		RETURNING id, credential_id`
	var rows []struct {
		ID           int64  `db:"id"`
		CredentialID string `db:"credential_id"`
	}
	if err := tx.SelectContext(ctx, &rows, q, pq.Array(cids), pq.Array(tos), pq.Array(kinds), pq.Array(exps), s.Time()); err != nil {
		return nil, fmt.Errorf("queue %d expiry emails: %w", len(emails), err)
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i], out[r.CredentialID] = r.ID, r.ID
	}
	kind, payloads := emailJobs(ids, false)
	if _, err := jobs.EnqueueMany(ctx, tx, kind, payloads); err != nil {
		return nil, fmt.Errorf("queue %d expiry emails: %w", len(emails), err)
	}
	return out, nil
}

// LockCredential returns credential id locked in tx (FOR UPDATE) until tx
// ends, or NotFound.
func (s *Service) LockCredential(ctx context.Context, tx *sqlx.Tx, id string) (Credential, error) {
	return credentialTx(ctx, tx, id, true)
}
