package uitest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/internal/locale"
	"github.com/laurel-edu/laurel/internal/mail"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/delivery"
	"github.com/laurel-edu/laurel/issuance/reminders"
)

// sendAll runs the email jobs that are due once, through smtpURL.
func (e *env) sendAll(smtpURL string) {
	e.t.Helper()
	sender, err := mail.NewSender(smtpURL, "Laurel <no-reply@laurel.test>", 2)
	if err != nil {
		e.t.Fatal(err)
	}
	defer sender.Close()
	w := jobs.NewWorker(e.db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	w.HandleBatch(issuance.EmailJob, delivery.New(e.svc, reminders.New(e.svc, nil), nil).SendEmailBatch(sender, "Laurel <no-reply@laurel.test>"))
	w.SetPolicy(issuance.EmailJob, delivery.EmailRetry)
	for {
		n, err := w.RunOnce(context.Background())
		if err != nil {
			e.t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

func (e *env) publishAll(g issuance.Group) {
	e.t.Helper()
	if _, err := e.svc.Publish(context.Background(), "test", issuance.Selection{GroupID: g.ID, AllUnpublished: true}); err != nil {
		e.t.Fatal(err)
	}
}

// /admin/mail shows staff the emails not delivered yet, by state, with the
// last error and "Retry now" for failed ones; a team member sees only their
// groups' emails and retries only those; a viewer has no such page.
func TestMailPageShowsUndeliveredMailByScope(t *testing.T) {
	e := mustEnv(t)
	catcher, err := mail.NewCatcher("")
	if err != nil {
		t.Fatal(err)
	}
	defer catcher.Close()
	catcher.Reject("learner2@example.edu")

	// Data Science 101: 3 published; learner2's address bounces.
	e.seed(e.group.ID, 3)
	e.publishAll(e.group)
	e.sendAll(catcher.URL())
	if got := catcher.Len(); got != 2 {
		t.Fatalf("%d delivered, want 2", got)
	}
	// Other Course: 2 published while the server is down (the URL's
	// password must never reach the page).
	addr := catcher.Addr()
	catcher.Close()
	e.seed(e.other.ID, 2)
	e.publishAll(e.other)
	e.sendAll("smtp://laurel:pa55word-secret@" + addr)

	admin := e.signIn("admin@example.edu", auth.Admin)
	r := admin.get("/groups")
	contains(t, r.body, `href="/admin/mail" id="nav-mail"`)
	r = admin.get("/admin/mail")
	if r.code != 200 {
		t.Fatalf("admin /admin/mail: %d\n%s", r.code, r.body)
	}
	contains(t, r.body, `id="count-waiting">0<`, `id="count-retrying">2<`, `id="count-failed">1<`, `id="count-sent">2<`,
		"Oldest queued email: queued "+locale.Default().DayOf(time.Now()), "learner2@example.edu", "550",
		"connect to SMTP server", "Other Course", "Data Science 101")
	if strings.Contains(r.body, "pa55word-secret") {
		t.Fatal("the page shows the SMTP password")
	}
	var bounced, failing int64
	if err := e.db.Get(&bounced, `SELECT id FROM credential_emails WHERE state = 'failed'`); err != nil {
		t.Fatal(err)
	}
	if err := e.db.Get(&failing, `SELECT min(id) FROM credential_emails WHERE state = 'queued'`); err != nil {
		t.Fatal(err)
	}
	contains(t, r.body, fmt.Sprintf(`id="retry-%d"`, bounced))
	if strings.Contains(r.body, fmt.Sprintf(`id="retry-%d"`, failing)) {
		t.Error("Retry now offered for an email that is still being retried")
	}

	// The credential's page tells the same story, and links here.
	var failingCred string
	if err := e.db.Get(&failingCred, `SELECT credential_id FROM credential_emails WHERE id = $1`, failing); err != nil {
		t.Fatal(err)
	}
	r = admin.get("/credentials/" + failingCred)
	contains(t, r.body, "<th>Last tried</th>", `<span class="state">Waiting to be sent</span>`, "connect to SMTP server", `href="/admin/mail" id="mail-overview"`)

	// A team member of Other Course sees its two failing emails only.
	tm := e.signIn("tm@example.edu", auth.TeamMember, e.other.ID)
	r = tm.get("/admin/mail")
	if r.code != 200 {
		t.Fatalf("team member /admin/mail: %d", r.code)
	}
	contains(t, r.body, `id="count-retrying">2<`, `id="count-failed">0<`, `id="count-sent">0<`, "Emails of the groups you work in.")
	if strings.Contains(r.body, fmt.Sprintf(`id="email-%d"`, bounced)) || strings.Contains(r.body, "Data Science 101") {
		t.Error("team member sees another group's email")
	}
	before := e.snapshot()
	forbidden(t, tm.post(fmt.Sprintf("/admin/mail/%d/retry", bounced), url.Values{}), "team member retries another group's email")
	if e.snapshot() != before {
		t.Fatal("a refused retry changed something")
	}

	// A viewer has neither the link nor the page.
	v := e.signIn("viewer@example.edu", auth.Viewer)
	if strings.Contains(v.get("/groups").body, "/admin/mail") {
		t.Error("viewer sees the Mail link")
	}
	forbidden(t, v.get("/admin/mail"), "viewer /admin/mail")

	// The admin retries the bounced email: queued again with a new job.
	jobsBefore := e.count(`SELECT count(*) FROM jobs WHERE kind = $1`, issuance.EmailJob)
	r = admin.follow(admin.post(fmt.Sprintf("/admin/mail/%d/retry", bounced), url.Values{}))
	contains(t, r.body, "Email queued for sending again.", `id="count-failed">0<`)
	if got := e.count(`SELECT count(*) FROM jobs WHERE state = 'queued' AND kind = $1`, issuance.EmailJob); got != 3 || e.count(`SELECT count(*) FROM jobs WHERE kind = $1`, issuance.EmailJob) != jobsBefore+1 {
		t.Fatalf("after retry: %d queued jobs", got)
	}
	// Retrying it again while it is queued says so and changes nothing.
	before = e.snapshot()
	r = admin.follow(admin.post(fmt.Sprintf("/admin/mail/%d/retry", bounced), url.Values{}))
	contains(t, r.body, "only failed emails can be retried")
	if e.snapshot() != before {
		t.Fatal("a refused retry changed something")
	}
	if r := admin.post("/admin/mail/999999/retry", url.Values{}); r.code != 404 {
		t.Fatalf("retry of an unknown email: %d", r.code)
	}
}

// A failed email of a credential revoked since is listed without "Retry now".
func TestMailPageOffersNoRetryForRevokedCredential(t *testing.T) {
	e := mustEnv(t)
	catcher, err := mail.NewCatcher("")
	if err != nil {
		t.Fatal(err)
	}
	defer catcher.Close()
	catcher.Reject("learner1@example.edu")
	e.seed(e.group.ID, 1)
	e.publishAll(e.group)
	e.sendAll(catcher.URL())
	var id int64
	var cred string
	if err := e.db.QueryRow(`SELECT id, credential_id FROM credential_emails WHERE state = 'failed'`).Scan(&id, &cred); err != nil {
		t.Fatal(err)
	}
	admin := e.signIn("admin@example.edu", auth.Admin)
	contains(t, admin.get("/admin/mail").body, fmt.Sprintf(`id="retry-%d"`, id))
	if _, err := e.svc.Revoke(context.Background(), "test", cred, "issued in error"); err != nil {
		t.Fatal(err)
	}
	r := admin.get("/admin/mail")
	contains(t, r.body, fmt.Sprintf(`id="email-%d"`, id))
	if strings.Contains(r.body, fmt.Sprintf(`id="retry-%d"`, id)) {
		t.Fatal("Retry now offered for a revoked credential's email")
	}
	before := e.snapshot()
	r = admin.follow(admin.post(fmt.Sprintf("/admin/mail/%d/retry", id), url.Values{}))
	contains(t, r.body, "only published credentials are emailed")
	if e.snapshot() != before {
		t.Fatal("a refused retry changed something")
	}
}
