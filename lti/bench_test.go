package lti_test

import (
	"net/http"
	"net/http/cookiejar"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
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
	toolLat := make([]time.Duration, b.N) // login + launch requests only, without the platform's auth step
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	cpu0 := processCPU()
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
				auth, _ := e.login(c, u.ID, e.course.ID, canvassim.LaunchOptions{NoStorageTarget: true})
				t1 := time.Now()
				action, vals := e.authorize(c, auth)
				t2 := time.Now()
				resp, err := c.PostForm(action, vals)
				if err != nil || resp.StatusCode != 200 {
					failed.Add(1)
				}
				if resp != nil {
					readBody(b, resp)
				}
				lat[i] = time.Since(t0)
				toolLat[i] = t1.Sub(t0) + time.Since(t2)
			}
		}(clients[w])
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	cpu := processCPU() - cpu0
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d launches failed", n)
	}
	slices.Sort(lat)
	slices.Sort(toolLat)
	pct := func(l []time.Duration, p float64) float64 {
		return float64(l[int(float64(len(l)-1)*p)].Microseconds()) / 1000
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "launches/s")
	b.ReportMetric(pct(lat, 0.50), "p50_ms")
	b.ReportMetric(pct(lat, 0.99), "p99_ms")
	b.ReportMetric(pct(toolLat, 0.50), "tool_p50_ms")
	b.ReportMetric(pct(toolLat, 0.99), "tool_p99_ms")
	// CPU of this process (tool + simulator + HTTP clients; PostgreSQL and
	// Redis excluded) per launch: capacity that does not depend on how busy
	// the shared machine is.
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu_ms/launch")
}

// processCPU is the user + system CPU time this process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
