package issuance_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/issuance"
)

// Emails recorded sent at the same moment (the bulk sender's connections
// each recording the message the server just accepted) are each recorded
// once, committed when MarkEmailDelivered returns, with the time each was
// accepted; recording an email that is no longer queued changes nothing.
func TestConcurrentSentRecordsAreEachCommitted(t *testing.T) {
	s, d := mustService(t)
	ctx := context.Background()
	g := mustGroup(t, s, nil)
	const n = 40
	items := make([]issuance.NewCredential, n)
	for i := range items {
		items[i] = item("Learner "+itoa(i), "learner"+itoa(i)+"@example.edu")
	}
	if _, err := s.CreateCredentials(ctx, actor, g.ID, issuance.FromCSV, items); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Publish(ctx, actor, issuance.Selection{GroupID: g.ID, AllUnpublished: true}); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	if err := d.Select(&ids, `SELECT id FROM credential_emails ORDER BY id`); err != nil || len(ids) != n {
		t.Fatalf("%d queued emails, %v; want %d", len(ids), err, n)
	}
	// Each email is accepted at its own time, so the rows show whose time
	// went where.
	base := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Second) }
	want := map[int64]time.Time{}
	for i, id := range ids {
		want[id] = at(i)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = issuance.MarkEmailDeliveredAt(s, ctx, id, at(i))
			// Committed on return: a fresh read sees it.
			var st string
			if err := d.Get(&st, `SELECT state FROM credential_emails WHERE id = $1`, id); err != nil || st != "sent" {
				t.Errorf("email %d is %q (%v) after MarkEmailDelivered returned", id, st, err)
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("email %d: %v", ids[i], err)
		}
	}
	var rows []struct {
		ID       int64     `db:"id"`
		State    string    `db:"state"`
		Attempts int       `db:"attempts"`
		SentAt   time.Time `db:"sent_at"`
	}
	if err := d.Select(&rows, `SELECT id, state, attempts, sent_at FROM credential_emails ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.State != "sent" || r.Attempts != 1 || !r.SentAt.Equal(want[r.ID]) {
			t.Errorf("email %d: %s after %d attempts at %s; want sent after 1 at %s", r.ID, r.State, r.Attempts, r.SentAt.UTC(), want[r.ID])
		}
	}
	// Once more (a re-run after a crash): nothing changes.
	if err := s.MarkEmailDelivered(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	var attempts int
	var sentAt time.Time
	if err := d.QueryRow(`SELECT attempts, sent_at FROM credential_emails WHERE id = $1`, ids[0]).Scan(&attempts, &sentAt); err != nil || attempts != 1 || !sentAt.Equal(at(0)) {
		t.Fatalf("recorded again: %d attempts at %s, %v", attempts, sentAt, err)
	}
}
