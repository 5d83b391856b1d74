package moodle_test

import (
	"context"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/lti/course"
)

// The rule engine's one schedule checks Moodle mappings too: a worker runs
// it at once when none ran before and Ada's credential is created.
func TestScheduleChecksMoodleMappings(t *testing.T) {
	e := newEnv(t)
	e.site.AddCourse(storyCourse())
	e.site.Complete(42, 7, 0, day("2026-03-02T10:00:00Z"))
	e.site.Complete(42, 7, 1, day("2026-03-04T23:30:00Z"))
	m := e.mustMap("42")
	w := jobs.NewWorker(e.db, nil)
	w.Poll = 20 * time.Millisecond
	e.courses.HandleJobs(w, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { defer close(stopped); w.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := e.db.Get(&n, `SELECT count(*) FROM jobs WHERE kind = $1 AND state = 'done'`, course.ReconcileKind); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the scheduled check did not run")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-stopped
	if got := e.credentials(); len(got) != 1 || got[0].Email != "ada@example.edu" || got[0].IssuedOn != "2026-03-04" {
		t.Fatalf("credentials after the scheduled check: %+v", got)
	}
	last, err := e.svc.Checker().LastCheck(context.Background(), m.ID)
	if err != nil || last == nil || last.Trigger != course.TriggerSchedule {
		t.Fatalf("last check %+v (%v), want the schedule's", last, err)
	}
}
