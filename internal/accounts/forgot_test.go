package accounts_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/auth"
)

// The sign-in page links to "Forgot your password?", which emails a reset
// link (over real SMTP) to an account's address and gives every address the
// same answer, so it tells nobody who has an account; a second request
// within minutes sends nothing more; the link sets the password.
func TestForgotPasswordFromSignIn(t *testing.T) {
	s := mustStaffEnv(t)
	ctx := context.Background()
	u, _, err := s.Acc.CreateUser(ctx, "v@example.edu", "Vera", auth.Viewer, nil, "the old password")
	if err != nil {
		t.Fatal(err)
	}
	c := mustClient(t)
	if _, body := get(t, c, s.Srv.URL+"/login"); !strings.Contains(body, `<a href="/account/forgot" id="forgot-password">Forgot your password?</a>`) {
		t.Fatalf("sign-in page has no forgot link:\n%s", body)
	}
	if resp, body := get(t, c, s.Srv.URL+"/account/forgot"); resp.StatusCode != 200 || !strings.Contains(body, `id="send-reset"`) {
		t.Fatalf("forgot form: %d\n%s", resp.StatusCode, body)
	}
	if resp, body := post(t, c, s.Srv.URL+"/account/forgot", url.Values{"email": {"not an address"}}); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `id="email-error"`) {
		t.Fatalf("bad address: %d\n%s", resp.StatusCode, body)
	}
	answer := func(email string) string {
		t.Helper()
		resp, body := post(t, c, s.Srv.URL+"/account/forgot", url.Values{"email": {email}})
		if resp.StatusCode != 200 || !strings.Contains(body, `id="forgot-sent"`) {
			t.Fatalf("forgot %s: %d\n%s", email, resp.StatusCode, body)
		}
		return strings.ReplaceAll(body, email, "EMAIL")
	}
	unknown := answer("nobody@example.edu")
	if known := answer("V@example.edu"); known != unknown {
		t.Errorf("the answer differs between a known and an unknown address")
	}
	link, m := s.mustLink(t, 1, "v@example.edu")
	if !strings.HasPrefix(link, "/account/reset?token=") || !strings.Contains(m.Text, "Someone asked on the sign-in page") {
		t.Fatalf("reset email %q:\n%s", link, m.Text)
	}
	answer("v@example.edu") // again at once: nothing more
	s.runJobs(t)
	if msgs, _ := s.mail.WaitFor(2, 500*time.Millisecond); len(msgs) != 1 {
		t.Errorf("%d emails after two requests in a minute, want 1", len(msgs))
	}
	if n := count(t, s, `SELECT count(*) FROM audit_log WHERE action = 'send_password_reset' AND entity_id = $1 AND actor = $2`, fmt.Sprint(u.ID), fmt.Sprintf("user:%d:v@example.edu", u.ID)); n != 1 {
		t.Errorf("%d self-requested reset audit rows, want 1", n)
	}
	tok, _ := url.ParseQuery(strings.SplitN(link, "?", 2)[1])
	if resp, body := post(t, mustClient(t), s.Srv.URL+"/account/reset", url.Values{"token": {tok.Get("token")}, "password": {"a brand new password"}, "confirm_password": {"a brand new password"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("use the link: %d\n%s", resp.StatusCode, body)
	}
	s.signIn(t, "v@example.edu", "a brand new password")
}

// The only owner who can sign in is offered no Disable button (the server
// refuses it: TestDisableEndsSessionsAndLastOwner); with a second owner,
// both are.
func TestOnlyOwnerHasNoDisableButton(t *testing.T) {
	s := mustStaffEnv(t)
	ctx := context.Background()
	var ownerID int64
	s.DB.Get(&ownerID, `SELECT id FROM users WHERE email = 'owner@example.edu'`)
	_, body := get(t, s.owner, s.Srv.URL+"/admin/users")
	if strings.Contains(body, fmt.Sprintf(`id="disable-user-%d"`, ownerID)) || !strings.Contains(body, fmt.Sprintf(`id="only-owner-%d"`, ownerID)) {
		t.Fatalf("the only owner is offered Disable:\n%s", body)
	}
	if resp, _ := post(t, s.owner, fmt.Sprintf("%s/admin/users/%d/disable", s.Srv.URL, ownerID), nil); resp.StatusCode != http.StatusConflict {
		t.Errorf("disabling the only owner: %d", resp.StatusCode)
	}
	u, _, err := s.Acc.CreateUser(ctx, "o2@example.edu", "Otto", auth.Owner, nil, "otto's password!")
	if err != nil {
		t.Fatal(err)
	}
	_, body = get(t, s.owner, s.Srv.URL+"/admin/users")
	for _, id := range []int64{ownerID, u.ID} {
		if !strings.Contains(body, fmt.Sprintf(`id="disable-user-%d"`, id)) {
			t.Errorf("with two owners, owner %d has no Disable button", id)
		}
	}
}
