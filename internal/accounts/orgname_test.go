package accounts_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/auth"
)

// TestAccountEmailsNameTheOrganisation: invitations and password resets name
// the organisation (subject and text), not the software; before an owner has
// named it they say "your institution".
func TestAccountEmailsNameTheOrganisation(t *testing.T) {
	s := mustStaffEnv(t)
	org := ""
	s.Acc.OrganisationName = func(context.Context) (string, error) { return org, nil }

	invite := func(email string) {
		t.Helper()
		resp, body := post(t, s.owner, s.Srv.URL+"/admin/users/invite", url.Values{"email": {email}, "name": {"Tia"}, "role": {"viewer"}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("invite: %d\n%s", resp.StatusCode, body)
		}
	}
	invite("a@example.edu")
	_, m := s.mustLink(t, 1, "a@example.edu")
	if m.Subject != "You are invited to your institution's credential issuer" || !strings.Contains(m.Text, "invited to the credential issuer of your institution as Viewer") {
		t.Fatalf("unnamed invitation: %q\n%s", m.Subject, m.Text)
	}

	org = "University of Example"
	invite("b@example.edu")
	link, m := s.mustLink(t, 2, "b@example.edu")
	if m.Subject != "You are invited to University of Example's credential issuer" || !strings.Contains(m.Text, "University of Example has invited you to its credential issuer as Viewer") {
		t.Fatalf("invitation: %q\n%s", m.Subject, m.Text)
	}
	// The page the invitation opens names the organisation, not the software.
	resp, body := get(t, mustClient(t), s.Srv.URL+link)
	visible := body[strings.Index(body, "<main"):strings.Index(body, "</main>")]
	if resp.StatusCode != 200 || !strings.Contains(visible, "Welcome to University of Example&#39;s credentials") ||
		!strings.Contains(visible, "invited to University of Example's credential issuer as <strong>Viewer</strong>") || strings.Contains(visible, "Laurel") {
		t.Fatalf("invitation page: %d\n%s", resp.StatusCode, visible)
	}
	u, _, err := s.Acc.CreateUser(context.Background(), "v@example.edu", "Vera", auth.Viewer, nil, "the old password")
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := post(t, s.owner, s.Srv.URL+fmt.Sprintf("/admin/users/%d/reset", u.ID), nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("send reset: %d\n%s", resp.StatusCode, body)
	}
	_, m = s.mustLink(t, 3, "v@example.edu")
	if m.Subject != "Choose a new password for University of Example's credential issuer" ||
		!strings.Contains(m.Text, "An owner of University of Example's credential issuer sent you a link") {
		t.Fatalf("reset: %q\n%s", m.Subject, m.Text)
	}
	for _, msg := range []string{m.Subject, m.Text} {
		if strings.Contains(msg, "Laurel") {
			t.Fatalf("an account email names the software: %s", msg)
		}
	}
}
