package app_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/browsertest"
	"github.com/laurel-edu/laurel/issuance"
)

// TestSeedWorkflowInBrowser performs the seed guide's manual workflow in a
// real Chromium, steps 1–7, with two recipients: sign in, open the group,
// fill two rows via "Add Another Recipient", create, review, open one by ID
// and amend its name, select all, publish, confirm. A real SMTP server must
// then hold exactly two emails whose links show the amended data.
func TestSeedWorkflowInBrowser(t *testing.T) {
	app := mustRun(t)
	ctx := context.Background()
	const password = "correct horse battery staple"
	if _, _, err := app.Accounts.CreateUser(ctx, "registrar@uni.example.edu", "Rita Registrar", auth.TeamMember, nil, password); err != nil {
		t.Fatal(err)
	}
	g, err := app.Issuance.CreateGroup(ctx, "test", issuance.Group{
		Name: "Data Science Foundations", CourseName: "DS 101: Introduction to Data Science", Language: "en",
		Attributes: []issuance.Attribute{{Key: "grade", Label: "Grade", Type: issuance.TextAttr, Required: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	b := browsertest.New(t, browsertest.Options{})

	browsertest.Step(t, b, "1. sign in",
		chromedp.Navigate(app.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS("#email"), "registrar@uni.example.edu"),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#sign-in")),
		chromedp.WaitVisible(chromedp.CSS("#groups")),
	)
	browsertest.Step(t, b, "2. open the group and its Create Credentials tab",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#group-%d a`, g.ID))),
		chromedp.Click(chromedp.CSS(`a[href$="/credentials/new"]`)),
		chromedp.WaitVisible(chromedp.CSS("#name_0")),
	)
	browsertest.Step(t, b, "3. fill two rows via Add Another Recipient",
		chromedp.SendKeys(chromedp.CSS("#name_0"), "Grace Hopper"),
		chromedp.SendKeys(chromedp.CSS("#email_0"), "grace.hopper@uni.example.edu"),
		chromedp.SetValue(chromedp.CSS("#issued_on_0"), "2026-11-20"),
		chromedp.SendKeys(chromedp.CSS("#attr_grade_0"), "A"),
		chromedp.Click(chromedp.CSS("#add-recipient")),
		chromedp.WaitVisible(chromedp.CSS("#name_1")),
		chromedp.SendKeys(chromedp.CSS("#name_1"), "Alan Turing"),
		chromedp.SendKeys(chromedp.CSS("#email_1"), "alan.turing@uni.example.edu"),
		chromedp.SetValue(chromedp.CSS("#issued_on_1"), "2026-11-21"),
		chromedp.SendKeys(chromedp.CSS("#attr_grade_1"), "B+"),
		chromedp.Click(chromedp.CSS("#create-credentials")),
		chromedp.WaitVisible(chromedp.CSS("#credentials")),
	)
	// 4. Review: both listed, unpublished, nothing sent.
	rows, err := chromedp.Run(b, chromedp.Nodes(chromedp.CSSAll("#credentials tbody tr")))
	if err != nil || len(rows) != 2 {
		t.Fatalf("review list has %d rows (%v), want 2", len(rows), err)
	}
	var unpublished int
	if err := app.DB.Get(&unpublished, `SELECT count(*) FROM credentials WHERE group_id = $1 AND state = 'unpublished'`, g.ID); err != nil || unpublished != 2 {
		t.Fatalf("%d unpublished credentials in the database (%v), want 2", unpublished, err)
	}
	if n := len(app.Mail.Messages()); n != 0 {
		t.Fatalf("%d emails sent before publishing, want 0", n)
	}
	var graceID string
	if err := app.DB.Get(&graceID, `SELECT id FROM credentials WHERE recipient_email = 'grace.hopper@uni.example.edu'`); err != nil {
		t.Fatal(err)
	}
	browsertest.Step(t, b, "5. open one by its ID and amend the name",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#cred-%s a.credential-link`, graceID))),
		chromedp.WaitVisible(chromedp.CSS("#amend-form")),
		chromedp.Clear(chromedp.CSS("#name")),
		chromedp.SendKeys(chromedp.CSS("#name"), "Rear Admiral Grace Hopper"),
	)
	// The preview is on the page before and after saving: wait for the
	// navigation the save causes, not for the element.
	if resp, err := chromedp.RunResponse(b, chromedp.Click(chromedp.CSS("#save-credential"))); err != nil || resp.Status != http.StatusOK {
		t.Fatalf("save the amendment: %v", err)
	}
	if got := browsertest.Text(t, b, "#preview"); !strings.Contains(got, "Rear Admiral Grace Hopper") {
		t.Fatalf("preview after amending shows %q, want the amended name", got)
	}
	browsertest.Step(t, b, "6. select all, publish",
		chromedp.Navigate(fmt.Sprintf("%s/groups/%d/unpublished", app.URL, g.ID)),
		chromedp.WaitVisible(chromedp.CSS("#select-all")),
		chromedp.Click(chromedp.CSS("#select-all")),
		chromedp.Click(chromedp.CSS("#publish")),
		chromedp.WaitVisible(chromedp.CSS("#confirm")),
	)
	question := browsertest.Text(t, b, "#confirm-question")
	if !regexp.MustCompile(`\b2 credentials\b`).MatchString(question) || !regexp.MustCompile(`\b2 emails\b`).MatchString(question) {
		t.Fatalf("confirm page asks %q, want it to state 2 credentials and 2 emails", question)
	}
	browsertest.Step(t, b, "7. confirm", chromedp.Click(chromedp.CSS("#confirm")), chromedp.WaitReady(chromedp.CSS("body")))

	msgs, err := app.Mail.WaitFor(2, 30*time.Second)
	if err != nil {
		t.Fatalf("emails: %v (got %d)", err, len(msgs))
	}
	time.Sleep(500 * time.Millisecond) // a third (duplicate) email would arrive now
	if n := len(app.Mail.Messages()); n != 2 {
		t.Fatalf("SMTP server received %d emails, want exactly 2", n)
	}
	link := regexp.MustCompile(regexp.QuoteMeta(app.URL) + `/c/[A-Za-z0-9_-]+`)
	want := map[string]string{
		"grace.hopper@uni.example.edu": "Rear Admiral Grace Hopper",
		"alan.turing@uni.example.edu":  "Alan Turing",
	}
	for _, m := range msgs {
		if len(m.To) != 1 {
			t.Fatalf("email to %v, want one recipient", m.To)
		}
		name, ok := want[m.To[0]]
		if !ok {
			t.Fatalf("email to unexpected %v", m.To)
		}
		delete(want, m.To[0])
		u := link.FindString(m.Text)
		if u == "" || u != link.FindString(m.HTML) {
			t.Fatalf("email to %s: text link %q, HTML link %q; want the same credential link in both", m.To[0], u, link.FindString(m.HTML))
		}
		resp, err := http.Get(u)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %v %v", u, resp.Status, err)
		}
		resp.Body.Close()
		browsertest.Step(t, b, "open the emailed link "+u, chromedp.Navigate(u), chromedp.WaitVisible(chromedp.CSS("body")))
		page := browsertest.Text(t, b, "body")
		if !strings.Contains(page, name) || !strings.Contains(page, "DS 101: Introduction to Data Science") {
			t.Fatalf("credential page %s does not show %q and the course: %.500s", u, name, page)
		}
		if name == "Rear Admiral Grace Hopper" && strings.Contains(page, "Grace Hopper") && !strings.Contains(page, "Rear Admiral") {
			t.Fatal("the page shows the old name")
		}
	}
}
