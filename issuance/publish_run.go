package issuance

// Publishing in the background: a publish of more than publishNowMax
// credentials is answered at once and carried out by a PublishJob, chunk
// by chunk, each chunk published, audited and queued for email in its own
// transaction (publishSomeTx), so emails go out while later chunks are
// still being published. Its run (table publish_runs) says how far it is.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/jobs"
)

// PublishJob is the job kind that carries out a publish in the background.
// Register its handler (Service.HandlePublish) with worker.Handle.
const PublishJob = "credential_publish"

// PublishPayload is a PublishJob's payload.
type PublishPayload struct {
	RunID int64 `json:"run_id"`
}

const (
	// publishNowMax is the most credentials Publish publishes in the
	// caller's transaction; more are published by a PublishJob.
	publishNowMax = 10000
	// publishChunk is how many credentials one transaction of a
	// PublishJob publishes, publishFirstChunk in its first.
	publishChunk      = 10000
	publishFirstChunk = 1000
)

// publishInBackgroundTx records the run of publishing sel's n credentials
// (those that exist now: up to the current seq) and queues its PublishJob.
func (s *Service) publishInBackgroundTx(ctx context.Context, tx *sqlx.Tx, actor string, sel Selection, n int) (PublishResult, error) {
	// Refused before the organisation is named, now rather than in the job.
	if err := namedTx(ctx, tx); err != nil {
		return PublishResult{}, err
	}
	b, err := json.Marshal(sel)
	if err != nil {
		return PublishResult{}, fmt.Errorf("publish %d credentials in the background: %w", n, err)
	}
	const q = `INSERT INTO publish_runs (group_id, actor, selection, max_seq, total, started_at)
		VALUES ($1, $2, $3, (SELECT coalesce(max(seq), 0) FROM credentials), $4, $5) RETURNING id`
	var id int64
	if err := tx.GetContext(ctx, &id, q, sel.GroupID, actor, string(b), n, s.Time()); err != nil {
		return PublishResult{}, fmt.Errorf("publish %d credentials of group %d in the background: %w", n, sel.GroupID, err)
	}
	if _, err := jobs.Enqueue(ctx, tx, PublishJob, PublishPayload{RunID: id}); err != nil {
		return PublishResult{}, fmt.Errorf("publish %d credentials of group %d in the background: %w", n, sel.GroupID, err)
	}
	return PublishResult{Published: n, Emails: n, InBackground: true}, nil
}

// recordPublishRunTx records a publish of n credentials of sel's group,
// begun at start, that is done already, for the figure GroupSending shows
// while its emails go.
func (s *Service) recordPublishRunTx(ctx context.Context, tx *sqlx.Tx, actor string, sel Selection, n int, start time.Time) error {
	b, err := json.Marshal(sel)
	if err != nil {
		return fmt.Errorf("record publish of %d credentials: %w", n, err)
	}
	const q = `INSERT INTO publish_runs (group_id, actor, selection, max_seq, total, published, started_at, finished_at)
		VALUES ($1, $2, $3, 0, $4, $4, $5, $5)`
	if _, err := tx.ExecContext(ctx, q, sel.GroupID, actor, string(b), n, start); err != nil {
		return fmt.Errorf("record publish of %d credentials of group %d: %w", n, sel.GroupID, err)
	}
	return nil
}

// HandlePublish returns the handler of PublishJob: it publishes the run's
// credentials publishChunk at a time, each chunk with its audit rows, its
// emails and their jobs in one transaction that also counts it in the run,
// until none is left; then the run is finished with the number actually
// published (credentials deleted or published meanwhile are not). A crash
// loses nothing: the job runs again and goes on where the last committed
// chunk ended.
func (s *Service) HandlePublish() jobs.Handler {
	return func(ctx context.Context, j jobs.Job) error {
		var p PublishPayload
		if err := json.Unmarshal(j.Payload, &p); err != nil || p.RunID == 0 {
			return fmt.Errorf("publish job %d: bad payload %s", j.ID, j.Payload)
		}
		var run struct {
			Actor     string          `db:"actor"`
			Selection json.RawMessage `db:"selection"`
			MaxSeq    int64           `db:"max_seq"`
			Finished  bool            `db:"finished"`
		}
		const q = `SELECT actor, selection, max_seq, finished_at IS NOT NULL AS finished FROM publish_runs WHERE id = $1`
		switch err := s.DB.GetContext(ctx, &run, q, p.RunID); {
		case errors.Is(err, sql.ErrNoRows):
			return nil // its group was deleted, and the run with it
		case err != nil:
			return fmt.Errorf("publish run %d: %w", p.RunID, err)
		}
		var sel Selection
		if err := json.Unmarshal(run.Selection, &sel); err != nil {
			return fmt.Errorf("publish run %d: selection: %w", p.RunID, err)
		}
		// The first chunks are small so that emails start going out at
		// once, while the rest is published.
		chunk := publishFirstChunk
		for !run.Finished {
			if err := ctx.Err(); err != nil {
				return err // the lease is lost or the worker stops: the next claim goes on
			}
			err := db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
				res, err := s.publishSomeTx(ctx, tx, run.Actor, sel, run.MaxSeq, chunk)
				if err != nil {
					return err
				}
				const up = `UPDATE publish_runs SET published = published + $2,
						finished_at = CASE WHEN $2 = 0 THEN $3::timestamptz END,
						total = CASE WHEN $2 = 0 THEN published ELSE total END
					WHERE id = $1`
				if _, err := tx.ExecContext(ctx, up, p.RunID, res.Published, s.Time()); err != nil {
					return fmt.Errorf("publish run %d: %w", p.RunID, err)
				}
				run.Finished = res.Published == 0
				return nil
			})
			if err != nil {
				return fmt.Errorf("publish run %d: %w", p.RunID, err)
			}
			chunk = min(2*chunk, publishChunk)
		}
		return nil
	}
}

// Sending is how far the emails of a group's latest large publish are:
// Done (sent, or failed for good) of Total.
type Sending struct{ Done, Total int }

// Sent reports whether every email of the publish is done.
func (s Sending) Sent() bool { return s.Done >= s.Total }

// String is "41,200 of 100,000".
func (s Sending) String() string { return thousands(s.Done) + " of " + thousands(s.Total) }

// GroupSending says how far the emails of group id's latest publish of
// bulkEmailsMin or more are (its credentials not yet published count as
// not sent); Total 0 when it has had none.
func (s *Service) GroupSending(ctx context.Context, id int64) (Sending, error) {
	const q = `WITH r AS (
			SELECT total, started_at FROM publish_runs WHERE group_id = $1 ORDER BY id DESC LIMIT 1)
		SELECT r.total, (SELECT count(*) FROM credential_emails e JOIN credentials c ON c.id = e.credential_id
			WHERE c.group_id = $1 AND e.created_at >= r.started_at AND e.reason = 'published' AND e.state <> 'queued')
		FROM r`
	var out Sending
	err := s.DB.QueryRowxContext(ctx, q, id).Scan(&out.Total, &out.Done)
	if errors.Is(err, sql.ErrNoRows) {
		return Sending{}, nil
	}
	if err != nil {
		return Sending{}, fmt.Errorf("emails of group %d: %w", id, err)
	}
	return out, nil
}

// thousands writes n with a comma between groups of three digits.
func thousands(n int) string {
	if n < 0 {
		return "-" + thousands(-n)
	}
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
