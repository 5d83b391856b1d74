package app_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/mail"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/reminders"
)

// TestRenewalRequestEndToEnd: in a group that lets recipients ask to renew,
// the expiry reminder (sent by the running workers to a real SMTP server)
// carries an "Ask to renew" link. Opening it records nothing; the button
// records one request, says where it went, emails the group's staff (not
// staff limited to other groups), lists it on the group page and in the
// credential's history; asking again changes nothing; a new expiry date
// answers the request and makes the old link say so.
func TestRenewalRequestEndToEnd(t *testing.T) {
	app := mustRun(t)
	ctx := context.Background()
	g, _ := seedOwnerAndCredential(t, app)
	o, err := app.Issuance.Organisation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	o.Name, o.ContactEmail, o.TimeZone = "University of Example", "registry@uni.example.edu", "UTC"
	if _, err := app.Issuance.UpdateOrganisation(ctx, "test", issuance.OrganisationUpdate{Organisation: o}); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Reminders.SetGroup(ctx, "test", g.ID, &reminders.Settings{Offsets: []int{30, 7}, ExpiredEmail: true, Renewal: true}); err != nil {
		t.Fatal(err)
	}
	other, err := app.Issuance.CreateGroup(ctx, "test", issuance.Group{Name: "Marine Biology", CourseName: "MB 201", Language: "en"})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct {
		email string
		group int64
	}{{"tm@uni.example.edu", g.ID}, {"elsewhere@uni.example.edu", other.ID}} {
		if _, _, err := app.Accounts.CreateUser(ctx, u.email, "Team Member", auth.TeamMember, []int64{u.group}, ownerPassword); err != nil {
			t.Fatal(err)
		}
	}
	expires := reminders.Day(time.Now(), "UTC").AddDate(0, 0, 20).Format(issuance.DateLayout)
	cs, err := app.Issuance.CreateCredentials(ctx, "test", g.ID, issuance.FromForm, []issuance.NewCredential{
		{Recipient: issuance.Recipient{Name: "Ada Lovelace", Email: "ada@uni.example.edu"}, IssuedOn: "2026-11-20", ExpiresOn: expires}})
	if err != nil {
		t.Fatal(err)
	}
	ada := cs[0]
	if _, err := app.Issuance.Publish(ctx, "test", issuance.Selection{IDs: []string{ada.ID}}); err != nil {
		t.Fatal(err)
	}
	// The workers run the scan on its hourly schedule (its first run at
	// start); here it is run at once rather than waiting an hour.
	deadline := time.Now().Add(15 * time.Second)
	for {
		var n int
		if err := app.DB.Get(&n, `SELECT count(*) FROM jobs WHERE kind = $1 AND schedule = $1`, reminders.Job); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the workers did not schedule the reminder scan")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n, err := app.Reminders.SendDue(ctx); err != nil || n != 1 {
		t.Fatalf("reminders due: %d, %v", n, err)
	}
	msgs, err := app.Mail.WaitFor(2, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var reminder mail.Received
	for _, m := range msgs {
		if strings.Contains(m.Subject, "expires on") {
			reminder = m
		}
	}
	link := regexp.MustCompile(regexp.QuoteMeta(app.URL) + `(/c/[a-z0-9]+/renew\?[^\s"<]+)`).FindStringSubmatch(reminder.Text)
	if link == nil || !strings.Contains(reminder.HTML, "Ask to renew your credential") {
		t.Fatalf("no renew link in the reminder %q:\n%s", reminder.Subject, reminder.Text)
	}
	renewPath := link[1]
	requests := func() int {
		t.Helper()
		var n int
		if err := app.DB.Get(&n, `SELECT count(*) FROM renewal_requests`); err != nil {
			t.Fatal(err)
		}
		return n
	}

	recipient := newClient(t, app.URL)
	resp, body := recipient.do("GET", renewPath, "", "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Ask University of Example to renew") || requests() != 0 {
		t.Fatalf("open the link: %d, %d requests\n%s", resp.StatusCode, requests(), body)
	}
	u, _ := url.Parse(renewPath)
	form := url.Values{"e": {u.Query().Get("e")}, "t": {u.Query().Get("t")}}
	resp, body = recipient.form(u.Path, form)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Your request was sent to University of Example.") || requests() != 1 {
		t.Fatalf("ask: %d, %d requests\n%s", resp.StatusCode, requests(), body)
	}
	// The notice reaches the owner, the group's team member and the
	// contact address, once each.
	msgs, err = app.Mail.WaitFor(5, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var told []string
	for _, m := range msgs[2:] {
		if m.Subject != "Renewal requested: Ada Lovelace, Data Science Foundations" {
			t.Errorf("notice subject %q", m.Subject)
		}
		if err := containsAll(m.Text, "Ada Lovelace (ada@uni.example.edu) asks to renew", app.URL+"/credentials/"+ada.ID); err != nil {
			t.Error(err)
		}
		told = append(told, m.To...)
	}
	// The reminder and the notice speak plainly.
	for _, m := range []mail.Received{reminder, msgs[2]} {
		for _, f := range unplain(visibleText(html.EscapeString(m.Subject+"\n"+m.Text)), g) {
			t.Errorf("email %q: %s", m.Subject, f)
		}
		for _, f := range unplain(visibleText(m.HTML), g) {
			t.Errorf("email (HTML) %q: %s", m.Subject, f)
		}
	}
	slices.Sort(told)
	if want := []string{"it@uni.example.edu", "registry@uni.example.edu", "tm@uni.example.edu"}; !slices.Equal(told, want) {
		t.Errorf("told %v, want %v", told, want)
	}
	// Asking again: the same page, no second request or notice.
	resp, body = recipient.form(u.Path, form)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "You have already asked University of Example") || requests() != 1 {
		t.Fatalf("ask again: %d, %d requests\n%s", resp.StatusCode, requests(), body)
	}
	time.Sleep(300 * time.Millisecond)
	if n := app.Mail.Len(); n != 5 {
		t.Errorf("%d emails after asking twice, want 5", n)
	}
	// A forged token changes nothing.
	bad := url.Values{"e": form["e"], "t": {"forged"}}
	if resp, _ = recipient.form(u.Path, bad); resp.StatusCode != http.StatusNotFound || requests() != 1 {
		t.Fatalf("forged token: %d", resp.StatusCode)
	}

	owner := newClient(t, app.URL)
	if resp, body := owner.form("/login", url.Values{"email": {"it@uni.example.edu"}, "password": {ownerPassword}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %d %s", resp.StatusCode, body)
	}
	gp := fmt.Sprintf("/groups/%d", g.ID)
	if _, body := owner.do("GET", gp, "", ""); !strings.Contains(body, `id="renewal-requests"`) || !strings.Contains(body, "Ada Lovelace") {
		t.Fatalf("group page without the request:\n%s", body)
	}
	if _, body := owner.do("GET", "/credentials/"+ada.ID, "", ""); !strings.Contains(body, "Renewal requested by the recipient") ||
		!strings.Contains(body, "Expiry reminder sent to ada@uni.example.edu (30 days before") {
		t.Fatalf("credential history without the reminder and request:\n%s", body)
	}
	// Staff renew: a new expiry date answers the request.
	later := reminders.Day(time.Now(), "UTC").AddDate(1, 0, 0).Format(issuance.DateLayout)
	if _, err := app.Issuance.AmendCredential(ctx, "user:1:it@uni.example.edu", ada.ID, issuance.Amendment{ExpiresOn: &later}); err != nil {
		t.Fatal(err)
	}
	if _, body := owner.do("GET", gp, "", ""); strings.Contains(body, `id="renewal-requests"`) {
		t.Errorf("the renewed credential is still listed")
	}
	if resp, body = recipient.do("GET", renewPath, "", ""); resp.StatusCode != http.StatusConflict || !strings.Contains(body, "expiry date of this credential has changed") {
		t.Errorf("old link after renewal: %d\n%s", resp.StatusCode, body)
	}
}

func containsAll(s string, subs ...string) error {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return fmt.Errorf("%q not in:\n%s", sub, s)
		}
	}
	return nil
}
