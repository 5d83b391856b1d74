package delivery_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/internal/mail"
	"github.com/laurel-edu/laurel/issuance"
)

// A publish of 1,000 emails goes out as bulk jobs of 250: each email is
// recorded sent as soon as the server accepted it, before the next one of
// its job goes out (so a crash repeats only the message in flight); a
// bounced one is failed with the server's reason and does not hold its job
// back; a job that could not send one of its emails is retried and then
// sends only that one.
func TestBulkEmailsAreRecordedOneByOneAndRetriedAlone(t *testing.T) {
	s, d := mustService(t)
	catcher := mustCatcher(t, "")
	w := emailWorker(t, s, d, catcher.URL(), true)
	const n = 1000
	publishN(t, s, n)
	if st, _ := jobs.Stats(context.Background(), d, issuance.EmailBulkJob); st["queued"] != n/250 {
		t.Fatalf("bulk jobs %v, want %d queued", st, n/250)
	}
	// Two recipients of the job claimed first (the oldest): one bounces,
	// one is refused once.
	var firstJob []string
	const fq = `SELECT to_address FROM credential_emails WHERE id IN (
			SELECT jsonb_array_elements_text(payload->'email_ids')::bigint FROM jobs
			WHERE id = (SELECT min(id) FROM jobs WHERE kind = $1))
		ORDER BY id LIMIT 2`
	if err := d.Select(&firstJob, fq, issuance.EmailBulkJob); err != nil || len(firstJob) != 2 {
		t.Fatalf("first job's recipients %v, %v", firstJob, err)
	}
	bounced, refused := firstJob[0], firstJob[1]
	catcher.Reject(bounced)
	var mu sync.Mutex
	var problems []string
	arrived, refusedOnce := 0, false
	catcher.OnData(func(m mail.Received) error {
		mu.Lock()
		defer mu.Unlock()
		if m.To[0] == refused && !refusedOnce {
			refusedOnce = true
			return fmt.Errorf("try again later")
		}
		var sent int
		if err := d.Get(&sent, `SELECT count(*) FROM credential_emails WHERE state = 'sent'`); err != nil {
			problems = append(problems, err.Error())
		}
		if sent != arrived {
			problems = append(problems, fmt.Sprintf("message %d arrived with %d emails recorded sent", arrived+1, sent))
		}
		arrived++
		return nil
	})
	// The first job: 250 emails, one bounced and one refused for now.
	if got, err := w.RunOnce(context.Background()); err != nil || got != 1 {
		t.Fatalf("RunOnce = %d, %v; want one bulk job", got, err)
	}
	if len(problems) > 0 {
		t.Fatalf("%d messages went out before the previous ones were recorded; first: %s", len(problems), problems[0])
	}
	if st := emailStates(t, d); st["sent"] != 248 || st["failed"] != 1 {
		t.Fatalf("after the first job: emails %v, want 248 sent and 1 failed", st)
	}
	es, _ := s.Emails(context.Background(), credentialOf(t, d, bounced))
	if len(es) != 1 || es[0].State != "failed" || es[0].LastError == "" {
		t.Fatalf("bounced email %+v", es)
	}
	if st, _ := jobs.Stats(context.Background(), d, issuance.EmailBulkJob); st["queued"] != n/250 {
		t.Fatalf("bulk jobs %v: the first should wait for its retry", st)
	}
	// Its retry, made due now, sends only the refused email.
	if _, err := d.Exec(`UPDATE jobs SET run_at = now() WHERE kind = $1 AND attempts > 0`, issuance.EmailBulkJob); err != nil {
		t.Fatal(err)
	}
	drain(t, w)
	if st := emailStates(t, d); st["sent"] != n-1 || st["failed"] != 1 {
		t.Fatalf("emails %v, want %d sent and 1 failed", st, n-1)
	}
	per := map[string]int{}
	for _, m := range catcher.Messages() {
		per[m.To[0]]++
	}
	if len(per) != n-1 || len(catcher.Messages()) != n-1 {
		t.Fatalf("%d messages to %d recipients, want %d each once", len(catcher.Messages()), len(per), n-1)
	}
	if st, _ := jobs.Stats(context.Background(), d, issuance.EmailBulkJob); st["done"] != n/250 {
		t.Fatalf("bulk jobs %v, want all done", st)
	}
}

func credentialOf(t *testing.T, d interface {
	Get(any, string, ...any) error
}, email string) string {
	t.Helper()
	var id string
	if err := d.Get(&id, `SELECT id FROM credentials WHERE recipient_email = $1`, email); err != nil {
		t.Fatal(err)
	}
	return id
}
