package canvas_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/canvas"
	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/lti"
	"github.com/laurel-edu/laurel/lti/course"
)

// 30 completions whose events were lost: one run creates 30, the next none.
// Canvas pages the answer and rate-limits us on the way.
func TestReconcileCreatesWhatEventsMissed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	m := e.mustMap("700", false)
	done := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
	var students []canvassim.RESTStudent
	for i := range 45 {
		st := canvassim.RESTStudent{ID: fmt.Sprint(2000 + i), Name: fmt.Sprintf("Student %02d", i), Email: fmt.Sprintf("st%02d@example.com", i)}
		if i < 30 {
			st.CompletedAt = &done
		}
		students = append(students, st)
	}
	e.rest.AddStudents("700", students...)
	e.rest.PageSize = 7
	e.rest.Throttle(2)
	// One completion did arrive as an event: reconciliation must not double it.
	if st, b := e.deliver(canvassim.Completion{CourseID: "700", UserID: "2000", UserName: "Student 00", UserEmail: "st00@example.com", CompletedAt: done}); st != 200 {
		t.Fatalf("deliver: %d %s", st, b)
	}
	e.drain()

	res, err := e.svc.Reconcile(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Checked != 45 || res.Completed != 30 || len(res.Created) != 29 {
		t.Fatalf("first run: checked %d completed %d created %d (skipped %v), want 45/30/29", res.Checked, res.Completed, len(res.Created), res.Skipped)
	}
	if e.rest.Limited() != 2 {
		t.Fatalf("rate-limited requests = %d, want 2 (retried after back-off)", e.rest.Limited())
	}
	creds := e.credentials()
	if len(creds) != 30 {
		t.Fatalf("%d credentials, want 30", len(creds))
	}
	bySource := map[string]int{}
	for _, c := range creds {
		bySource[c.Source]++
		if c.State != "unpublished" || c.IssuedOn != "2026-05-04" {
			t.Fatalf("credential %+v", c)
		}
	}
	if bySource["reconciliation"] != 29 || bySource["completion"] != 1 {
		t.Fatalf("sources = %v", bySource)
	}

	res, err = e.svc.Reconcile(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Created) != 0 || res.Checked != 45 {
		t.Fatalf("second run created %d (checked %d), want 0", len(res.Created), res.Checked)
	}
	if n := len(e.credentials()); n != 30 {
		t.Fatalf("%d credentials after the second run", n)
	}
	// An event arriving late for a reconciled student changes nothing.
	if st, b := e.deliver(canvassim.Completion{CourseID: "700", UserID: "2010", UserName: "Student 10", UserEmail: "st10@example.com", CompletedAt: done}); st != 200 {
		t.Fatalf("deliver: %d %s", st, b)
	}
	e.drain()
	if n := len(e.credentials()); n != 30 {
		t.Fatalf("%d credentials after a late event", n)
	}
	// Both runs are recorded.
	if n := e.count(`SELECT count(*) FROM canvas_reconciliations WHERE mapping_id = $1 AND finished_at IS NOT NULL AND error = ''`, m.ID); n != 2 {
		t.Fatalf("recorded runs = %d", n)
	}
	// Why (not) awarded, per student: the completion date Canvas gave, or
	// not completed yet; for instructors (by Canvas user) and staff (named).
	lines, err := e.svc.Checker().RuleLines(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 45 || lines["2005"] != "Course completed on 4 May 2026 (Canvas)." ||
		lines["2040"] != "Course not completed yet, as Canvas reported at the last check." {
		t.Fatalf("%d why lines; 2005: %q, 2040: %q", len(lines), lines["2005"], lines["2040"])
	}
	ex, err := e.svc.Checker().Explanations(ctx, m)
	if err != nil || len(ex) != 45 || ex[0].Name != "Student 00" || ex[0].Line != "Course completed on 4 May 2026 (Canvas)." {
		t.Fatalf("explanations: %v %+v", err, ex[:min(len(ex), 1)])
	}
}

// The API answers with what the run created; without a token it says so.
func TestReconcileAPIAndMissingToken(t *testing.T) {
	e := newEnv(t)
	m := e.mustMap("710", false)
	done := time.Now()
	e.rest.AddStudents("710", canvassim.RESTStudent{ID: "1", Name: "Solo", Email: "solo@example.com", CompletedAt: &done})
	tok := e.token("team_member")
	st, body := e.api("POST", fmt.Sprintf("/mappings/%d/reconcile", m.ID), tok, "")
	if st != 200 {
		t.Fatalf("reconcile: %d %s", st, body)
	}
	var res struct {
		Checked int `json:"checked"`
		Created []struct {
			ID     string `json:"id"`
			Source string `json:"source"`
		} `json:"created"`
	}
	json.Unmarshal([]byte(body), &res)
	if res.Checked != 1 || len(res.Created) != 1 || res.Created[0].Source != "reconciliation" {
		t.Fatalf("reconcile answer %s", body)
	}

	e2 := newEnv(t, envOptions{noToken: true})
	m2 := e2.mustMap("711", false)
	_, err := e2.svc.Reconcile(context.Background(), m2.ID)
	if !apperr.Is(err, apperr.Invalid) || !strings.Contains(apperr.Message(err), "No Canvas API token is configured") {
		t.Fatalf("no token: %v", err)
	}
	st, body = e2.api("POST", fmt.Sprintf("/mappings/%d/reconcile", m2.ID), e2.token("admin"), "")
	if st != 422 || !strings.Contains(body, "No Canvas API token") {
		t.Fatalf("no token over the API: %d %s", st, body)
	}

	// A token Canvas refuses is named as the problem.
	if _, err := e2.registry.UpdatePlatform(context.Background(), e2.platform.ID, lti.PlatformInput{Extra: canvas.PlatformExtra("", "revoked-token")}); err != nil {
		t.Fatal(err)
	}
	e2.rest.AddStudents("711", canvassim.RESTStudent{ID: "1", Name: "X", Email: "x@example.com"})
	_, err = e2.svc.Reconcile(context.Background(), m2.ID)
	if !apperr.Is(err, apperr.Invalid) || !strings.Contains(apperr.Message(err), "Canvas refused the platform's API token (401)") {
		t.Fatalf("refused token: %v", err)
	}
}

func TestPruneEvents(t *testing.T) {
	e := newEnv(t)
	e.mustMap("730", false)
	e.deliver(canvassim.Completion{CourseID: "730", UserID: "1", UserName: "Old", UserEmail: "old@example.com"})
	e.deliver(canvassim.Completion{CourseID: "730", UserID: "2", UserName: "New", UserEmail: "new@example.com"})
	e.deliver(canvassim.Completion{CourseID: "730", UserID: "3", UserName: "Old no mail"})
	e.drain()
	if _, err := e.db.Exec(`UPDATE canvas_events SET received_at = now() - interval '100 days' WHERE canvas_user_id IN ('1', '3')`); err != nil {
		t.Fatal(err)
	}
	n, err := e.svc.PruneEvents(context.Background(), canvas.EventRetention)
	if err != nil || n != 1 {
		t.Fatalf("pruned %d (%v), want 1", n, err)
	}
	// The recent event and the old failure (shown to admins) remain.
	if got := e.count(`SELECT count(*) FROM canvas_events`); got != 2 {
		t.Fatalf("%d events left, want 2", got)
	}
}

// The scheduled reconciliation is the rule engine's one job: a worker runs
// it at once when none ran before, checks the Canvas mapping, and leaves
// exactly one row for its next run, one interval later; the inbox pruning
// is Canvas's own daily job.
func TestReconcileRunsAsScheduledJob(t *testing.T) {
	e := newEnv(t)
	m := e.mustMap("740", false)
	done := time.Now()
	e.rest.AddStudents("740", canvassim.RESTStudent{ID: "4", Name: "Quad", Email: "quad@example.com", CompletedAt: &done})
	w := jobs.NewWorker(e.db, nil)
	w.Poll = 20 * time.Millisecond
	e.svc.HandleJobs(w)
	e.courses.HandleJobs(w, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { defer close(stopped); w.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for e.count(`SELECT count(*) FROM jobs WHERE kind = $1 AND state = 'done'`, course.ReconcileKind) == 0 ||
		e.count(`SELECT count(*) FROM jobs WHERE kind = $1 AND state = 'done'`, canvas.PruneJob) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the scheduled reconciliation did not run")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-stopped
	if n := e.count(`SELECT count(*) FROM canvas_reconciliations WHERE mapping_id = $1 AND trigger = 'schedule'`, m.ID); n != 1 {
		t.Fatalf("scheduled runs = %d, want 1", n)
	}
	if n := len(e.credentials()); n != 1 {
		t.Fatalf("credentials = %d, want 1", n)
	}
	var next time.Time
	if err := e.db.Get(&next, `SELECT run_at FROM jobs WHERE kind = $1 AND state = 'queued'`, course.ReconcileKind); err != nil {
		t.Fatalf("next run: %v", err)
	}
	if d := time.Until(next); d < 50*time.Minute || d > time.Hour {
		t.Fatalf("next run in %s, want about the 1 h interval", d)
	}
}
