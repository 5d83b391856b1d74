package issuance

// The email outbox: Publish and Resend write credential_emails rows (and
// their EmailJobs) in their transaction; delivery reads and marks them
// through these methods.

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/groupcommit"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/internal/text"
	"github.com/lib/pq"
)

// MarkEmailSent records email id as sent and completes its job j, in one short
// transaction of its own.
func (s *Service) MarkEmailSent(ctx context.Context, j jobs.Job, id int64) error {
	// Recording must not be cut short by the handler's deadline: the email
	// is out.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		const q = `UPDATE credential_emails SET state = 'sent', last_error = '', attempts = attempts + 1,
				sent_at = $2, last_attempt_at = $2
			WHERE id = $1 AND state = 'queued'`
		if _, err := tx.ExecContext(ctx, q, id, s.Time()); err != nil {
			return fmt.Errorf("mark email %d sent: %w", id, err)
		}
		return jobs.MarkDone(ctx, tx, j)
	})
}

// MarkEmailDelivered records email id as sent, without touching its job:
// an EmailBulkJob's emails are recorded one by one as the mail server
// accepts each, and the job is done when all are, so a crash repeats only
// the message each connection had in flight. The record is committed when
// it returns; records made at the same moment on other SMTP connections
// share its statement (one round trip and one commit for them all).
func (s *Service) MarkEmailDelivered(ctx context.Context, id int64) error {
	return s.markEmailDelivered(ctx, id, s.Time())
}

func (s *Service) markEmailDelivered(ctx context.Context, id int64, at time.Time) error {
	// Recording is not cut short by the handler's deadline: the email is out.
	s.sentOnce.Do(func() { s.sent = groupcommit.New(sentWriters, maxSentBatch, s.recordSent) })
	if _, err := s.sent.Do(context.WithoutCancel(ctx), sentRecord{id: id, at: at}); err != nil {
		return fmt.Errorf("mark email %d sent: %w", id, err)
	}
	return nil
}

// sentRecord is one email the mail server accepted, and when.
type sentRecord struct {
	id int64
	at time.Time
}

// sentWriters is how many statements of sent records may be in flight at
// once (one: with two, fewer records shared each statement and a publish of
// 100,000 took longer), maxSentBatch the most records one holds: the bulk
// sender's SMTP connections each wait for their record, so a batch holds
// at most one per connection.
const (
	sentWriters  = 1
	maxSentBatch = 64
)

// recordSent records emails rs as sent, in one prepared statement.
func (s *Service) recordSent(ctx context.Context, rs []sentRecord) ([]struct{}, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ids, ats := make([]int64, len(rs)), make([]string, len(rs))
	for i, r := range rs {
		ids[i], ats[i] = r.id, r.at.UTC().Format(time.RFC3339Nano)
	}
	const q = `UPDATE credential_emails e SET state = 'sent', last_error = '', attempts = e.attempts + 1,
			sent_at = r.at, last_attempt_at = r.at
		FROM unnest($1::bigint[], $2::timestamptz[]) AS r(id, at)
		WHERE e.id = r.id AND e.state = 'queued'`
	if _, err := s.stmts().ExecContext(ctx, q, pq.Array(ids), pq.Array(ats)); err != nil {
		return nil, err
	}
	return make([]struct{}, len(rs)), nil
}

// DroppedEmail is an email that will not be sent, and why.
type DroppedEmail struct {
	ID     int64
	Job    jobs.Job
	Reason string
}

// OutboxEmail is one email of the outbox with what its message needs.
type OutboxEmail struct {
	State, To, Reason string
	// ExpiresOn is the expiry date an expiry email (reason ReminderKind or
	// ExpiredKind) speaks of; it is not sent once the credential's differs.
	ExpiresOn *time.Time
	Design    Design // only its kind and primary colour
	// Credential has what a message says of it: its id, group, state,
	// recipient, dates and attributes (not its history: no source,
	// evidence, created, updated, published or revoked times).
	Credential Credential
	Group      Group
}

// OutboxEmails loads emails ids (those that exist): the emails with their
// credentials in one query, their groups (one or a few) in another, so a
// batch of hundreds does not repeat its group in every row.
func (s *Service) OutboxEmails(ctx context.Context, ids []int64) (map[int64]OutboxEmail, error) {
	const q = `SELECT e.id, e.state, e.to_address, e.reason, e.expires_on, c.id, c.group_id, c.state,
			c.recipient_name, c.recipient_email, c.issued_on, c.expires_on, c.attributes
		FROM credential_emails e
		JOIN credentials c ON c.id = e.credential_id
		WHERE e.id = ANY($1)`
	rows, err := s.DB.QueryContext(ctx, q, pq.Array(ids))
	if err != nil {
		return nil, fmt.Errorf("load %d emails: %w", len(ids), err)
	}
	defer rows.Close()
	out := make(map[int64]OutboxEmail, len(ids))
	var groupIDs []int64
	seen := map[int64]bool{}
	for rows.Next() {
		var (
			id int64
			e  OutboxEmail
			r  credRow // only the columns a message uses
		)
		if err := rows.Scan(&id, &e.State, &e.To, &e.Reason, &e.ExpiresOn, &r.ID, &r.GroupID, &r.State,
			&r.Name, &r.Email, &r.IssuedOn, &r.ExpiresOn, &r.Attributes); err != nil {
			return nil, fmt.Errorf("load %d emails: %w", len(ids), err)
		}
		e.Credential = r.credential()
		out[id] = e
		if !seen[r.GroupID] {
			seen[r.GroupID] = true
			groupIDs = append(groupIDs, r.GroupID)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load %d emails: %w", len(ids), err)
	}
	if len(groupIDs) == 0 {
		return out, nil
	}
	gq := `SELECT ` + prefixed("g", groupCols) + `, d.primary_color, d.kind
		FROM groups g JOIN designs d ON d.id = g.design_id
		WHERE g.id = ANY($1)`
	var groups []struct {
		Color string   `db:"primary_color"`
		Kind  string   `db:"kind"`
		Group groupRow `db:"g"`
	}
	if err := s.DB.SelectContext(ctx, &groups, gq, pq.Array(groupIDs)); err != nil {
		return nil, fmt.Errorf("load %d emails: groups: %w", len(ids), err)
	}
	type groupDesign struct {
		g Group
		d Design
	}
	byID := make(map[int64]groupDesign, len(groups))
	for _, r := range groups {
		g, err := r.Group.group()
		if err != nil {
			return nil, err
		}
		byID[g.ID] = groupDesign{g, Design{PrimaryColor: r.Color, Kind: DesignKind(r.Kind)}}
	}
	for id, e := range out {
		gd, ok := byID[e.Credential.GroupID]
		if !ok {
			return nil, fmt.Errorf("load email %d: group %d of credential %s not found", id, e.Credential.GroupID, e.Credential.ID)
		}
		e.Group, e.Design = gd.g, gd.d
		out[id] = e
	}
	return out, nil
}

// RecordEmailFailure notes a failed attempt of email emailID (job j) where
// staff see it; after the job's last attempt the email is marked failed. A
// failure to record is logged: the job's retry records the next attempt.
func (s *Service) RecordEmailFailure(ctx context.Context, j jobs.Job, emailID int64, err error) {
	st, msg := "queued", err.Error()
	if j.LastAttempt {
		st = "failed"
		msg = fmt.Sprintf("gave up after %d attempts since %s: %s", j.Attempts, j.CreatedAt.UTC().Format("2 Jan 2006 15:04 UTC"), msg)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	const q = `UPDATE credential_emails SET attempts = attempts + 1, last_error = $2, state = $3, last_attempt_at = $4
		WHERE id = $1 AND state = 'queued'`
	if _, uerr := s.DB.ExecContext(ctx, q, emailID, text.Truncate(msg, 1000), st, s.Time()); uerr != nil {
		s.Logger().Warn("email: cannot record failure", "email_id", emailID, "err", uerr)
	}
}

// FinishEmails records the emails that will not be sent (dropped) and
// completes their jobs and the already-finished ones, in one transaction.
// (Sent emails are recorded one by one, by MarkEmailSent.)
func (s *Service) FinishEmails(ctx context.Context, dropped []DroppedEmail, finished []jobs.Job) error {
	if len(dropped)+len(finished) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var dropIDs []int64
	var dropReasons []string
	done := append([]jobs.Job{}, finished...)
	for _, d := range dropped {
		dropIDs = append(dropIDs, d.ID)
		dropReasons = append(dropReasons, text.Truncate(d.Reason, 1000))
		if d.Job.ID != 0 { // an EmailBulkJob's email: the worker completes its job
			done = append(done, d.Job)
		}
	}
	return db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		if len(dropIDs) > 0 {
			const q = `UPDATE credential_emails SET state = 'failed', last_error = u.reason, attempts = attempts + 1,
					last_attempt_at = $3
				FROM unnest($1::bigint[], $2::text[]) AS u(id, reason)
				WHERE credential_emails.id = u.id AND credential_emails.state = 'queued'`
			if _, err := tx.ExecContext(ctx, q, pq.Array(dropIDs), pq.Array(dropReasons), s.Time()); err != nil {
				return fmt.Errorf("drop %d emails: %w", len(dropIDs), err)
			}
		}
		return jobs.MarkDoneMany(ctx, tx, done)
	})
}
