package issuance

// Bulk changes of credentials already made: revoke with a reason, resend the
// email, set or clear the expiry date, delete unpublished ones, for the
// credentials a caller ticked or for "all matching" a filter (re-evaluated
// when the change is applied, within the caller's groups). Each is
// set-based SQL: one statement changes the rows, writes one audit entry per
// credential and returns what the job engine must do next, in the same
// transaction. More than bulkNowMax are carried out by a BulkJob, chunk by
// chunk, as a large publish is (publish_run.go); its run is a bulk_runs row.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/apperr"
	auditlog "github.com/laurel-edu/laurel/internal/audit"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/jobs"
)

// BulkAction is what a bulk change does to each credential it selects.
type BulkAction string

// The bulk changes.
const (
	BulkRevoke BulkAction = "revoke" // published ones: revoked with a reason
	BulkResend BulkAction = "resend" // published ones: the email sent again
	BulkExpiry BulkAction = "expiry" // unpublished and published ones: expiry date set or cleared (published ones re-signed)
	BulkDelete BulkAction = "delete" // unpublished ones: deleted
)

// Valid reports whether a is one of the bulk changes.
func (a BulkAction) Valid() bool {
	switch a {
	case BulkRevoke, BulkResend, BulkExpiry, BulkDelete:
		return true
	}
	return false
}

// BulkSelection is the credentials a bulk change is for: IDs ticked on a
// page, or, with All, every credential matching Filter. Filter.Groups is the
// caller's scope either way (nil: every group; empty: none): a ticked ID
// outside it is not selected.
type BulkSelection struct {
	IDs    []string      `json:"ids,omitempty"`
	All    bool          `json:"all,omitempty"`
	Filter AcrossOptions `json:"filter"`
}

// BulkRequest is one bulk change.
type BulkRequest struct {
	Action    BulkAction    `json:"action"`
	Selection BulkSelection `json:"selection"`
	// Reason is a revocation's reason, which the public page shows.
	Reason string `json:"reason,omitempty"`
	// ExpiresOn is the new expiry date (YYYY-MM-DD) of BulkExpiry; ""
	// clears it.
	ExpiresOn string `json:"expires_on,omitempty"`
}

// BulkSkip is a number of selected credentials the change leaves alone, and
// why, in words ("are unpublished and cannot be revoked").
type BulkSkip struct {
	Count int
	Why   string
}

// BulkPlan is what a bulk change would do: how many it selects, how many it
// changes, the first of those by name, and those it skips.
type BulkPlan struct {
	Selected, Eligible int
	First              []Credential // up to BulkNamed of the changed ones, by name
	Skipped            []BulkSkip
}

// ChangeResult is what ApplyBulk did: Changed credentials (with InBackground,
// how many a BulkJob is changing now) and Emails queued.
type ChangeResult struct {
	Changed, Emails int
	InBackground    bool
}

const (
	// BulkNamed is how many credentials a bulk change's confirmation names.
	BulkNamed = 20
	// bulkMax bounds a selection: "all matching" a filter of the whole
	// organisation stays a bounded amount of work.
	bulkMax = 1000000
	// maxBulkIDs bounds the IDs ticked on pages; "all matching" covers more.
	maxBulkIDs = 10000
	// bulkNowMax is the most credentials ApplyBulk changes in the caller's
	// transaction; more are changed by a BulkJob, bulkChunk at a time.
	bulkNowMax = 10000
	bulkChunk  = 10000
)

// BulkJob is the job kind that carries out a large bulk change. Register
// its handler (Service.HandleBulk) with worker.Handle.
const BulkJob = "credential_bulk"

// BulkPayload is a BulkJob's payload.
type BulkPayload struct {
	RunID int64 `json:"run_id"`
}

// bulkSQL is a bulk change's selection as SQL: cond (after WHERE) over
// credentials, with its arguments; $1 is the scope and $2 a row limit.
type bulkSQL struct {
	cond string
	args []any
}

// param adds arg and returns its placeholder.
func (b *bulkSQL) param(arg any) string {
	b.args = append(b.args, arg)
	return fmt.Sprintf("$%d", len(b.args))
}

// check refuses a request that could not be applied, naming the field.
func (r BulkRequest) check() error {
	var fe []apperr.FieldError
	if !r.Action.Valid() {
		fe = append(fe, apperr.FieldError{Index: -1, Field: "action", Message: "Choose revoke, resend, expiry or delete."})
	}
	sel := r.Selection
	if !sel.All && len(sel.IDs) == 0 {
		fe = append(fe, apperr.FieldError{Index: -1, Field: "ids", Message: "Select at least one credential."})
	}
	if len(sel.IDs) > maxBulkIDs {
		fe = append(fe, apperr.FieldError{Index: -1, Field: "ids", Message: fmt.Sprintf("At most %d credentials can be ticked at once (got %d); select all matching a search instead.", maxBulkIDs, len(sel.IDs))})
	}
	switch r.Action {
	case BulkRevoke:
		reason := strings.TrimSpace(r.Reason)
		if reason == "" {
			fe = append(fe, apperr.FieldError{Index: -1, Field: "reason", Message: "Say why the credentials are revoked; their public pages show it."})
		} else if len(reason) > 1000 {
			fe = append(fe, apperr.FieldError{Index: -1, Field: "reason", Message: "At most 1000 characters."})
		}
	case BulkExpiry:
		if r.ExpiresOn != "" {
			if _, err := time.Parse(DateLayout, r.ExpiresOn); err != nil {
				fe = append(fe, apperr.FieldError{Index: -1, Field: "expires_on", Message: fmt.Sprintf("Expiry date must be a date like 2027-06-30, not %q.", r.ExpiresOn)})
			}
		}
	}
	if len(fe) > 0 {
		return apperr.Fields("The bulk change has problems; nothing was changed.", fe)
	}
	return nil
}

// selectionSQL turns sel into SQL, with a limit of limit rows.
func selectionSQL(sel BulkSelection, limit int) (bulkSQL, error) {
	opt := sel.Filter
	if !sel.All {
		opt = AcrossOptions{Groups: sel.Filter.Groups}
	}
	opt.Cursor, opt.Limit, opt.Recipients = "", 0, nil
	a, err := acrossQuery(opt, nil, limit)
	if err != nil {
		return bulkSQL{}, err
	}
	b := bulkSQL{cond: `($1::bigint[] IS NULL OR group_id = ANY($1))` + a.filter, args: a.args}
	if !sel.All {
		b.cond += ` AND id = ANY(` + b.param(pq.Array(sel.IDs)) + `::text[])`
	}
	return b, nil
}

// eligible is the condition a selected credential meets when the change
// applies to it.
func (b *bulkSQL) eligible(r BulkRequest) string {
	switch r.Action {
	case BulkRevoke, BulkResend:
		return `state = 'published'`
	case BulkDelete:
		return `state = 'unpublished'`
	default:
		if r.ExpiresOn == "" {
			return `state <> 'revoked'`
		}
		return `state <> 'revoked' AND issued_on <= ` + b.param(r.ExpiresOn) + `::date`
	}
}

// skipWhy says why credentials in state are left alone by r (ok: they
// are in a state r changes, but fail its other condition).
func skipWhy(r BulkRequest, state State, ok bool) string {
	switch {
	case r.Action == BulkRevoke && state == Unpublished:
		return "unpublished and cannot be revoked (delete them instead)"
	case r.Action == BulkRevoke && state == Revoked:
		return "already revoked"
	case r.Action == BulkResend && state == Unpublished:
		return "unpublished, so they have not been emailed yet"
	case r.Action == BulkResend && state == Revoked:
		return "revoked, so they are not emailed"
	case r.Action == BulkDelete && state == Published:
		return "published and cannot be deleted (revoke them instead)"
	case r.Action == BulkDelete && state == Revoked:
		return "revoked and cannot be deleted"
	case r.Action == BulkExpiry && state == Revoked:
		return "revoked and cannot be changed"
	case r.Action == BulkExpiry && ok:
		return "issued after the new expiry date"
	}
	return "not changed"
}

// PlanBulk says what ApplyBulk(r) would do now, for a confirmation: how
// many r selects and changes, the first BulkNamed of those by name, and
// how many it skips and why. A bad request is an apperr.Fields error.
func (s *Service) PlanBulk(ctx context.Context, r BulkRequest) (BulkPlan, error) {
	if err := r.check(); err != nil {
		return BulkPlan{}, err
	}
	if r.Selection.Filter.Groups != nil && len(r.Selection.Filter.Groups) == 0 {
		return BulkPlan{}, nil
	}
	b, err := selectionSQL(r.Selection, bulkMax)
	if err != nil {
		return BulkPlan{}, err
	}
	ok := b.eligible(r)
	sel := `SELECT ` + credCols + `, search_key FROM credentials WHERE ` + b.cond + ` LIMIT $2`
	q := `WITH sel AS (` + sel + `) SELECT state, (` + ok + `) AS ok, count(*) AS n FROM sel GROUP BY 1, 2 ORDER BY 1, 2`
	var counts []struct {
		State string `db:"state"`
		OK    bool   `db:"ok"`
		N     int    `db:"n"`
	}
	if err := s.DB.SelectContext(ctx, &counts, q, b.args...); err != nil {
		return BulkPlan{}, fmt.Errorf("plan bulk %s: %w", r.Action, err)
	}
	var p BulkPlan
	for _, c := range counts {
		p.Selected += c.N
		if c.OK {
			p.Eligible += c.N
			continue
		}
		p.Skipped = append(p.Skipped, BulkSkip{Count: c.N, Why: skipWhy(r, State(c.State), c.State != string(Revoked) && r.Action == BulkExpiry)})
	}
	if p.Eligible == 0 {
		return p, nil
	}
	fq := `WITH sel AS (` + sel + `) SELECT ` + credCols + ` FROM sel WHERE ` + ok +
		` ORDER BY COALESCE(search_key, '') COLLATE "C", seq LIMIT ` + fmt.Sprint(BulkNamed)
	var rows []credRow
	if err := s.DB.SelectContext(ctx, &rows, fq, b.args...); err != nil {
		return BulkPlan{}, fmt.Errorf("plan bulk %s: names: %w", r.Action, err)
	}
	for _, row := range rows {
		p.First = append(p.First, row.credential())
	}
	return p, nil
}

// ApplyBulk applies r as actor to the credentials it selects now (a
// filter is evaluated again, within its scope) that r applies to, skipping
// the others: each change with its audit entry, and the emails or
// re-signing it needs queued, in one transaction. More than bulkNowMax are
// answered at once with InBackground set and changed by a BulkJob.
func (s *Service) ApplyBulk(ctx context.Context, actor string, r BulkRequest) (ChangeResult, error) {
	if err := r.check(); err != nil {
		return ChangeResult{}, err
	}
	r.Reason = strings.TrimSpace(r.Reason)
	if r.Selection.Filter.Groups != nil && len(r.Selection.Filter.Groups) == 0 {
		return ChangeResult{}, nil
	}
	var res ChangeResult
	err := db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		n, err := countEligibleTx(ctx, tx, r)
		if err != nil {
			return err
		}
		if n > bulkNowMax {
			return s.bulkInBackgroundTx(ctx, tx, actor, r, n, &res)
		}
		res, _, err = s.bulkChunkTx(ctx, tx, actor, r, 0, math.MaxInt64, bulkMax)
		return err
	})
	return res, err
}

func countEligibleTx(ctx context.Context, tx *sqlx.Tx, r BulkRequest) (int, error) {
	b, err := selectionSQL(r.Selection, bulkMax)
	if err != nil {
		return 0, err
	}
	q := `SELECT count(*) FROM (SELECT 1 FROM credentials WHERE ` + b.cond + ` AND ` + b.eligible(r) + ` LIMIT $2) AS capped`
	var n int
	if err := tx.GetContext(ctx, &n, q, b.args...); err != nil {
		return 0, fmt.Errorf("count bulk %s: %w", r.Action, err)
	}
	return n, nil
}

// bulkChunkTx applies r to at most limit of its credentials with after <
// seq ≤ maxSeq, in seq order, and returns what it did and the last seq
// it changed (after when none).
func (s *Service) bulkChunkTx(ctx context.Context, tx *sqlx.Tx, actor string, r BulkRequest, after, maxSeq int64, limit int) (ChangeResult, int64, error) {
	b, err := selectionSQL(r.Selection, limit)
	if err != nil {
		return ChangeResult{}, after, err
	}
	now := s.Time()
	cond := b.cond + ` AND ` + b.eligible(r) + ` AND seq > ` + b.param(after) + ` AND seq <= ` + b.param(maxSeq)
	at, who := b.param(now), b.param(actor)
	// sel locks the rows in seq order (the order every bulk statement
	// takes, so two cannot deadlock) and keeps each one's audit snapshot.
	sel := `sel AS (SELECT seq AS sseq, id AS sid, ` + credAuditSQL + ` AS old_snap FROM credentials
		WHERE ` + cond + ` ORDER BY seq LIMIT $2 FOR UPDATE)`
	var q string
	switch r.Action {
	case BulkRevoke:
		reason := b.param(r.Reason)
		q = `WITH ` + sel + `, ch AS (
				UPDATE credentials SET state = 'revoked', revocation_reason = ` + reason + `, revoked_at = ` + at + `, updated_at = ` + at + `
				FROM sel WHERE id = sel.sid
				RETURNING sseq, id, old_snap, ` + credAuditSQL + ` AS new_snap
			), cancel AS (
				UPDATE credential_emails SET state = 'failed', last_error = 'credential revoked before sending'
				WHERE credential_id IN (SELECT id FROM ch) AND state = 'queued'
			), aud AS (
				` + auditlog.InsertSelect(auditlog.Columns{At: at, Actor: who, Action: "'revoke'", EntityType: "'credential'",
			EntityID: "id", Before: "old_snap", After: "new_snap"}, "ch") + `
			)
			SELECT id, sseq AS seq, 0::bigint AS email_id FROM ch`
	case BulkExpiry:
		exp := b.param(r.ExpiresOn)
		q = `WITH ` + sel + `, ch AS (
				UPDATE credentials SET expires_on = NULLIF(` + exp + `::text, '')::date, updated_at = ` + at + `
				FROM sel WHERE id = sel.sid
				RETURNING sseq, id, state, old_snap, ` + credAuditSQL + ` AS new_snap
			), aud AS (
				` + auditlog.InsertSelect(auditlog.Columns{At: at, Actor: who, Action: "'amend'", EntityType: "'credential'",
			EntityID: "id", Before: "old_snap", After: "new_snap"}, "ch") + `
			)
			SELECT id, sseq AS seq, 0::bigint AS email_id, state FROM ch`
	case BulkDelete:
		q = `WITH ` + sel + `, em AS (
				DELETE FROM credential_emails WHERE credential_id IN (SELECT sid FROM sel)
			), ch AS (
				DELETE FROM credentials USING sel WHERE id = sel.sid AND state = 'unpublished'
				RETURNING sseq, id, old_snap
			), aud AS (
				` + auditlog.InsertSelect(auditlog.Columns{At: at, Actor: who, Action: "'delete'", EntityType: "'credential'",
			EntityID: "id", Before: "old_snap"}, "ch") + `
			)
			SELECT id, sseq AS seq, 0::bigint AS email_id FROM ch`
	case BulkResend:
		q = `WITH ` + sel + `, ch AS (
				INSERT INTO credential_emails (credential_id, to_address, reason, created_at)
				SELECT c.id, c.recipient_email, 'resend', ` + at + ` FROM sel JOIN credentials c ON c.id = sel.sid
				RETURNING id AS email_id, credential_id AS id, to_address
			), aud AS (
				` + auditlog.InsertSelect(auditlog.Columns{At: at, Actor: who, Action: "'resend'", EntityType: "'credential'",
			EntityID: "id", After: "jsonb_build_object('email_id', email_id, 'to', to_address)"}, "ch") + `
			)
			SELECT ch.id, sel.sseq AS seq, ch.email_id FROM ch JOIN sel ON sel.sid = ch.id`
	}
	var rows []struct {
		ID      string         `db:"id"`
		Seq     int64          `db:"seq"`
		EmailID int64          `db:"email_id"`
		State   sql.NullString `db:"state"`
	}
	if err := tx.SelectContext(ctx, &rows, q, b.args...); err != nil {
		return ChangeResult{}, after, fmt.Errorf("bulk %s of up to %d credentials: %w", r.Action, limit, err)
	}
	last := after
	var resign []string
	var emails []int64
	for _, row := range rows {
		last = max(last, row.Seq)
		if row.State.String == string(Published) {
			resign = append(resign, row.ID)
		}
		if row.EmailID != 0 {
			emails = append(emails, row.EmailID)
		}
	}
	// The signed credential must say what the page says: an expiry change
	// of a published one is signed again, as any amendment is.
	if len(resign) > 0 {
		if err := enqueueChanged(ctx, tx, resign); err != nil {
			return ChangeResult{}, after, err
		}
	}
	if len(emails) > 0 {
		kind, payloads := emailJobs(emails, false)
		if _, err := jobs.EnqueueMany(ctx, tx, kind, payloads); err != nil {
			return ChangeResult{}, after, fmt.Errorf("bulk resend of %d credentials: %w", len(emails), err)
		}
	}
	return ChangeResult{Changed: len(rows), Emails: len(emails)}, last, nil
}

// bulkInBackgroundTx records the run of r over its n credentials (those
// that exist now: up to the current seq) and queues its BulkJob.
func (s *Service) bulkInBackgroundTx(ctx context.Context, tx *sqlx.Tx, actor string, r BulkRequest, n int, res *ChangeResult) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("bulk %s of %d credentials in the background: %w", r.Action, n, err)
	}
	const q = `INSERT INTO bulk_runs (actor, request, max_seq, total, started_at)
		VALUES ($1, $2, (SELECT coalesce(max(seq), 0) FROM credentials), $3, $4) RETURNING id`
	var id int64
	if err := tx.GetContext(ctx, &id, q, actor, string(b), n, s.Time()); err != nil {
		return fmt.Errorf("bulk %s of %d credentials in the background: %w", r.Action, n, err)
	}
	if _, err := jobs.Enqueue(ctx, tx, BulkJob, BulkPayload{RunID: id}); err != nil {
		return fmt.Errorf("bulk %s of %d credentials in the background: %w", r.Action, n, err)
	}
	*res = ChangeResult{Changed: n, InBackground: true}
	if r.Action == BulkResend {
		res.Emails = n
	}
	return nil
}

// HandleBulk returns the handler of BulkJob: it applies the run's request
// bulkChunk credentials at a time in seq order, each chunk in a
// transaction that also records how far the run is, until none is left.
// A crash loses nothing and repeats nothing: the job runs again from the
// last committed chunk.
func (s *Service) HandleBulk() jobs.Handler {
	return func(ctx context.Context, j jobs.Job) error {
		var p BulkPayload
		if err := json.Unmarshal(j.Payload, &p); err != nil || p.RunID == 0 {
			return fmt.Errorf("bulk job %d: bad payload %s", j.ID, j.Payload)
		}
		var run struct {
			Actor    string          `db:"actor"`
			Request  json.RawMessage `db:"request"`
			MaxSeq   int64           `db:"max_seq"`
			After    int64           `db:"after_seq"`
			Finished bool            `db:"finished"`
		}
		const q = `SELECT actor, request, max_seq, after_seq, finished_at IS NOT NULL AS finished FROM bulk_runs WHERE id = $1`
		switch err := s.DB.GetContext(ctx, &run, q, p.RunID); {
		case errors.Is(err, sql.ErrNoRows):
			return nil
		case err != nil:
			return fmt.Errorf("bulk run %d: %w", p.RunID, err)
		}
		var r BulkRequest
		if err := json.Unmarshal(run.Request, &r); err != nil {
			return fmt.Errorf("bulk run %d: request: %w", p.RunID, err)
		}
		for !run.Finished {
			if err := ctx.Err(); err != nil {
				return err
			}
			err := db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
				res, last, err := s.bulkChunkTx(ctx, tx, run.Actor, r, run.After, run.MaxSeq, bulkChunk)
				if err != nil {
					return err
				}
				const up = `UPDATE bulk_runs SET done = done + $2, after_seq = $3,
						finished_at = CASE WHEN $2 = 0 THEN $4::timestamptz END
					WHERE id = $1`
				if _, err := tx.ExecContext(ctx, up, p.RunID, res.Changed, last, s.Time()); err != nil {
					return fmt.Errorf("bulk run %d: %w", p.RunID, err)
				}
				run.After, run.Finished = last, res.Changed == 0
				return nil
			})
			if err != nil {
				return fmt.Errorf("bulk run %d: %w", p.RunID, err)
			}
		}
		return nil
	}
}
