package lti_test

import (
	"net/http"
	"net/http/cookiejar"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/canvas/canvassim"
)

// BenchmarkLoginLaunch runs complete login + auth + launch round trips over
// HTTP on loopback: the tool on gin with PostgreSQL and Redis in the path,
// the simulator signing a real RS256 id_token for each launch. It reports
// launches/s and p50/p99 latency of one whole round trip.
func BenchmarkLoginLaunch(b *testing.B) {
	e := newEnv(b)
	users, err := e.sim.AddStudents(e.course.ID, 200)
	if err != nil {
		b.Fatal(err)
	}
	const workers = 8
	tr := &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	clients := make([]*http.Client, workers)
	for i := range clients {
		jar, _ := cookiejar.New(nil)
		clients[i] = &http.Client{Jar: jar, Transport: tr, Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	// Warm up: keys generated, JWKS fetched, connections open.
	for i := 0; i < workers; i++ {
		if st, body := e.fullLaunch(clients[i], users[i].ID, e.course.ID, canvassim.LaunchOptions{NoStorageTarget: true}); st != 200 {
			b.Fatalf("warm-up launch: %d %s", st, body)
		}
	}
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(c *http.Client) {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				u := users[i%len(users)]
				t0 := time.Now()
				if st, _ := e.fullLaunch(c, u.ID, e.course.ID, canvassim.LaunchOptions{NoStorageTarget: true}); st != 200 {
					failed.Add(1)
				}
				lat[i] = time.Since(t0)
			}
		}(clients[w])
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d launches failed", n)
	}
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(float64(len(lat)-1)*p)].Microseconds()) / 1000 }
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "launches/s")
	b.ReportMetric(pct(0.50), "p50_ms")
	b.ReportMetric(pct(0.99), "p99_ms")
}
