package canvas_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/canvas"
	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/internal/secret"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/lti"
	"github.com/laurel-edu/laurel/lti/course"
)

const (
	workerEnv    = "LAUREL_CANVAS_TEST_WORKER"
	workerDBEnv  = "LAUREL_CANVAS_TEST_WORKER_DB"
	workerKeyEnv = "LAUREL_CANVAS_TEST_WORKER_KEY"
)

// runWorkerProcess is the body of the worker subprocess the crash test
// starts (the test binary re-executed): it processes the inbox until killed.
func runWorkerProcess() int {
	ctx := context.Background()
	d, err := sqlx.Open("postgres", os.Getenv(workerDBEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	d.SetMaxOpenConns(10)
	d.SetMaxIdleConns(10)
	master, err := base64.StdEncoding.DecodeString(os.Getenv(workerKeyEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	keys, err := secret.New(master)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	courses, err := course.New(course.Options{DB: d, Platforms: lti.NewRegistry(d)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	svc, err := canvas.New(canvas.Options{
		DB: d, Keys: keys, Issuer: issuance.New(d, "http://laurel.test"),
		Platforms: canvas.LTIPlatforms(lti.NewRegistry(d)), Courses: courses, BaseURL: "http://laurel.test",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); svc.RunInboxWorker(ctx) }()
	}
	wg.Wait()
	return 0
}

func startWorker(t *testing.T, e *env) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), workerEnv+"=1", workerDBEnv+"="+e.dbURL,
		workerKeyEnv+"="+base64.StdEncoding.EncodeToString(e.masterKey))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// 2,000 accepted events; the worker process is SIGKILLed mid-way and
// restarted: exactly 2,000 credentials, none doubled, every event processed.
func TestCrashedWorkerLosesAndDoublesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	const n = 5000 // several inbox batches (500) left when it is killed, even on a loaded machine
	e := newEnv(t)
	e.mustMap("900", false)
	// Accept every event over HTTP first (the 2xx is the promise).
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	failures := make(chan string, n)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			st, b, err := e.events.DeliverCompletion(context.Background(), e.webhookURL(), canvassim.Completion{
				CourseID: "900", UserID: fmt.Sprint(10000 + i), UserName: fmt.Sprintf("Student %d", i),
				UserEmail: fmt.Sprintf("s%d@example.com", i), CompletedAt: time.Now(),
			})
			if err != nil || st != 200 {
				failures <- fmt.Sprintf("%d %s %v", st, b, err)
			}
		}()
	}
	wg.Wait()
	close(failures)
	for f := range failures {
		t.Fatalf("delivery refused: %s", f)
	}
	if got := e.count(`SELECT count(*) FROM canvas_events WHERE state = 'received'`); got != n {
		t.Fatalf("inbox holds %d received events, want %d", got, n)
	}
	processed := func() int { return e.count(`SELECT count(*) FROM canvas_events WHERE state = 'processed'`) }

	w := startWorker(t, e)
	deadline := time.Now().Add(2 * time.Minute)
	for processed() < n/4 {
		if time.Now().After(deadline) {
			t.Fatal("worker made no progress")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := w.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	w.Wait()
	mid := processed()
	t.Logf("killed the worker after %d of %d events", mid, n)
	if mid >= n {
		t.Fatalf("the worker finished before it was killed (%d): nothing was tested", mid)
	}

	startWorker(t, e)
	waitFor(t, func() bool { return processed() == n })
	creds := e.credentials()
	if len(creds) != n {
		t.Fatalf("%d credentials, want %d", len(creds), n)
	}
	refs := map[string]bool{}
	for _, c := range creds {
		if c.ExternalRef == nil || refs[*c.ExternalRef] {
			t.Fatalf("credential %s doubled or without ref (%v)", c.ID, deref(c.ExternalRef))
		}
		refs[*c.ExternalRef] = true
	}
	if got := e.count(`SELECT count(DISTINCT credential_id) FROM canvas_events WHERE state = 'processed'`); got != n {
		t.Fatalf("processed events point at %d distinct credentials, want %d", got, n)
	}
}
