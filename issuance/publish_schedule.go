package issuance

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/jobs"
)

// PublishScheduleJob is the job kind that runs one scheduled publish at its
// time (payload PublishSchedulePayload).
const PublishScheduleJob = "credential_publish_schedule"

// PublishSchedulePayload is a PublishScheduleJob's payload.
type PublishSchedulePayload struct {
	ScheduleID int64 `json:"schedule_id"`
}

// ScheduleState is where a scheduled publish is in its life.
type ScheduleState string

// The states of a scheduled publish.
const (
	ScheduleWaiting   ScheduleState = "scheduled"
	ScheduleDone      ScheduleState = "done"
	ScheduleCancelled ScheduleState = "cancelled"
	// ScheduleFailed: it ran and publishing was refused (the organisation
	// was not named); Error says why and nothing was published.
	ScheduleFailed ScheduleState = "failed"
)

// PublishSchedule is a publish confirmed for a later time: the exact
// credentials confirmed, published at RunAt as Actor.
type PublishSchedule struct {
	ID            int64         `json:"id"`
	GroupIDs      []int64       `json:"group_ids"`
	CredentialIDs []string      `json:"credential_ids"`
	RunAt         time.Time     `json:"publish_at"`
	Actor         string        `json:"-"`
	State         ScheduleState `json:"state"`
	// Published and Skipped are the outcome once done: Skipped counts the
	// confirmed credentials deleted, published or revoked meanwhile.
	Published  int        `json:"published"`
	Skipped    int        `json:"skipped"`
	Error      string     `json:"error,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	FinishedAt *time.Time `json:"finished_at"`
}

// Count is how many credentials were confirmed.
func (p PublishSchedule) Count() int { return len(p.CredentialIDs) }

// MaxScheduleAhead is how far ahead a publish may be scheduled.
const MaxScheduleAhead = "one year"

type scheduleRow struct {
	ID            int64          `db:"id"`
	GroupIDs      pq.Int64Array  `db:"group_ids"`
	CredentialIDs pq.StringArray `db:"credential_ids"`
	RunAt         time.Time      `db:"run_at"`
	Actor         string         `db:"actor"`
	State         string         `db:"state"`
	Published     int            `db:"published"`
	Skipped       int            `db:"skipped"`
	Error         string         `db:"error"`
	CreatedAt     time.Time      `db:"created_at"`
	FinishedAt    sql.NullTime   `db:"finished_at"`
}

const scheduleCols = `id, group_ids, credential_ids, run_at, actor, state, published, skipped, error, created_at, finished_at`

func (r scheduleRow) schedule() PublishSchedule {
	p := PublishSchedule{ID: r.ID, GroupIDs: []int64(r.GroupIDs), CredentialIDs: []string(r.CredentialIDs), RunAt: r.RunAt,
		Actor: r.Actor, State: ScheduleState(r.State), Published: r.Published, Skipped: r.Skipped, Error: r.Error, CreatedAt: r.CreatedAt}
	if r.FinishedAt.Valid {
		t := r.FinishedAt.Time
		p.FinishedAt = &t
	}
	return p
}

// PublishRecipients returns up to limit of the credentials Publish would
// publish for sel, by recipient name: the people the Confirm step names.
func (s *Service) PublishRecipients(ctx context.Context, sel Selection, limit int) ([]Credential, error) {
	if err := CheckSelection(sel); err != nil {
		return nil, err
	}
	where, rargs := selectionWhere(sel, 5)
	q := `SELECT ` + credCols + ` FROM credentials WHERE ` + where + ` ORDER BY recipient_name, seq LIMIT $4`
	var rows []credRow
	if err := s.DB.SelectContext(ctx, &rows, q, append([]any{sel.GroupID, pq.Array(sel.IDs), sel.AllUnpublished, limit}, rargs...)...); err != nil {
		return nil, fmt.Errorf("recipients of publish (group %d, %d ids): %w", sel.GroupID, len(sel.IDs), err)
	}
	out := make([]Credential, len(rows))
	for i, r := range rows {
		out[i] = r.credential()
	}
	return out, nil
}

// CheckPublishAt refuses a scheduled time that is not in the future or is
// more than a year ahead of now (Invalid, naming field "publish_at").
func CheckPublishAt(at, now time.Time) error {
	bad := func(msg string) error {
		return apperr.Fields(msg, []apperr.FieldError{{Index: -1, Field: "publish_at", Message: msg}})
	}
	switch {
	case !at.After(now):
		return bad("The publishing time must be in the future.")
	case at.After(now.AddDate(1, 0, 0)):
		return bad("The publishing time must be at most " + MaxScheduleAhead + " ahead.")
	}
	return nil
}

// SchedulePublish records that sel's unpublished credentials, as they are
// now (their exact ids), are to be published at at by actor, and queues the
// job that does it then. Errors: Invalid (empty or oversized selection, a
// time not in the future or over a year ahead), Conflict (nothing in sel can
// be published; the organisation is not named yet).
func (s *Service) SchedulePublish(ctx context.Context, actor string, sel Selection, at time.Time) (PublishSchedule, error) {
	if err := CheckSelection(sel); err != nil {
		return PublishSchedule{}, err
	}
	now := s.Time()
	if err := CheckPublishAt(at, now); err != nil {
		return PublishSchedule{}, err
	}
	var out PublishSchedule
	err := db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		if err := namedTx(ctx, tx); err != nil {
			return err
		}
		where, rargs := selectionWhere(sel, 5)
		q := `SELECT id, group_id FROM credentials WHERE ` + where + ` ORDER BY seq LIMIT $4`
		var picked []struct {
			ID      string `db:"id"`
			GroupID int64  `db:"group_id"`
		}
		if err := tx.SelectContext(ctx, &picked, q, append([]any{sel.GroupID, pq.Array(sel.IDs), sel.AllUnpublished, maxBatch + 1}, rargs...)...); err != nil {
			return fmt.Errorf("schedule publish (group %d, %d ids): %w", sel.GroupID, len(sel.IDs), err)
		}
		switch {
		case len(picked) == 0:
			return apperr.Errorf(apperr.Conflict, "None of the selected credentials can be published (already published or revoked).")
		case len(picked) > maxBatch:
			return apperr.Errorf(apperr.Invalid, "At most %d credentials can be scheduled at once.", maxBatch)
		}
		ids := make([]string, len(picked))
		var groups []int64
		seen := map[int64]bool{}
		for i, p := range picked {
			ids[i] = p.ID
			if !seen[p.GroupID] {
				seen[p.GroupID] = true
				groups = append(groups, p.GroupID)
			}
		}
		const ins = `INSERT INTO publish_schedules (group_ids, credential_ids, run_at, actor, created_at)
			VALUES ($1, $2, $3, $4, $5) RETURNING ` + scheduleCols
		var r scheduleRow
		if err := tx.GetContext(ctx, &r, ins, pq.Array(groups), pq.Array(ids), at, actor, now); err != nil {
			return fmt.Errorf("schedule publish of %d credentials at %s: %w", len(ids), at.Format(time.RFC3339), err)
		}
		out = r.schedule()
		if _, err := jobs.EnqueueAt(ctx, tx, PublishScheduleJob, PublishSchedulePayload{ScheduleID: out.ID}, at); err != nil {
			return fmt.Errorf("schedule publish %d: %w", out.ID, err)
		}
		return audit(ctx, tx, now, actor, "schedule_publish", "publish_schedule", fmt.Sprint(out.ID), nil,
			map[string]any{"publish_at": at, "credentials": len(ids), "group_ids": groups})
	})
	return out, err
}

// PublishScheduleByID returns one scheduled publish. Errors: NotFound.
func (s *Service) PublishScheduleByID(ctx context.Context, id int64) (PublishSchedule, error) {
	q := `SELECT ` + scheduleCols + ` FROM publish_schedules WHERE id = $1`
	var r scheduleRow
	err := s.DB.GetContext(ctx, &r, q, id)
	if errors.Is(err, sql.ErrNoRows) {
		return PublishSchedule{}, apperr.Errorf(apperr.NotFound, "Scheduled publish %d does not exist.", id)
	}
	if err != nil {
		return PublishSchedule{}, fmt.Errorf("scheduled publish %d: %w", id, err)
	}
	return r.schedule(), nil
}

// PublishSchedules lists the scheduled publishes touching group groupID (0:
// every group) that still wait or finished since since, soonest first.
func (s *Service) PublishSchedules(ctx context.Context, groupID int64, since time.Time) ([]PublishSchedule, error) {
	const q = `SELECT ` + scheduleCols + ` FROM publish_schedules
		WHERE ($1::bigint = 0 OR group_ids @> ARRAY[$1::bigint])
		  AND (state = 'scheduled' OR finished_at >= $2)
		ORDER BY state <> 'scheduled', run_at, id`
	var rows []scheduleRow
	if err := s.DB.SelectContext(ctx, &rows, q, groupID, since); err != nil {
		return nil, fmt.Errorf("scheduled publishes of group %d: %w", groupID, err)
	}
	out := make([]PublishSchedule, len(rows))
	for i, r := range rows {
		out[i] = r.schedule()
	}
	return out, nil
}

// CancelPublishSchedule cancels a scheduled publish that has not run, audited
// as actor's. Errors: NotFound, Conflict (it already ran or was cancelled).
func (s *Service) CancelPublishSchedule(ctx context.Context, actor string, id int64) (PublishSchedule, error) {
	var out PublishSchedule
	err := db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		q := `SELECT ` + scheduleCols + ` FROM publish_schedules WHERE id = $1 FOR UPDATE`
		var r scheduleRow
		err := tx.GetContext(ctx, &r, q, id)
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.Errorf(apperr.NotFound, "Scheduled publish %d does not exist.", id)
		}
		if err != nil {
			return fmt.Errorf("cancel scheduled publish %d: %w", id, err)
		}
		switch ScheduleState(r.State) {
		case ScheduleCancelled:
			return apperr.Errorf(apperr.Conflict, "This scheduled publish was already cancelled.")
		case ScheduleDone, ScheduleFailed:
			return apperr.Errorf(apperr.Conflict, "This scheduled publish has already run; it can no longer be cancelled.")
		}
		now := s.Time()
		const upd = `UPDATE publish_schedules SET state = 'cancelled', cancelled_by = $2, finished_at = $3 WHERE id = $1 RETURNING ` + scheduleCols
		if err := tx.GetContext(ctx, &r, upd, id, actor, now); err != nil {
			return fmt.Errorf("cancel scheduled publish %d: %w", id, err)
		}
		out = r.schedule()
		return audit(ctx, tx, now, actor, "cancel", "publish_schedule", fmt.Sprint(id),
			map[string]any{"state": ScheduleWaiting}, map[string]any{"state": ScheduleCancelled})
	})
	return out, err
}

// HandlePublishSchedule is the PublishScheduleJob handler: it publishes the
// schedule's confirmed credentials that are still unpublished through the
// one publish path (so the refusal before the organisation is named holds),
// as the user who scheduled it, counts the others as skipped, and completes
// the job in the same transaction. A cancelled schedule does nothing.
func (s *Service) HandlePublishSchedule(ctx context.Context, j jobs.Job) error {
	var p PublishSchedulePayload
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return fmt.Errorf("publish schedule job %d: %w", j.ID, err)
	}
	return db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		q := `SELECT ` + scheduleCols + ` FROM publish_schedules WHERE id = $1 FOR UPDATE`
		var r scheduleRow
		err := tx.GetContext(ctx, &r, q, p.ScheduleID)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && ScheduleState(r.State) != ScheduleWaiting) {
			return jobs.MarkDone(ctx, tx, j) // cancelled (or already run by a stale claim)
		}
		if err != nil {
			return fmt.Errorf("run scheduled publish %d: %w", p.ScheduleID, err)
		}
		now := s.Time()
		res, err := s.publishTx(ctx, tx, r.Actor, Selection{IDs: []string(r.CredentialIDs)})
		const fin = `UPDATE publish_schedules SET state = $2, published = $3, skipped = $4, error = $5, finished_at = $6 WHERE id = $1`
		switch {
		case apperr.Is(err, apperr.Conflict):
			// A refusal (the organisation is not named) is no failure of the
			// machinery: retrying would publish at some unconfirmed time.
			if _, err := tx.ExecContext(ctx, fin, r.ID, ScheduleFailed, 0, 0, apperr.Message(err), now); err != nil {
				return fmt.Errorf("run scheduled publish %d: %w", r.ID, err)
			}
			return jobs.MarkDone(ctx, tx, j)
		case err != nil:
			return fmt.Errorf("run scheduled publish %d: %w", r.ID, err)
		}
		if _, err := tx.ExecContext(ctx, fin, r.ID, ScheduleDone, res.Published, len(r.CredentialIDs)-res.Published, "", now); err != nil {
			return fmt.Errorf("run scheduled publish %d: %w", r.ID, err)
		}
		return jobs.MarkDone(ctx, tx, j)
	})
}
