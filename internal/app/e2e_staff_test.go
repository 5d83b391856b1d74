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

	"github.com/laurel-edu/laurel/internal/accounts"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/browsertest"
	"github.com/laurel-edu/laurel/issuance"
)

// TestInviteAcceptSignInBrowser: in a real Chromium an owner invites a team
// member limited to one group from /admin/users; the invitation reaches a
// real SMTP server through the job worker; the invitee opens its link,
// chooses a password and signs in, seeing only their group and refused the
// owner pages. The owner then creates an API token limited to that group on
// /admin/tokens, shown once, which the API holds to the group.
func TestInviteAcceptSignInBrowser(t *testing.T) {
	app := mustRun(t)
	ctx := context.Background()
	const ownerPW = "correct horse battery staple"
	if _, _, err := app.Accounts.CreateUser(ctx, "owner@uni.example.edu", "Olive Owner", auth.Owner, nil, ownerPW); err != nil {
		t.Fatal(err)
	}
	ga, err := app.Issuance.CreateGroup(ctx, "test", issuance.Group{Name: "Data Science Foundations", CourseName: "DS 101", Language: "en"})
	if err != nil {
		t.Fatal(err)
	}
	gb, err := app.Issuance.CreateGroup(ctx, "test", issuance.Group{Name: "Marine Biology", CourseName: "MB 201", Language: "en"})
	if err != nil {
		t.Fatal(err)
	}
	b := browsertest.New(t, browsertest.Options{})
	signOut := chromedp.Click(chromedp.CSS(`header form[action="/logout"] button`))

	browsertest.Step(t, b, "owner signs in and opens Staff",
		chromedp.Navigate(app.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS("#email"), "owner@uni.example.edu"),
		chromedp.SendKeys(chromedp.CSS("#password"), ownerPW),
		chromedp.Click(chromedp.CSS("#sign-in")),
		chromedp.WaitVisible(chromedp.CSS("#groups")),
		chromedp.Click(chromedp.CSS("#nav-staff")),
		chromedp.WaitVisible(chromedp.CSS("#users")),
	)
	browsertest.Step(t, b, "invite a team member limited to one group",
		chromedp.Click(chromedp.CSS("#invite-user")),
		chromedp.WaitVisible(chromedp.CSS("#user-form")),
		chromedp.SendKeys(chromedp.CSS("#email"), "tia.team@uni.example.edu"),
		chromedp.SendKeys(chromedp.CSS("#name"), "Tia Team"),
		chromedp.SetValue(chromedp.CSS("#role"), "team_member"),
		chromedp.Click(chromedp.CSS(fmt.Sprintf("#group-%d", ga.ID))),
		chromedp.Click(chromedp.CSS("#save-user")),
		chromedp.WaitVisible(chromedp.CSS("#flash")),
	)
	if f := browsertest.Text(t, b, "#flash"); !strings.Contains(f, "Invitation sent to tia.team@uni.example.edu") {
		t.Fatalf("flash after inviting: %q", f)
	}
	msgs, err := app.Mail.WaitFor(1, 30*time.Second)
	if err != nil {
		t.Fatalf("invitation email: %v", err)
	}
	m := msgs[0]
	link := regexp.MustCompile(regexp.QuoteMeta(app.URL) + `/account/welcome\?token=[A-Za-z0-9_%-]+`).FindString(m.Text)
	if len(m.To) != 1 || m.To[0] != "tia.team@uni.example.edu" || link == "" {
		t.Fatalf("invitation to %v without a link:\n%s", m.To, m.Text)
	}

	browsertest.Step(t, b, "sign out; open the invitation and choose a password",
		signOut,
		chromedp.WaitVisible(chromedp.CSS("#sign-in")),
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS("#set-password-form")),
	)
	if got := browsertest.Text(t, b, "#link-email"); got != "tia.team@uni.example.edu" {
		t.Fatalf("invitation page for %q", got)
	}
	const tiaPW = "tia's own password"
	browsertest.Step(t, b, "activate",
		chromedp.SendKeys(chromedp.CSS("#password"), tiaPW),
		chromedp.SendKeys(chromedp.CSS("#confirm_password"), tiaPW),
		chromedp.Click(chromedp.CSS("#set-password")),
		chromedp.WaitVisible(chromedp.CSS("#sign-in")),
	)
	if f := browsertest.Text(t, b, "#flash"); !strings.Contains(f, "Your password is set") {
		t.Fatalf("flash after activating: %q", f)
	}
	browsertest.Step(t, b, "the invitee signs in",
		chromedp.SendKeys(chromedp.CSS("#email"), "tia.team@uni.example.edu"),
		chromedp.SendKeys(chromedp.CSS("#password"), tiaPW),
		chromedp.Click(chromedp.CSS("#sign-in")),
		chromedp.WaitVisible(chromedp.CSS("#groups")),
	)
	groups := browsertest.Text(t, b, "#groups")
	if !strings.Contains(groups, ga.Name) || strings.Contains(groups, gb.Name) {
		t.Fatalf("a team member limited to %q sees groups %q", ga.Name, groups)
	}
	if n, _ := chromedp.Run(b, chromedp.Nodes(chromedp.CSS("#nav-staff"), chromedp.AtLeast(0))); len(n) != 0 {
		t.Fatal("a team member sees the Staff link")
	}
	resp, err := chromedp.RunResponse(b, chromedp.Navigate(app.URL+"/admin/users"))
	if err != nil || resp.Status != http.StatusForbidden {
		t.Fatalf("team member opens /admin/users: %v %v", resp, err)
	}
	// The link worked once.
	browsertest.Step(t, b, "sign out and reopen the link", chromedp.Navigate(app.URL+"/groups"), signOut, chromedp.WaitVisible(chromedp.CSS("#sign-in")))
	resp, err = chromedp.RunResponse(b, chromedp.Navigate(link))
	if err != nil || resp.Status != http.StatusNotFound || !strings.Contains(browsertest.Text(t, b, "main"), "already used") {
		t.Fatalf("reopened invitation: %v %v %q", resp, err, browsertest.Text(t, b, "main"))
	}

	browsertest.Step(t, b, "owner creates a token limited to the group",
		chromedp.Navigate(app.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS("#email"), "owner@uni.example.edu"),
		chromedp.SendKeys(chromedp.CSS("#password"), ownerPW),
		chromedp.Click(chromedp.CSS("#sign-in")),
		chromedp.WaitVisible(chromedp.CSS("#groups")),
		chromedp.Navigate(app.URL+"/admin/tokens"),
		chromedp.WaitVisible(chromedp.CSS("#token-form")),
		chromedp.SendKeys(chromedp.CSS("#token-name"), "registrar script"),
		chromedp.SetValue(chromedp.CSS("#role"), "team_member"),
		chromedp.Click(chromedp.CSS(fmt.Sprintf("#group-%d", ga.ID))),
		chromedp.Click(chromedp.CSS("#create-token")),
		chromedp.WaitVisible(chromedp.CSS("#new-token")),
	)
	token, err := chromedp.Run(b, chromedp.Value(chromedp.CSS("#new-token")))
	if err != nil || !strings.HasPrefix(token, accounts.TokenPrefix) {
		t.Fatalf("token shown: %q %v", token, err)
	}
	api := func(path string) int {
		req, _ := http.NewRequest("GET", app.URL+"/api/v1"+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	if a, bb := api(fmt.Sprintf("/groups/%d", ga.ID)), api(fmt.Sprintf("/groups/%d", gb.ID)); a != 200 || (bb != 403 && bb != 404) {
		t.Fatalf("token limited to group A: group A %d, group B %d", a, bb)
	}
	browsertest.Step(t, b, "the token list shows its use, not the token",
		chromedp.Navigate(app.URL+"/admin/tokens"),
		chromedp.WaitVisible(chromedp.CSS("#tokens")),
	)
	row := browsertest.Text(t, b, "#tokens tbody tr")
	if strings.Contains(row, token) || strings.Contains(row, "never") || !strings.Contains(row, ga.Name) || !strings.Contains(row, "Team Member") {
		t.Fatalf("token row %q", row)
	}
}
