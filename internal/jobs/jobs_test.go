package jobs_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type jobRow struct {
	State     string    `db:"state"`
	Attempts  int       `db:"attempts"`
	LastError string    `db:"last_error"`
	RunAt     time.Time `db:"run_at"`
}

func mustJob(t *testing.T, d *sqlx.DB, id int64) jobRow {
	t.Helper()
	var r jobRow
	if err := d.Get(&r, `SELECT state, attempts, last_error, run_at FROM jobs WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRetryWithBackoffThenDead(t *testing.T) {
	d := testenv.DB(t)
	ctx := context.Background()
	clk := testenv.NewClock(time.Now().Add(time.Second)) // after the enqueue below
	w := jobs.NewWorker(d, quiet)
	w.Now = clk.Now
	w.MaxAttempts = 3
	w.BaseBackoff = time.Minute
	var calls []jobs.Job
	w.Handle("flaky", func(_ context.Context, j jobs.Job) error {
		calls = append(calls, j)
		return errors.New("smtp: connection refused")
	})
	id, err := jobs.Enqueue(ctx, d, "flaky", map[string]int{"n": 1})
	if err != nil {
		t.Fatal(err)
	}

	if n, err := w.RunOnce(ctx); err != nil || n != 1 {
		t.Fatalf("RunOnce = %d, %v; want 1 job", n, err)
	}
	r := mustJob(t, d, id)
	if r.State != "queued" || r.Attempts != 1 || r.LastError != "smtp: connection refused" {
		t.Fatalf("after first failure: %+v", r)
	}
	// Back-off: first retry between 30 s and 60 s (base 1 min, equal jitter).
	delay := r.RunAt.Sub(clk.Now())
	if delay < 29*time.Second || delay > 61*time.Second {
		t.Fatalf("first retry in %s, want 30-60 s", delay)
	}
	if n, _ := w.RunOnce(ctx); n != 0 {
		t.Fatalf("job ran again before its back-off (%d)", n)
	}

	clk.Advance(61 * time.Second)
	if n, _ := w.RunOnce(ctx); n != 1 {
		t.Fatal("job not retried after its back-off")
	}
	r = mustJob(t, d, id)
	delay = r.RunAt.Sub(clk.Now())
	if r.Attempts != 2 || delay < 59*time.Second || delay > 121*time.Second {
		t.Fatalf("second retry: attempts %d, delay %s; want 2 and 60-120 s", r.Attempts, delay)
	}

	clk.Advance(121 * time.Second)
	if n, _ := w.RunOnce(ctx); n != 1 {
		t.Fatal("job not retried a third time")
	}
	if r = mustJob(t, d, id); r.State != "dead" || r.Attempts != 3 {
		t.Fatalf("after max attempts: %+v, want dead after 3", r)
	}
	if !calls[2].LastAttempt || calls[0].LastAttempt {
		t.Fatalf("LastAttempt flags: %v %v %v", calls[0].LastAttempt, calls[1].LastAttempt, calls[2].LastAttempt)
	}
	clk.Advance(24 * time.Hour)
	if n, _ := w.RunOnce(ctx); n != 0 {
		t.Fatal("a dead job ran again")
	}
}

func TestLeaseExpiryReclaimsJobOfCrashedWorker(t *testing.T) {
	d := testenv.DB(t)
	ctx := context.Background()
	clk := testenv.NewClock(time.Now().Add(time.Second))
	id, err := jobs.Enqueue(ctx, d, "work", struct{}{})
	if err != nil {
		t.Fatal(err)
	}
	// A worker claims the job and "crashes" inside the handler: its context
	// is cancelled and it never records an outcome.
	crashed := jobs.NewWorker(d, quiet)
	crashed.Now, crashed.Lease = clk.Now, time.Minute
	crashed.Handle("work", func(context.Context, jobs.Job) error { runtime_Goexit(); return nil })
	done := make(chan struct{})
	go func() { defer close(done); crashed.RunOnce(ctx) }()
	<-done
	if r := mustJob(t, d, id); r.State != "running" {
		t.Fatalf("state after crash = %s, want running", r.State)
	}

	var ran atomic.Int32
	w := jobs.NewWorker(d, quiet)
	w.Now, w.Lease = clk.Now, time.Minute
	w.Handle("work", func(context.Context, jobs.Job) error { ran.Add(1); return nil })
	if n, _ := w.RunOnce(ctx); n != 0 {
		t.Fatal("a job under a live lease was claimed")
	}
	clk.Advance(61 * time.Second)
	if n, _ := w.RunOnce(ctx); n != 1 || ran.Load() != 1 {
		t.Fatalf("expired lease not re-claimed: n=%d ran=%d", n, ran.Load())
	}
	if r := mustJob(t, d, id); r.State != "done" || r.Attempts != 2 {
		t.Fatalf("after re-claim: %+v, want done with 2 attempts", r)
	}
}

func TestConcurrentWorkersRunEachJobOnce(t *testing.T) {
	d := testenv.DB(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const n = 2000
	payloads := make([][]byte, n)
	for i := range payloads {
		payloads[i] = []byte(`{"i":` + itoa(i) + `}`)
	}
	if _, err := jobs.EnqueueMany(ctx, d, "count", raw(payloads)); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[int64]int{}
	var total atomic.Int32
	h := func(_ context.Context, j jobs.Job) error {
		mu.Lock()
		seen[j.ID]++
		mu.Unlock()
		total.Add(1)
		return nil
	}
	var wg sync.WaitGroup
	for range 3 {
		w := jobs.NewWorker(d, quiet)
		w.Concurrency, w.BatchSize, w.Poll = 4, 7, 10*time.Millisecond
		w.Handle("count", h)
		wg.Add(1)
		go func() { defer wg.Done(); w.Run(ctx) }()
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := jobs.Stats(ctx, d, "count")
		if err != nil {
			t.Fatal(err)
		}
		if st["done"] == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats after 60 s: %v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	if total.Load() != n || len(seen) != n {
		t.Fatalf("handled %d times for %d distinct jobs, want %d each", total.Load(), len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Fatalf("job %d ran %d times", id, c)
		}
	}
}

func TestWorkerSurvivesDatabaseOutageAndStopsOnCancel(t *testing.T) {
	url := testenv.DatabaseURL(t)
	d, err := sqlx.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var ran atomic.Int32
	w := jobs.NewWorker(d, quiet)
	w.Poll = 10 * time.Millisecond
	w.Handle("x", func(context.Context, jobs.Job) error { ran.Add(1); return nil })
	stopped := make(chan struct{})
	go func() { defer close(stopped); w.Run(ctx) }()

	// Take the table away: every claim fails until it is back.
	admin, err := sqlx.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec(`ALTER TABLE jobs RENAME TO jobs_away`); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if _, err := admin.Exec(`ALTER TABLE jobs_away RENAME TO jobs`); err != nil {
		t.Fatal(err)
	}
	if _, err := jobs.Enqueue(context.Background(), admin, "x", 1); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for ran.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if ran.Load() != 1 {
		t.Fatal("worker did not resume after the outage")
	}
	cancel()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("worker did not stop after cancel")
	}
}

func TestBatchHandlerOutcomesPerJob(t *testing.T) {
	d := testenv.DB(t)
	ctx := context.Background()
	var ids []int64
	for i := range 5 {
		id, err := jobs.Enqueue(ctx, d, "batch", map[string]int{"i": i})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	w := jobs.NewWorker(d, quiet)
	w.BatchSize = 10
	var sizes []int
	w.HandleBatch("batch", func(_ context.Context, js []jobs.Job) []error {
		sizes = append(sizes, len(js))
		errs := make([]error, len(js))
		for i := range js {
			if i%2 == 1 {
				errs[i] = errors.New("odd one out")
			}
		}
		return errs
	})
	if n, err := w.RunOnce(ctx); err != nil || n != 5 {
		t.Fatalf("RunOnce = %d, %v", n, err)
	}
	if len(sizes) != 1 || sizes[0] != 5 {
		t.Fatalf("handler called with %v, want one batch of 5", sizes)
	}
	for i, id := range ids {
		want := "done"
		if i%2 == 1 {
			want = "queued"
		}
		if r := mustJob(t, d, id); r.State != want {
			t.Fatalf("job %d: %s, want %s", i, r.State, want)
		}
	}
}

func TestFinishedJobsArePurgedAfterRetention(t *testing.T) {
	d := testenv.DB(t)
	ctx := context.Background()
	clk := testenv.NewClock(time.Now().Add(time.Second))
	w := jobs.NewWorker(d, quiet)
	w.Now, w.Retention = clk.Now, time.Hour
	w.Handle("x", func(context.Context, jobs.Job) error { return nil })
	id, _ := jobs.Enqueue(ctx, d, "x", 1)
	if n, _ := w.RunOnce(ctx); n != 1 {
		t.Fatal("not run")
	}
	clk.Advance(30 * time.Minute)
	w.RunOnce(ctx)
	if r := mustJob(t, d, id); r.State != "done" {
		t.Fatalf("purged too early: %+v", r)
	}
	clk.Advance(2 * time.Hour)
	w.RunOnce(ctx)
	var n int
	_ = d.Get(&n, `SELECT count(*) FROM jobs WHERE id = $1`, id)
	if n != 0 {
		t.Fatal("finished job kept past its retention")
	}
}
