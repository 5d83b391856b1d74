package lti_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/laurel-edu/laurel/canvas"
	"github.com/laurel-edu/laurel/internal/accounts"
	"github.com/laurel-edu/laurel/internal/benchcpu"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/internal/secret"
	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/lti"
	"github.com/laurel-edu/laurel/lti/ltitest"
)

// BenchmarkLoginLaunch runs complete login + auth + launch round trips over
// HTTP on loopback, 8 in flight. Laurel (lti.Tool on gin, with PostgreSQL
// and Redis in the path) runs in a process of its own — this test binary
// re-executed as benchToolProcess — so its CPU is read from that process
// alone; the simulated platform, which signs a real RS256 id_token for each
// launch, and the HTTP clients stay in this one.
//
// laurel_cpu_ms/launch is the tool process's CPU per login+launch;
// pg_redis_cpu_ms/launch that of the database servers. Latency: the run has
// three phases — all logins, then every platform authorization (the
// simulator signs), then all launch POSTs — so the simulator's signing never
// competes with the tool for the CPU inside a timed request;
// tool_p50/p99_ms are one login plus its launch.
func BenchmarkLoginLaunch(b *testing.B) {
	ctx := context.Background()
	dbURL, redisURL := testenv.DatabaseURL(b), testenv.RedisURL(b)
	d, err := db.Open(ctx, dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		b.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()

	child := startBenchTool(b, dbURL, redisURL)
	keys, _ := secret.New([]byte(benchSecret))
	// This process's Tool only registers the platform (same database, the
	// child's URLs); it serves nothing.
	reg := lti.New(d, rdb, keys, child.url, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	reg.Registry().SetExtension(canvas.NewPlatformSettings(d, keys)) // as the app installs it
	e := &env{t: b, db: d, rdb: rdb, clock: &testenv.Clock{}, tool: reg}
	e.sim = canvassim.New().Start()
	defer e.sim.Close()
	e.shared = &ltitest.Env{T: b, Sim: e.sim} // the browser steps need only the simulator
	if e.platform, err = e.sim.Register(ctx, reg, "Sim Canvas"); err != nil {
		b.Fatal(err)
	}
	e.course = e.sim.AddCourse(canvassim.Course{Title: "Biology 101", Label: "BIO101"})
	users, err := e.sim.AddStudents(e.course.ID, 200)
	if err != nil {
		b.Fatal(err)
	}
	const workers = 8
	tr := &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	// Warm up: keys generated, JWKS fetched, connections open.
	for i := range workers {
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
	phase := func(do func(i int)) time.Duration { return benchcpu.Phase(workers, b.N, do) }
	b.ResetTimer()
	srv0, cpu0 := benchcpu.Children(), child.cpu(b)
	loginWall := phase(func(i int) {
		t0 := time.Now()
		auths[i], _ = e.login(clients[i], users[i%len(users)].ID, e.course.ID, canvassim.LaunchOptions{NoStorageTarget: true})
		loginLat[i] = time.Since(t0)
	})
	b.StopTimer()
	phase(func(i int) { actions[i], forms[i] = e.authorize(clients[i], auths[i]) })
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
	b.StopTimer()
	cpu1 := child.cpu(b)
	srv1 := benchcpu.Children()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d launches failed", n)
	}
	lat := make([]time.Duration, b.N)
	for i := range lat {
		lat[i] = loginLat[i] + launchLat[i]
	}
	pct, ms := benchcpu.Percentile, benchcpu.Millis
	b.ReportMetric(float64(b.N)/(loginWall+launchWall).Seconds(), "launches/s")
	b.ReportMetric(pct(lat, 0.50), "tool_p50_ms")
	b.ReportMetric(pct(lat, 0.99), "tool_p99_ms")
	b.ReportMetric(pct(loginLat, 0.99), "login_p99_ms")
	b.ReportMetric(pct(launchLat, 0.99), "launch_p99_ms")
	b.ReportMetric(ms(cpu1-cpu0)/float64(b.N), "laurel_cpu_ms/launch")
	// Children() counts the tool process too; the rest is PostgreSQL and Redis.
	b.ReportMetric(ms(srv1-srv0-(cpu1-cpu0))/float64(b.N), "pg_redis_cpu_ms/launch")
}

// benchSecret is the tool's secret key in the benchmark (test-only).
const benchSecret = "0123456789abcdef0123456789abcdef-bench"

// benchTool is the tool process of BenchmarkLoginLaunch.
type benchTool struct {
	url string
	pid int
}

// startBenchTool re-executes this test binary as the tool process and
// returns its base URL; the process is killed when the benchmark ends.
func startBenchTool(b *testing.B, dbURL, redisURL string) *benchTool {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "LAUREL_BENCH_TOOL=1", "LAUREL_BENCH_DB="+dbURL, "LAUREL_BENCH_REDIS="+redisURL)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt) // flushes LAUREL_BENCH_TOOL_PROFILE
		t := time.AfterFunc(5*time.Second, func() { cmd.Process.Kill() })
		cmd.Wait()
		t.Stop()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "http://") {
		b.Fatalf("tool process did not start: %q %v", line, err)
	}
	go io.Copy(io.Discard, out)
	return &benchTool{url: strings.TrimSpace(line), pid: cmd.Process.Pid}
}

// cpu is the tool process's user + system CPU so far.
func (t *benchTool) cpu(b *testing.B) time.Duration {
	d, err := benchcpu.Process(t.pid)
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// benchToolProcess is the tool process: lti.Tool on gin, as newEnv wires it,
// on the database and Redis the benchmark names. It prints its base URL and
// serves until killed.
func benchToolProcess() int {
	ctx := context.Background()
	d, err := db.Open(ctx, os.Getenv("LAUREL_BENCH_DB"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	opt, err := redis.ParseURL(os.Getenv("LAUREL_BENCH_REDIS"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	keys, _ := secret.New([]byte(benchSecret))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	base := "http://" + ln.Addr().String()
	onLaunch := func(c *gin.Context, l *lti.Launch) error {
		c.JSON(http.StatusOK, gin.H{"sub": l.Sub, "ltik": l.Token, "instructor": l.IsInstructor(), "learner": l.IsLearner(), "message_type": l.MessageType})
		return nil
	}
	tool := lti.New(d, redis.NewClient(opt), keys, base, slog.New(slog.NewTextHandler(io.Discard, nil)), onLaunch)
	tool.Registry().SetExtension(canvas.NewPlatformSettings(d, keys))
	tool.AllowHTTPPlatforms = true // the simulated platform is on loopback
	// As the app wires it: a launch looks up its staff account.
	tool.Staff = accounts.New(d, nil)
	rd, err := web.NewRenderer(nil, lti.Templates)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(web.Recovery(rd))
	tool.Register(r, rd)
	// LAUREL_BENCH_TOOL_PROFILE=file writes the tool process's CPU profile.
	if f := os.Getenv("LAUREL_BENCH_TOOL_PROFILE"); f != "" {
		out, err := os.Create(f)
		if err == nil && pprof.StartCPUProfile(out) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt)
	go http.Serve(ln, r)
	fmt.Println(base)
	<-stop
	return 0
}
