package jobs

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/text"
)

// Worker claims queued jobs and runs their handlers on Concurrency goroutines.
// Zero fields take the defaults documented on each.
type Worker struct {
	DB *sqlx.DB
	// Concurrency is how many goroutines claim and run jobs (default 8).
	Concurrency int
	// BatchSize is how many jobs one goroutine claims per round trip (default 50).
	BatchSize int
	// Lease is how long a claim holds a job without news from its worker:
	// while a handler runs, its worker renews the lease every Lease/3 (a
	// heartbeat), so a job of a worker that died is claimed again about
	// Lease (plus one reaper round, 10 s) after its last heartbeat
	// (default 30 s; a lease under 30 s also reaps every Lease/3).
	Lease time.Duration
	// Timeout bounds one handler run, heartbeats or not (default 5 minutes).
	Timeout time.Duration
	// MaxAttempts is how many runs a job gets before it is dead, for kinds
	// without their own Policy (default 10).
	MaxAttempts int
	// Listen is the PostgreSQL URL of the connection on which the worker
	// LISTENs for new jobs (see Run). Empty: it polls every Poll.
	Listen string
	// Poll is the wait after finding nothing to do when the worker does not
	// listen, or while its listening connection is down (default 1 s).
	Poll time.Duration
	// SafetyPoll is the longest a listening worker sleeps with nothing due,
	// in case a notification was lost (default 1 minute).
	SafetyPoll time.Duration
	// BaseBackoff is the retry delay after the first failure; it doubles with
	// each attempt up to MaxBackoff, with jitter (defaults 5 s and 1 h), for
	// kinds without their own Policy.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// Now is the clock used for run_at and leases (default time.Now).
	Now func() time.Time
	// Retention is how long finished (done or dead) jobs are kept for
	// inspection before the reaper deletes them (default 14 days).
	Retention time.Duration
	Log       *slog.Logger

	mu        sync.RWMutex
	handlers  map[string]Handler
	batch     map[string]BatchHandler
	policies  map[string]Policy
	schedules map[string]time.Duration
	nextReap  time.Time

	// wake wakes every idle goroutine (Wake, or the listening connection
	// changed); nudge wakes one, for one notification (after the Gather);
	// more wakes one at once: a goroutine that claimed a full batch says
	// there is more, so the goroutines woken follow the work.
	wake      signal
	nudge     chan struct{}
	more      chan struct{}
	nudgeOnce sync.Once
	listening atomic.Bool
	// gathering is set while one goroutine waits out its kinds' Gather
	// before claiming: nudges that reach the others meanwhile are its work
	// too, so they keep waiting instead of claiming a few jobs each.
	gathering atomic.Bool
	// busy counts, per kind with a Policy.Concurrency, the goroutines
	// running (or about to claim) its jobs.
	busyMu sync.Mutex
	busy   map[string]int
	// schedulesOK is set once every schedule has its row (schedulesMu
	// lets one goroutine at a time try).
	schedulesOK atomic.Bool
	schedulesMu sync.Mutex
}

// Policy is how jobs of one kind are retried. A failed job is dead once it
// has had MaxAttempts runs, or when it fails MaxAge or more after it was
// enqueued (its last retry is scheduled no later than that moment); a zero
// limit does not apply, and with both zero the worker's MaxAttempts does.
// Zero back-offs take the worker's.
type Policy struct {
	MaxAttempts int
	MaxAge      time.Duration
	// BaseBackoff is the delay after the first failure; it doubles with each
	// attempt up to MaxBackoff, with jitter.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// BatchSize is how many jobs of this kind one claim takes (default the
	// worker's BatchSize): a batch handler whose cost hardly grows with the
	// batch wants large ones.
	BatchSize int
	// Timeout bounds one run of a handler of this kind (default the
	// worker's Timeout).
	Timeout time.Duration
	// Gather is how long a worker woken for new jobs waits before it
	// claims, so that jobs enqueued one transaction at a time under load
	// are claimed in batches, by one goroutine at a time (the longest
	// Gather of the worker's kinds applies; default none).
	Gather time.Duration
	// Concurrency bounds how many of the worker's goroutines run jobs of
	// this kind at once (default no bound beyond the worker's): the others
	// claim other kinds meanwhile. For work that holds a scarce resource
	// (an SMTP connection of a pool) and memory while it waits for one.
	Concurrency int
}

// SetPolicy sets the retry policy of kind, replacing the worker's defaults
// for it.
func (w *Worker) SetPolicy(kind string, p Policy) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.policies == nil {
		w.policies = map[string]Policy{}
	}
	w.policies[kind] = p
}

// policy is kind's policy with the worker's defaults filled in.
func (w *Worker) policy(kind string) Policy {
	w.mu.RLock()
	p, ok := w.policies[kind]
	w.mu.RUnlock()
	if !ok || (p.MaxAttempts <= 0 && p.MaxAge <= 0) {
		p.MaxAttempts = orDefault(w.MaxAttempts, 10)
	}
	if p.BaseBackoff <= 0 {
		p.BaseBackoff = orDefault(w.BaseBackoff, 5*time.Second)
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = orDefault(w.MaxBackoff, time.Hour)
	}
	if p.BatchSize <= 0 {
		p.BatchSize = orDefault(w.BatchSize, 50)
	}
	if p.Timeout <= 0 {
		p.Timeout = orDefault(w.Timeout, 5*time.Minute)
	}
	return p
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
//
// With Listen set, an idle worker costs nothing: it sleeps until a
// notification says jobs were added (see migration 0024), the next queued
// job of its kinds is due, a lease it may reap expires, or SafetyPoll
// passes. While the listening connection is down it polls every Poll, so no
// work waits for the reconnection.
func (w *Worker) Run(ctx context.Context) error {
	if w.Listen != "" {
		go w.listen(ctx)
	}
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

// Wake makes an idle goroutine of the worker look for work now (after its
// kinds' Gather), as a notification does: for a process that knows it has
// just added jobs.
func (w *Worker) Wake() { w.poke() }

// notifyChannel is the channel migration 0024's trigger notifies.
const notifyChannel = "laurel_jobs"

// listen holds the LISTEN connection and wakes the idle goroutines on each
// notification and on each change of the connection (a reconnection may
// have missed notifications; a loss switches them to polling).
func (w *Worker) listen(ctx context.Context) {
	l := pq.NewListener(w.Listen, time.Second, time.Minute, func(ev pq.ListenerEventType, err error) {
		switch ev {
		case pq.ListenerEventDisconnected, pq.ListenerEventConnectionAttemptFailed:
			if w.listening.Swap(false) {
				w.Log.Warn("jobs: lost the notification connection; polling until it is back", "err", err)
			}
			w.wake.broadcast()
		case pq.ListenerEventReconnected:
			w.listening.Store(true)
			w.wake.broadcast()
		}
	})
	defer l.Close()
	go func() {
		// Listen blocks until the first connection; Close ends it.
		if err := l.Listen(notifyChannel); err != nil {
			if ctx.Err() == nil {
				w.Log.Error("jobs: cannot listen for new jobs; polling", "err", err)
			}
			return
		}
		w.listening.Store(true)
		w.wake.broadcast()
	}()
	// A half-open connection never reports its loss: a ping each safety
	// poll finds it.
	ping := time.NewTicker(w.safetyPoll())
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-l.Notify:
			// nil follows a reconnection, which the event callback has
			// already broadcast (pq calls it just before).
			if n != nil {
				w.poke()
			}
		case <-ping.C:
			if w.listening.Load() {
				if err := l.Ping(); err != nil {
					w.Log.Warn("jobs: notification connection does not answer", "err", err)
				}
			}
		}
	}
}

func (w *Worker) safetyPoll() time.Duration { return orDefault(w.SafetyPoll, time.Minute) }

func (w *Worker) nudges() (nudge, more chan struct{}) {
	w.nudgeOnce.Do(func() { w.nudge, w.more = make(chan struct{}, 1), make(chan struct{}, 1) })
	return w.nudge, w.more
}

// poke wakes one idle goroutine, or the next to become idle, after the
// Gather: new jobs were added.
func (w *Worker) poke() {
	nudge, _ := w.nudges()
	select {
	case nudge <- struct{}{}:
	default:
	}
}

// pokeMore wakes one idle goroutine, or the next to become idle, at once:
// jobs are waiting already.
func (w *Worker) pokeMore() {
	_, more := w.nudges()
	select {
	case more <- struct{}{}:
	default:
	}
}

func (w *Worker) loop(ctx context.Context, n int) {
	poll := orDefault(w.Poll, time.Second)
	failures := 0
	for {
		// Taken before the claim, so a notification that arrives while the
		// claim runs still ends the sleep that follows it.
		woken := w.wake.wait()
		var full bool
		err := w.ensureSchedulesOnce(ctx)
		if err == nil {
			_, full, err = w.runOnce(ctx)
		}
		var wait time.Duration
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			failures++
			wait = min(poll<<min(failures, 5), 30*time.Second)
			w.Log.Warn("jobs: cannot claim work; will retry", "worker", n, "err", err, "retry_in", wait)
		case full:
			// A full batch: there may be more, so look again. A batch
			// short of its size took every ready job: what comes next
			// announces itself.
			failures = 0
			continue
		default:
			failures = 0
			wait = w.idle(ctx, poll)
		}
		nudged, more := w.nudges()
		if err != nil {
			// During an outage, a wake is no reason to retry sooner.
			woken, nudged, more = nil, nil, nil
		}
		if !w.sleep(ctx, wait, woken, nudged, more) {
			return
		}
	}
}

// sleep waits until wait passes, woken is closed, a nudge or more comes,
// and reports whether to claim (false: ctx ended). When the kinds have a
// Gather, except after more, a goroutine waits it out before claiming, so work arriving in a
// stream is claimed in batches, by one goroutine at a time: one that would
// claim while another gathers leaves the claim to that one (whose next wait
// follows the queue) and goes back to sleep.
func (w *Worker) sleep(ctx context.Context, wait time.Duration, woken <-chan struct{}, nudged, more chan struct{}) bool {
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-woken:
			return true
		case <-more:
			return true
		case <-t.C:
		case <-nudged:
		}
		g := w.gather()
		if g <= 0 {
			return true
		}
		if !w.gathering.CompareAndSwap(false, true) {
			t.Reset(w.safetyPoll())
			continue
		}
		gt := time.NewTimer(g)
		select {
		case <-ctx.Done():
		case <-gt.C:
		}
		gt.Stop()
		w.gathering.Store(false)
		return ctx.Err() == nil
	}
}

// gather is the longest Gather of the worker's kinds.
func (w *Worker) gather() time.Duration {
	w.mu.RLock()
	defer w.mu.RUnlock()
	var g time.Duration
	for _, p := range w.policies {
		g = max(g, p.Gather)
	}
	return g
}

// idle is how long a goroutine that found nothing to do sleeps: Poll while
// the worker does not listen; else until the next queued job of its kinds is
// due or the next lease may be reaped, at most SafetyPoll.
func (w *Worker) idle(ctx context.Context, poll time.Duration) time.Duration {
	// Spread polling so goroutines do not hit the database in step.
	jitter := func(d time.Duration) time.Duration { return d/2 + time.Duration(rand.Int64N(int64(d/2)+1)) }
	if !w.listening.Load() {
		return jitter(poll)
	}
	const q = `SELECT (SELECT min(run_at) FROM jobs WHERE state = 'queued' AND kind = ANY($1)),
		(SELECT min(locked_until) FROM jobs WHERE state = 'running')`
	var runAt, leaseEnd sql.NullTime
	// Kinds at their Concurrency wait for a goroutine of theirs to finish,
	// which then claims again (pokeMore): they are no reason to wake.
	if err := w.DB.QueryRowContext(ctx, q, pq.Array(w.freeKinds(w.kinds()))).Scan(&runAt, &leaseEnd); err != nil {
		return jitter(poll)
	}
	now := w.now()
	wait := w.safetyPoll()
	if runAt.Valid {
		wait = min(wait, runAt.Time.Sub(now))
	}
	if leaseEnd.Valid {
		w.mu.RLock()
		reapAt := w.nextReap
		w.mu.RUnlock()
		if leaseEnd.Time.After(reapAt) {
			reapAt = leaseEnd.Time
		}
		wait = min(wait, reapAt.Sub(now)+time.Millisecond)
	}
	return max(wait, time.Millisecond)
}

// signal wakes every goroutine waiting on it at once.
type signal struct {
	mu sync.Mutex
	ch chan struct{}
}

// wait returns a channel closed by the next broadcast.
func (s *signal) wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

func (s *signal) broadcast() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}

// RunOnce claims one batch of each batch size its kinds' policies ask for and
// runs them, returning how many jobs it claimed. If ctx is cancelled
// part-way, the jobs not yet started are released.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	n, _, err := w.runOnce(ctx)
	return n, err
}

// runOnce is RunOnce, also reporting whether a claim got as many jobs as
// it asked for (more may be waiting).
func (w *Worker) runOnce(ctx context.Context) (total int, full bool, err error) {
	kinds := w.kinds()
	if len(kinds) == 0 {
		return 0, false, nil
	}
	bySize := map[int][]string{}
	for _, k := range kinds {
		n := w.policy(k).BatchSize
		bySize[n] = append(bySize[n], k)
	}
	for size, ks := range bySize {
		ks, release := w.reserve(ks)
		if len(ks) == 0 {
			continue
		}
		batch, err := w.claim(ctx, ks, size)
		if err != nil {
			release()
			return total, full, err
		}
		total += len(batch)
		if len(batch) >= size {
			// There may be more: let another goroutine claim them while
			// this one runs its batch.
			full = true
			w.pokeMore()
		}
		w.runClaimed(ctx, batch)
		release()
	}
	return total, full, nil
}

// reserve takes, for each of kinds with a Policy.Concurrency, one of its
// places, and returns the kinds this goroutine may claim (those without a
// bound, and those with a free place) and the function that gives the
// places back. A kind that was full when its place is given back wakes a
// goroutine to claim its waiting jobs.
func (w *Worker) reserve(kinds []string) ([]string, func()) {
	w.busyMu.Lock()
	defer w.busyMu.Unlock()
	var out, held []string
	for _, k := range kinds {
		n := w.policy(k).Concurrency
		switch {
		case n <= 0:
			out = append(out, k)
		case w.busy[k] < n:
			if w.busy == nil {
				w.busy = map[string]int{}
			}
			w.busy[k]++
			out, held = append(out, k), append(held, k)
		}
	}
	return out, func() {
		w.busyMu.Lock()
		defer w.busyMu.Unlock()
		for _, k := range held {
			if w.busy[k] == w.policy(k).Concurrency {
				w.pokeMore()
			}
			w.busy[k]--
		}
	}
}

// freeKinds is kinds less those at their Policy.Concurrency.
func (w *Worker) freeKinds(kinds []string) []string {
	w.busyMu.Lock()
	defer w.busyMu.Unlock()
	out := kinds[:0:0]
	for _, k := range kinds {
		if n := w.policy(k).Concurrency; n <= 0 || w.busy[k] < n {
			out = append(out, k)
		}
	}
	return out
}

// runClaimed runs a claimed batch: jobs whose kind has a batch handler
// together, in claim order, then the others one by one.
func (w *Worker) runClaimed(ctx context.Context, batch []Job) {
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
}

func (w *Worker) claim(ctx context.Context, kinds []string, limit int) ([]Job, error) {
	now := w.now()
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
		RETURNING id, kind, payload, attempts, created_at`
	rows, err := w.DB.QueryxContext(ctx, q, now, pq.Array(kinds), now.Add(w.lease()), limit)
	if err != nil {
		return nil, fmt.Errorf("claim jobs: %w", err)
	}
	defer rows.Close()
	var out []Job
	for rows.Next() {
		var j Job
		if err := rows.Scan(&j.ID, &j.Kind, &j.Payload, &j.Attempts, &j.CreatedAt); err != nil {
			return nil, fmt.Errorf("claim jobs: %w", err)
		}
		w.schedule(&j, now)
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim jobs: %w", err)
	}
	// RETURNING has no order; run oldest first.
	slices.SortFunc(out, func(a, b Job) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// schedule decides, at claim time, how long j waits if this run fails and
// whether this is its last run (so a handler can tell users).
func (w *Worker) schedule(j *Job, now time.Time) {
	p := w.policy(j.Kind)
	j.retryIn = backoff(p, j.Attempts)
	if p.MaxAttempts > 0 && j.Attempts >= p.MaxAttempts {
		j.LastAttempt = true
	}
	if p.MaxAge > 0 {
		// The last retry is at the deadline itself, so a job is never dead
		// before MaxAge.
		j.giveUp = j.CreatedAt.Add(p.MaxAge)
		if !now.Before(j.giveUp) {
			j.LastAttempt = true
		}
	}
}

func (w *Worker) lease() time.Duration { return orDefault(w.Lease, 30*time.Second) }

// hold starts the heartbeat of claimed jobs js and returns the context their
// handler runs in: it survives the worker's shutdown (so a stop never cuts a
// send in half) for at most Timeout, and is cancelled when the worker can no
// longer renew the lease (the database is unreachable), before another
// worker may claim the jobs. stop ends the heartbeat.
func (w *Worker) hold(ctx context.Context, js []Job) (hctx context.Context, stop func()) {
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.policy(js[0].Kind).Timeout)
	lease := w.lease()
	done := make(chan struct{})
	ids := make([]int64, len(js))
	attempts := make([]int64, len(js))
	for i, j := range js {
		ids[i], attempts[i] = j.ID, int64(j.Attempts)
	}
	go func() {
		t := time.NewTicker(max(lease/3, time.Millisecond))
		defer t.Stop()
		renewed := time.Now()
		for {
			select {
			case <-done:
				return
			case <-hctx.Done():
				return
			case <-t.C:
			}
			held, err := w.renew(hctx, ids, attempts, lease)
			switch {
			case err == nil:
				renewed = time.Now()
				ids, attempts = held.ids, held.attempts
				if len(ids) == 0 {
					return // every job is finished; nothing left to hold
				}
			case time.Since(renewed) > lease-lease/3:
				// The next tick would be past the lease: stop the handler
				// between two steps rather than run on unowned jobs.
				w.Log.Warn("jobs: cannot renew job leases; stopping their handler", "count", len(ids), "err", err)
				cancel()
				return
			default:
				w.Log.Warn("jobs: cannot renew job leases; will try again", "count", len(ids), "err", err)
			}
		}
	}()
	var once sync.Once
	return hctx, func() { once.Do(func() { close(done); cancel() }) }
}

type heldJobs struct{ ids, attempts []int64 }

// renew extends the lease of the jobs this claim still holds and returns them
// (a job the handler finished, or one a reaper took away, drops out).
func (w *Worker) renew(ctx context.Context, ids, attempts []int64, lease time.Duration) (heldJobs, error) {
	const q = `UPDATE jobs SET locked_until = $3
		FROM unnest($1::bigint[], $2::int[]) AS u(id, attempts)
		WHERE jobs.id = u.id AND jobs.state = 'running' AND jobs.attempts = u.attempts
		RETURNING jobs.id, jobs.attempts`
	rctx, cancel := context.WithTimeout(ctx, lease/3)
	defer cancel()
	rows, err := w.DB.QueryContext(rctx, q, pq.Array(ids), pq.Array(attempts), w.now().Add(lease))
	if err != nil {
		return heldJobs{}, fmt.Errorf("renew %d job leases: %w", len(ids), err)
	}
	defer rows.Close()
	var h heldJobs
	for rows.Next() {
		var id, a int64
		if err := rows.Scan(&id, &a); err != nil {
			return heldJobs{}, fmt.Errorf("renew %d job leases: %w", len(ids), err)
		}
		h.ids, h.attempts = append(h.ids, id), append(h.attempts, a)
	}
	if err := rows.Err(); err != nil {
		return heldJobs{}, fmt.Errorf("renew %d job leases: %w", len(ids), err)
	}
	return h, nil
}

// bookkeeping is the context for recording outcomes: it outlives a handler
// context that timed out or was cancelled.
func bookkeeping(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
}

// runBatch executes a batch handler and records each job's outcome.
func (w *Worker) runBatch(ctx context.Context, h BatchHandler, js []Job) {
	hctx, stop := w.hold(ctx, js)
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
	stop()
	if len(errs) != len(js) {
		err := fmt.Errorf("batch handler returned %d results for %d jobs", len(errs), len(js))
		errs = make([]error, len(js))
		for i := range errs {
			errs[i] = err
		}
	}
	bctx, cancel := bookkeeping(ctx)
	defer cancel()
	var done []Job
	for i, j := range js {
		if errs[i] == nil {
			done = append(done, j)
		} else {
			w.failed(bctx, j, errs[i])
		}
	}
	w.finish(bctx, func(c context.Context) error { return MarkDoneMany(c, w.DB, done) }, Job{Kind: js[0].Kind})
}

// reapEvery is how often a worker looks for jobs whose lease expired: every
// 10 s, or a third of a shorter lease.
func (w *Worker) reapEvery() time.Duration {
	return min(10*time.Second, max(w.lease()/3, 10*time.Millisecond))
}

// reap puts running jobs whose lease has passed (their worker crashed) back in
// the queue, at most every reapEvery per worker. Their attempt still counts;
// a late outcome from the crashed claim is fenced off by attempts. They keep
// their run_at, so they come before work queued after them.
func (w *Worker) reap(ctx context.Context, now time.Time) error {
	w.mu.Lock()
	due := !now.Before(w.nextReap)
	if due {
		w.nextReap = now.Add(w.reapEvery())
	}
	w.mu.Unlock()
	if !due {
		return nil
	}
	const q = `UPDATE jobs SET state = 'queued', locked_until = NULL
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
		_ = notify(ctx, w.DB) // for kinds this worker does not handle
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

// run executes one job under a heartbeat and records its outcome.
func (w *Worker) run(ctx context.Context, j Job) {
	hctx, stop := w.hold(ctx, []Job{j})
	err := w.call(hctx, j)
	stop()
	bctx, cancel := bookkeeping(ctx)
	defer cancel()
	if every, ok := w.scheduled(j.Kind); ok {
		if err != nil {
			w.Log.Error("jobs: scheduled job failed; it runs again at its next time", "id", j.ID, "kind", j.Kind, "err", err)
		}
		w.finish(bctx, func(c context.Context) error { return w.next(c, j, every) }, j)
		return
	}
	if err == nil {
		w.finish(bctx, func(c context.Context) error { return MarkDone(c, w.DB, j) }, j)
		return
	}
	w.failed(bctx, j, err)
}

// failed schedules job j's retry after the back-off its policy chose at
// claim (no later than its give-up time), or marks it dead.
func (w *Worker) failed(bctx context.Context, j Job, err error) {
	next := w.now().Add(j.retryIn)
	if !j.giveUp.IsZero() && next.After(j.giveUp) {
		next = j.giveUp
	}
	level := slog.LevelWarn
	if j.LastAttempt {
		level = slog.LevelError
	}
	w.Log.Log(bctx, level, "jobs: job failed", "id", j.ID, "kind", j.Kind, "attempt", j.Attempts, "dead", j.LastAttempt, "err", err, "next_run", next)
	msg := text.Truncate(err.Error(), 2000)
	const q = `UPDATE jobs SET state = CASE WHEN $2 THEN 'dead' ELSE 'queued' END, run_at = $3,
			locked_until = NULL, last_error = $4, finished_at = CASE WHEN $2 THEN now() END
		WHERE id = $1 AND state = 'running' AND attempts = $5`
	w.finish(bctx, func(c context.Context) error {
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
		return
	}
	_ = notify(ctx, w.DB) // another process may take them now; else its next poll does
}

// backoff is the delay before attempt+1 under p: exponential with "equal
// jitter" so many jobs failing together (an SMTP outage) do not retry in
// lock-step.
func backoff(p Policy, attempt int) time.Duration {
	d := p.BaseBackoff << min(attempt-1, 30)
	if d <= 0 || d > p.MaxBackoff {
		d = p.MaxBackoff
	}
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(half)+1))
}
