package issuance

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/apperr"
	auditlog "github.com/laurel-edu/laurel/internal/audit"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/jobs"
)

// EmailJob is the job kind that sends one credential email.
const EmailJob = "credential_email"

// EmailPayload is an EmailJob's payload.
type EmailPayload struct {
	EmailID int64 `json:"email_id"`
}

// EmailBulkJob is the job kind that sends the emails of a large publish, up
// to bulkEmailsSize of them: each email is still recorded sent on its own,
// as soon as the mail server accepted it, and the job is done when all are.
const EmailBulkJob = "credential_email_bulk"

// EmailBulkPayload is an EmailBulkJob's payload.
type EmailBulkPayload struct {
	EmailIDs []int64 `json:"email_ids"`
}

// A publish of bulkEmailsMin emails or more queues them as EmailBulkJobs of
// bulkEmailsSize: small enough that the worker's goroutines share a publish
// out (each sends its job's emails over one SMTP connection), large enough
// that 100,000 emails are 400 jobs. Smaller publishes keep a job per email.
const (
	bulkEmailsMin  = 1000
	bulkEmailsSize = 250
)

// CheckSelection refuses an empty or oversized selection (Invalid), before
// anything is looked up.
func CheckSelection(sel Selection) error {
	if len(sel.IDs) == 0 && !(sel.AllUnpublished && sel.GroupID != 0) {
		return apperr.Fields("Nothing is selected.", []apperr.FieldError{{Index: -1, Field: "ids", Message: "Select at least one credential."}})
	}
	if len(sel.IDs) > maxBatch {
		return apperr.Errorf(apperr.Invalid, "At most %d credentials at once (got %d).", maxBatch, len(sel.IDs))
	}
	return nil
}

// selectionWhere is the WHERE clause shared by CountPublishable and Publish:
// unpublished credentials that are in $2 (when not "all"), limited to group
// $1 when it is not 0, and to sel's recipients (parameters from first on).
func selectionWhere(sel Selection, first int) (string, []any) {
	rc, rargs := sel.Recipients.cond(first)
	return `state = 'unpublished' AND ($1::bigint = 0 OR group_id = $1) AND ($3::boolean OR id = ANY($2::text[]))` + rc, rargs
}

// CountPublishable says how many of sel's credentials Publish would publish
// (and so how many emails it would send): the Confirm page's figure.
func (s *Service) CountPublishable(ctx context.Context, sel Selection) (int, error) {
	if err := CheckSelection(sel); err != nil {
		return 0, err
	}
	return countPublishableTx(ctx, s.DB, sel)
}

func countPublishableTx(ctx context.Context, q sqlx.QueryerContext, sel Selection) (int, error) {
	where, rargs := selectionWhere(sel, 4)
	cq := `SELECT count(*) FROM credentials WHERE ` + where
	var n int
	if err := sqlx.GetContext(ctx, q, &n, cq, append([]any{sel.GroupID, pq.Array(sel.IDs), sel.AllUnpublished}, rargs...)...); err != nil {
		return 0, fmt.Errorf("count publishable (group %d, %d ids): %w", sel.GroupID, len(sel.IDs), err)
	}
	return n, nil
}

// GroupsOf returns the distinct groups of the given credentials, so a caller
// can check its permission on each before acting on them.
func (s *Service) GroupsOf(ctx context.Context, ids []string) ([]int64, error) {
	const q = `SELECT DISTINCT group_id FROM credentials WHERE id = ANY($1) ORDER BY group_id`
	var out []int64
	if err := s.DB.SelectContext(ctx, &out, q, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("groups of %d credentials: %w", len(ids), err)
	}
	return out, nil
}

// Publish publishes sel's unpublished credentials (others are skipped) and,
// in the same transaction, queues one email per credential: a crash either
// publishes and queues all of them or none. Set-based SQL, so 10,000 take
// one transaction of a few statements.
//
// A selection of all a group's unpublished credentials that has more than
// publishNowMax of them is answered at once instead: the result counts them
// with InBackground set, and a PublishJob publishes them in chunks (see
// publishInBackgroundTx); the credentials created after the call are not
// part of it.
func (s *Service) Publish(ctx context.Context, actor string, sel Selection) (PublishResult, error) {
	if err := CheckSelection(sel); err != nil {
		return PublishResult{}, err
	}
	var res PublishResult
	err := db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		var err error
		if sel.AllUnpublished && sel.GroupID != 0 {
			var n int
			if n, err = countPublishableTx(ctx, tx, sel); err != nil {
				return err
			}
			if n > publishNowMax {
				res, err = s.publishInBackgroundTx(ctx, tx, actor, sel, n)
				return err
			}
		}
		start := s.Time()
		res, err = s.publishTx(ctx, tx, actor, sel)
		if err == nil && res.Published >= bulkEmailsMin && sel.GroupID != 0 {
			// The figure on the group's page while they are sent.
			err = s.recordPublishRunTx(ctx, tx, actor, sel, res.Published, start)
		}
		return err
	})
	return res, err
}

// auditPublishes records each row of publishTx's CTE pub as published by
// actor $5 at $4.
var auditPublishes = auditlog.InsertSelect(auditlog.Columns{At: "$4", Actor: "$5", Action: "'publish'",
	EntityType: "'credential'", EntityID: "id", Before: `'{"state": "unpublished"}'`,
	After: "jsonb_build_object('state', 'published', 'published_at', $4::timestamptz)"}, "pub")

// publishTx is the one place a credential becomes published: every surface
// (pages, API, LMS, auto-publishing mappings) goes through it, so the
// refusal before the organisation is named (Conflict, reason
// ReasonOrganisationNotSet) holds everywhere.
func (s *Service) publishTx(ctx context.Context, tx *sqlx.Tx, actor string, sel Selection) (PublishResult, error) {
	return s.publishSomeTx(ctx, tx, actor, sel, 0, 0)
}

// publishSomeTx is publishTx limited, when limit > 0, to the first limit
// credentials (by seq) of sel with seq ≤ maxSeq: a chunk of a run.
func (s *Service) publishSomeTx(ctx context.Context, tx *sqlx.Tx, actor string, sel Selection, maxSeq int64, limit int) (PublishResult, error) {
	if err := namedTx(ctx, tx); err != nil {
		return PublishResult{}, err
	}
	now := s.Time()
	where, rargs := selectionWhere(sel, 6)
	if limit > 0 {
		// The chunk is a range of seq, found first: a plain range scan of
		// the (group, state, seq) index, whatever the planner thinks of a
		// group it has no statistics for yet (a join with a LIMIT subquery
		// turned quadratic on a freshly loaded group).
		bq, bargs := selectionWhere(sel, 4)
		q := `SELECT seq FROM credentials WHERE ` + bq + fmt.Sprintf(` AND seq <= $%d ORDER BY seq OFFSET $%d LIMIT 1`, 4+len(bargs), 5+len(bargs))
		args := append(append([]any{sel.GroupID, pq.Array(sel.IDs), sel.AllUnpublished}, bargs...), maxSeq, limit-1)
		switch err := tx.GetContext(ctx, &maxSeq, q, args...); {
		case errors.Is(err, sql.ErrNoRows): // fewer than limit left: all up to maxSeq
		case err != nil:
			return PublishResult{}, fmt.Errorf("publish (group %d): next chunk: %w", sel.GroupID, err)
		}
		where += fmt.Sprintf(` AND seq <= $%d`, 6+len(rargs))
		rargs = append(rargs, maxSeq)
	}
	q := `WITH pub AS (
			UPDATE credentials SET state = 'published', published_at = $4, updated_at = $4
			WHERE ` + where + `
			RETURNING id, recipient_email
		), aud AS (
			` + auditPublishes + `
		)
		INSERT INTO credential_emails (credential_id, to_address, reason, created_at)
		SELECT id, recipient_email, 'published', $4 FROM pub
		RETURNING id, credential_id`
	var rows []struct {
		EmailID int64  `db:"id"`
		CredID  string `db:"credential_id"`
	}
	if err := tx.SelectContext(ctx, &rows, q, append([]any{sel.GroupID, pq.Array(sel.IDs), sel.AllUnpublished, now, actor}, rargs...)...); err != nil {
		return PublishResult{}, fmt.Errorf("publish (group %d, %d ids): %w", sel.GroupID, len(sel.IDs), err)
	}
	emailIDs := make([]int64, len(rows))
	credIDs := make([]string, len(rows))
	for i, r := range rows {
		emailIDs[i], credIDs[i] = r.EmailID, r.CredID
	}
	// A chunk of a run is part of a large publish, however few it has.
	kind, payloads := emailJobs(emailIDs, limit > 0)
	// Signing is queued first, so its jobs are claimed before the emails'.
	// An EmailBulkJob signs its credentials itself before sending them (the
	// same Sign), so a large publish queues no sign jobs: each credential is
	// locked and read for signing once, not twice.
	if kind != EmailBulkJob {
		if err := enqueueChanged(ctx, tx, credIDs); err != nil {
			return PublishResult{}, err
		}
	}
	if _, err := jobs.EnqueueMany(ctx, tx, kind, payloads); err != nil {
		return PublishResult{}, fmt.Errorf("publish %d credentials: %w", len(emailIDs), err)
	}
	return PublishResult{Published: len(emailIDs), Emails: len(emailIDs)}, nil
}

// emailJobs are the jobs that send emails ids: one EmailJob each, or, from
// bulkEmailsMin emails on or when bulk, one EmailBulkJob per
// bulkEmailsSize, so a large publish queues a few hundred jobs instead of a
// job per email.
func emailJobs(ids []int64, bulk bool) (kind string, payloads []json.RawMessage) {
	if len(ids) < bulkEmailsMin && !bulk {
		out := make([]json.RawMessage, len(ids))
		for i, id := range ids {
			out[i] = json.RawMessage(`{"email_id":` + strconv.FormatInt(id, 10) + `}`)
		}
		return EmailJob, out
	}
	for lo := 0; lo < len(ids); lo += bulkEmailsSize {
		b := []byte(`{"email_ids":[`)
		for i, id := range ids[lo:min(lo+bulkEmailsSize, len(ids))] {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, id, 10)
		}
		payloads = append(payloads, append(b, ']', '}'))
	}
	return EmailBulkJob, payloads
}

// Resend queues the credential email again for a published credential.
// Unpublished or revoked credentials are a Conflict.
func (s *Service) Resend(ctx context.Context, actor, id string) error {
	return db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		c, err := credentialTx(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if c.State != Published {
			return apperr.Errorf(apperr.Conflict, "Credential %s is %s; only published credentials are emailed.", id, c.State)
		}
		now := s.Time()
		const q = `INSERT INTO credential_emails (credential_id, to_address, reason, created_at)
			VALUES ($1, $2, 'resend', $3) RETURNING id`
		var eid int64
		if err := tx.GetContext(ctx, &eid, q, id, c.Recipient.Email, now); err != nil {
			return fmt.Errorf("resend credential %s: %w", id, err)
		}
		if _, err := jobs.Enqueue(ctx, tx, EmailJob, EmailPayload{EmailID: eid}); err != nil {
			return fmt.Errorf("resend credential %s: %w", id, err)
		}
		return audit(ctx, tx, now, actor, "resend", "credential", id, nil, map[string]any{"email_id": eid, "to": c.Recipient.Email})
	})
}

// Emails lists a credential's emails, newest first.
func (s *Service) Emails(ctx context.Context, credentialID string) ([]Email, error) {
	const q = `SELECT id, to_address, reason, state, last_error, attempts, created_at, sent_at, last_attempt_at
		FROM credential_emails WHERE credential_id = $1 ORDER BY id DESC`
	rows, err := s.DB.QueryxContext(ctx, q, credentialID)
	if err != nil {
		return nil, fmt.Errorf("emails of credential %s: %w", credentialID, err)
	}
	defer rows.Close()
	out := []Email{}
	for rows.Next() {
		var e Email
		if err := rows.Scan(&e.ID, &e.To, &e.Reason, &e.State, &e.LastError, &e.Attempts, &e.CreatedAt, &e.SentAt, &e.LastAttemptAt); err != nil {
			return nil, fmt.Errorf("emails of credential %s: %w", credentialID, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
