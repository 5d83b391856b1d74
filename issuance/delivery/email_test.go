package delivery_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/delivery"
	"github.com/laurel-edu/laurel/issuance/reminders"
)

func emailStates(t testing.TB, d *sqlx.DB) map[string]int {
	t.Helper()
	var rows []struct {
		State string `db:"state"`
		N     int    `db:"n"`
	}
	if err := d.Select(&rows, `SELECT state, count(*) AS n FROM credential_emails GROUP BY state`); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.State] = r.N
	}
	return out
}

func TestPublishedCredentialEmail(t *testing.T) {
	for _, batch := range []bool{false, true} {
		t.Run(map[bool]string{false: "one job at a time", true: "batch"}[batch], func(t *testing.T) { testPublishedCredentialEmail(t, batch) })
	}
}

func testPublishedCredentialEmail(t *testing.T, batch bool) {
	s, d := mustService(t)
	ctx := context.Background()
	catcher := mustCatcher(t, "")
	w := emailWorker(t, s, d, catcher.URL(), batch)
	// Grade is for the recipient (the default), the advisor's note for
	// staff only: the email shows the grade, never the note.
	g := mustGroup(t, s, func(g *issuance.Group) {
		g.Name = "Data <Science> & Ethics"
		g.Attributes = append(g.Attributes, issuance.Attribute{Key: "advisor_note", Label: "Advisor note", Visibility: issuance.VisibilityStaff})
	})
	ada := item(`Ada "<b>" Lovelace`, "ada@example.edu")
	ada.Attributes["advisor_note"] = "Staff-only note about Ada"
	ada.Attributes["completed"] = "2026-06-01"
	cs := mustCreate(t, s, g.ID, ada, item("Grace", "grace@example.edu"))
	if _, err := s.Publish(ctx, actor, issuance.Selection{IDs: []string{cs[0].ID}}); err != nil {
		t.Fatal(err)
	}
	drain(t, w)
	msgs, err := catcher.WaitFor(1, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1 (only the published credential)", len(msgs))
	}
	m := msgs[0]
	link := "https://laurel.test/c/" + cs[0].ID
	if m.To[0] != "ada@example.edu" || m.Subject != "Your credential for Data <Science> & Ethics" {
		t.Fatalf("to %v subject %q", m.To, m.Subject)
	}
	if err := contains(m.Text, link, "Data <Science> & Ethics", `Ada "<b>" Lovelace`, "DS 101", "Grade: 91.5", "Completed: 1 June 2026"); err != nil {
		t.Fatalf("text: %v\n%s", err, m.Text)
	}
	if err := contains(m.HTML, `href="`+link+`"`, "Data &lt;Science&gt; &amp; Ethics", "Ada &#34;&lt;b&gt;&#34; Lovelace", "Grade: 91.5"); err != nil {
		t.Fatalf("html: %v\n%s", err, m.HTML)
	}
	if strings.Contains(m.Text+m.HTML, "Staff-only note") || strings.Contains(m.Text+m.HTML, "Advisor note") {
		t.Fatal("the email shows a staff-only attribute")
	}
	if strings.Contains(m.HTML, "<b>") {
		t.Fatal("recipient name not escaped in HTML")
	}
	es, _ := s.Emails(ctx, cs[0].ID)
	if len(es) != 1 || es[0].State != "sent" || es[0].SentAt == nil || es[0].Attempts != 1 {
		t.Fatalf("email row %+v", es)
	}
	if st, _ := jobs.Stats(ctx, d, issuance.EmailJob); st["done"] != 1 || len(st) != 1 {
		t.Fatalf("jobs %v", st)
	}

	// Resend sends a second, reminder email.
	if err := s.Resend(ctx, actor, cs[0].ID); err != nil {
		t.Fatal(err)
	}
	drain(t, w)
	msgs, _ = catcher.WaitFor(2, 5*time.Second)
	if len(msgs) != 2 || !strings.HasPrefix(msgs[1].Subject, "Reminder") || !strings.Contains(msgs[1].Text, link) {
		t.Fatalf("resend: %d messages, last %q", len(msgs), msgs[len(msgs)-1].Subject)
	}

	// A job for an email that was revoked before the worker got to it sends nothing.
	if _, err := s.Publish(ctx, actor, issuance.Selection{IDs: []string{cs[1].ID}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Revoke(ctx, actor, cs[1].ID, "oops"); err != nil {
		t.Fatal(err)
	}
	drain(t, w)
	time.Sleep(100 * time.Millisecond)
	if n := len(catcher.Messages()); n != 2 {
		t.Fatalf("%d messages after a revoked credential's job ran", n)
	}
}

// An SMTP outage delays mail but loses none and sends none twice.
func TestSMTPOutageDelaysButDeliversExactlyOnce(t *testing.T) {
	s, d := mustService(t)
	ctx := context.Background()
	catcher := mustCatcher(t, "")
	addr, url := catcher.Addr(), catcher.URL()
	catcher.Close() // the mail server is down

	w := emailWorker(t, s, d, url, true)
	clk := testenv.NewClock(time.Now().Add(time.Second))
	w.Now = clk.Now
	w.BaseBackoff = time.Minute
	g := mustGroup(t, s, nil)
	cs := mustCreate(t, s, g.ID, item("A", "a@example.edu"), item("B", "b@example.edu"), item("C", "c@example.edu"))
	if _, err := s.Publish(ctx, actor, issuance.Selection{GroupID: g.ID, AllUnpublished: true}); err != nil {
		t.Fatal(err)
	}
	drain(t, w)
	if st := emailStates(t, d); st["queued"] != 3 {
		t.Fatalf("emails during outage: %v, want 3 queued", st)
	}
	es, _ := s.Emails(ctx, cs[0].ID)
	if es[0].Attempts != 1 || es[0].LastError == "" {
		t.Fatalf("failed attempt not recorded: %+v", es[0])
	}
	if st, _ := jobs.Stats(ctx, d, issuance.EmailJob); st["queued"] != 3 {
		t.Fatalf("jobs during outage: %v", st)
	}

	back := mustCatcher(t, addr) // the server comes back on the same address
	drain(t, w)                  // still backing off: nothing yet
	if n := len(back.Messages()); n != 0 {
		t.Fatalf("%d sent before the back-off elapsed", n)
	}
	clk.Advance(2 * time.Minute)
	drain(t, w)
	if _, err := back.WaitFor(3, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	// Later runs send nothing more.
	clk.Advance(24 * time.Hour)
	drain(t, w)
	time.Sleep(100 * time.Millisecond)
	msgs := back.Messages()
	if len(msgs) != 3 {
		t.Fatalf("%d messages, want exactly 3", len(msgs))
	}
	to := map[string]int{}
	for _, m := range msgs {
		to[m.To[0]]++
	}
	if len(to) != 3 {
		t.Fatalf("recipients %v", to)
	}
	if st := emailStates(t, d); st["sent"] != 3 {
		t.Fatalf("emails after outage: %v", st)
	}
}

func TestBouncedAddressIsMarkedFailedNotRetried(t *testing.T) {
	s, d := mustService(t)
	ctx := context.Background()
	catcher := mustCatcher(t, "")
	catcher.Reject("nobody@example.edu")
	w := emailWorker(t, s, d, catcher.URL(), true)
	g := mustGroup(t, s, nil)
	cs := mustCreate(t, s, g.ID, item("A", "a@example.edu"), item("N", "nobody@example.edu"), item("B", "b@example.edu"))
	if _, err := s.Publish(ctx, actor, issuance.Selection{GroupID: g.ID, AllUnpublished: true}); err != nil {
		t.Fatal(err)
	}
	drain(t, w)
	if got := catcher.Messages(); len(got) != 2 {
		t.Fatalf("%d delivered, want 2", len(got))
	}
	es, _ := s.Emails(ctx, cs[1].ID)
	if len(es) != 1 || es[0].State != "failed" || !strings.Contains(es[0].LastError, "rejected by the mail server") || !strings.Contains(es[0].LastError, "550") {
		t.Fatalf("bounced email %+v", es)
	}
	if st, _ := jobs.Stats(ctx, d, issuance.EmailJob); st["done"] != 3 {
		t.Fatalf("jobs %v: a bounce must not be retried", st)
	}
}

// The publish email uses the organisation's text with its placeholders
// filled and escaped in HTML; the From keeps LAUREL_MAIL_FROM's address with
// the sender name; a resend is marked as a reminder.

func TestCredentialEmailFromOrganisation(t *testing.T) {
	s, _ := mustService(t)
	g := mustGroup(t, s, func(g *issuance.Group) { g.Name = "Data <Science>" })
	c := issuance.Credential{ID: "abc123", Recipient: issuance.Recipient{Name: `Ada "<b>"`, Email: "ada@example.edu"},
		IssuedOn: time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC)}
	o := issuance.Organisation{Name: "Université d'Exemple", Language: "fr", SenderName: "Registre",
		EmailSubject: "{issuer_name}: {credential_name}",
		EmailBody:    "Bonjour {recipient_name},\n\nVoici {credential_name} ({credential_id}).\nLien : {credential_url}\n\n{unknown} stays"}
	m := delivery.New(s, reminders.New(s, nil), nil).CredentialEmail(c, g, issuance.Design{}, o, "ada@example.edu", "resend")
	if m.Subject != "Reminder: Université d'Exemple: Data <Science>" {
		t.Errorf("subject %q", m.Subject)
	}
	wantText := "Bonjour Ada \"<b>\",\n\nVoici Data <Science> (abc123).\nLien : https://laurel.test/c/abc123\n\n{unknown} stays\n"
	if !strings.HasPrefix(m.Text, wantText) || !strings.Contains(m.Text, "Course: DS 101") {
		t.Errorf("text\n%s\nwant it to start with\n%s", m.Text, wantText)
	}
	for _, w := range []string{`<html lang="fr">`, "Bonjour Ada &#34;&lt;b&gt;&#34;,", "Voici Data &lt;Science&gt; (abc123).<br>Lien : <a href=\"https://laurel.test/c/abc123\">https://laurel.test/c/abc123</a>",
		"because Université d&#39;Exemple issued"} {
		if !strings.Contains(m.HTML, w) {
			t.Errorf("html lacks %q:\n%s", w, m.HTML)
		}
	}
	if strings.Contains(m.HTML, "<b>") {
		t.Error("recipient name not escaped in the HTML part")
	}
	if got := delivery.FromFor(o, "Laurel <no-reply@uni.example.edu>"); got != `"Registre" <no-reply@uni.example.edu>` {
		t.Errorf("From %q", got)
	}
	if got := delivery.FromFor(issuance.Organisation{Name: "Uni"}, "no-reply@uni.example.edu"); got != `"Uni" <no-reply@uni.example.edu>` {
		t.Errorf("From without a sender name %q", got)
	}
}
