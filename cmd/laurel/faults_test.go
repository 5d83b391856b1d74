package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/mail"
	"github.com/laurel-edu/laurel/internal/secret"
	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/issuance"
)

// cliArgsEnv makes the test binary act as the laurel binary (main with these
// arguments), so fault tests run real `laurel worker` processes.
const cliArgsEnv = "LAUREL_TEST_RUN_AS_LAUREL"

// runAsLaurel is the subprocess side: main() with the arguments from
// cliArgsEnv. main exits on error; success returns 0.
// LAUREL_BENCH_PROFILE=file writes the process's CPU profile there.
func runAsLaurel(args string) int {
	os.Args = append([]string{"laurel"}, strings.Fields(args)...)
	if f := os.Getenv("LAUREL_BENCH_PROFILE"); f != "" {
		if out, err := os.Create(f); err == nil && pprof.StartCPUProfile(out) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	main()
	return 0
}

// faultEnv is a database with published credentials whose emails are queued,
// a mail catcher, and the environment of a `laurel worker` on both.
type faultEnv struct {
	t     testing.TB
	db    *sqlx.DB
	env   []string
	smtp  string // catcher address
	n     int
	mu    sync.Mutex
	logs  []*bytes.Buffer
	procs []*exec.Cmd
}

// poolSize is the SMTP connection pool of the `laurel worker` these tests
// start (LAUREL_SMTP_CONNECTIONS): a crash can repeat at most one message
// per connection.
const poolSize = 8

func newFaultEnv(t testing.TB, n int, smtpAddr string) *faultEnv {
	t.Helper()
	url := testenv.DatabaseURL(t)
	d, err := db.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	e := &faultEnv{t: t, db: d, smtp: smtpAddr, n: n}
	e.env = append(os.Environ(),
		"LAUREL_DATABASE_URL="+url, "LAUREL_REDIS_URL="+testenv.RedisURL(t), "LAUREL_SECRET_KEY="+secret.Generate(),
		"LAUREL_SMTP_URL=smtp://"+smtpAddr, "LAUREL_MAIL_FROM=Laurel <no-reply@credentials.uni.example.edu>",
		"LAUREL_BASE_URL=https://credentials.uni.example.edu", "LAUREL_SMTP_CONNECTIONS="+strconv.Itoa(poolSize))

	s := issuance.New(d, "https://credentials.uni.example.edu")
	ctx := context.Background()
	g, err := s.CreateGroup(ctx, "test", issuance.Group{Name: "Data Science 101", CourseName: "DS 101"})
	if err != nil {
		t.Fatal(err)
	}
	items := make([]issuance.NewCredential, n)
	for i := range items {
		items[i] = issuance.NewCredential{Recipient: issuance.Recipient{Name: fmt.Sprintf("Learner %d", i), Email: fmt.Sprintf("learner%d@example.edu", i)},
			IssuedOn: "2026-06-30"}
	}
	if _, err := s.CreateCredentials(ctx, "test", g.ID, issuance.FromForm, items); err != nil {
		t.Fatal(err)
	}
	if res, err := s.Publish(ctx, "test", issuance.Selection{GroupID: g.ID, AllUnpublished: true}); err != nil || res.Emails != n {
		t.Fatalf("publish: %+v, %v", res, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			e.mu.Lock()
			defer e.mu.Unlock()
			for i, l := range e.logs {
				t.Logf("worker %d log (tail):\n%s", i+1, tail(l.String(), 3000))
			}
		}
	})
	return e
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// startWorker starts a real `laurel worker` process.
func (e *faultEnv) startWorker() *exec.Cmd {
	e.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append([]string{}, e.env...), cliArgsEnv+"=worker")
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.mu.Lock()
	e.logs = append(e.logs, &log)
	e.procs = append(e.procs, cmd)
	e.mu.Unlock()
	e.t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

func (e *faultEnv) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.db.Get(&n, q, args...); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *faultEnv) sent() int {
	return e.count(`SELECT count(*) FROM credential_emails WHERE state = 'sent'`)
}

// waitUntil polls cond every 20 ms until it holds or timeout passes.
func waitUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// deliveries counts messages per recipient; lost are the recipients without
// one, doubled the messages beyond the first.
func (e *faultEnv) deliveries(c *mail.Catcher) (lost, doubled int) {
	per := map[string]int{}
	for _, m := range c.Messages() {
		for _, to := range m.To {
			per[to]++
		}
	}
	for i := range e.n {
		k := per[fmt.Sprintf("learner%d@example.edu", i)]
		if k == 0 {
			lost++
		} else {
			doubled += k - 1
		}
	}
	return lost, doubled
}

// A `laurel worker` SIGKILLed while sending 3,000 emails: after a restart
// none is lost, at most one per SMTP connection is sent twice, sending
// resumes at once and the killed worker's claimed jobs within 60 s.
func TestKilledWorkerLosesNoMailAndRepeatsAtMostThePool(t *testing.T) {
	const n = 3000
	catcher, err := mail.NewCatcher("")
	if err != nil {
		t.Fatal(err)
	}
	defer catcher.Close()
	e := newFaultEnv(t, n, catcher.Addr())

	w := e.startWorker()
	if !waitUntil(2*time.Minute, func() bool { return catcher.Len() >= n/3 }) {
		t.Fatalf("worker delivered %d emails in 2 minutes", catcher.Len())
	}
	if err := w.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = w.Wait()
	killedAt := time.Now()
	atKill, peakAtKill := catcher.Len(), catcher.PeakConnections()
	if atKill >= n {
		t.Fatalf("the worker finished (%d) before it was killed: nothing was tested", atKill)
	}
	var orphans []int64
	if err := e.db.Select(&orphans, `SELECT id FROM jobs WHERE state = 'running'`); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	if err := e.db.Select(&kinds, `SELECT kind || ' ' || state || ' ' || count(*) FROM jobs GROUP BY kind, state ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	t.Logf("jobs at the kill: %s", strings.Join(kinds, "; "))
	recorded := e.sent()
	t.Logf("killed after %d messages were delivered (%d recorded sent); %d jobs left claimed by the dead worker", atKill, recorded, len(orphans))
	if atKill-recorded > poolSize {
		t.Errorf("%d delivered but not recorded sent at the kill, want at most the pool (%d)", atKill-recorded, poolSize)
	}

	e.startWorker()
	restartAt := time.Now()
	var firstAfter time.Duration
	if !waitUntil(60*time.Second, func() bool { return catcher.Len() > atKill }) {
		t.Fatal("no email sent within 60 s of the restart")
	}
	for _, m := range catcher.Messages()[atKill:] {
		firstAfter = m.ReceivedAt.Sub(restartAt)
		break
	}
	var orphansDone time.Duration
	if len(orphans) > 0 {
		if !waitUntil(90*time.Second, func() bool {
			return e.count(`SELECT count(*) FROM jobs WHERE id = ANY($1) AND state = 'done'`, pq.Array(orphans)) == len(orphans)
		}) {
			t.Fatalf("the dead worker's %d claimed jobs were not all done 90 s after the kill", len(orphans))
		}
		orphansDone = time.Since(killedAt)
	}
	if !waitUntil(3*time.Minute, func() bool { return e.sent() == n }) {
		t.Fatalf("%d of %d emails sent 3 minutes after the restart", e.sent(), n)
	}
	allDone := time.Since(restartAt)
	time.Sleep(200 * time.Millisecond) // anything still on its way
	lost, doubled := e.deliveries(catcher)
	t.Logf("FIGURES kill: %d emails, killed after %d delivered; lost %d; duplicates %d (pool %d); first delivery %.1f s after restart; dead worker's %d claims done %.1f s after the kill; all sent %.1f s after restart",
		n, atKill, lost, doubled, poolSize, firstAfter.Seconds(), len(orphans), orphansDone.Seconds(), allDone.Seconds())
	if lost != 0 || doubled > poolSize {
		t.Fatalf("lost %d, doubled %d; want 0 lost and at most %d doubled", lost, doubled, poolSize)
	}
	// The bound holds because the worker sent over LAUREL_SMTP_CONNECTIONS
	// connections and no more; 3,000 emails kept them all busy.
	if peakAtKill != poolSize {
		t.Fatalf("%d SMTP connections were open at once before the kill, want LAUREL_SMTP_CONNECTIONS=%d", peakAtKill, poolSize)
	}
	if firstAfter > 60*time.Second || orphansDone > 60*time.Second {
		t.Fatalf("resumed %s after restart, claims %s after the kill; want both within 60 s", firstAfter, orphansDone)
	}
	if got := e.count(`SELECT count(*) FROM credential_emails WHERE state <> 'sent'`); got != 0 {
		t.Fatalf("%d emails not sent", got)
	}
	// Message-IDs are in LAUREL_MAIL_FROM's domain, not the machine's name.
	for _, m := range catcher.Messages() {
		if !strings.HasSuffix(m.MessageID, "@credentials.uni.example.edu>") {
			t.Fatalf("Message-ID %q, want one in the From address's domain", m.MessageID)
		}
	}
}
