package insight_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/issuance/insight"
	"github.com/laurel-edu/laurel/issuance/internal/issuancetest"
)

// The flush as the app runs it: a schedule on the job engine, here in two
// workers (two processes) at once, while two counters keep moving counts
// to Redis. Every count lands once.
func TestScheduledFlushInTwoWorkers(t *testing.T) {
	f := mustFixture(t)
	other := insight.New(f.db, redis.NewClient(&redis.Options{Addr: f.rdb.Options().Addr, DB: f.rdb.Options().DB}), f.core)
	other.Log = issuancetest.Quiet
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{}, 2)
	for _, s := range []*insight.Service{f.ins, other} {
		w := jobs.NewWorker(f.db, issuancetest.Quiet)
		w.SafetyPoll = 100 * time.Millisecond
		w.Schedule(insight.FlushJob, 100*time.Millisecond, s.HandleFlush)
		go func() { w.Run(ctx); done <- struct{}{} }()
	}
	req := httptest.NewRequest(http.MethodGet, "/c/x", nil)
	req.Header.Set("User-Agent", browser)
	const rounds, per = 10, 100
	for range rounds {
		for range per {
			f.ins.Count(req, f.c1.ID, insight.View)
			other.Count(req, f.c1.ID, insight.View)
		}
		if err := f.ins.MovePending(ctx); err != nil {
			t.Fatal(err)
		}
		if err := other.MovePending(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Millisecond)
	}
	want := int64(2 * rounds * per)
	deadline := time.Now().Add(20 * time.Second)
	for f.total(f.c1.ID, insight.View) < want && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // a few more runs: nothing more may arrive
	if n := f.total(f.c1.ID, insight.View); n != want {
		t.Fatalf("%d views after the scheduled flushes, want %d", n, want)
	}
	if n := f.daily(f.g1.ID, f.today(), insight.View); n != want {
		t.Fatalf("%d daily views, want %d", n, want)
	}
	var runs int
	if err := f.db.Get(&runs, `SELECT count(*) FROM jobs WHERE kind = $1 AND state = 'done'`, insight.FlushJob); err != nil || runs < 2 {
		t.Fatalf("%d flush runs done (%v)", runs, err)
	}
	cancel()
	<-done
	<-done
}
