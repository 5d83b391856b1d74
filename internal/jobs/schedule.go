package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/db"
)

// Schedule runs h every interval as job kind: one row per schedule (the
// jobs_schedule index admits one queued or running row, across every
// process), so at most one run happens at a time anywhere, and its time
// survives restarts. When a run ends, its row is marked done and the next
// one enqueued, one interval later, in one transaction. A failed run is
// logged and not retried: the next run is its retry. Run enqueues the first
// run (due at once) if none waits, and brings a waiting one forward if the
// interval has shortened since it was enqueued.
func (w *Worker) Schedule(kind string, interval time.Duration, h Handler) {
	w.Handle(kind, h)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.schedules == nil {
		w.schedules = map[string]time.Duration{}
	}
	w.schedules[kind] = interval
}

// scheduled reports whether kind is a schedule, and its interval.
func (w *Worker) scheduled(kind string) (time.Duration, bool) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	d, ok := w.schedules[kind]
	return d, ok
}

// ensureSchedules makes sure every schedule of the worker has a waiting (or
// running) row, due no later than one interval from now.
func (w *Worker) ensureSchedules(ctx context.Context) error {
	w.mu.RLock()
	schedules := make(map[string]time.Duration, len(w.schedules))
	for k, d := range w.schedules {
		schedules[k] = d
	}
	w.mu.RUnlock()
	const insert = `INSERT INTO jobs (kind, payload, schedule, run_at) VALUES ($1, '{}', $1, $2)
		ON CONFLICT (schedule) WHERE schedule IS NOT NULL AND state IN ('queued', 'running') DO NOTHING`
	const sooner = `UPDATE jobs SET run_at = $2 WHERE schedule = $1 AND state = 'queued' AND run_at > $2`
	now := w.now()
	for kind, every := range schedules {
		if _, err := w.DB.ExecContext(ctx, insert, kind, now); err != nil {
			return fmt.Errorf("schedule %s: %w", kind, err)
		}
		if _, err := w.DB.ExecContext(ctx, sooner, kind, now.Add(every)); err != nil {
			return fmt.Errorf("schedule %s: %w", kind, err)
		}
	}
	return nil
}

// next marks scheduled job j done and enqueues the schedule's next run, one
// interval from now, in one transaction (so a crash between the two can
// neither lose the schedule nor double it).
func (w *Worker) next(ctx context.Context, j Job, every time.Duration) error {
	const done = `UPDATE jobs SET state = 'done', locked_until = NULL, finished_at = now(), last_error = ''
		WHERE id = $1 AND state = 'running' AND attempts = $2`
	const enqueue = `INSERT INTO jobs (kind, payload, schedule, run_at) VALUES ($1, '{}', $1, $2)`
	at := w.now().Add(every)
	return db.InTx(ctx, w.DB, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, done, j.ID, j.Attempts)
		if err != nil {
			return fmt.Errorf("schedule next %s: mark job %d done: %w", j.Kind, j.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // a stale claim: the run that holds the row schedules the next
		}
		if _, err := tx.ExecContext(ctx, enqueue, j.Kind, at); err != nil {
			return fmt.Errorf("schedule next %s at %s: %w", j.Kind, at.Format(time.RFC3339), err)
		}
		return nil
	})
}

// ensureSchedulesOnce runs ensureSchedules until it succeeds once; the
// worker's goroutines, all starting together, take turns, so one of them
// does it.
func (w *Worker) ensureSchedulesOnce(ctx context.Context) error {
	if w.schedulesOK.Load() {
		return nil
	}
	w.schedulesMu.Lock()
	defer w.schedulesMu.Unlock()
	if w.schedulesOK.Load() {
		return nil
	}
	if err := w.ensureSchedules(ctx); err != nil {
		return err
	}
	w.schedulesOK.Store(true)
	return nil
}
