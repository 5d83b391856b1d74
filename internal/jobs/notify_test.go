package jobs_test

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/internal/testenv"
)

// startWorker runs w until the test ends.
func startWorker(t *testing.T, w *jobs.Worker) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// listenDB is a new test database and its URL, for workers that listen.
func listenDB(t *testing.T) (*sqlx.DB, string) {
	t.Helper()
	url := testenv.DatabaseURL(t)
	d, err := db.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, url
}

// startWakeWorker runs, on a new test database, a listening worker that
// counts its runs of kind "wake", polling every poll while not listening.
func startWakeWorker(t *testing.T, poll time.Duration, concurrency int) (*sqlx.DB, *atomic.Int64) {
	t.Helper()
	d, url := listenDB(t)
	ran := new(atomic.Int64)
	w := jobs.NewWorker(d, quiet)
	w.Listen, w.Poll, w.SafetyPoll, w.Concurrency = url, poll, time.Hour, concurrency
	w.Handle("wake", func(context.Context, jobs.Job) error { ran.Add(1); return nil })
	startWorker(t, w)
	return d, ran
}

func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
	}
}

// A listening worker sleeps far longer than its poll when idle, yet runs a
// job as soon as the transaction that enqueued it commits, and not before.
func TestListeningWorkerWakesOnCommit(t *testing.T) {
	d, ran := startWakeWorker(t, time.Hour, 2)
	time.Sleep(300 * time.Millisecond) // listening, idle

	tx, err := d.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jobs.Enqueue(context.Background(), tx, "wake", nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if ran.Load() != 0 {
		t.Fatal("job ran before its transaction committed")
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "job run after commit", 2*time.Second, func() bool { return ran.Load() == 1 })

	// A job enqueued for later wakes the worker at its time.
	if _, err := d.Exec(`INSERT INTO jobs (kind, payload, run_at) VALUES ('wake', '{}', now() + interval '400 milliseconds')`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delayed job run", 3*time.Second, func() bool { return ran.Load() == 2 })

	// RetryNow makes waiting retries due and wakes the worker.
	if _, err := d.Exec(`INSERT INTO jobs (kind, payload, run_at, attempts) VALUES ('wake', '{}', now() + interval '1 hour', 1)`); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if n, err := jobs.RetryNow(context.Background(), d, "wake", time.Now()); err != nil || n != 1 {
		t.Fatalf("RetryNow = %d, %v", n, err)
	}
	waitFor(t, "retried job run", 2*time.Second, func() bool { return ran.Load() == 3 })
}

// When the listening connection is killed, the worker polls until it is back
// and loses no job.
func TestListeningWorkerSurvivesLostConnection(t *testing.T) {
	d, ran := startWakeWorker(t, 100*time.Millisecond, 1)
	waitFor(t, "worker listening", 3*time.Second, func() bool {
		var n int
		_ = d.Get(&n, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'`)
		return n == 1
	})
	if _, err := d.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN%'`); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := jobs.Enqueue(context.Background(), d, "wake", i); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitFor(t, "jobs run while reconnecting", 5*time.Second, func() bool { return ran.Load() == 5 })
}

// A schedule has one row, runs at its time, and re-enqueues itself once
// done, even when its handler fails; a second worker (another process) never
// runs it at the same time or adds a second row.
func TestScheduleRunsOnceAtATimeAndRequeues(t *testing.T) {
	d, url := listenDB(t)
	var runs, inFlight, overlap atomic.Int64
	var mu sync.Mutex
	var starts, ends []time.Time
	h := func(context.Context, jobs.Job) error {
		if inFlight.Add(1) > 1 {
			overlap.Add(1)
		}
		defer inFlight.Add(-1)
		mu.Lock()
		starts = append(starts, time.Now())
		mu.Unlock()
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		ends = append(ends, time.Now())
		mu.Unlock()
		if runs.Add(1)%2 == 0 {
			return context.DeadlineExceeded // a failed run still schedules the next
		}
		return nil
	}
	for range 2 {
		w := jobs.NewWorker(d, quiet)
		w.Listen, w.Poll, w.SafetyPoll = url, time.Hour, time.Hour
		w.Schedule("tick", 300*time.Millisecond, h)
		startWorker(t, w)
	}
	waitFor(t, "four scheduled runs", 5*time.Second, func() bool { return runs.Load() >= 4 })
	if overlap.Load() > 0 {
		t.Fatal("two runs of one schedule overlapped")
	}
	var waiting int
	if err := d.Get(&waiting, `SELECT count(*) FROM jobs WHERE kind = 'tick' AND state IN ('queued', 'running')`); err != nil {
		t.Fatal(err)
	}
	if waiting != 1 {
		t.Fatalf("%d rows wait for the schedule, want 1", waiting)
	}
	mu.Lock()
	defer mu.Unlock()
	// The first interval may be shorter: the second worker's start brings
	// the waiting run forward to one interval after it.
	for i := 2; i < len(starts); i++ {
		if gap := starts[i].Sub(ends[i-1]); gap < 290*time.Millisecond {
			t.Fatalf("run %d began %s after run %d ended, want the 300 ms interval", i+1, gap, i)
		}
	}
}

// Jobs that arrive one at a time, each in its own transaction, are claimed in
// batches when their kind has a Gather: the goroutines woken by the stream
// of notifications leave the claim to the one gathering, instead of each
// claiming the few jobs that arrived since the last claim.
func TestStreamOfJobsIsClaimedInBatches(t *testing.T) {
	d, url := listenDB(t)
	var mu sync.Mutex
	var batches []int
	w := jobs.NewWorker(d, quiet)
	w.Listen, w.Poll, w.SafetyPoll, w.Concurrency = url, time.Hour, time.Hour, 8
	w.HandleBatch("stream", func(_ context.Context, js []jobs.Job) []error {
		mu.Lock()
		batches = append(batches, len(js))
		mu.Unlock()
		return make([]error, len(js))
	})
	w.SetPolicy("stream", jobs.Policy{BatchSize: 500, Gather: 100 * time.Millisecond})
	startWorker(t, w)
	time.Sleep(300 * time.Millisecond) // listening, idle

	const n = 300
	start := time.Now()
	for i := range n {
		if _, err := jobs.Enqueue(context.Background(), d, "stream", map[string]int{"i": i}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	ran := func() int {
		mu.Lock()
		defer mu.Unlock()
		s := 0
		for _, b := range batches {
			s += b
		}
		return s
	}
	waitFor(t, "every job run", 5*time.Second, func() bool { return ran() == n })
	mu.Lock()
	defer mu.Unlock()
	// One claim per Gather while the stream lasts, give or take one: a
	// claim per job (or per few jobs) would be tens of batches.
	if most := int(time.Since(start)/(100*time.Millisecond)) + 2; len(batches) > most {
		t.Fatalf("%d jobs arriving over %s were claimed in %d batches (%v), want at most %d", n, time.Since(start).Round(time.Millisecond), len(batches), batches, most)
	}
}

// A goroutine that claims a full batch wakes another at once, without
// waiting out the Gather again: jobs already waiting are taken in parallel.
func TestFullBatchWakesAnotherGoroutineAtOnce(t *testing.T) {
	d, url := listenDB(t)
	var done atomic.Int64
	w := jobs.NewWorker(d, quiet)
	w.Listen, w.Poll, w.SafetyPoll, w.Concurrency = url, time.Hour, time.Hour, 4
	w.HandleBatch("backlog", func(_ context.Context, js []jobs.Job) []error {
		time.Sleep(time.Second) // a batch's work
		done.Add(int64(len(js)))
		return make([]error, len(js))
	})
	w.SetPolicy("backlog", jobs.Policy{BatchSize: 10, Gather: 2 * time.Second})
	startWorker(t, w)
	time.Sleep(300 * time.Millisecond) // listening, idle

	payloads := make([]json.RawMessage, 40)
	for i := range payloads {
		payloads[i] = json.RawMessage(`{}`)
	}
	start := time.Now()
	if _, err := jobs.EnqueueMany(context.Background(), d, "backlog", payloads); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every job run", 10*time.Second, func() bool { return done.Load() == 40 })
	// One Gather, then four batches of 10 side by side: about 3 s. A
	// Gather before each goroutine joins would be 5 s or more.
	if took := time.Since(start); took > 4500*time.Millisecond {
		t.Fatalf("40 waiting jobs in batches of 10 on 4 goroutines took %s, want one Gather (2 s) and the batches side by side (1 s)", took.Round(time.Millisecond))
	}
}

// A kind with a Policy.Concurrency never runs on more goroutines at once,
// its waiting jobs are taken as places free up, and the other goroutines
// run other kinds meanwhile.
func TestKindConcurrencyIsBounded(t *testing.T) {
	d, url := listenDB(t)
	var inFlight, most, capped, free atomic.Int64
	w := jobs.NewWorker(d, quiet)
	w.Listen, w.Poll, w.SafetyPoll, w.Concurrency = url, time.Hour, time.Hour, 8
	w.Handle("capped", func(context.Context, jobs.Job) error {
		n := inFlight.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(150 * time.Millisecond)
		inFlight.Add(-1)
		capped.Add(1)
		return nil
	})
	w.SetPolicy("capped", jobs.Policy{BatchSize: 1, Concurrency: 2})
	w.Handle("free", func(context.Context, jobs.Job) error { free.Add(1); return nil })
	startWorker(t, w)
	time.Sleep(300 * time.Millisecond) // listening, idle

	payloads := make([]json.RawMessage, 12)
	for i := range payloads {
		payloads[i] = json.RawMessage(`{}`)
	}
	if _, err := jobs.EnqueueMany(context.Background(), d, "capped", payloads); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if _, err := jobs.EnqueueMany(context.Background(), d, "free", payloads[:3]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the other kind run while the bounded one waits", 2*time.Second, func() bool { return free.Load() == 3 })
	if c := capped.Load(); c >= 12 {
		t.Fatalf("the bounded kind finished (%d) before the other kind ran", c)
	}
	waitFor(t, "every bounded job run", 10*time.Second, func() bool { return capped.Load() == 12 })
	if m := most.Load(); m != 2 {
		t.Fatalf("at most %d jobs of the kind ran at once, want 2 (its Concurrency)", m)
	}
}
