package uitest

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/internal/mail"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/delivery"
	"github.com/laurel-edu/laurel/issuance/reminders"
)

// A large publish is sent in the background; its group's page says how far
// the sending is ("Sending: 250 of 1,200 emails"), and says nothing once
// every email is out.
func TestGroupPageShowsHowFarALargePublishIsSent(t *testing.T) {
	e := mustEnv(t)
	catcher, err := mail.NewCatcher("")
	if err != nil {
		t.Fatal(err)
	}
	defer catcher.Close()
	sender, err := mail.NewSender(catcher.URL(), "Laurel <no-reply@laurel.test>", 2)
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	w := jobs.NewWorker(e.db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	w.Handle(issuance.EmailBulkJob, delivery.New(e.svc, reminders.New(e.svc, nil), nil).SendEmailBulk(sender, "Laurel <no-reply@laurel.test>"))
	w.SetPolicy(issuance.EmailBulkJob, delivery.EmailBulkRetry)

	const n = 1200
	e.seed(e.group.ID, n)
	admin := e.signIn("admin@example.edu", auth.Admin)
	page := "/groups/" + strconv.FormatInt(e.group.ID, 10)
	if r := admin.get(page); strings.Contains(r.body, `id="sending"`) {
		t.Fatalf("the page speaks of sending before anything was published:\n%s", r.body)
	}
	res, err := e.svc.Publish(context.Background(), "test", issuance.Selection{GroupID: e.group.ID, AllUnpublished: true})
	if err != nil || res.Emails != n {
		t.Fatalf("publish: %+v, %v", res, err)
	}
	contains(t, admin.get(page).body, "Sending: 0 of 1,200 emails.")
	// One job of the publish: 250 emails.
	if got, err := w.RunOnce(context.Background()); err != nil || got != 1 {
		t.Fatalf("RunOnce = %d, %v; want one job", got, err)
	}
	if catcher.Len() != 250 {
		t.Fatalf("%d emails sent by one job, want 250", catcher.Len())
	}
	contains(t, admin.get(page).body, "Sending: 250 of 1,200 emails.")
	for {
		got, err := w.RunOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got == 0 {
			break
		}
	}
	if catcher.Len() != n {
		t.Fatalf("%d emails sent, want %d", catcher.Len(), n)
	}
	if r := admin.get(page); strings.Contains(r.body, `id="sending"`) {
		t.Fatalf("the page still speaks of sending once all is sent:\n%s", r.body)
	}
}
