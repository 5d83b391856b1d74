package delivery_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/internal/mail"
	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/internal/issuancetest"
	"github.com/laurel-edu/laurel/issuance/reminders"
)

// chicago is the organisation's zone in these tests: days count there.
var chicago = mustZone("America/Chicago")

func mustZone(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// setZone sets the organisation's time zone.
func setZone(t testing.TB, s *issuance.Service, zone string) {
	t.Helper()
	ctx := context.Background()
	o, err := s.Organisation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	o.TimeZone = zone
	if _, err := s.UpdateOrganisation(ctx, actor, issuance.OrganisationUpdate{Organisation: o}); err != nil {
		t.Fatal(err)
	}
}

// reminderWorker is one process's worker: the email handlers and the
// reminder scan, on clock.
func reminderWorker(t testing.TB, s *issuance.Service, d *sqlx.DB, smtpURL string, clock *testenv.Clock) *jobs.Worker {
	w := emailWorker(t, s, d, smtpURL, true)
	w.Now = clock.Now
	w.Handle(reminders.Job, reminders.New(s, nil).Handle)
	return w
}

// tick is the scheduled scan coming due: one reminders.Job, run with the
// emails it queues.
func tick(t testing.TB, d *sqlx.DB, w *jobs.Worker) {
	t.Helper()
	if _, err := jobs.Enqueue(context.Background(), d, reminders.Job, struct{}{}); err != nil {
		t.Fatal(err)
	}
	drain(t, w)
}

// setClock moves clock (stopped) forward to at.
func setClock(clock *testenv.Clock, at time.Time) { clock.Advance(at.Sub(clock.Now())) }

// sentTo lists the subjects of the messages to addr, in order.
func sentTo(c *mail.Catcher, addr string) []string {
	var out []string
	for _, m := range c.Messages() {
		for _, to := range m.To {
			if to == addr {
				out = append(out, m.Subject)
			}
		}
	}
	return out
}

func date(s string) *string { return &s }

// Reminders go out once at 30 and 7 days before the expiry date and an
// expired email once after it, at the organisation's 8:00, across a new
// worker process; a credential published 5 days before expiry gets only
// the 7-day reminder; a revoked one and one without an expiry date get
// nothing; a group's own settings (14 days, no expired email) apply to it.
func TestExpiryRemindersFireOnceAtEachOffsetAndAfterExpiry(t *testing.T) {
	s, d := mustService(t)
	ctx := context.Background()
	catcher := mustCatcher(t, "")
	clock := testenv.NewClock(time.Date(2027, 1, 20, 12, 0, 0, 0, chicago))
	s.Now = clock.Now
	setZone(t, s, "America/Chicago")
	g := mustGroup(t, s, nil)
	own := mustGroup(t, s, func(g *issuance.Group) { g.Name = "Own settings" })
	if _, err := reminders.New(s, nil).SetGroup(ctx, actor, own.ID, &reminders.Settings{Offsets: []int{14}}); err != nil {
		t.Fatal(err)
	}
	exp := func(name, email, on string) issuance.NewCredential {
		it := item(name, email)
		it.ExpiresOn = on
		return it
	}
	cs := mustCreate(t, s, g.ID, exp("Ada", "ada@example.edu", "2027-03-10"), exp("Late", "late@example.edu", "2027-03-10"),
		exp("Revoked", "revoked@example.edu", "2027-03-10"), item("Forever", "forever@example.edu"))
	ada, late, revoked, forever := cs[0], cs[1], cs[2], cs[3]
	owned := mustCreate(t, s, own.ID, exp("Own", "own@example.edu", "2027-03-10"))[0]
	if _, err := s.Publish(ctx, actor, issuance.Selection{IDs: []string{ada.ID, revoked.ID, forever.ID, owned.ID}}); err != nil {
		t.Fatal(err)
	}
	w := reminderWorker(t, s, d, catcher.URL(), clock)
	tick(t, d, w)
	if n := catcher.Len(); n != 4 {
		t.Fatalf("%d messages after publishing 4, want the 4 publish emails", n)
	}
	catcher.Reset()
	if _, err := s.Revoke(ctx, actor, revoked.ID, "Issued in error"); err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		at   time.Time
		want map[string]string // recipient → the subject's start of the one email sent
	}{
		{time.Date(2027, 2, 8, 7, 59, 0, 0, chicago), nil}, // 30 days before, but before 8:00
		{time.Date(2027, 2, 8, 8, 0, 0, 0, chicago), map[string]string{"ada@example.edu": "Your credential for Data Science Foundations expires on 10 Mar 2027"}},
		{time.Date(2027, 2, 8, 17, 0, 0, 0, chicago), nil},
		{time.Date(2027, 2, 9, 9, 0, 0, 0, chicago), nil},
		{time.Date(2027, 2, 24, 9, 0, 0, 0, chicago), map[string]string{"own@example.edu": "Your credential for Own settings expires on 10 Mar 2027"}},
		{time.Date(2027, 3, 3, 9, 0, 0, 0, chicago), map[string]string{"ada@example.edu": "Your credential for Data Science Foundations expires on 10 Mar 2027"}},
		{time.Date(2027, 3, 4, 9, 0, 0, 0, chicago), nil},
		{time.Date(2027, 3, 5, 9, 0, 0, 0, chicago), nil},
		{time.Date(2027, 3, 10, 9, 0, 0, 0, chicago), nil},
		{time.Date(2027, 3, 11, 9, 0, 0, 0, chicago), map[string]string{
			"ada@example.edu":  "Your credential for Data Science Foundations has expired",
			"late@example.edu": "Your credential for Data Science Foundations has expired"}},
		{time.Date(2027, 3, 12, 9, 0, 0, 0, chicago), nil},
		{time.Date(2027, 3, 25, 9, 0, 0, 0, chicago), nil},
	}
	for i, st := range steps {
		setClock(clock, st.at)
		if i == 5 {
			// A new process: the next reminders come from a new worker.
			w = reminderWorker(t, s, d, catcher.URL(), clock)
		}
		if i == 7 {
			// Late is published 5 days before its expiry date: it gets the
			// 7-day reminder only, once.
			if _, err := s.Publish(ctx, actor, issuance.Selection{IDs: []string{late.ID}}); err != nil {
				t.Fatal(err)
			}
			tick(t, d, w)
			tick(t, d, w)
			if got := sentTo(catcher, "late@example.edu"); len(got) != 2 || !strings.Contains(got[1], "expires on 10 Mar 2027") {
				t.Fatalf("late publish: sent %q, want the publish email and one reminder", got)
			}
		}
		before := catcher.Len()
		tick(t, d, w)
		tick(t, d, w) // a second run the same hour sends nothing more
		msgs := catcher.Messages()[before:]
		got := map[string]string{}
		for _, m := range msgs {
			if _, dup := got[m.To[0]]; dup {
				t.Fatalf("step %d (%s): two emails to %s", i, st.at, m.To[0])
			}
			got[m.To[0]] = m.Subject
		}
		if len(got) != len(st.want) {
			t.Fatalf("step %d (%s): sent %v, want %v", i, st.at, got, st.want)
		}
		for to, subj := range st.want {
			if got[to] != subj {
				t.Fatalf("step %d (%s): to %s %q, want %q", i, st.at, to, got[to], subj)
			}
		}
	}
	for _, who := range []string{revoked.Recipient.Email, forever.Recipient.Email} {
		if got := sentTo(catcher, who); len(got) != 0 {
			t.Errorf("%s got %q", who, got)
		}
	}
	for _, c := range []issuance.Credential{revoked, forever} {
		if es, err := s.Emails(ctx, c.ID); err != nil || len(es) != 1 {
			t.Errorf("%s: emails %+v, %v; want the publish email only", c.Recipient.Name, es, err)
		}
	}
	if got := sentTo(catcher, "own@example.edu"); len(got) != 1 {
		t.Errorf("own settings (14 days, no expired email): sent %q", got)
	}
	// The body speaks of the expiry date; the credential's emails and
	// history record the reminders.
	var body string
	for _, m := range catcher.Messages() {
		if m.To[0] == "ada@example.edu" && strings.Contains(m.Subject, "has expired") {
			body = m.Text
		}
	}
	if err := contains(body, "Hello Ada,", "expired on 10 Mar 2027", "https://laurel.test/c/"+ada.ID); err != nil {
		t.Error(err)
	}
	es, err := s.Emails(ctx, ada.ID)
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, e := range es {
		reasons = append(reasons, e.Reason+":"+e.State)
	}
	if want := "expired:sent reminder:sent reminder:sent published:sent"; strings.Join(reasons, " ") != want {
		t.Errorf("emails of the credential: %v, want %s", reasons, want)
	}
	var audited int
	if err := d.Get(&audited, `SELECT count(*) FROM audit_log WHERE entity_id = $1 AND action = 'remind'`, ada.ID); err != nil || audited != 3 {
		t.Errorf("audited reminders: %d, %v; want 3", audited, err)
	}
}

// An amended expiry date plans anew: the reminder queued for the old date
// is not sent, and the new date's reminders go out when due.
func TestExpiryReminderReplansWhenTheDateIsAmended(t *testing.T) {
	s, d := mustService(t)
	ctx := context.Background()
	catcher := mustCatcher(t, "")
	clock := testenv.NewClock(time.Date(2027, 2, 8, 9, 0, 0, 0, time.UTC))
	s.Now = clock.Now
	setZone(t, s, "UTC")
	g := mustGroup(t, s, nil)
	it := item("Ada", "ada@example.edu")
	it.ExpiresOn = "2027-03-10"
	c := mustCreate(t, s, g.ID, it)[0]
	if _, err := s.Publish(ctx, actor, issuance.Selection{IDs: []string{c.ID}}); err != nil {
		t.Fatal(err)
	}
	w := reminderWorker(t, s, d, catcher.URL(), clock)
	drain(t, w)
	catcher.Reset()
	// The scan queues the 30-day reminder; before it goes out, staff move
	// the expiry date.
	n, err := reminders.New(s, nil).SendDue(ctx)
	if err != nil || n != 1 {
		t.Fatalf("due: %d, %v", n, err)
	}
	if _, err := s.AmendCredential(ctx, actor, c.ID, issuance.Amendment{ExpiresOn: date("2027-06-10")}); err != nil {
		t.Fatal(err)
	}
	tick(t, d, w)
	if n := catcher.Len(); n != 0 {
		t.Fatalf("%d messages: the old date's reminder went out", n)
	}
	es, _ := s.Emails(ctx, c.ID)
	if es[0].Reason != "reminder" || es[0].State != "failed" || !strings.Contains(es[0].LastError, "expiry date changed") {
		t.Fatalf("the old date's reminder: %+v", es[0])
	}
	// It cannot be retried: the new date has its own reminders.
	if err := s.RetryEmail(ctx, actor, es[0].ID); apperr.Code(err) != apperr.Conflict {
		t.Fatalf("retry the old date's reminder: %v, want a conflict", err)
	}
	if ov, err := s.MailOverview(ctx, nil); err != nil || len(ov.Problems) != 1 || ov.Problems[0].Retryable {
		t.Fatalf("mail overview: %+v, %v; want the old reminder, not retryable", ov.Problems, err)
	}
	setClock(clock, time.Date(2027, 5, 11, 9, 0, 0, 0, time.UTC)) // 30 days before 10 June
	tick(t, d, w)
	tick(t, d, w)
	msgs := catcher.Messages()
	if len(msgs) != 1 || msgs[0].Subject != "Your credential for Data Science Foundations expires on 10 Jun 2027" {
		t.Fatalf("after the amendment: %d messages %v", len(msgs), msgs)
	}
}

// Two processes scanning at once, each running the scan twice (a duplicate
// delivery), and two sending workers send each reminder exactly once.
func TestExpiryRemindersExactlyOnceAcrossTwoProcesses(t *testing.T) {
	s, d := mustService(t)
	ctx := context.Background()
	catcher := mustCatcher(t, "")
	clock := testenv.NewClock(time.Date(2027, 2, 8, 9, 0, 0, 0, time.UTC))
	s.Now = clock.Now
	setZone(t, s, "UTC")
	g := mustGroup(t, s, nil)
	const n = 300
	items := make([]issuance.NewCredential, n)
	for i := range items {
		items[i] = item(fmt.Sprintf("Person %d", i), fmt.Sprintf("p%d@example.edu", i))
		items[i].ExpiresOn = "2027-03-01" // 21 days away: the 30-day reminder
	}
	mustCreate(t, s, g.ID, items...)
	if _, err := s.Publish(ctx, actor, issuance.Selection{GroupID: g.ID, AllUnpublished: true}); err != nil {
		t.Fatal(err)
	}
	drain(t, reminderWorker(t, s, d, catcher.URL(), clock))
	catcher.Reset()

	// Process two: its own core service and worker on the same database.
	s2 := issuance.New(d, s.BaseURL)
	s2.Log, s2.Now = issuancetest.Quiet, clock.Now
	workers := []*jobs.Worker{reminderWorker(t, s, d, catcher.URL(), clock), reminderWorker(t, s2, d, catcher.URL(), clock)}
	for range 4 {
		if _, err := jobs.Enqueue(ctx, d, reminders.Job, struct{}{}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() { drain(t, w) })
	}
	wg.Wait()
	for _, w := range workers {
		drain(t, w)
	}
	msgs, err := catcher.WaitFor(n, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if len(catcher.Messages()) != n {
		t.Fatalf("%d messages, want %d", len(catcher.Messages()), n)
	}
	seen := map[string]bool{}
	for _, m := range msgs {
		if seen[m.To[0]] {
			t.Fatalf("two reminders to %s", m.To[0])
		}
		seen[m.To[0]] = true
	}
}
