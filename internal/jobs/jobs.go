// Package jobs is Laurel's one engine for background work (email, signing,
// imports, the Canvas inbox, scheduled reconciliation): rows in the `jobs`
// table it owns, enqueued in the same transaction as the change they follow
// (so a committed change never loses its follow-up work, and a rolled-back
// one never runs it), claimed by workers with FOR UPDATE SKIP LOCKED under a
// short lease that the running worker renews (so a dead worker's jobs run
// again about 40 s after its last heartbeat, once a worker looks: at once
// for a busy or restarted one, within the safety poll for an idle one), and
// retried with back-off under a Policy per job kind. Scheduled tasks are
// jobs that re-enqueue themselves (Worker.Schedule). Workers sleep until
// PostgreSQL notifies them of new jobs (Worker.Listen), so an idle process
// costs next to nothing.
package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Job is one claimed unit of work.
type Job struct {
	ID      int64
	Kind    string
	Payload json.RawMessage
	// Attempts counts claims including this one (1 on the first run).
	Attempts int
	// LastAttempt is true when a failure now makes the job dead, so a handler
	// can record a permanent failure where users see it.
	LastAttempt bool
	// CreatedAt is when the job was enqueued (a Policy's MaxAge counts from it).
	CreatedAt time.Time

	// retryIn is the back-off after a failure of this run, and giveUp the
	// latest retry time (zero: none), both chosen at claim.
	retryIn time.Duration
	giveUp  time.Time
}

// Handler does the work of one job. A nil error marks the job done; an error
// schedules a retry with back-off (or marks it dead after the last attempt).
// Handlers must be idempotent: a job whose worker crashed after the work but
// before marking it done runs again once its lease expires (about 30 s after
// the worker's last heartbeat). A handler that can
// record its own outcome atomically with completion calls MarkDone in its
// transaction.
type Handler func(ctx context.Context, j Job) error

// BatchHandler does the work of several claimed jobs of one kind at once (so
// it can load and record them with one query each) and returns one error per
// job, in order: nil marks that job done, an error retries it. The same
// idempotency rule as for Handler applies.
type BatchHandler func(ctx context.Context, js []Job) []error

// Enqueue adds one job of kind with payload (marshalled to JSON) through ext,
// usually the transaction of the change the job follows.
func Enqueue(ctx context.Context, ext sqlx.ExtContext, kind string, payload any) (int64, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return 0, fmt.Errorf("enqueue %s: %w", kind, err)
	}
	const q = `INSERT INTO jobs (kind, payload) VALUES ($1, $2) RETURNING id`
	var id int64
	if err := sqlx.GetContext(ctx, ext, &id, q, kind, b); err != nil {
		return 0, fmt.Errorf("enqueue %s: %w", kind, err)
	}
	return id, nil
}

// EnqueueAt adds one job of kind with payload through ext, due at runAt
// rather than at once: a worker claims it no earlier than that (a listening
// worker sleeps until the earliest due job, so it runs on time without
// polling). Jobs are rows, so a time in the future survives restarts.
func EnqueueAt(ctx context.Context, ext sqlx.ExtContext, kind string, payload any, runAt time.Time) (int64, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return 0, fmt.Errorf("enqueue %s at %s: %w", kind, runAt.Format(time.RFC3339), err)
	}
	const q = `INSERT INTO jobs (kind, payload, run_at) VALUES ($1, $2, $3) RETURNING id`
	var id int64
	if err := sqlx.GetContext(ctx, ext, &id, q, kind, b, runAt); err != nil {
		return 0, fmt.Errorf("enqueue %s at %s: %w", kind, runAt.Format(time.RFC3339), err)
	}
	return id, nil
}

// EnqueueFrom is a statement that adds one job of kind per row of query
// rows (its jsonb column payload), in their order, to write as a WITH item
// of the statement that stores what the jobs will process: rows and jobs
// then commit together in one round trip, without a transaction around
// them. kindParam names the outer statement's parameter holding the kind,
// e.g. "$13".
func EnqueueFrom(kindParam, rows string) string {
	return `INSERT INTO jobs (kind, payload) SELECT ` + kindParam + `::text, q.payload FROM (` + rows + `) AS q`
}

// EnqueueMany adds one job of kind per payload (each already JSON) in one
// statement, so thousands of jobs cost one round trip.
func EnqueueMany(ctx context.Context, ext sqlx.ExtContext, kind string, payloads []json.RawMessage) (int, error) {
	if len(payloads) == 0 {
		return 0, nil
	}
	strs := make([]string, len(payloads))
	for i, p := range payloads {
		strs[i] = string(p)
	}
	const q = `INSERT INTO jobs (kind, payload) SELECT $1, p::jsonb FROM unnest($2::text[]) AS p`
	res, err := ext.ExecContext(ctx, q, kind, pq.Array(strs))
	if err != nil {
		return 0, fmt.Errorf("enqueue %d %s jobs: %w", len(payloads), kind, err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// MarkDone marks job j done through ext. Handlers call it inside their own
// transaction so that recording their outcome and completing the job are one
// step (an email marked sent is never sent again by a retry). It only touches
// the job while this claim holds it (attempts fences off a stale claim).
func MarkDone(ctx context.Context, ext sqlx.ExecerContext, j Job) error {
	const q = `UPDATE jobs SET state = 'done', locked_until = NULL, finished_at = now(), last_error = ''
		WHERE id = $1 AND state = 'running' AND attempts = $2`
	if _, err := ext.ExecContext(ctx, q, j.ID, j.Attempts); err != nil {
		return fmt.Errorf("mark job %d done: %w", j.ID, err)
	}
	return nil
}

// MarkDoneMany is MarkDone for several jobs in one statement.
func MarkDoneMany(ctx context.Context, ext sqlx.ExecerContext, js []Job) error {
	if len(js) == 0 {
		return nil
	}
	ids := make([]int64, len(js))
	attempts := make([]int64, len(js))
	for i, j := range js {
		ids[i], attempts[i] = j.ID, int64(j.Attempts)
	}
	const q = `UPDATE jobs SET state = 'done', locked_until = NULL, finished_at = now(), last_error = ''
		FROM unnest($1::bigint[], $2::int[]) AS u(id, attempts)
		WHERE jobs.id = u.id AND jobs.state = 'running' AND jobs.attempts = u.attempts`
	if _, err := ext.ExecContext(ctx, q, pq.Array(ids), pq.Array(attempts)); err != nil {
		return fmt.Errorf("mark %d jobs done: %w", len(js), err)
	}
	return nil
}

// RetryNow makes the queued jobs of kind that wait for a retry (they failed
// before) due at now, returning how many: for when what they wait for (the
// mail server) is back.
func RetryNow(ctx context.Context, ext sqlx.ExecerContext, kind string, now time.Time) (int, error) {
	const q = `UPDATE jobs SET run_at = $2 WHERE kind = $1 AND state = 'queued' AND run_at > $2 AND attempts > 0`
	res, err := ext.ExecContext(ctx, q, kind, now)
	if err != nil {
		return 0, fmt.Errorf("retry %s jobs now: %w", kind, err)
	}
	n, _ := res.RowsAffected()
	if n > 0 {
		if err := notify(ctx, ext); err != nil {
			return 0, fmt.Errorf("retry %s jobs now: %w", kind, err)
		}
	}
	return int(n), nil
}

// notify wakes the listening workers (on commit, when ext is a transaction)
// for jobs an UPDATE made due; the trigger of migration 0024 covers INSERTs.
func notify(ctx context.Context, ext sqlx.ExecerContext) error {
	const q = `SELECT pg_notify($1, '')`
	if _, err := ext.ExecContext(ctx, q, notifyChannel); err != nil {
		return fmt.Errorf("notify workers: %w", err)
	}
	return nil
}

// Stats counts jobs of kind by state, for tests and the ops pages.
func Stats(ctx context.Context, q sqlx.QueryerContext, kind string) (map[string]int, error) {
	const sq = `SELECT state, count(*) FROM jobs WHERE kind = $1 GROUP BY state`
	rows, err := q.QueryxContext(ctx, sq, kind)
	if err != nil {
		return nil, fmt.Errorf("job stats %s: %w", kind, err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("job stats %s: %w", kind, err)
		}
		out[s] = n
	}
	return out, rows.Err()
}
