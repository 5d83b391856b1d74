package public_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/benchcpu"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/internal/issuancetest"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPublishSignAndDeliver10k publishes 10,000 credentials and waits
// until every one is signed with both proofs (the sign jobs) and its email
// has reached a real SMTP server, with the worker the app runs (8
// goroutines, sign and email handlers). It reports the Publish call's time
// (signing is not in it), the time until all are signed and delivered, and
// this process's CPU per credential (signing, rendering and sending; the
// database's CPU is its own processes').
func BenchmarkPublishSignAndDeliver10k(b *testing.B) {
	const n = 10000
	s, d := mustService(b)
	setKeys(s, mustKeys(b))
	// Warnings (a failed job, a retry) would explain a slow run: show them.
	warn := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s.Log = warn
	w, catcher := issuancetest.BenchEmailWorker(b, s, d, warn, sg(s))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w.Handle(issuance.ChangedJob, sg(s).HandleChanged())
	stopped := make(chan struct{})
	go func() { w.Run(ctx); close(stopped) }()
	// The worker finishes recording its last batches before the database
	// goes away.
	defer func() { cancel(); <-stopped }()
	signedCount := func() int {
		var k int
		if err := d.Get(&k, `SELECT count(*) FROM credential_signatures`); err != nil {
			b.Fatal(err)
		}
		return k
	}
	var total, publish time.Duration
	var cpu time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		g := mustGroup(b, s, func(g *issuance.Group) { g.Name = "Bench " + itoa(i) })
		bulkCreate(b, s, g.ID, n, "s"+itoa(i)+"-")
		catcher.Reset()
		already := signedCount()
		b.StartTimer()
		start, cpu0 := time.Now(), cpuTime()
		res, err := s.Publish(ctx, actor, issuance.Selection{GroupID: g.ID, AllUnpublished: true})
		if err != nil || res.Emails != n {
			b.Fatalf("publish: %+v %v", res, err)
		}
		published := time.Since(start)
		for deadline := time.Now().Add(180 * time.Second); catcher.Len() < n || signedCount() < already+n; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d emails, %d signed after 180 s", catcher.Len(), n, signedCount()-already)
			}
		}
		took := time.Since(start)
		cpu += cpuTime() - cpu0
		total += took
		publish += published
		b.Logf("published %d in %s; all signed (both proofs) and emailed after %s", n, published, took)
	}
	b.ReportMetric(publish.Seconds()/float64(b.N), "s-publish")
	b.ReportMetric(total.Seconds()/float64(b.N), "s/10k-signed+delivered")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*n), "cpu-µs/credential")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkSignCredentials10k runs only the sign jobs of 10,000 published
// credentials (no email) and reports wall time and this process's CPU per
// credential: both proofs, building the credential, the store and its
// reads included.
func BenchmarkSignCredentials10k(b *testing.B) {
	const n = 10000
	s, d := mustService(b)
	setKeys(s, mustKeys(b))
	w := signingWorker(s, d)
	w.Concurrency, w.BatchSize = 4, 10
	var wall, cpu time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		g := mustGroup(b, s, func(g *issuance.Group) { g.Name = "Sign " + itoa(i) })
		bulkCreate(b, s, g.ID, n, "k"+itoa(i)+"-")
		if _, err := s.Publish(context.Background(), actor, issuance.Selection{GroupID: g.ID, AllUnpublished: true}); err != nil {
			b.Fatal(err)
		}
		// A publish this large leaves signing to its email jobs: queue the
		// sign jobs this benchmark runs.
		queueSigning(b, s, d, g.ID)
		b.StartTimer()
		start, cpu0 := time.Now(), cpuTime()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { w.Run(ctx); close(done) }()
		for {
			st, err := jobs.Stats(context.Background(), d, issuance.ChangedJob)
			if err != nil {
				b.Fatal(err)
			}
			if st["queued"] == 0 && st["running"] == 0 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		<-done
		wall += time.Since(start)
		cpu += cpuTime() - cpu0
	}
	var signed int
	d.Get(&signed, `SELECT count(*) FROM credential_signatures`)
	if signed != n*b.N {
		b.Fatalf("%d signed, want %d", signed, n*b.N)
	}
	b.ReportMetric(float64(wall.Microseconds())/float64(b.N*n), "wall-µs/credential")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*n), "cpu-µs/credential")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkVerifyPage serves the public page /c/:id, which verifies the
// credential's proofs, status and dates on every request, for random
// credentials among 2,000 signed ones; it reports p50 and p95.
func BenchmarkVerifyPage(b *testing.B) {
	const n = 2000
	s, d := mustService(b)
	setKeys(s, mustKeys(b))
	g := mustGroup(b, s, nil)
	bulkCreate(b, s, g.ID, n, "v")
	if _, err := s.Publish(context.Background(), actor, issuance.Selection{GroupID: g.ID, AllUnpublished: true}); err != nil {
		b.Fatal(err)
	}
	queueSigning(b, s, d, g.ID)
	drain(b, signingWorker(s, d))
	cs, _, err := s.Credentials(context.Background(), g.ID, issuance.ListOptions{Limit: 500})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Revoke(context.Background(), actor, cs[0].ID, "bench"); err != nil {
		b.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	pub(s).Register(r, publicRenderer(b))
	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		req := httptest.NewRequest(http.MethodGet, "/c/"+cs[i%len(cs)].ID, nil)
		rec := httptest.NewRecorder()
		start := time.Now()
		r.ServeHTTP(rec, req)
		lat = append(lat, time.Since(start))
		if rec.Code != 200 {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	b.StopTimer()
	b.ReportMetric(benchcpu.Percentile(lat, 0.95), "p95-ms")
	b.ReportMetric(benchcpu.Percentile(lat, 0.50), "p50-ms")
}

// queueSigning queues sign jobs for group g's credentials.
func queueSigning(b *testing.B, s *issuance.Service, d *sqlx.DB, g int64) {
	var ids []string
	if err := d.Select(&ids, `SELECT id FROM credentials WHERE group_id = $1`, g); err != nil {
		b.Fatal(err)
	}
	if err := s.QueueSigning(context.Background(), ids); err != nil {
		b.Fatal(err)
	}
}
