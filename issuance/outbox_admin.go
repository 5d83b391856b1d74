package issuance

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/jobs"
)

// MailOverview is the delivery state of credential emails (/admin/mail).
type MailOverview struct {
	Waiting  int // queued, not tried yet
	Retrying int // queued, tried and failed at least once
	Failed   int // given up: refused by the server, not sendable, or 5 days of failures
	Sent     int
	// OldestQueued is when the oldest email still queued was queued.
	OldestQueued *time.Time
	// Problems are the retrying and failed emails, most recently tried
	// first, at most maxProblems (Capped says there are more).
	Problems []ProblemEmail
	Capped   bool
}

// ProblemEmail is an email that failed at least once and is not sent.
type ProblemEmail struct {
	Email
	CredentialID  string
	RecipientName string
	GroupID       int64
	GroupName     string
	LastAttemptAt *time.Time
	// Retryable: failed, and its credential is still published (with the
	// expiry date an expiry email speaks of).
	Retryable bool
}

// maxProblems bounds the list on /admin/mail.
const maxProblems = 200

// MailOverview counts the emails of the groups in only (nil: every group)
// by delivery state and lists the ones failing.
func (s *Service) MailOverview(ctx context.Context, only []int64) (MailOverview, error) {
	var o MailOverview
	const counts = `SELECT
			count(*) FILTER (WHERE e.state = 'queued' AND e.attempts = 0),
			count(*) FILTER (WHERE e.state = 'queued' AND e.attempts > 0),
			count(*) FILTER (WHERE e.state = 'failed'),
			count(*) FILTER (WHERE e.state = 'sent'),
			min(e.created_at) FILTER (WHERE e.state = 'queued')
		FROM credential_emails e JOIN credentials c ON c.id = e.credential_id
		WHERE $1::bigint[] IS NULL OR c.group_id = ANY($1)`
	if err := s.DB.QueryRowContext(ctx, counts, pq.Array(only)).Scan(&o.Waiting, &o.Retrying, &o.Failed, &o.Sent, &o.OldestQueued); err != nil {
		return o, fmt.Errorf("mail overview (%d groups): %w", len(only), err)
	}
	const list = `SELECT e.id, e.to_address, e.reason, e.state, e.last_error, e.attempts, e.created_at, e.sent_at,
			e.last_attempt_at, c.id, c.recipient_name, g.id, g.name,
			e.state = 'failed' AND c.state = 'published' AND (e.expires_on IS NULL OR e.expires_on = c.expires_on)
		FROM credential_emails e
		JOIN credentials c ON c.id = e.credential_id
		JOIN groups g ON g.id = c.group_id
		WHERE e.state <> 'sent' AND (e.state = 'failed' OR e.attempts > 0)
			AND ($1::bigint[] IS NULL OR c.group_id = ANY($1))
		ORDER BY coalesce(e.last_attempt_at, e.created_at) DESC, e.id DESC
		LIMIT $2`
	rows, err := s.DB.QueryContext(ctx, list, pq.Array(only), maxProblems)
	if err != nil {
		return o, fmt.Errorf("mail overview (%d groups): %w", len(only), err)
	}
	defer rows.Close()
	for rows.Next() {
		var p ProblemEmail
		if err := rows.Scan(&p.ID, &p.To, &p.Reason, &p.State, &p.LastError, &p.Attempts, &p.CreatedAt, &p.SentAt,
			&p.LastAttemptAt, &p.CredentialID, &p.RecipientName, &p.GroupID, &p.GroupName, &p.Retryable); err != nil {
			return o, fmt.Errorf("mail overview (%d groups): %w", len(only), err)
		}
		o.Problems = append(o.Problems, p)
	}
	o.Capped = len(o.Problems) == maxProblems
	return o, rows.Err()
}

// EmailGroup returns the group of email id's credential, so a caller can
// check its permission before acting on it. An unknown email is NotFound.
func (s *Service) EmailGroup(ctx context.Context, id int64) (int64, error) {
	const q = `SELECT c.group_id FROM credential_emails e JOIN credentials c ON c.id = e.credential_id WHERE e.id = $1`
	var g int64
	if err := s.DB.GetContext(ctx, &g, q, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return 0, apperr.Errorf(apperr.NotFound, "There is no email %d.", id)
		}
		return 0, fmt.Errorf("group of email %d: %w", id, err)
	}
	return g, nil
}

// RetryEmail queues a failed email again, with a new job (and so a new
// 5-day retry window). Only a failed email of a published credential can be
// retried; anything else is a Conflict.
func (s *Service) RetryEmail(ctx context.Context, actor string, id int64) error {
	return db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		const q = `SELECT e.state, e.to_address, c.id, c.state, e.expires_on IS NOT NULL AND (c.expires_on IS NULL OR e.expires_on <> c.expires_on)
			FROM credential_emails e JOIN credentials c ON c.id = e.credential_id WHERE e.id = $1 FOR UPDATE OF e`
		var est, to, cid, cst string
		var dateChanged bool
		if err := tx.QueryRowContext(ctx, q, id).Scan(&est, &to, &cid, &cst, &dateChanged); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return apperr.Errorf(apperr.NotFound, "There is no email %d.", id)
			}
			return fmt.Errorf("retry email %d: %w", id, err)
		}
		if est != "failed" {
			return apperr.Errorf(apperr.Conflict, "The email to %s is %s; only failed emails can be retried.", to, est)
		}
		if State(cst) != Published {
			return apperr.Errorf(apperr.Conflict, "Credential %s is %s; only published credentials are emailed.", cid, cst)
		}
		if dateChanged {
			return apperr.Errorf(apperr.Conflict, "The expiry date of credential %s has changed since this email was written; the new date gets its own reminders.", cid)
		}
		const up = `UPDATE credential_emails SET state = 'queued' WHERE id = $1`
		if _, err := tx.ExecContext(ctx, up, id); err != nil {
			return fmt.Errorf("retry email %d: %w", id, err)
		}
		if _, err := jobs.Enqueue(ctx, tx, EmailJob, EmailPayload{EmailID: id}); err != nil {
			return fmt.Errorf("retry email %d: %w", id, err)
		}
		return audit(ctx, tx, s.Time(), actor, "retry_email", "credential", cid, nil, map[string]any{"email_id": id, "to": to})
	})
}
