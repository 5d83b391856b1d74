package issuancetest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/internal/mail"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/delivery"
	"github.com/laurel-edu/laurel/issuance/reminders"
)

// MustCatcher is a mail catcher listening on addr.
func MustCatcher(t testing.TB, addr string) *mail.Catcher {
	t.Helper()
	c, err := mail.NewCatcher(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// EmailWorker runs delivery's email job handler (signing through signer,
// which may be nil) against smtpURL. batch picks the batch handler (what
// the app runs) over one job at a time.
func EmailWorker(t testing.TB, s *issuance.Service, d *sqlx.DB, smtpURL string, batch bool, signer delivery.Signer) *jobs.Worker {
	t.Helper()
	sender, err := mail.NewSender(smtpURL, "Laurel <no-reply@laurel.test>", 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sender.Close() })
	w := jobs.NewWorker(d, Quiet)
	dlv := delivery.New(s, reminders.New(s, nil), signer)
	h := dlv.SendEmailBatch(sender, "Laurel <no-reply@laurel.test>")
	w.Handle(issuance.EmailBulkJob, dlv.SendEmailBulk(sender, "Laurel <no-reply@laurel.test>"))
	w.SetPolicy(issuance.EmailBulkJob, delivery.EmailBulkRetry)
	if batch {
		w.HandleBatch(issuance.EmailJob, h)
	} else {
		w.Handle(issuance.EmailJob, func(ctx context.Context, j jobs.Job) error { return h(ctx, []jobs.Job{j})[0] })
	}
	return w
}

// BenchEmailWorker is the email worker the app runs (8 goroutines, batches
// of 50, polling every 50 ms, signing through signer, which may be nil)
// sending to a fresh mail catcher through a real SMTP sender; log gets the
// worker's messages. The caller registers any other handlers and runs it.
func BenchEmailWorker(b *testing.B, s *issuance.Service, d *sqlx.DB, log *slog.Logger, signer delivery.Signer) (*jobs.Worker, *mail.Catcher) {
	b.Helper()
	catcher := MustCatcher(b, "")
	sender, err := mail.NewSender(catcher.URL(), "Laurel <no-reply@laurel.test>", 8)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sender.Close() })
	w := jobs.NewWorker(d, log)
	w.Concurrency, w.BatchSize, w.Poll = 8, 50, 50*time.Millisecond
	dlv := delivery.New(s, reminders.New(s, nil), signer)
	w.HandleBatch(issuance.EmailJob, dlv.SendEmailBatch(sender, "Laurel <no-reply@laurel.test>"))
	w.Handle(issuance.EmailBulkJob, dlv.SendEmailBulk(sender, "Laurel <no-reply@laurel.test>"))
	w.SetPolicy(issuance.EmailBulkJob, delivery.EmailBulkRetry)
	w.Handle(issuance.PublishJob, s.HandlePublish())
	return w, catcher
}

// Drain runs w until no job is due.
func Drain(t testing.TB, w *jobs.Worker) {
	t.Helper()
	for {
		n, err := w.RunOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}
