package issuance_test

import (
	"context"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/internal/issuancetest"
)

// scheduleWorker is a fresh worker process's view: a new jobs.Worker on the
// same database, handling scheduled publishes on clock.
func scheduleWorker(s *issuance.Service, clock *testenv.Clock) *jobs.Worker {
	w := jobs.NewWorker(s.DB, issuancetest.Quiet)
	w.Now = clock.Now
	w.Handle(issuance.PublishScheduleJob, s.HandlePublishSchedule)
	return w
}

// A publish scheduled for 9:00 does not run before 9:00, survives the
// worker that was running when it was made (a new worker instance runs it),
// publishes exactly the credentials confirmed (one deleted and one published
// meanwhile are skipped and counted; one created later is left alone), as
// the user who scheduled it; a cancelled one never runs.
func TestScheduledPublishRunsAtItsTimeAfterARestartAndCancelledNever(t *testing.T) {
	s, d := mustService(t)
	ctx := context.Background()
	clock := testenv.NewClock(time.Date(2026, 12, 8, 17, 0, 0, 0, time.UTC))
	s.Now = clock.Now
	g := mustGroup(t, s, nil)
	cs := mustCreate(t, s, g.ID, item("Ada Lovelace", "ada@example.edu"), item("Alan Turing", "alan@example.edu"),
		item("Grace Hopper", "grace@example.edu"), item("Emmy Noether", "emmy@example.edu"))
	at := time.Date(2026, 12, 9, 9, 0, 0, 0, time.UTC)
	const scheduler = "user:7:sam@example.edu"
	sch, err := s.SchedulePublish(ctx, scheduler, issuance.Selection{GroupID: g.ID, AllUnpublished: true}, at)
	if err != nil {
		t.Fatal(err)
	}
	if sch.Count() != 4 || !sch.RunAt.Equal(at) || sch.State != issuance.ScheduleWaiting {
		t.Fatalf("schedule %+v", sch)
	}

	// The worker running now finds nothing due, then goes away.
	w1 := scheduleWorker(s, clock)
	if n, err := w1.RunOnce(ctx); err != nil || n != 0 {
		t.Fatalf("before its time: claimed %d, %v", n, err)
	}
	clock.Advance(15*time.Hour + 59*time.Minute) // 8:59
	if n, _ := w1.RunOnce(ctx); n != 0 {
		t.Fatalf("claimed a minute early")
	}

	// Meanwhile: one is deleted, one published by hand, one added.
	if _, err := s.DeleteUnpublished(ctx, actor, cs[1].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Publish(ctx, actor, issuance.Selection{IDs: []string{cs[2].ID}}); err != nil {
		t.Fatal(err)
	}
	late := mustCreate(t, s, g.ID, item("Late Comer", "late@example.edu"))

	// A second schedule, cancelled.
	other := mustCreate(t, s, mustGroup(t, s, func(g *issuance.Group) { g.Name = "Other" }).ID, item("Never Published", "never@example.edu"))
	sch2, err := s.SchedulePublish(ctx, scheduler, issuance.Selection{IDs: []string{other[0].ID}}, at)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CancelPublishSchedule(ctx, "user:8:cat@example.edu", sch2.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.CancelPublishSchedule(ctx, actor, sch2.ID)
	mustCode(t, err, apperr.Conflict)

	// 9:00, and a new worker instance (the "restarted" process).
	clock.Advance(time.Minute)
	w2 := scheduleWorker(s, clock)
	issuancetest.Drain(t, w2)

	got, err := s.PublishScheduleByID(ctx, sch.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != issuance.ScheduleDone || got.Published != 2 || got.Skipped != 2 {
		t.Errorf("after its time: %+v, want done, 2 published, 2 skipped", got)
	}
	for _, c := range []struct {
		id    string
		state issuance.State
	}{{cs[0].ID, issuance.Published}, {cs[3].ID, issuance.Published}, {late[0].ID, issuance.Unpublished}, {other[0].ID, issuance.Unpublished}} {
		cr, err := s.Credential(ctx, c.id)
		if err != nil {
			t.Fatal(err)
		}
		if cr.State != c.state {
			t.Errorf("%s is %s, want %s", cr.Recipient.Name, cr.State, c.state)
		}
		if c.state == issuance.Published && (cr.PublishedAt == nil || !cr.PublishedAt.Equal(at)) {
			t.Errorf("%s published at %v, want %v", cr.Recipient.Name, cr.PublishedAt, at)
		}
	}
	// Audited as the scheduler, with its emails queued as a publish does.
	if n := countWhere(t, s, `SELECT count(*) FROM audit_log WHERE action = 'publish' AND actor = $1`, scheduler); n != 2 {
		t.Errorf("%d publish audit rows by the scheduler, want 2", n)
	}
	if n := countWhere(t, s, `SELECT count(*) FROM credential_emails WHERE credential_id = ANY(ARRAY[$1, $2])`, cs[0].ID, cs[3].ID); n != 2 {
		t.Errorf("%d emails queued, want 2", n)
	}
	c2, _ := s.PublishScheduleByID(ctx, sch2.ID)
	if c2.State != issuance.ScheduleCancelled {
		t.Errorf("cancelled schedule is %s", c2.State)
	}
	// Both jobs are finished: nothing runs again.
	if n := countWhere(t, s, `SELECT count(*) FROM jobs WHERE kind = $1 AND state <> 'done'`, issuance.PublishScheduleJob); n != 0 {
		t.Errorf("%d scheduled-publish jobs not done", n)
	}
	clock.Advance(48 * time.Hour)
	if n, _ := scheduleWorker(s, clock).RunOnce(ctx); n != 0 {
		t.Errorf("a finished schedule ran again")
	}
	_ = d
}

// A scheduled publish that comes due before the organisation is named
// publishes nothing and says why; the time must be in the future and at
// most a year ahead, and a refused schedule changes nothing.
func TestScheduledPublishRefusals(t *testing.T) {
	s, d := mustService(t)
	ctx := context.Background()
	clock := testenv.NewClock(time.Date(2026, 12, 8, 17, 0, 0, 0, time.UTC))
	s.Now = clock.Now
	g := mustGroup(t, s, nil)
	cs := mustCreate(t, s, g.ID, item("Ada Lovelace", "ada@example.edu"))
	sel := issuance.Selection{IDs: []string{cs[0].ID}}
	before := tableCounts(t, d)
	for _, at := range []time.Time{clock.Now(), clock.Now().Add(-time.Hour), clock.Now().AddDate(1, 0, 1)} {
		_, err := s.SchedulePublish(ctx, actor, sel, at)
		if fe := fieldErrs(err); len(fe) != 1 || fe[0] != "-1:publish_at" {
			t.Errorf("at %s: %v (fields %v)", at, err, fe)
		}
	}
	assertUnchanged(t, d, before)

	sch, err := s.SchedulePublish(ctx, actor, sel, clock.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(`UPDATE organisation SET named_at = NULL`); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Hour)
	issuancetest.Drain(t, scheduleWorker(s, clock))
	got, _ := s.PublishScheduleByID(ctx, sch.ID)
	if got.State != issuance.ScheduleFailed || got.Published != 0 || got.Error == "" {
		t.Errorf("unnamed organisation: %+v", got)
	}
	if cr, _ := s.Credential(ctx, cs[0].ID); cr.State != issuance.Unpublished {
		t.Errorf("published while the organisation was not named")
	}
	_, err = s.SchedulePublish(ctx, actor, sel, clock.Now().Add(time.Hour))
	if apperr.Reason(err) != issuance.ReasonOrganisationNotSet {
		t.Errorf("scheduling while unnamed: %v", err)
	}
}

// With a listening worker running (as `laurel serve` does), a publish
// scheduled two seconds ahead is published on time: the worker sleeps
// until it is due rather than waiting for its safety poll.
func TestScheduledPublishFiresOnTimeWithAListeningWorker(t *testing.T) {
	url := testenv.DatabaseURL(t)
	d, err := db.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	s := issuance.New(d, "https://laurel.test")
	s.Log = issuancetest.Quiet
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := jobs.NewWorker(d, issuancetest.Quiet)
	w.Listen, w.SafetyPoll, w.Concurrency = url, time.Hour, 2
	w.Handle(issuance.PublishScheduleJob, s.HandlePublishSchedule)
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	g := mustGroup(t, s, nil)
	cs := mustCreate(t, s, g.ID, item("Ada Lovelace", "ada@example.edu"))
	time.Sleep(300 * time.Millisecond) // the worker is listening and idle
	at := time.Now().Add(2 * time.Second).Truncate(time.Millisecond)
	if _, err := s.SchedulePublish(ctx, actor, issuance.Selection{IDs: []string{cs[0].ID}}, at); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		cr, err := s.Credential(ctx, cs[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if cr.State == issuance.Published {
			if cr.PublishedAt.Before(at) {
				t.Errorf("published at %s, before its time %s", cr.PublishedAt, at)
			}
			if late := cr.PublishedAt.Sub(at); late > 10*time.Second {
				t.Errorf("published %s after its time", late)
			} else {
				t.Logf("published %s after its time", late.Round(time.Millisecond))
			}
			return
		}
	}
	t.Fatal("the scheduled publish never ran")
}

func countWhere(t *testing.T, s *issuance.Service, q string, args ...any) int {
	t.Helper()
	var n int
	if err := s.DB.Get(&n, q, args...); err != nil {
		t.Fatal(err)
	}
	return n
}
