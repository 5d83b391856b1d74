package lti_test

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/canvas/canvassim"
	"github.com/laurel-edu/laurel/internal/benchcpu"
)

// BenchmarkLoginLaunch runs complete login + auth + launch round trips over
// HTTP on loopback, 8 in flight: the tool on gin with PostgreSQL and Redis in
// the path, the simulator signing a real RS256 id_token for each launch.
//
// The simulated platform runs in this process, and its RS256 signing costs
// more CPU than the tool's whole launch, so the run has three phases: all
// logins (the tool), then every platform authorization (the simulator signs;
// not counted), then all launch POSTs (the tool). laurel_cpu_ms/launch is
// this process's CPU in the two tool phases per launch — an upper bound of
// the tool's cost, since the HTTP clients' CPU is in it too (PostgreSQL and
// Redis are other processes, excluded). tool_p50/p99_ms are the latency of
// one login plus its launch; sim_cpu_ms/auth is the simulator's phase, and
// pg_redis_cpu_ms/launch the database servers' CPU in the tool phases.
func BenchmarkLoginLaunch(b *testing.B) {
	e := newEnv(b)
	users, err := e.sim.AddStudents(e.course.ID, 200)
	if err != nil {
		b.Fatal(err)
	}
	const workers = 8
	tr := &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	// Warm up: keys generated, JWKS fetched, connections open.
	for i := 0; i < workers; i++ {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, Transport: tr, Timeout: 10 * time.Second, CheckRedirect: noRedirect}
		if st, body := e.fullLaunch(c, users[i].ID, e.course.ID, canvassim.LaunchOptions{NoStorageTarget: true}); st != 200 {
			b.Fatalf("warm-up launch: %d %s", st, body)
		}
	}
	// One browser (cookie jar) per launch, as in life: the state cookie of
	// its login goes with its launch.
	clients := make([]*http.Client, b.N)
	for i := range clients {
		jar, _ := cookiejar.New(nil)
		clients[i] = &http.Client{Jar: jar, Transport: tr, Timeout: 10 * time.Second, CheckRedirect: noRedirect}
	}
	auths := make([]string, b.N)
	actions := make([]string, b.N)
	forms := make([]url.Values, b.N)
	loginLat := make([]time.Duration, b.N)
	launchLat := make([]time.Duration, b.N)
	var failed atomic.Int64
	phase := func(do func(i int)) time.Duration {
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= b.N {
						return
					}
					do(i)
				}
			}()
		}
		wg.Wait()
		return time.Since(start)
	}
	b.ResetTimer()
	cpu0, srv0 := benchcpu.Self(), benchcpu.Children()
	loginWall := phase(func(i int) {
		t0 := time.Now()
		auths[i], _ = e.login(clients[i], users[i%len(users)].ID, e.course.ID, canvassim.LaunchOptions{NoStorageTarget: true})
		loginLat[i] = time.Since(t0)
	})
	cpu1, srv1 := benchcpu.Self(), benchcpu.Children()
	b.StopTimer()
	phase(func(i int) { actions[i], forms[i] = e.authorize(clients[i], auths[i]) })
	cpu2, srv2 := benchcpu.Self(), benchcpu.Children()
	b.StartTimer()
	launchWall := phase(func(i int) {
		t0 := time.Now()
		resp, err := clients[i].PostForm(actions[i], forms[i])
		if err != nil || resp.StatusCode != 200 {
			failed.Add(1)
		}
		if resp != nil {
			readBody(b, resp)
		}
		launchLat[i] = time.Since(t0)
	})
	cpu3, srv3 := benchcpu.Self(), benchcpu.Children()
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d launches failed", n)
	}
	lat := make([]time.Duration, b.N)
	for i := range lat {
		lat[i] = loginLat[i] + launchLat[i]
	}
	slices.Sort(lat)
	slices.Sort(loginLat)
	slices.Sort(launchLat)
	pct := func(l []time.Duration, p float64) float64 {
		return float64(l[int(float64(len(l)-1)*p)].Microseconds()) / 1000
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(float64(b.N)/(loginWall+launchWall).Seconds(), "launches/s")
	b.ReportMetric(pct(lat, 0.50), "tool_p50_ms")
	b.ReportMetric(pct(lat, 0.99), "tool_p99_ms")
	b.ReportMetric(pct(loginLat, 0.99), "login_p99_ms")
	b.ReportMetric(pct(launchLat, 0.99), "launch_p99_ms")
	b.ReportMetric(ms(cpu1-cpu0+cpu3-cpu2)/float64(b.N), "laurel_cpu_ms/launch")
	b.ReportMetric(ms(cpu2-cpu1)/float64(b.N), "sim_cpu_ms/auth")
	b.ReportMetric(ms(srv1-srv0+srv3-srv2)/float64(b.N), "pg_redis_cpu_ms/launch")
}
