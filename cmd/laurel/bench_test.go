package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/app"
	"github.com/laurel-edu/laurel/internal/benchcpu"
	"github.com/laurel-edu/laurel/internal/config"
	"github.com/laurel-edu/laurel/internal/mail"
	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/internal/secret"
	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/lti/course"
)

// BenchmarkServeLoginLaunch is a student's login + launch into a mapped
// course against a real `laurel serve` (workers and all, this test binary
// re-executed as laurel), over HTTP on loopback, 8 in flight — what an
// independent driver measures. Laurel's CPU is read from its process alone;
// the simulated Canvas, which signs a real RS256 id_token per launch, and the
// browsers stay in this one.
//
// The login is Canvas's: with lti_storage_target, so Laurel answers with its
// storage page; the browser keeps cookies, so the launch is bound by the
// state cookie. BENCH_STORAGE=none leaves the storage target out (the tool
// then redirects), as Moodle does.
//
// laurel_cpu_ms/launch is Laurel's CPU per login+launch; pg_redis_cpu_ms
// that of the database servers. The run has three phases — all logins, then
// every authorization at the simulator (it signs), then all launch POSTs —
// so the simulator never competes with Laurel inside a timed request;
// tool_p50/p99_ms are one login plus its launch.
func BenchmarkServeLoginLaunch(b *testing.B) {
	ctx := context.Background()
	cfg := serveConfig(b)
	cfg.AllowHTTPPlatforms = true // the simulated Canvas is on loopback
	pid := startServe(b, cfg)

	// This process opens the same Laurel (not serving) to set the stage: the
	// platform, a group and the course's mapping.
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	admin, err := app.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), app.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close()
	sim := canvassim.New().Start()
	defer sim.Close()
	platform, err := sim.Register(ctx, admin.LTI, "Sim Canvas")
	if err != nil {
		b.Fatal(err)
	}
	simCourse := sim.AddCourse(canvassim.Course{Title: "Biology 101", Label: "BIO101"})
	const workers = 8
	// Each launch is a student launching for the first time: no cache of
	// Laurel's warm for them.
	users, err := sim.AddStudents(simCourse.ID, 4*workers+b.N)
	if err != nil {
		b.Fatal(err)
	}
	design, err := admin.Issuance.DefaultDesign(ctx)
	if err != nil {
		b.Fatal(err)
	}
	g, err := admin.Issuance.CreateGroup(ctx, "bench", issuance.Group{Name: "Biology 101", CourseName: "Biology 101", DesignID: design.ID})
	if err != nil {
		b.Fatal(err)
	}
	rule := string(course.RuleCanvasCompletion)
	if _, err := admin.Course.CreateMapping(ctx, "bench", course.MappingInput{
		PlatformID: &platform.ID, GroupID: &g.ID, CanvasCourseID: &simCourse.ID, ContextID: &simCourse.ContextID, CompletionRule: &rule,
	}); err != nil {
		b.Fatal(err)
	}

	opts := canvassim.LaunchOptions{NoStorageTarget: os.Getenv("BENCH_STORAGE") == "none"}
	tr := &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	launch := func(br *canvassim.Browser, user string) error {
		auth, err := br.Login(user, simCourse.ID, opts)
		if err != nil {
			return err
		}
		action, form, err := br.Authorize(auth)
		if err != nil {
			return err
		}
		return launched(br.Launch(action, form))
	}
	// Warm up: keys generated, JWKS fetched, caches filled, connections open.
	for i := range 4 * workers {
		if err := launch(sim.NewBrowser(tr), users[b.N+i].ID); err != nil {
			b.Fatalf("warm-up launch: %v", err)
		}
	}
	// One browser per launch, as in life: its login's state cookie goes
	// with its launch.
	browsers := make([]*canvassim.Browser, b.N)
	for i := range browsers {
		browsers[i] = sim.NewBrowser(tr)
	}
	auths, actions := make([]string, b.N), make([]string, b.N)
	forms := make([]url.Values, b.N)
	loginLat, launchLat := make([]time.Duration, b.N), make([]time.Duration, b.N)
	var failed atomic.Int64
	var firstErr atomic.Value
	fail := func(err error) {
		failed.Add(1)
		firstErr.CompareAndSwap(nil, err.Error())
	}
	// The driver (browsers, simulator) shares the two cores with Laurel: its
	// garbage collector is turned down as Laurel's is, so that less of its
	// work lands between Laurel's and inflates Laurel's figure.
	defer debug.SetGCPercent(debug.SetGCPercent(gcPercent))
	b.ResetTimer()
	cpu0, srv0 := mustCPU(b, pid), benchcpu.Children()
	loginWall := benchcpu.Phase(workers, b.N, func(i int) {
		t0 := time.Now()
		var err error
		if auths[i], err = browsers[i].Login(users[i].ID, simCourse.ID, opts); err != nil {
			fail(err)
		}
		loginLat[i] = time.Since(t0)
	})
	b.StopTimer()
	cpuLogins := mustCPU(b, pid)
	benchcpu.Phase(workers, b.N, func(i int) {
		var err error
		if auths[i] != "" {
			if actions[i], forms[i], err = browsers[i].Authorize(auths[i]); err != nil {
				fail(err)
			}
		}
	})
	cpuAuth := mustCPU(b, pid)
	b.StartTimer()
	launchWall := benchcpu.Phase(workers, b.N, func(i int) {
		if actions[i] == "" {
			return
		}
		t0 := time.Now()
		if err := launched(browsers[i].Launch(actions[i], forms[i])); err != nil {
			fail(err)
		}
		launchLat[i] = time.Since(t0)
	})
	b.StopTimer()
	cpu1, srv1 := mustCPU(b, pid), benchcpu.Children()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d launches failed; first: %v", n, b.N, firstErr.Load())
	}
	lat := make([]time.Duration, b.N)
	for i := range lat {
		lat[i] = loginLat[i] + launchLat[i]
	}
	// Laurel does nothing while the simulator authorizes; what it spent then
	// (workers polling) is left out of both its figure and the servers'.
	idle := cpuAuth - cpuLogins
	laurel := cpu1 - cpu0 - idle
	b.ReportMetric(float64(b.N)/(loginWall+launchWall).Seconds(), "launches/s")
	b.ReportMetric(benchcpu.Percentile(lat, 0.50), "tool_p50_ms")
	b.ReportMetric(benchcpu.Percentile(lat, 0.99), "tool_p99_ms")
	b.ReportMetric(benchcpu.Percentile(loginLat, 0.99), "login_p99_ms")
	b.ReportMetric(benchcpu.Percentile(launchLat, 0.99), "launch_p99_ms")
	b.ReportMetric(benchcpu.Millis(laurel)/float64(b.N), "laurel_cpu_ms/launch")
	b.ReportMetric(benchcpu.Millis(srv1-srv0-(cpu1-cpu0))/float64(b.N), "pg_redis_cpu_ms/launch")
}

// BenchmarkIdleServe is the CPU an idle `laurel serve` (workers on, real
// PostgreSQL and Redis, this test binary re-executed as laurel) spends per
// second of wall time with nothing to do: what polling, pings and tickers
// cost. It lets the server settle, then idles for 60 s
// (BENCH_IDLE_SECONDS shortens it for a quick check). Run it with
// -benchtime 1x: each iteration is one whole idle period.
func BenchmarkIdleServe(b *testing.B) {
	idle := 60 * time.Second
	if s := os.Getenv("BENCH_IDLE_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("BENCH_IDLE_SECONDS=%q: want a positive number of seconds", s)
		}
		idle = time.Duration(n) * time.Second
	}
	pid := startServe(b, serveConfig(b))
	// Start-up work (templates, first claims, keys) is not idling.
	time.Sleep(5 * time.Second)
	b.ResetTimer()
	var cpu, wall time.Duration
	for range b.N {
		c0, t0 := mustCPU(b, pid), time.Now()
		time.Sleep(idle)
		cpu += mustCPU(b, pid) - c0
		wall += time.Since(t0)
	}
	b.StopTimer()
	b.ReportMetric(benchcpu.Millis(cpu)/wall.Seconds(), "ms-cpu/s")
	// /proc counts CPU in 10 ms ticks: 0 means less than one tick in the
	// whole idle period, which bounds the figure; say so beside it.
	b.ReportMetric(benchcpu.Millis(benchcpu.Tick)/wall.Seconds(), "resolution_ms-cpu/s")
}

// serveConfig is the configuration of a benchmarked `laurel serve`: the test
// PostgreSQL and Redis, a free loopback port, and a mail catcher closed when
// the benchmark ends.
func serveConfig(b *testing.B) config.Config {
	b.Helper()
	catcher, err := mail.NewCatcher("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { catcher.Close() })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	listen := l.Addr().String()
	l.Close()
	return config.Config{
		DatabaseURL: testenv.DatabaseURL(b), RedisURL: testenv.RedisURL(b), BaseURL: "http://" + listen, Listen: listen,
		SecretKey: secret.Generate(), SMTPURL: catcher.URL(), MailFrom: "Laurel <no-reply@laurel.test>",
	}
}

// launched checks a launch answer: the student's page.
func launched(st int, body []byte, err error) error {
	if err != nil {
		return err
	}
	if st != http.StatusOK || !strings.Contains(string(body), `id="status"`) {
		return fmt.Errorf("launch: status %d: %.300s", st, body)
	}
	return nil
}

// startServe runs `laurel serve` (this binary as laurel) with cfg in the
// environment, waits until it answers /healthz and returns its pid. It is
// stopped when the benchmark ends; LAUREL_BENCH_PROFILE=file makes it write
// its CPU profile there.
func startServe(b *testing.B, cfg config.Config) int {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), cliArgsEnv+"=serve",
		"LAUREL_DATABASE_URL="+cfg.DatabaseURL, "LAUREL_REDIS_URL="+cfg.RedisURL, "LAUREL_BASE_URL="+cfg.BaseURL,
		"LAUREL_LISTEN="+cfg.Listen, "LAUREL_SECRET_KEY="+cfg.SecretKey, "LAUREL_SMTP_URL="+cfg.SMTPURL,
		"LAUREL_MAIL_FROM="+cfg.MailFrom, "LAUREL_ALLOW_HTTP_PLATFORMS=true")
	// Its log goes down a pipe, as under systemd or Docker
	// (LAUREL_BENCH_LOG=file keeps it there).
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if f := os.Getenv("LAUREL_BENCH_LOG"); f != "" {
		if out, err := os.Create(f); err == nil {
			cmd.Stdout, cmd.Stderr = out, out
			b.Cleanup(func() { out.Close() })
		}
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		t := time.AfterFunc(10*time.Second, func() { cmd.Process.Kill() })
		cmd.Wait()
		t.Stop()
	})
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(cfg.BaseURL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return cmd.Process.Pid
			}
		}
	}
	b.Fatal("laurel serve did not answer /healthz within 30 s")
	return 0
}

func mustCPU(b *testing.B, pid int) time.Duration {
	d, err := benchcpu.Process(pid)
	if err != nil {
		b.Fatal(err)
	}
	return d
}
