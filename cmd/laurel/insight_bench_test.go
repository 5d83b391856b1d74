package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/benchcpu"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/issuance"
)

// BenchmarkServePublicPageCounting serves the public credential page
// /c/:id, as a person's browser asks for it, from two real `laurel serve`
// processes on the same PostgreSQL and Redis: one counting engagement, one
// with LAUREL_NO_ENGAGEMENT_COUNTING=true (the page as it was before
// counting). An outside client keeps 8 requests in flight against one of
// them at a time, alternating in BENCH_ROUNDS phases (default 6) of
// BENCH_PHASE requests (default 500) each, so both meet the same machine. It reports the
// p50 and p95 of each and the ratio of the p95s, then checks that every
// counted view reached PostgreSQL exactly once. Run it with -benchtime 1x.
func BenchmarkServePublicPageCounting(b *testing.B) {
	const inFlight, creds = 8, 200
	phase, rounds := envInt(b, "BENCH_PHASE", 500), envInt(b, "BENCH_ROUNDS", 6)
	cfg := serveConfig(b)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	offListen := l.Addr().String()
	l.Close()
	onURL, offURL := cfg.BaseURL, "http://"+offListen
	startServe(b, cfg)
	offCfg := cfg
	offCfg.Listen = offListen // same base URL: both pages verify the same signatures
	startServe(b, offCfg, "LAUREL_NO_ENGAGEMENT_COUNTING=true")

	ctx := context.Background()
	admin := openAdmin(b, cfg)
	g, err := admin.Issuance.CreateGroup(ctx, "bench", issuance.Group{Name: "Data Science Foundations", CourseName: "DS 101", Language: "en"})
	if err != nil {
		b.Fatal(err)
	}
	var items []issuance.NewCredential
	for i := range creds {
		items = append(items, issuance.NewCredential{Recipient: issuance.Recipient{Name: fmt.Sprintf("Learner %d", i),
			Email: fmt.Sprintf("learner%d@example.edu", i)}, IssuedOn: "2026-06-30"})
	}
	cs, err := admin.Issuance.CreateCredentials(ctx, "bench", g.ID, issuance.FromAPI, items)
	if err != nil {
		b.Fatal(err)
	}
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	if _, err := admin.Issuance.Publish(ctx, "bench", issuance.Selection{IDs: ids}); err != nil {
		b.Fatal(err)
	}
	// The servers' workers sign every credential (and send the emails)
	// before the timing starts.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		st, err := jobs.Stats(ctx, admin.DB, issuance.ChangedJob)
		if err != nil {
			b.Fatal(err)
		}
		if st["queued"] == 0 && st["running"] == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("signing not done after 60 s: %v", st)
		}
	}
	tr := &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64}
	b.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	const ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	// run sends n page requests to base, inFlight at a time, and returns
	// each one's latency.
	run := func(base string, n int) []time.Duration {
		var mu sync.Mutex
		var lat []time.Duration
		var wg sync.WaitGroup
		next := make(chan string)
		for range inFlight {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for id := range next {
					req, _ := http.NewRequest(http.MethodGet, base+"/c/"+id, nil)
					req.Header.Set("User-Agent", ua)
					req.Header.Set("Accept", "text/html,application/xhtml+xml")
					start := time.Now()
					res, err := client.Do(req)
					if err != nil {
						b.Error(err)
						continue
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					d := time.Since(start)
					if res.StatusCode != 200 {
						b.Errorf("%s: %d", req.URL, res.StatusCode)
					}
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				}
			}()
		}
		for range n {
			next <- ids[rand.IntN(len(ids))]
		}
		close(next)
		wg.Wait()
		return lat
	}
	// Warm up both: templates cloned, statements prepared, connections open.
	run(onURL, 200)
	run(offURL, 200)
	time.Sleep(3 * time.Second) // the warm-up's counts reach Redis
	if _, err := admin.Insight.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	var before int64
	if err := admin.DB.Get(&before, `SELECT coalesce(sum(n), 0) FROM insight_totals WHERE kind = 'view'`); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var on, off []time.Duration
	for range b.N {
		for r := range rounds {
			if r%2 == 0 {
				off = append(off, run(offURL, phase)...)
				on = append(on, run(onURL, phase)...)
			} else {
				on = append(on, run(onURL, phase)...)
				off = append(off, run(offURL, phase)...)
			}
		}
	}
	b.StopTimer()
	p95on, p95off := benchcpu.Percentile(on, 0.95), benchcpu.Percentile(off, 0.95)
	b.ReportMetric(benchcpu.Percentile(off, 0.50), "off_p50_ms")
	b.ReportMetric(p95off, "off_p95_ms")
	b.ReportMetric(benchcpu.Percentile(on, 0.50), "on_p50_ms")
	b.ReportMetric(p95on, "on_p95_ms")
	b.ReportMetric(p95on/p95off, "p95_on/off")
	b.ReportMetric(0, "ns/op")
	b.Logf("p95 of /c/:id: %.2f ms counting, %.2f ms not counting (ratio %.3f); %d requests each", p95on, p95off, p95on/p95off, len(on))

	// Every counted view arrives exactly once (the counting server moves
	// its counts to Redis every 2 s; this flush is the scheduled job's).
	time.Sleep(3 * time.Second)
	if _, err := admin.Insight.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	var after int64
	if err := admin.DB.Get(&after, `SELECT coalesce(sum(n), 0) FROM insight_totals WHERE kind = 'view'`); err != nil {
		b.Fatal(err)
	}
	if after-before != int64(len(on)) {
		b.Fatalf("%d views counted, want %d", after-before, len(on))
	}
}
