package jobs_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/internal/testenv"
)

// A kind with its own policy retries for days with a capped back-off, while
// other kinds keep the worker's attempt limit.
func TestRetryPolicyIsPerKind(t *testing.T) {
	d := testenv.DB(t)
	ctx := context.Background()
	clk := testenv.NewClock(time.Now().Add(time.Second))
	w := jobs.NewWorker(d, quiet)
	w.Now = clk.Now
	w.MaxAttempts = 3
	const maxAge, maxBackoff = 5 * 24 * time.Hour, 30 * time.Minute
	w.SetPolicy("mail", jobs.Policy{MaxAge: maxAge, BaseBackoff: 30 * time.Second, MaxBackoff: maxBackoff})
	fail := func(context.Context, jobs.Job) error { return errors.New("dial tcp: connection refused") }
	var last atomic.Bool
	w.Handle("mail", func(_ context.Context, j jobs.Job) error { last.Store(j.LastAttempt); return fail(nil, j) })
	w.Handle("other", fail)
	mailID, err := jobs.Enqueue(ctx, d, "mail", 1)
	if err != nil {
		t.Fatal(err)
	}
	otherID, err := jobs.Enqueue(ctx, d, "other", 1)
	if err != nil {
		t.Fatal(err)
	}
	var created time.Time
	if err := d.Get(&created, `SELECT created_at FROM jobs WHERE id = $1`, mailID); err != nil {
		t.Fatal(err)
	}

	var longest time.Duration
	for runs := 1; ; runs++ {
		if n, err := w.RunOnce(ctx); err != nil || n == 0 {
			t.Fatalf("run %d: RunOnce = %d, %v at %s", runs, n, err, clk.Now().Sub(created))
		}
		r := mustJob(t, d, mailID)
		age := clk.Now().Sub(created)
		if r.State == "dead" {
			if age < maxAge {
				t.Fatalf("mail job dead after %s (%d attempts), want no earlier than %s", age, r.Attempts, maxAge)
			}
			if !last.Load() {
				t.Fatal("the mail job's last run was not flagged LastAttempt")
			}
			t.Logf("mail job dead after %s and %d attempts; longest wait %s", age, r.Attempts, longest)
			break
		}
		if r.State != "queued" || last.Load() {
			t.Fatalf("mail job after %s: %+v (last attempt %v)", age, r, last.Load())
		}
		wait := r.RunAt.Sub(clk.Now())
		if wait <= 0 || wait > maxBackoff {
			t.Fatalf("attempt %d: next run in %s, want within (0, %s]", r.Attempts, wait, maxBackoff)
		}
		longest = max(longest, wait)
		if runs > 1000 {
			t.Fatal("mail job never gave up")
		}
		clk.Advance(wait)
	}
	if longest < maxBackoff/2 {
		t.Fatalf("back-off never reached the cap: longest %s", longest)
	}
	if r := mustJob(t, d, otherID); r.State != "dead" || r.Attempts != 3 {
		t.Fatalf("other kind: %+v, want dead after the worker's 3 attempts", r)
	}
}

// A running job's worker renews its lease: a job that runs longer than the
// lease is not claimed a second time.
func TestHeartbeatKeepsLongJobFromBeingClaimedTwice(t *testing.T) {
	d := testenv.DB(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	id, err := jobs.Enqueue(ctx, d, "long", 1)
	if err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int32
	started := make(chan struct{}, 2)
	h := func(context.Context, jobs.Job) error {
		runs.Add(1)
		started <- struct{}{}
		time.Sleep(3 * time.Second)
		return nil
	}
	a, b := jobs.NewWorker(d, quiet), jobs.NewWorker(d, quiet)
	for _, w := range []*jobs.Worker{a, b} {
		w.Lease, w.Poll = 600*time.Millisecond, 20*time.Millisecond
		w.Handle("long", h)
	}
	done := make(chan struct{})
	go func() { defer close(done); a.RunOnce(ctx) }()
	<-started // A holds the job; B now polls for 3 s beside it
	go b.Run(ctx)
	<-done
	time.Sleep(100 * time.Millisecond)
	if n := runs.Load(); n != 1 {
		t.Fatalf("a 3 s job under a 600 ms lease ran %d times", n)
	}
	if r := mustJob(t, d, id); r.State != "done" || r.Attempts != 1 {
		t.Fatalf("after the long job: %+v", r)
	}
}

// A worker that cannot renew its leases stops its handler before the lease
// runs out, so the worker that claims the job next never runs beside it.
func TestLostLeaseStopsHandlerBeforeAnotherWorkerClaims(t *testing.T) {
	url := testenv.DatabaseURL(t)
	open := func() *sqlx.DB {
		d, err := sqlx.Open("postgres", url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	}
	da, db := open(), open()
	ctx := context.Background()
	if _, err := jobs.Enqueue(ctx, db, "work", 1); err != nil {
		t.Fatal(err)
	}
	const lease = 900 * time.Millisecond
	started := make(chan struct{})
	var stoppedAt atomic.Int64
	a := jobs.NewWorker(da, quiet)
	a.Lease = lease
	a.Handle("work", func(hctx context.Context, j jobs.Job) error {
		close(started)
		<-hctx.Done()
		stoppedAt.Store(time.Now().UnixNano())
		return hctx.Err()
	})
	go a.RunOnce(ctx)
	<-started
	claimedAt := time.Now()
	da.Close() // worker A loses its database: no more heartbeats

	var reclaimedAt time.Time
	b := jobs.NewWorker(db, quiet)
	b.Lease = lease
	b.Handle("work", func(context.Context, jobs.Job) error { reclaimedAt = time.Now(); return nil })
	deadline := time.Now().Add(20 * time.Second)
	for reclaimedAt.IsZero() {
		if time.Now().After(deadline) {
			t.Fatal("job of the worker without database never re-claimed")
		}
		b.RunOnce(ctx)
		time.Sleep(20 * time.Millisecond)
	}
	s := stoppedAt.Load()
	if s == 0 {
		t.Fatal("handler still running when the job was claimed again")
	}
	if stop := time.Unix(0, s); !stop.Before(reclaimedAt) || stop.Sub(claimedAt) > lease {
		t.Fatalf("handler stopped %s after its claim, re-claim after %s (lease %s)", stop.Sub(claimedAt), reclaimedAt.Sub(claimedAt), lease)
	}
}
