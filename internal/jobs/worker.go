package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/safetext"
)

// Worker claims queued jobs and runs their handlers on Concurrency goroutines.
// Zero fields take the defaults documented on each.
type Worker struct {
	DB *sqlx.DB
	// Concurrency is how many goroutines claim and run jobs (default 8).
	Concurrency int
	// BatchSize is how many jobs one goroutine claims per round trip (default 50).
	BatchSize int
	// Lease is how long a claim holds a job; a job still running after its
	// lease (its worker crashed) is claimed again (default 5 minutes).
	Lease time.Duration
	// MaxAttempts is how many runs a job gets before it is dead (default 10).
	MaxAttempts int
	// Poll is the wait after finding nothing to do (default 1 s).
	Poll time.Duration
	// BaseBackoff is the retry delay after the first failure; it doubles with
	// each attempt up to MaxBackoff, with jitter (defaults 5 s and 1 h).
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// Now is the clock used for run_at and leases (default time.Now).
	Now func() time.Time
	// Retention is how long finished (done or dead) jobs are kept for
	// inspection before the reaper deletes them (default 14 days).
	Retention time.Duration
	Log       *slog.Logger

	mu       sync.RWMutex
	handlers map[string]Handler
	batch    map[string]BatchHandler
	nextReap time.Time
}

// NewWorker returns a worker with default settings and no handlers.
func NewWorker(db *sqlx.DB, log *slog.Logger) *Worker {
	if log == nil {
		log = slog.Default()
	}
	return &Worker{DB: db, Log: log}
}

// Handle registers the handler for kind. Jobs of kinds without a handler are
// left for another worker.
func (w *Worker) Handle(kind string, h Handler) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.handlers == nil {
		w.handlers = map[string]Handler{}
	}
	w.handlers[kind] = h
}

// HandleBatch registers a batch handler for kind: the jobs of kind in one
// claim are handed to it together. It replaces a Handler for the same kind.
func (w *Worker) HandleBatch(kind string, h BatchHandler) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.batch == nil {
		w.batch = map[string]BatchHandler{}
	}
	w.batch[kind] = h
}

func (w *Worker) kinds() []string {
	w.mu.RLock()
	defer w.mu.RUnlock()
	out := make([]string, 0, len(w.handlers)+len(w.batch))
	for k := range w.handlers {
		out = append(out, k)
	}
	for k := range w.batch {
		if w.handlers[k] == nil {
			out = append(out, k)
		}
	}
	return out
}

func (w *Worker) batchHandler(kind string) BatchHandler {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.batch[kind]
}

func (w *Worker) handler(kind string) Handler {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.handlers[kind]
}

func (w *Worker) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

func orDefault[T int | time.Duration](v, d T) T {
	if v <= 0 {
		return d
	}
	return v
}

// Run claims and runs jobs until ctx is cancelled, then waits for the jobs in
// hand to finish. A database outage is logged and waited out; it never stops
// the worker.
func (w *Worker) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for i := range orDefault(w.Concurrency, 8) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.loop(ctx, i)
		}()
	}
	wg.Wait()
	return nil
}

func (w *Worker) loop(ctx context.Context, n int) {
	poll := orDefault(w.Poll, time.Second)
	// Spread idle polling so goroutines do not hit the database in step.
	wait := time.Duration(rand.Int64N(int64(poll)) + 1)
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		got, err := w.RunOnce(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil:
			failures++
			wait = min(poll<<min(failures, 5), 30*time.Second)
			w.Log.Warn("jobs: cannot claim work; will retry", "worker", n, "err", err, "retry_in", wait)
		case got == 0:
			failures = 0
			wait = poll
		default:
			failures = 0
			wait = 0
		}
	}
}

// RunOnce claims one batch and runs it, returning how many jobs it claimed.
// If ctx is cancelled part-way, the jobs not yet started are released.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	kinds := w.kinds()
	if len(kinds) == 0 {
		return 0, nil
	}
	batch, err := w.claim(ctx, kinds)
	if err != nil {
		return 0, err
	}
	// Jobs whose kind has a batch handler run together, in claim order.
	byKind := map[string][]Job{}
	for _, j := range batch {
		if w.batchHandler(j.Kind) != nil {
			byKind[j.Kind] = append(byKind[j.Kind], j)
		}
	}
	for kind, js := range byKind {
		w.runBatch(ctx, w.batchHandler(kind), js)
	}
	for i, j := range batch {
		if _, ok := byKind[j.Kind]; ok {
			continue
		}
		if ctx.Err() != nil {
			var rest []Job
			for _, r := range batch[i:] {
				if _, ok := byKind[r.Kind]; !ok {
					rest = append(rest, r)
				}
			}
			w.release(rest)
			break
		}
		w.run(ctx, j)
	}
	return len(batch), nil
}

func (w *Worker) claim(ctx context.Context, kinds []string) ([]Job, error) {
	now := w.now()
	lease := orDefault(w.Lease, 5*time.Minute)
	maxAttempts := orDefault(w.MaxAttempts, 10)
	if err := w.reap(ctx, now); err != nil {
		return nil, err
	}
	const q = `UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_until = $3
		WHERE id IN (
			SELECT id FROM jobs
			WHERE state = 'queued' AND run_at <= $1 AND kind = ANY($2)
			ORDER BY run_at, id
			LIMIT $4
			FOR UPDATE SKIP LOCKED)
		RETURNING id, kind, payload, attempts`
	rows, err := w.DB.QueryxContext(ctx, q, now, pq.Array(kinds), now.Add(lease), orDefault(w.BatchSize, 50))
	if err != nil {
		return nil, fmt.Errorf("claim jobs: %w", err)
	}
	defer rows.Close()
	var out []Job
	for rows.Next() {
		var j Job
		if err := rows.Scan(&j.ID, &j.Kind, &j.Payload, &j.Attempts); err != nil {
			return nil, fmt.Errorf("claim jobs: %w", err)
		}
		j.LastAttempt = j.Attempts >= maxAttempts
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim jobs: %w", err)
	}
	// RETURNING has no order; run oldest first.
	slices.SortFunc(out, func(a, b Job) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// runBatch executes a batch handler and records each job's outcome.
func (w *Worker) runBatch(ctx context.Context, h BatchHandler, js []Job) {
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), orDefault(w.Lease, 5*time.Minute))
	defer cancel()
	errs := func() (errs []error) {
		defer func() {
			if r := recover(); r != nil {
				errs = make([]error, len(js))
				for i := range errs {
					errs[i] = fmt.Errorf("batch handler panicked: %v", r)
				}
			}
		}()
		return h(hctx, js)
	}()
	if len(errs) != len(js) {
		err := fmt.Errorf("batch handler returned %d results for %d jobs", len(errs), len(js))
		errs = make([]error, len(js))
		for i := range errs {
			errs[i] = err
		}
	}
	var done []Job
	for i, j := range js {
		if errs[i] == nil {
			done = append(done, j)
		} else {
			w.failed(hctx, j, errs[i])
		}
	}
	w.finish(hctx, func(c context.Context) error { return MarkDoneMany(c, w.DB, done) }, Job{Kind: js[0].Kind})
}

// reapEvery is how often a worker looks for jobs whose lease expired.
const reapEvery = 10 * time.Second

// reap puts running jobs whose lease has passed (their worker crashed) back in
// the queue, at most every reapEvery per worker. Their attempt still counts;
// a late outcome from the crashed claim is fenced off by attempts.
func (w *Worker) reap(ctx context.Context, now time.Time) error {
	w.mu.Lock()
	due := !now.Before(w.nextReap)
	if due {
		w.nextReap = now.Add(reapEvery)
	}
	w.mu.Unlock()
	if !due {
		return nil
	}
	const q = `UPDATE jobs SET state = 'queued', locked_until = NULL, run_at = $1
		WHERE state = 'running' AND locked_until < $1`
	res, err := w.DB.ExecContext(ctx, q, now)
	if err != nil {
		w.mu.Lock()
		w.nextReap = time.Time{}
		w.mu.Unlock()
		return fmt.Errorf("reap expired job leases: %w", err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		w.Log.Warn("jobs: re-queued jobs whose worker stopped before finishing", "count", n)
	}
	// Keep the table small: finished jobs go after the retention period, a
	// bounded number at a time so one reaper never holds long locks.
	const purge = `DELETE FROM jobs WHERE id IN (
			SELECT id FROM jobs WHERE state IN ('done', 'dead') AND finished_at < $1 LIMIT 5000)`
	if _, err := w.DB.ExecContext(ctx, purge, now.Add(-orDefault(w.Retention, 14*24*time.Hour))); err != nil {
		return fmt.Errorf("purge finished jobs: %w", err)
	}
	return nil
}

// run executes one job. The handler gets a context that survives shutdown for
// the length of the lease, so a stop never cuts a send in half.
func (w *Worker) run(ctx context.Context, j Job) {
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), orDefault(w.Lease, 5*time.Minute))
	defer cancel()
	err := w.call(hctx, j)
	if err == nil {
		w.finish(hctx, func(c context.Context) error { return MarkDone(c, w.DB, j) }, j)
		return
	}
	w.failed(hctx, j, err)
}

// failed schedules job j's retry after a back-off, or marks it dead.
func (w *Worker) failed(hctx context.Context, j Job, err error) {
	next := w.now().Add(w.backoff(j.Attempts))
	level := slog.LevelWarn
	if j.LastAttempt {
		level = slog.LevelError
	}
	w.Log.Log(hctx, level, "jobs: job failed", "id", j.ID, "kind", j.Kind, "attempt", j.Attempts, "dead", j.LastAttempt, "err", err, "next_run", next)
	msg := safetext.Truncate(err.Error(), 2000)
	const q = `UPDATE jobs SET state = CASE WHEN $2 THEN 'dead' ELSE 'queued' END, run_at = $3,
			locked_until = NULL, last_error = $4, finished_at = CASE WHEN $2 THEN now() END
		WHERE id = $1 AND state = 'running' AND attempts = $5`
	w.finish(hctx, func(c context.Context) error {
		if _, err := w.DB.ExecContext(c, q, j.ID, j.LastAttempt, next, msg, j.Attempts); err != nil {
			return fmt.Errorf("reschedule job %d: %w", j.ID, err)
		}
		return nil
	}, j)
}

// finish records a job's outcome, retrying briefly through a short database
// hiccup. If it still fails, the lease expiry re-runs the job later.
func (w *Worker) finish(ctx context.Context, f func(context.Context) error, j Job) {
	var err error
	for i := range 5 {
		if err = f(ctx); err == nil {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(100<<i) * time.Millisecond):
			continue
		}
		break
	}
	w.Log.Error("jobs: cannot record outcome; the job will run again after its lease", "id", j.ID, "kind", j.Kind, "err", err)
}

func (w *Worker) call(ctx context.Context, j Job) (err error) {
	h := w.handler(j.Kind)
	if h == nil {
		return errors.New("no handler for kind " + j.Kind)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panicked: %v", r)
		}
	}()
	return h(ctx, j)
}

// release gives claimed but unstarted jobs back to the queue on shutdown
// without counting the claim as an attempt.
func (w *Worker) release(js []Job) {
	ids := make([]int64, len(js))
	for i, j := range js {
		ids[i] = j.ID
	}
	const q = `UPDATE jobs SET state = 'queued', attempts = attempts - 1, locked_until = NULL
		WHERE id = ANY($1) AND state = 'running'`
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := w.DB.ExecContext(ctx, q, pq.Array(ids)); err != nil {
		w.Log.Warn("jobs: cannot release jobs on shutdown; their lease will expire", "count", len(ids), "err", err)
	}
}

// backoff is the delay before attempt+1: exponential with "equal jitter" so
// many jobs failing together (an SMTP outage) do not retry in lock-step.
func (w *Worker) backoff(attempt int) time.Duration {
	base := orDefault(w.BaseBackoff, 5*time.Second)
	maxB := orDefault(w.MaxBackoff, time.Hour)
	d := base << min(attempt-1, 30)
	if d <= 0 || d > maxB {
		d = maxB
	}
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(half)+1))
}
