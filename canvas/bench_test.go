package canvas_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/canvas"
	"github.com/laurel-edu/laurel/internal/benchcpu"
	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
)

// BenchmarkWebhookIngest: signed course_completed deliveries over HTTP on
// loopback at a sustained offered rate (BENCH_RATE events/s, default 2,000;
// 0: as fast as 32 senders go). Tokens are signed beforehand, so the figure is
// Laurel's: verify, validate, store durably, answer. Latency is measured from
// each event's scheduled send time, so a server that falls behind shows it
// (no coordinated omission).
func BenchmarkWebhookIngest(b *testing.B) {
	e := newEnv(b)
	e.mustMap("1000", false)
	rate := envInt("BENCH_RATE", 2000)
	if os.Getenv("BENCH_RATE") == "0" {
		rate = 0
	}
	senders := envInt("BENCH_SENDERS", 64)
	tokens, send := signedCompletions(b, e, "1000", 100000, b.N, senders, "b")
	// Warm the JWKS cache and open the connections.
	warm, _ := e.events.Sign(e.events.CourseCompleted(canvassim.Completion{CourseID: "1000", UserID: "99", UserName: "W", UserEmail: "w@example.com"}))
	send(warm)
	lat := make([]time.Duration, b.N)
	var failed atomic.Int64
	type job struct {
		i   int
		due time.Time
	}
	jobs := make(chan job, b.N)
	var wg sync.WaitGroup
	runtime.GC()
	b.ResetTimer()
	start := time.Now()
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if !send(tokens[j.i]) {
					failed.Add(1)
				}
				lat[j.i] = time.Since(j.due)
			}
		}()
	}
	for i := range b.N {
		due := time.Now()
		if rate > 0 {
			due = start.Add(time.Duration(i) * time.Second / time.Duration(rate))
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
		}
		jobs <- job{i, due}
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d deliveries failed", f)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(benchcpu.Percentile(lat, 0.50), "p50_ms")
	b.ReportMetric(benchcpu.Percentile(lat, 0.99), "p99_ms")
	b.ReportMetric(benchcpu.PeakRSSMB(b), "peak_rss_MB")
	if got := e.count(`SELECT count(*) FROM canvas_events`); got != b.N+1 {
		b.Fatalf("inbox holds %d events, want %d", got, b.N+1)
	}
}

// BenchmarkCompletionWorker: stored course_completed events turned into
// credentials by one RunInboxWorker (8 loops). It stores max(b.N,
// BENCH_EVENTS) events (default 10,000), so `-benchtime 1x` (make bench)
// measures a sustained run, not one event and the worker's poll interval.
func BenchmarkCompletionWorker(b *testing.B) {
	n := max(b.N, envInt("BENCH_EVENTS", 10000))
	e := newEnv(b)
	e.mustMap("1100", false)
	ev := e.events.CourseCompleted(canvassim.Completion{CourseID: "1100", UserID: "1", UserName: "Bench Worker", UserEmail: "w@example.com"})
	payload, _ := json.Marshal(ev)
	// Stored as the webhook stores them (one per student), in one statement.
	const q = `
INSERT INTO canvas_events (dedup_key, event_name, hostname, root_account_guid, canvas_course_id, canvas_user_id, completed_at, payload)
SELECT 'bench|' || g, 'course_completed', $1, '', '1100', (500000 + g)::text, now(),
       jsonb_set(jsonb_set($2::jsonb, '{body,user,id}', to_jsonb((500000 + g)::text)), '{body,user,email}', to_jsonb('w' || g || '@example.com'))
FROM generate_series(1, $3) AS g`
	if _, err := e.db.Exec(q, e.events.Host(), string(payload), n); err != nil {
		b.Fatal(err)
	}
	// With their jobs, as the webhook enqueues them.
	const jq = `INSERT INTO jobs (kind, payload)
SELECT $1, jsonb_build_object('event_id', id) FROM canvas_events WHERE state = 'received' ORDER BY id`
	if _, err := e.db.Exec(jq, canvas.InboxJob); err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	b.ResetTimer()
	start := time.Now()
	stop := e.runWorkers(envInt("BENCH_WORKERS", 1))
	for e.count(`SELECT count(*) FROM canvas_events WHERE state = 'received'`) > 0 {
		time.Sleep(2 * time.Millisecond)
	}
	elapsed := time.Since(start)
	stop()
	b.StopTimer()
	if got := e.count(`SELECT count(*) FROM credentials WHERE group_id = $1`, e.group.ID); got != n {
		b.Fatalf("%d credentials, want %d", got, n)
	}
	if got := e.count(`SELECT count(*) FROM canvas_events WHERE state <> 'processed'`); got != 0 {
		b.Fatalf("%d events not processed", got)
	}
	b.ReportMetric(float64(n)/elapsed.Seconds(), "events/s")
	b.ReportMetric(benchcpu.PeakRSSMB(b), "peak_rss_MB")
	_ = context.Background
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkCompletionsEndToEnd: signed course_completed deliveries over HTTP
// on loopback, BENCH_SENDERS (default 32) in flight, with the inbox worker
// running, as Canvas and Laurel run in production. It sends max(b.N,
// BENCH_EVENTS) (default 10,000) distinct events, signed before the timer,
// and reports accepted deliveries/s, p50/p99 latency of a delivery, and how
// long after the last delivery was answered the last credential existed.
func BenchmarkCompletionsEndToEnd(b *testing.B) {
	n := max(b.N, envInt("BENCH_EVENTS", 10000))
	senders := envInt("BENCH_SENDERS", 32)
	e := newEnv(b)
	e.mustMap("1200", false)
	tokens, send := signedCompletions(b, e, "1200", 200000, n, senders, "e")
	stop := e.runWorkers(1)
	defer stop()
	// Warm the JWKS cache, the connections and the worker.
	warm, _ := e.events.Sign(e.events.CourseCompleted(canvassim.Completion{CourseID: "1200", UserID: "99", UserName: "W", UserEmail: "w@example.com"}))
	if !send(warm) {
		b.Fatal("warm-up delivery refused")
	}
	for e.count(`SELECT count(*) FROM credentials WHERE group_id = $1`, e.group.ID) < 1 {
		time.Sleep(5 * time.Millisecond)
	}
	lat := make([]time.Duration, n)
	var failed atomic.Int64
	runtime.GC()
	b.ResetTimer()
	cpu0, srv0 := benchcpu.Self(), benchcpu.Children()
	ingest := benchcpu.Phase(senders, n, func(i int) {
		t0 := time.Now()
		if !send(tokens[i]) {
			failed.Add(1)
		}
		lat[i] = time.Since(t0)
	})
	lastDelivery := time.Now()
	for e.count(`SELECT count(*) FROM credentials WHERE group_id = $1`, e.group.ID) < n+1 {
		if time.Since(lastDelivery) > time.Minute {
			b.Fatal("credentials still missing a minute after the last delivery")
		}
		time.Sleep(2 * time.Millisecond)
	}
	drained := time.Since(lastDelivery)
	b.StopTimer()
	cpu, srv := benchcpu.Self()-cpu0, benchcpu.Children()-srv0
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d deliveries failed", f)
	}
	if got := e.count(`SELECT count(*) FROM canvas_events WHERE state <> 'processed'`); got != 0 {
		b.Fatalf("%d events not processed", got)
	}
	b.ReportMetric(float64(n)/ingest.Seconds(), "accepted/s")
	b.ReportMetric(benchcpu.Percentile(lat, 0.50), "p50_ms")
	b.ReportMetric(benchcpu.Percentile(lat, 0.99), "p99_ms")
	b.ReportMetric(float64(drained.Microseconds())/1000, "last_credential_after_ms")
	// This process (Laurel and the 32 senders) and the servers it started.
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(n), "laurel_cpu_ms/event")
	b.ReportMetric(float64(srv.Microseconds())/1000/float64(n), "pg_cpu_ms/event")
}

// signedCompletions signs n course_completed events of course before the
// timer (users firstUser…, emails <prefix><i>@example.com) and returns them
// with send, which posts one over at most senders connections and reports
// whether Laurel answered 200.
func signedCompletions(b *testing.B, e *env, course string, firstUser, n, senders int, prefix string) ([]string, func(string) bool) {
	b.Helper()
	tokens := make([]string, n)
	for i := range n {
		t, err := e.events.Sign(e.events.CourseCompleted(canvassim.Completion{
			CourseID: course, UserID: strconv.Itoa(firstUser + i), UserName: "Bench", UserEmail: fmt.Sprintf("%s%d@example.com", prefix, i),
		}))
		if err != nil {
			b.Fatal(err)
		}
		tokens[i] = t
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: senders, MaxConnsPerHost: senders}}
	url := e.webhookURL()
	send := func(tok string) bool {
		resp, err := client.Post(url, "application/jwt", strings.NewReader(tok))
		if err != nil {
			return false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == 200
	}
	return tokens, send
}
