package delivery_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/internal/mail"
	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/delivery"
)

// publishN creates and publishes n credentials in a new group, one recipient
// each (r0@example.edu, r1@...), and returns them.
func publishN(t *testing.T, s *issuance.Service, n int) []issuance.Credential {
	t.Helper()
	g := mustGroup(t, s, nil)
	items := make([]issuance.NewCredential, n)
	for i := range items {
		items[i] = item(fmt.Sprintf("Recipient %d", i), fmt.Sprintf("r%d@example.edu", i))
	}
	cs := mustCreate(t, s, g.ID, items...)
	if _, err := s.Publish(context.Background(), actor, issuance.Selection{GroupID: g.ID, AllUnpublished: true}); err != nil {
		t.Fatal(err)
	}
	return cs
}

// Every email is recorded sent (and its job done) as soon as the server
// accepts it, before the next one of the batch goes out: a crash can then
// repeat only the message in flight.
func TestEachEmailIsRecordedSentBeforeTheNextIsSent(t *testing.T) {
	s, d := mustService(t)
	catcher := mustCatcher(t, "")
	w := emailWorker(t, s, d, catcher.URL(), true)
	const n = 30
	publishN(t, s, n)
	var mu sync.Mutex
	var problems []string
	arrived := 0
	catcher.OnData(func(mail.Received) error {
		mu.Lock()
		defer mu.Unlock()
		var sent, done int
		if err := d.Get(&sent, `SELECT count(*) FROM credential_emails WHERE state = 'sent'`); err != nil {
			problems = append(problems, err.Error())
		}
		if err := d.Get(&done, `SELECT count(*) FROM jobs WHERE state = 'done'`); err != nil {
			problems = append(problems, err.Error())
		}
		if sent != arrived || done != arrived {
			problems = append(problems, fmt.Sprintf("message %d arrived with %d emails recorded sent and %d jobs done", arrived+1, sent, done))
		}
		arrived++
		return nil
	})
	if got, err := w.RunOnce(context.Background()); err != nil || got != n {
		t.Fatalf("RunOnce = %d, %v; want the %d jobs in one batch", got, err, n)
	}
	if len(problems) > 0 {
		t.Fatalf("%d of %d messages went out before the previous ones were recorded; first: %s", len(problems), n, problems[0])
	}
	if st := emailStates(t, d); st["sent"] != n {
		t.Fatalf("emails %v", st)
	}
}

// outageWorker is the email worker with the production retry policy on a
// clock the test moves, sending to a mail server that is down: addr is
// where it listened, for the test to bring it back.
func outageWorker(t *testing.T, s *issuance.Service, d *sqlx.DB) (w *jobs.Worker, clk *testenv.Clock, addr string) {
	down := mustCatcher(t, "")
	addr, url := down.Addr(), down.URL()
	down.Close()
	w = emailWorker(t, s, d, url, true)
	clk = testenv.NewClock(time.Now().Add(time.Second))
	w.Now = clk.Now
	w.SetPolicy(issuance.EmailJob, delivery.EmailRetry)
	return w, clk, addr
}

// A mail server down for almost five days: the emails wait (none is given
// up), and once it is back each is delivered exactly once, promptly.
func TestLongSMTPOutageRetriesForDaysThenDeliversOnce(t *testing.T) {
	s, d := mustService(t)
	w, clk, addr := outageWorker(t, s, d)
	const n = 20
	publishN(t, s, n)

	start := clk.Now()
	const step = 30 * time.Minute
	for clk.Now().Sub(start) < 5*24*time.Hour-step {
		drain(t, w)
		if st := emailStates(t, d); st["queued"] != n {
			t.Fatalf("after %s of outage: emails %v, want all %d queued", clk.Now().Sub(start), st, n)
		}
		if st, _ := jobs.Stats(context.Background(), d, issuance.EmailJob); st["dead"] != 0 {
			t.Fatalf("after %s of outage: jobs %v", clk.Now().Sub(start), st)
		}
		clk.Advance(step)
	}
	var attempts int
	if err := d.Get(&attempts, `SELECT min(attempts) FROM credential_emails`); err != nil {
		t.Fatal(err)
	}
	if attempts < 200 {
		t.Fatalf("each email tried at least %d times over the outage, want retries every 30 min at most", attempts)
	}

	back := mustCatcher(t, addr)
	// The first due retry reaches the server; the rest, waiting for their
	// back-off, follow at once.
	clk.Advance(step)
	drain(t, w)
	drain(t, w)
	msgs, err := back.WaitFor(n, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(24 * time.Hour)
	drain(t, w)
	time.Sleep(100 * time.Millisecond)
	to := map[string]int{}
	for _, m := range back.Messages() {
		to[m.To[0]]++
	}
	if len(msgs) != n || len(to) != n {
		t.Fatalf("%d messages to %d recipients, want %d each once", len(back.Messages()), len(to), n)
	}
	if st := emailStates(t, d); st["sent"] != n {
		t.Fatalf("emails after the outage: %v", st)
	}
}

// After five days the email is failed, with why, where staff see it; retrying
// it queues it again and it goes out.
func TestEmailGivesUpAfterFiveDaysThenStaffRetry(t *testing.T) {
	s, d := mustService(t)
	ctx := context.Background()
	w, clk, addr := outageWorker(t, s, d)
	cs := publishN(t, s, 2)

	start := clk.Now()
	for clk.Now().Sub(start) < 5*24*time.Hour+time.Hour {
		drain(t, w)
		clk.Advance(30 * time.Minute)
	}
	drain(t, w)
	if st := emailStates(t, d); st["failed"] != 2 {
		t.Fatalf("after 5 days: %v, want both failed", st)
	}
	es, _ := s.Emails(ctx, cs[0].ID)
	if !strings.Contains(es[0].LastError, "gave up after") || !strings.Contains(es[0].LastError, "connect to SMTP server") {
		t.Fatalf("failed email's error %q", es[0].LastError)
	}
	if st, _ := jobs.Stats(ctx, d, issuance.EmailJob); st["dead"] != 2 {
		t.Fatalf("jobs %v, want 2 dead", st)
	}

	back := mustCatcher(t, addr)
	if err := s.RetryEmail(ctx, actor, es[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := s.RetryEmail(ctx, actor, es[0].ID); err == nil {
		t.Fatal("retrying an email that is already queued again succeeded")
	}
	drain(t, w)
	if _, err := back.WaitFor(1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if got := back.Messages(); len(got) != 1 || got[0].To[0] != cs[0].Recipient.Email {
		t.Fatalf("after retry: %d messages", len(got))
	}
	if es, _ := s.Emails(ctx, cs[0].ID); es[0].State != "sent" {
		t.Fatalf("retried email %+v", es[0])
	}
	if st := emailStates(t, d); st["failed"] != 1 || st["sent"] != 1 {
		t.Fatalf("emails %v", st)
	}
}

// When the mail server answers again, the emails waiting for their back-off
// (up to 30 minutes) go out at once instead of each at its own time.
func TestEmailsWaitingForBackoffGoOutWhenServerIsBack(t *testing.T) {
	s, d := mustService(t)
	w, clk, addr := outageWorker(t, s, d)
	const n = 20
	publishN(t, s, n)
	for range 12 { // a few hours of outage: back-offs near the cap
		drain(t, w)
		clk.Advance(30 * time.Minute)
	}
	var first, last time.Time
	if err := d.QueryRow(`SELECT min(run_at), max(run_at) FROM jobs WHERE state = 'queued' AND kind = $1`, issuance.EmailJob).Scan(&first, &last); err != nil {
		t.Fatal(err)
	}
	if last.Sub(first) < time.Minute {
		t.Fatalf("retries spread over %s only; the test needs them apart", last.Sub(first))
	}
	back := mustCatcher(t, addr)
	// Only the first retry is due; the others follow it at once.
	clk.Advance(first.Sub(clk.Now()))
	drain(t, w)
	if _, err := back.WaitFor(n, 5*time.Second); err != nil {
		t.Fatalf("%v: the emails waiting for their back-off did not follow", err)
	}
	if st := emailStates(t, d); st["sent"] != n {
		t.Fatalf("emails %v", st)
	}
}
