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

	"github.com/laurel-edu/laurel/canvas"
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
	const workers = 8
	st := newLaunchStage(b, 4*workers+b.N)
	users, launch := st.users, st.launch
	sim, simCourse, opts := st.sim, st.course, st.opts
	pid, tr := st.pid, st.tr
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

// launchStage is a running `laurel serve` with a simulated Canvas
// registered, a mapped course and n students in it, ready to launch.
type launchStage struct {
	admin  *app.App
	pid    int
	sim    *canvassim.Sim
	course *canvassim.Course
	users  []*canvassim.User
	opts   canvassim.LaunchOptions
	tr     *http.Transport
}

func newLaunchStage(b *testing.B, n int) *launchStage {
	ctx := context.Background()
	cfg := serveConfig(b)
	cfg.AllowHTTPPlatforms = true // the simulated Canvas is on loopback
	pid := startServe(b, cfg)

	// The stage: the platform, a group and the course's mapping.
	admin := openAdmin(b, cfg)
	sim := canvassim.New().Start()
	b.Cleanup(sim.Close)
	platform, err := sim.Register(ctx, admin.LTI, "Sim Canvas")
	if err != nil {
		b.Fatal(err)
	}
	simCourse := sim.AddCourse(canvassim.Course{Title: "Biology 101", Label: "BIO101"})
	// Each launch is a student launching for the first time: no cache of
	// Laurel's warm for them.
	users, err := sim.AddStudents(simCourse.ID, n)
	if err != nil {
		b.Fatal(err)
	}
	mapCourse(b, admin, platform.ID, simCourse.ID, simCourse.ContextID)
	tr := &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64}
	b.Cleanup(tr.CloseIdleConnections)
	return &launchStage{admin: admin, pid: pid, sim: sim, course: simCourse, users: users, tr: tr,
		opts: canvassim.LaunchOptions{NoStorageTarget: os.Getenv("BENCH_STORAGE") == "none"}}
}

// trips reads how many transactions PostgreSQL has committed or rolled
// back in the database and how many commands Redis has processed: their
// growth over a run is Laurel's round trips (the readings add a few).
func (st *launchStage) trips(b *testing.B) (pg, rd int64) {
	ctx := context.Background()
	// Backends report their counts to the statistics at most once a second.
	time.Sleep(1100 * time.Millisecond)
	const q = `SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()`
	if err := st.admin.DB.GetContext(ctx, &pg, q); err != nil {
		b.Fatal(err)
	}
	info, err := st.admin.Redis.Info(ctx, "stats").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "total_commands_processed:"); ok {
			rd, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return pg, rd
}

// openAdmin opens, beside the benchmarked `laurel serve`, the same Laurel
// (not serving) to set the stage, closed when the benchmark ends.
func openAdmin(b *testing.B, cfg config.Config) *app.App {
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	admin, err := app.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), app.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(admin.Close)
	return admin
}

// mapCourse creates a group and maps Canvas course courseID (and LTI
// context contextID when not "") of the platform to it, issuing on course
// completion; it returns the group's id.
func mapCourse(b *testing.B, admin *app.App, platformID int64, courseID, contextID string) int64 {
	ctx := context.Background()
	design, err := admin.Issuance.DefaultDesign(ctx)
	if err != nil {
		b.Fatal(err)
	}
	g, err := admin.Issuance.CreateGroup(ctx, "bench", issuance.Group{Name: "Biology 101", CourseName: "Biology 101", DesignID: design.ID})
	if err != nil {
		b.Fatal(err)
	}
	in := course.MappingInput{PlatformID: &platformID, GroupID: &g.ID, CanvasCourseID: &courseID}
	rule := string(course.RuleCanvasCompletion)
	in.CompletionRule = &rule
	if contextID != "" {
		in.ContextID = &contextID
	}
	if _, err := admin.Course.CreateMapping(ctx, "bench", in); err != nil {
		b.Fatal(err)
	}
	return g.ID
}

// launch is one student's login, authorization (the simulator signs the
// id_token) and launch, in a browser of its own.
func (st *launchStage) launch(br *canvassim.Browser, user string) error {
	auth, err := br.Login(user, st.course.ID, st.opts)
	if err != nil {
		return err
	}
	action, form, err := br.Authorize(auth)
	if err != nil {
		return err
	}
	return launched(br.Launch(action, form))
}

// BenchmarkDriverLoginLaunch measures a student's login + launch as an
// outside driver does (issue 21): Laurel in its own process, 8 launches in
// flight on keep-alive connections, each a new student whose id_token the
// simulated Canvas signs (RS256) during the run, in the same flow as the
// login and launch, and Laurel's CPU read from /proc over the whole run,
// idle moments and background work included. The driver keeps Go's default
// garbage collector. tool_p99_ms is Laurel's part of one launch (login plus
// launch request); flow_p99_ms adds the platform's signing in between.
func BenchmarkDriverLoginLaunch(b *testing.B) {
	const workers = 8
	st := newLaunchStage(b, 4*workers+b.N)
	for i := range 4 * workers { // keys, JWKS, caches, connections
		if err := st.launch(st.sim.NewBrowser(st.tr), st.users[b.N+i].ID); err != nil {
			b.Fatalf("warm-up launch: %v", err)
		}
	}
	tool, flow := make([]time.Duration, b.N), make([]time.Duration, b.N)
	pg0, rd0 := st.trips(b)
	var failed atomic.Int64
	var firstErr atomic.Value
	b.ResetTimer()
	cpu0, srv0 := mustCPU(b, st.pid), benchcpu.Children()
	wall := benchcpu.Phase(workers, b.N, func(i int) {
		br := st.sim.NewBrowser(st.tr)
		t0 := time.Now()
		auth, err := br.Login(st.users[i].ID, st.course.ID, st.opts)
		t1 := time.Now()
		var action string
		var form url.Values
		if err == nil {
			action, form, err = br.Authorize(auth)
		}
		t2 := time.Now()
		if err == nil {
			err = launched(br.Launch(action, form))
		}
		t3 := time.Now()
		if err != nil {
			failed.Add(1)
			firstErr.CompareAndSwap(nil, err.Error())
		}
		tool[i], flow[i] = t1.Sub(t0)+t3.Sub(t2), t3.Sub(t0)
	})
	cpu1, srv1 := mustCPU(b, st.pid), benchcpu.Children()
	b.StopTimer()
	pg1, rd1 := st.trips(b)
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d launches failed; first: %v", n, b.N, firstErr.Load())
	}
	b.ReportMetric(float64(b.N)/wall.Seconds(), "launches/s")
	b.ReportMetric(benchcpu.Percentile(tool, 0.50), "tool_p50_ms")
	b.ReportMetric(benchcpu.Percentile(tool, 0.99), "tool_p99_ms")
	b.ReportMetric(benchcpu.Percentile(flow, 0.99), "flow_p99_ms")
	b.ReportMetric(benchcpu.Millis(cpu1-cpu0)/float64(b.N), "laurel_cpu_ms/launch")
	b.ReportMetric(benchcpu.Millis(srv1-srv0-(cpu1-cpu0))/float64(b.N), "pg_redis_cpu_ms/launch")
	b.ReportMetric(float64(pg1-pg0)/float64(b.N), "pg_xacts/launch")
	b.ReportMetric(float64(rd1-rd0)/float64(b.N), "redis_cmds/launch")
}

// BenchmarkDriverCompletions is Canvas's completion webhook as an outside
// driver measures it (issue 21): `laurel serve` in its own process with its
// workers, BENCH_EVENTS (default 10,000, at least b.N) distinct
// course_completed Live Events signed (RS256) by the simulated Canvas before
// the run (Canvas signs on its own machines, not on Laurel's cores),
// BENCH_SENDERS (default 32) in flight on keep-alive connections, as fast
// as they go or, with BENCH_RATE, at that many deliveries a second.
// It reports accepted deliveries/s, the p50/p99 of a delivery, how long
// after the last delivery was answered the last credential existed, and
// Laurel's CPU per event over the whole run, and PostgreSQL's and Redis's.
func BenchmarkDriverCompletions(b *testing.B) {
	ctx := context.Background()
	n, senders := max(b.N, envInt(b, "BENCH_EVENTS", 10000)), envInt(b, "BENCH_SENDERS", 32)
	sim := canvassim.New().Start()
	b.Cleanup(sim.Close)
	events, err := canvassim.NewLiveEvents(sim)
	if err != nil {
		b.Fatal(err)
	}
	cfg := serveConfig(b)
	cfg.AllowHTTPPlatforms, cfg.LiveEventsJWKSURL = true, events.JWKSURL()
	pid := startServe(b, cfg)
	admin := openAdmin(b, cfg)
	in := sim.PlatformInput("Sim Canvas")
	in.Extra = canvas.PlatformExtra(sim.URL(), "") // events name their Canvas by host
	platform, err := admin.LTI.Registry().AddPlatform(ctx, in)
	if err != nil {
		b.Fatal(err)
	}
	const courseID = "1200"
	groupID := mapCourse(b, admin, platform.ID, courseID, "")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: senders, MaxConnsPerHost: senders}, Timeout: 30 * time.Second}
	webhook := cfg.BaseURL + "/webhooks/canvas"
	sign := func(user int) string {
		tok, err := events.Sign(events.CourseCompleted(canvassim.Completion{CourseID: courseID, UserID: strconv.Itoa(user),
			UserName: "Student " + strconv.Itoa(user), UserEmail: "s" + strconv.Itoa(user) + "@example.edu"}))
		if err != nil {
			b.Fatal(err)
		}
		return tok
	}
	deliver := func(tok string) error {
		resp, err := client.Post(webhook, "application/jwt", strings.NewReader(tok))
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("delivery: %d %.200s", resp.StatusCode, body)
		}
		return nil
	}
	credentials := func() int {
		var c int
		if err := admin.DB.GetContext(ctx, &c, `SELECT count(*) FROM credentials WHERE group_id = $1`, groupID); err != nil {
			b.Fatal(err)
		}
		return c
	}
	// Warm up: the JWKS fetched, connections open, the worker awake.
	for i := range senders {
		if err := deliver(sign(900000 + i)); err != nil {
			b.Fatalf("warm-up: %v", err)
		}
	}
	for credentials() < senders {
		time.Sleep(5 * time.Millisecond)
	}
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = sign(100000 + i)
	}
	lat := make([]time.Duration, n)
	var failed atomic.Int64
	var firstErr atomic.Value
	b.ResetTimer()
	cpu0, srv0 := mustCPU(b, pid), benchcpu.Children()
	// BENCH_RATE paces the deliveries (open loop): delivery i is due at
	// i/rate after the start, and its latency counts from then, so time
	// spent waiting for a free sender counts too.
	rate := envInt(b, "BENCH_RATE", 0)
	start := time.Now()
	wall := benchcpu.Phase(senders, n, func(i int) {
		t0 := time.Now()
		if rate > 0 {
			due := start.Add(time.Duration(i) * time.Second / time.Duration(rate))
			time.Sleep(time.Until(due))
			t0 = due
		}
		if err := deliver(tokens[i]); err != nil {
			failed.Add(1)
			firstErr.CompareAndSwap(nil, err.Error())
		}
		lat[i] = time.Since(t0)
	})
	last := time.Now()
	for credentials() < n+senders {
		if time.Since(last) > time.Minute {
			b.Fatalf("%d credentials a minute after the last delivery, want %d", credentials()-senders, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
	drained := time.Since(last)
	cpu1, srv1 := mustCPU(b, pid), benchcpu.Children()
	b.StopTimer()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d deliveries failed; first: %v", f, n, firstErr.Load())
	}
	b.ReportMetric(float64(n)/wall.Seconds(), "accepted/s")
	b.ReportMetric(benchcpu.Percentile(lat, 0.50), "p50_ms")
	b.ReportMetric(benchcpu.Percentile(lat, 0.99), "p99_ms")
	b.ReportMetric(benchcpu.Millis(drained), "last_credential_after_ms")
	b.ReportMetric(benchcpu.Millis(cpu1-cpu0)/float64(n), "laurel_cpu_ms/event")
	b.ReportMetric(benchcpu.Millis(srv1-srv0-(cpu1-cpu0))/float64(n), "pg_redis_cpu_ms/event")
}

// envInt is the positive integer in environment variable name, or def.
func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// BenchmarkIdleServe is the CPU an idle `laurel serve` (workers on, real
// PostgreSQL and Redis, this test binary re-executed as laurel) spends per
// second of wall time with nothing to do: what polling, pings and tickers
// cost. It lets the server settle, then idles for 60 s
// (BENCH_IDLE_SECONDS shortens it for a quick check). Run it with
// -benchtime 1x: each iteration is one whole idle period.
func BenchmarkIdleServe(b *testing.B) {
	idle := time.Duration(envInt(b, "BENCH_IDLE_SECONDS", 60)) * time.Second
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
// its CPU profile there. extra are more NAME=value variables.
func startServe(b *testing.B, cfg config.Config, extra ...string) int {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), cliArgsEnv+"=serve",
		"LAUREL_DATABASE_URL="+cfg.DatabaseURL, "LAUREL_REDIS_URL="+cfg.RedisURL, "LAUREL_BASE_URL="+cfg.BaseURL,
		"LAUREL_LISTEN="+cfg.Listen, "LAUREL_SECRET_KEY="+cfg.SecretKey, "LAUREL_SMTP_URL="+cfg.SMTPURL,
		"LAUREL_MAIL_FROM="+cfg.MailFrom, "LAUREL_ALLOW_HTTP_PLATFORMS=true", "LAUREL_LIVE_EVENTS_JWKS_URL="+cfg.LiveEventsJWKSURL)
	cmd.Env = append(cmd.Env, extra...)
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
