package accounts_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/accounts"
	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/internal/mail"
	"github.com/laurel-edu/laurel/internal/testenv"
)

const ownerPW = "correct horse battery"

// staffEnv is env plus a real SMTP server and the job worker that sends
// account emails through it, run step by step.
type staffEnv struct {
	*env
	mail   *mail.Catcher
	worker *jobs.Worker
	clock  *testenv.Clock
	owner  *http.Client
	group  int64
	other  int64
}

func mustStaffEnv(t *testing.T) *staffEnv {
	t.Helper()
	e := mustEnv(t, "http://laurel.test")
	clock := &testenv.Clock{}
	e.Acc.Now = clock.Now
	catcher, err := mail.NewCatcher("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { catcher.Close() })
	sender, err := mail.NewSender(catcher.URL(), "Laurel <no-reply@laurel.test>", 2)
	if err != nil {
		t.Fatal(err)
	}
	w := jobs.NewWorker(e.DB, slog.New(slog.NewTextHandler(io.Discard, nil)))
	w.Now = clock.Now
	w.Handle(accounts.AccountEmailJob, e.Acc.SendAccountEmail(sender, "", "http://laurel.test"))
	s := &staffEnv{env: e, mail: catcher, worker: w, clock: clock}
	var design int64
	if err := e.DB.Get(&design, `INSERT INTO designs (name, kind, title) VALUES ('Classic', 'certificate', 'Certificate') RETURNING id`); err != nil {
		t.Fatal(err)
	}
	for _, g := range []*int64{&s.group, &s.other} {
		if err := e.DB.Get(g, `INSERT INTO groups (name, course_name, design_id) VALUES ('Group '||(SELECT count(*)+1 FROM groups), 'C', $1) RETURNING id`, design); err != nil {
			t.Fatal(err)
		}
	}
	mustUser(t, e, "owner@example.edu", auth.Owner)
	s.owner = s.signIn(t, "owner@example.edu", ownerPW)
	return s
}

// signIn signs in a new client and fails the test unless it works.
func (s *staffEnv) signIn(t *testing.T, email, password string) *http.Client {
	t.Helper()
	c := mustClient(t)
	resp, body := post(t, c, s.Srv.URL+"/login", url.Values{"email": {email}, "password": {password}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in as %s: %d\n%s", email, resp.StatusCode, body)
	}
	return c
}

// runJobs runs every due job, as the worker would.
func (s *staffEnv) runJobs(t *testing.T) {
	t.Helper()
	for range 10 {
		n, err := s.worker.RunOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

var linkRE = regexp.MustCompile(`http://laurel\.test(/account/(?:welcome|reset)\?token=[A-Za-z0-9_%-]+)`)

// mustLink waits for the n-th email and returns the path of its link.
func (s *staffEnv) mustLink(t *testing.T, n int, to string) (string, mail.Received) {
	t.Helper()
	s.runJobs(t)
	msgs, err := s.mail.WaitFor(n, 5*time.Second)
	if err != nil {
		t.Fatalf("email %d: %v", n, err)
	}
	m := msgs[n-1]
	if len(m.To) != 1 || m.To[0] != to {
		t.Fatalf("email %d to %v, want %s", n, m.To, to)
	}
	l := linkRE.FindStringSubmatch(m.Text)
	if l == nil {
		t.Fatalf("email %d has no account link:\n%s", n, m.Text)
	}
	return l[1], m
}

func whoami(t *testing.T, s *staffEnv, c *http.Client) (int, string) {
	t.Helper()
	resp, body := get(t, c, s.Srv.URL+"/whoami")
	return resp.StatusCode, body
}

func count(t *testing.T, s *staffEnv, q string, args ...any) int {
	t.Helper()
	var n int
	if err := s.DB.Get(&n, q, args...); err != nil {
		t.Fatal(err)
	}
	return n
}

// An owner invites a team member limited to one group; the invitation
// arrives by SMTP with a one-time link; the invitee chooses a password
// through it and signs in with the limited role. The link works once.
func TestInviteAcceptSignIn(t *testing.T) {
	s := mustStaffEnv(t)
	const email = "tm@example.edu"

	// Bad input re-renders the form with each field's message and creates
	// nothing.
	resp, body := post(t, s.owner, s.Srv.URL+"/admin/users/invite", url.Values{"email": {"not an email"}, "name": {""}, "role": {"team_member"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `id="email-error"`) || !strings.Contains(body, `id="name-error">Name is required.`) {
		t.Fatalf("bad invite: %d\n%s", resp.StatusCode, body)
	}
	resp, body = post(t, s.owner, s.Srv.URL+"/admin/users/invite", url.Values{"email": {email}, "name": {"Tia"}, "role": {"admin"}, "groups": {fmt.Sprint(s.group)}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `id="groups-error">Only a team member can be limited to groups.`) {
		t.Fatalf("invite admin with groups: %d\n%s", resp.StatusCode, body)
	}
	if n := count(t, s, `SELECT count(*) FROM users`); n != 1 {
		t.Fatalf("refused invitations created %d users", n-1)
	}

	resp, body = post(t, s.owner, s.Srv.URL+"/admin/users/invite", url.Values{"email": {email}, "name": {"Tia Team"}, "role": {"team_member"}, "groups": {fmt.Sprint(s.group)}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/users" {
		t.Fatalf("invite: %d\n%s", resp.StatusCode, body)
	}
	// The same email again is a conflict on the email field.
	resp, body = post(t, s.owner, s.Srv.URL+"/admin/users/invite", url.Values{"email": {"TM@example.edu"}, "name": {"Again"}, "role": {"viewer"}})
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, `id="email-error"`) {
		t.Fatalf("duplicate invite: %d\n%s", resp.StatusCode, body)
	}
	// Pending: no password works yet, and the list says invited.
	if resp, _ := post(t, mustClient(t), s.Srv.URL+"/login", url.Values{"email": {email}, "password": {"anything at all"}}); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("pending invitee signed in: %d", resp.StatusCode)
	}
	if _, body := get(t, s.owner, s.Srv.URL+"/admin/users"); !strings.Contains(body, `data-state="invited"`) || !strings.Contains(body, "Resend invitation") {
		t.Fatalf("list does not show the pending invitation:\n%s", body)
	}

	link, m := s.mustLink(t, 1, email)
	if !strings.Contains(m.Subject, "invited") || !strings.Contains(m.Text, "Team Member") {
		t.Errorf("invitation email: %q\n%s", m.Subject, m.Text)
	}
	token, _ := url.QueryUnescape(strings.TrimPrefix(link, "/account/welcome?token="))
	// Stored only as a MAC; the encrypted copy for the email is gone once sent.
	var hash []byte
	var sealed []byte
	var state string
	if err := s.DB.QueryRow(`SELECT token_hash, mail_token, mail_state FROM account_links`).Scan(&hash, &sealed, &state); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(hash), token[4:20]) || sealed != nil || state != "sent" {
		t.Errorf("link stored as %x, mail token %x, state %s", hash, sealed, state)
	}

	c := mustClient(t)
	resp, body = get(t, c, s.Srv.URL+link)
	if resp.StatusCode != 200 || !strings.Contains(body, email) || resp.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("open invitation: %d %q\n%s", resp.StatusCode, resp.Header.Get("Referrer-Policy"), body)
	}
	// Mismatched and short passwords: field messages, the link still works.
	resp, body = post(t, c, s.Srv.URL+"/account/welcome", url.Values{"token": {token}, "password": {"a long password"}, "confirm_password": {"another one"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `id="confirm_password-error">The two passwords differ.`) {
		t.Fatalf("mismatch: %d\n%s", resp.StatusCode, body)
	}
	resp, body = post(t, c, s.Srv.URL+"/account/welcome", url.Values{"token": {token}, "password": {"short"}, "confirm_password": {"short"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `id="password-error">Password must be at least 10 characters.`) {
		t.Fatalf("short: %d\n%s", resp.StatusCode, body)
	}
	resp, body = post(t, c, s.Srv.URL+"/account/welcome", url.Values{"token": {token}, "password": {"password123"}, "confirm_password": {"password123"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `id="password-error">Password is one of the 100,000 most common passwords`) {
		t.Fatalf("common: %d\n%s", resp.StatusCode, body)
	}
	const pw = "my own new password"
	resp, body = post(t, c, s.Srv.URL+"/account/welcome", url.Values{"token": {token}, "password": {pw}, "confirm_password": {pw}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("accept: %d\n%s", resp.StatusCode, body)
	}
	tm := s.signIn(t, email, pw)
	if code, who := whoami(t, s, tm); code != 200 || who != fmt.Sprintf("%s team_member [%d]", email, s.group) {
		t.Fatalf("invitee signed in as %d %q", code, who)
	}
	// A team member is not an owner: the staff pages are refused.
	for _, p := range []string{"/admin/users", "/admin/tokens", "/admin/users/invite"} {
		if resp, _ := get(t, tm, s.Srv.URL+p); resp.StatusCode != http.StatusForbidden {
			t.Errorf("team member GET %s: %d", p, resp.StatusCode)
		}
	}
	// The link worked once.
	resp, body = post(t, mustClient(t), s.Srv.URL+"/account/welcome", url.Values{"token": {token}, "password": {"taken over!!"}, "confirm_password": {"taken over!!"}})
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "already used") {
		t.Fatalf("second use: %d\n%s", resp.StatusCode, body)
	}
	if _, err := s.Acc.Authenticate(context.Background(), email, pw); err != nil {
		t.Fatalf("password after a refused second use: %v", err)
	}
	// Audited, without the token or the password.
	var actions []string
	if err := s.DB.Select(&actions, `SELECT action FROM audit_log WHERE entity_type = 'user' AND entity_id = (SELECT id::text FROM users WHERE email = $1) ORDER BY id`, email); err != nil {
		t.Fatal(err)
	}
	if strings.Join(actions, ",") != "invite,accept_invitation" {
		t.Errorf("audit actions %v", actions)
	}
	var log string
	s.DB.Get(&log, `SELECT string_agg(actor || coalesce(before::text, '') || coalesce(after::text, ''), ' ') FROM audit_log`)
	if strings.Contains(log, token) || strings.Contains(log, pw) || !strings.Contains(log, "user:") {
		t.Errorf("audit log holds a secret or no actor: %s", log)
	}
}

// A reset link works once and for an hour; a newer link replaces an older
// one; using one ends the account's sessions; of concurrent uses exactly
// one wins.
func TestPasswordResetLink(t *testing.T) {
	s := mustStaffEnv(t)
	ctx := context.Background()
	u, _, err := s.Acc.CreateUser(ctx, "v@example.edu", "Vera", auth.Viewer, nil, "the old password")
	if err != nil {
		t.Fatal(err)
	}
	vera := s.signIn(t, "v@example.edu", "the old password")
	reset := func() {
		t.Helper()
		resp, body := post(t, s.owner, s.Srv.URL+fmt.Sprintf("/admin/users/%d/reset", u.ID), nil)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("send reset: %d\n%s", resp.StatusCode, body)
		}
	}
	reset()
	first, m := s.mustLink(t, 1, "v@example.edu")
	if !strings.HasPrefix(first, "/account/reset?token=") || !strings.Contains(m.Text, "until") {
		t.Fatalf("reset email link %q:\n%s", first, m.Text)
	}
	// Expired after an hour.
	s.clock.Advance(accounts.ResetValidity + time.Minute)
	if resp, body := get(t, mustClient(t), s.Srv.URL+first); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "expired") {
		t.Fatalf("expired link: %d\n%s", resp.StatusCode, body)
	}
	tok := func(link string) string {
		v, _ := url.ParseQuery(strings.SplitN(link, "?", 2)[1])
		return v.Get("token")
	}
	resp, body := post(t, mustClient(t), s.Srv.URL+"/account/reset", url.Values{"token": {tok(first)}, "password": {"a new password"}, "confirm_password": {"a new password"}})
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "expired") {
		t.Fatalf("use of an expired link: %d\n%s", resp.StatusCode, body)
	}
	// Two new links: only the newest works.
	reset()
	second, _ := s.mustLink(t, 2, "v@example.edu")
	reset()
	third, _ := s.mustLink(t, 3, "v@example.edu")
	if resp, body := get(t, mustClient(t), s.Srv.URL+second); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "not valid") {
		t.Fatalf("replaced link: %d\n%s", resp.StatusCode, body)
	}
	// A common password is refused, saying why; the link still works.
	if resp, body := post(t, mustClient(t), s.Srv.URL+"/account/reset", url.Values{"token": {tok(third)}, "password": {"qwertyuiop"}, "confirm_password": {"qwertyuiop"}}); resp.StatusCode != http.StatusUnprocessableEntity ||
		!strings.Contains(body, `id="password-error">Password is one of the 100,000 most common passwords`) {
		t.Fatalf("common password on reset: %d\n%s", resp.StatusCode, body)
	}
	// Five at once: exactly one sets the password.
	var wg sync.WaitGroup
	var mu sync.Mutex
	won, lost := 0, 0
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Acc.UseLink(ctx, tok(third), "reset", fmt.Sprintf("concurrent password %d", i))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case apperr.Is(err, apperr.NotFound):
				lost++
			default:
				t.Errorf("use %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if won != 1 || lost != 4 {
		t.Fatalf("concurrent uses: %d won, %d refused; want 1 and 4", won, lost)
	}
	if _, err := s.Acc.Authenticate(ctx, "v@example.edu", "the old password"); !apperr.Is(err, apperr.Unauthorized) {
		t.Errorf("old password after reset: %v", err)
	}
	// Vera's session from before the reset has ended.
	if resp, _ := get(t, vera, s.Srv.URL+"/whoami"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("session from before the reset: %d", resp.StatusCode)
	}
	if n := count(t, s, `SELECT count(*) FROM audit_log WHERE entity_type = 'user' AND entity_id = $1 AND action IN ('send_password_reset', 'reset_password')`, fmt.Sprint(u.ID)); n != 4 {
		t.Errorf("%d reset audit entries, want 3 sent + 1 used", n)
	}
	// A disabled account gets no link.
	if _, err := s.Acc.SetUserDisabled(ctx, "test", u.ID, true); err != nil {
		t.Fatal(err)
	}
	if resp, _ := post(t, s.owner, s.Srv.URL+fmt.Sprintf("/admin/users/%d/reset", u.ID), nil); resp.StatusCode != http.StatusConflict {
		t.Errorf("reset for a disabled account: %d", resp.StatusCode)
	}
}

// Changing a role or a group limit applies to the account's next request;
// bad input names its field and changes nothing; the change is audited
// before → after.
func TestChangeRoleAndGroupLimits(t *testing.T) {
	s := mustStaffEnv(t)
	ctx := context.Background()
	u, _, err := s.Acc.CreateUser(ctx, "x@example.edu", "Xavier", auth.Viewer, nil, "xavier's password")
	if err != nil {
		t.Fatal(err)
	}
	x := s.signIn(t, "x@example.edu", "xavier's password")
	if _, who := whoami(t, s, x); who != "x@example.edu viewer []" {
		t.Fatalf("before: %q", who)
	}
	path := fmt.Sprintf("%s/admin/users/%d", s.Srv.URL, u.ID)
	if resp, body := get(t, s.owner, path); resp.StatusCode != 200 || !strings.Contains(body, fmt.Sprintf(`id="group-%d"`, s.group)) {
		t.Fatalf("edit page: %d\n%s", resp.StatusCode, body)
	}
	for name, tc := range map[string]struct {
		form  url.Values
		field string
	}{
		"bad role":      {url.Values{"role": {"boss"}}, "role"},
		"admin limited": {url.Values{"role": {"admin"}, "groups": {fmt.Sprint(s.group)}}, "groups"},
		"unknown group": {url.Values{"role": {"team_member"}, "groups": {"999999"}}, "groups"},
		"not a number":  {url.Values{"role": {"team_member"}, "groups": {"one"}}, "groups"},
	} {
		resp, body := post(t, s.owner, path, tc.form)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `id="`+tc.field+`-error"`) {
			t.Errorf("%s: %d, want 422 naming %s\n%.2000s", name, resp.StatusCode, tc.field, body)
		}
	}
	if _, who := whoami(t, s, x); who != "x@example.edu viewer []" {
		t.Fatalf("refused changes changed the account: %q", who)
	}
	if n := count(t, s, `SELECT count(*) FROM audit_log WHERE action = 'update'`); n != 0 {
		t.Fatalf("refused changes audited: %d", n)
	}
	resp, body := post(t, s.owner, path, url.Values{"role": {"team_member"}, "groups": {fmt.Sprint(s.other), fmt.Sprint(s.group)}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", resp.StatusCode, body)
	}
	want := fmt.Sprintf("x@example.edu team_member [%d %d]", s.group, s.other)
	if _, who := whoami(t, s, x); who != want {
		t.Fatalf("after: %q, want %q", who, want)
	}
	resp, _ = post(t, s.owner, path, url.Values{"role": {"team_member"}, "groups": {fmt.Sprint(s.other)}})
	if _, who := whoami(t, s, x); resp.StatusCode != http.StatusSeeOther || who != fmt.Sprintf("x@example.edu team_member [%d]", s.other) {
		t.Fatalf("narrowed limit: %d %q", resp.StatusCode, who)
	}
	var before, after string
	if err := s.DB.QueryRow(`SELECT before::text, after::text FROM audit_log WHERE action = 'update' ORDER BY id LIMIT 1`).Scan(&before, &after); err != nil {
		t.Fatal(err)
	}
	if before != `{"role": "viewer", "groups": []}` || after != fmt.Sprintf(`{"role": "team_member", "groups": [%d, %d]}`, s.group, s.other) {
		t.Errorf("audit %s → %s", before, after)
	}
	if _, body := get(t, s.owner, path); !strings.Contains(body, `data-action="update"`) || !strings.Contains(body, "Role: Viewer → Team Member") || strings.Contains(body, "user:") {
		t.Errorf("history not shown on the edit page:\n%s", body)
	}
}

// Disabling ends every session of the account at once and refuses its
// sign-in; enabling it again does not revive the old sessions. The last
// owner cannot disable or demote themselves.
func TestDisableEndsSessionsAndLastOwner(t *testing.T) {
	s := mustStaffEnv(t)
	ctx := context.Background()
	u, _, err := s.Acc.CreateUser(ctx, "d@example.edu", "Dana", auth.Admin, nil, "dana's password")
	if err != nil {
		t.Fatal(err)
	}
	d1, d2 := s.signIn(t, "d@example.edu", "dana's password"), s.signIn(t, "d@example.edu", "dana's password")
	resp, body := post(t, s.owner, fmt.Sprintf("%s/admin/users/%d/disable", s.Srv.URL, u.ID), nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable: %d\n%s", resp.StatusCode, body)
	}
	for i, c := range []*http.Client{d1, d2} {
		if code, _ := whoami(t, s, c); code != http.StatusSeeOther {
			t.Errorf("session %d of a disabled account: %d", i, code)
		}
	}
	if resp, _ := post(t, mustClient(t), s.Srv.URL+"/login", url.Values{"email": {"d@example.edu"}, "password": {"dana's password"}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("disabled sign-in: %d", resp.StatusCode)
	}
	if _, body := get(t, s.owner, s.Srv.URL+"/admin/users"); !strings.Contains(body, `data-state="disabled"`) {
		t.Errorf("list does not show disabled")
	}
	// A session that made no request between a disable and an enable
	// stays ended.
	if _, err := s.Acc.SetUserDisabled(ctx, "test", u.ID, false); err != nil {
		t.Fatal(err)
	}
	d4 := s.signIn(t, "d@example.edu", "dana's password")
	if _, err := s.Acc.SetUserDisabled(ctx, "test", u.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Acc.SetUserDisabled(ctx, "test", u.ID, false); err != nil {
		t.Fatal(err)
	}
	if code, _ := whoami(t, s, d4); code != http.StatusSeeOther {
		t.Errorf("a session from before disable → enable still works: %d", code)
	}
	if code, _ := whoami(t, s, s.signIn(t, "d@example.edu", "dana's password")); code != 200 {
		t.Errorf("sign-in after enabling: %d", code)
	}

	// The only owner cannot disable or demote themselves.
	var ownerID int64
	s.DB.Get(&ownerID, `SELECT id FROM users WHERE email = 'owner@example.edu'`)
	resp, body = post(t, s.owner, fmt.Sprintf("%s/admin/users/%d/disable", s.Srv.URL, ownerID), nil)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "last owner") {
		t.Fatalf("last owner disables self: %d\n%s", resp.StatusCode, body)
	}
	resp, body = post(t, s.owner, fmt.Sprintf("%s/admin/users/%d", s.Srv.URL, ownerID), url.Values{"role": {"admin"}})
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, `id="role-error"`) || !strings.Contains(body, "last owner") {
		t.Fatalf("last owner demotes self: %d\n%s", resp.StatusCode, body)
	}
	if code, who := whoami(t, s, s.owner); code != 200 || !strings.Contains(who, " owner ") {
		t.Fatalf("owner after refused changes: %d %q", code, who)
	}
	// With a second owner, the first may step down.
	if _, err := s.Acc.UpdateUser(ctx, "test", u.ID, auth.Owner, nil); err != nil {
		t.Fatal(err)
	}
	if resp, body := post(t, s.owner, fmt.Sprintf("%s/admin/users/%d", s.Srv.URL, ownerID), url.Values{"role": {"admin"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("owner steps down with another owner: %d\n%s", resp.StatusCode, body)
	}
	if _, err := s.Acc.SetUserDisabled(ctx, "test", u.ID, true); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("disable the new last owner: %v", err)
	}
	// With another owner, an owner may disable themselves: signed out.
	if _, err := s.Acc.UpdateUser(ctx, "test", ownerID, auth.Owner, nil); err != nil {
		t.Fatal(err)
	}
	resp, _ = post(t, s.owner, fmt.Sprintf("%s/admin/users/%d/disable", s.Srv.URL, ownerID), nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("owner disables self with another owner: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, body := get(t, s.owner, s.Srv.URL+"/login"); !strings.Contains(body, "You disabled your own account") {
		t.Errorf("no flash after disabling oneself:\n%s", body)
	}
	if code, _ := whoami(t, s, s.owner); code != http.StatusSeeOther {
		t.Errorf("self-disabled owner still signed in: %d", code)
	}
	if n := count(t, s, `SELECT count(*) FROM audit_log WHERE entity_type = 'user' AND action IN ('disable', 'enable')`); n != 5 {
		t.Errorf("%d disable/enable audit entries, want 5", n)
	}
}

// Changing one's own password needs the current one; it ends the other
// sessions and keeps this one.
func TestChangeOwnPassword(t *testing.T) {
	s := mustStaffEnv(t)
	other := s.signIn(t, "owner@example.edu", ownerPW)
	if resp, body := get(t, s.owner, s.Srv.URL+"/account/password"); resp.StatusCode != 200 || !strings.Contains(body, `id="current_password"`) {
		t.Fatalf("form: %d\n%s", resp.StatusCode, body)
	}
	const next = "a brand new password"
	for name, tc := range map[string]struct {
		form   url.Values
		status int
		msg    string
	}{
		"wrong current": {url.Values{"current_password": {"not it at all"}, "new_password": {next}, "confirm_password": {next}}, 422, `id="current_password-error">The current password is wrong.`},
		"no current":    {url.Values{"new_password": {next}, "confirm_password": {next}}, 422, `id="current_password-error">Enter your current password.`},
		"mismatch":      {url.Values{"current_password": {ownerPW}, "new_password": {next}, "confirm_password": {"something else"}}, 422, `id="confirm_password-error"`},
		"short":         {url.Values{"current_password": {ownerPW}, "new_password": {"short"}, "confirm_password": {"short"}}, 422, `id="new_password-error">Password must be at least 10 characters.`},
		"common":        {url.Values{"current_password": {ownerPW}, "new_password": {"1q2w3e4r5t"}, "confirm_password": {"1q2w3e4r5t"}}, 422, `id="new_password-error">Password is one of the 100,000 most common passwords`},
	} {
		resp, body := post(t, s.owner, s.Srv.URL+"/account/password", tc.form)
		if resp.StatusCode != tc.status || !strings.Contains(body, tc.msg) {
			t.Errorf("%s: %d\n%s", name, resp.StatusCode, body)
		}
	}
	if _, err := s.Acc.Authenticate(context.Background(), "owner@example.edu", ownerPW); err != nil {
		t.Fatalf("refused changes changed the password: %v", err)
	}
	resp, body := post(t, s.owner, s.Srv.URL+"/account/password", url.Values{"current_password": {ownerPW}, "new_password": {next}, "confirm_password": {next}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("change: %d\n%s", resp.StatusCode, body)
	}
	if _, body := get(t, s.owner, s.Srv.URL+"/account/password"); !strings.Contains(body, "Your password is changed.") {
		t.Errorf("no confirmation:\n%s", body)
	}
	if code, _ := whoami(t, s, s.owner); code != 200 {
		t.Errorf("this session after the change: %d", code)
	}
	if code, _ := whoami(t, s, other); code != http.StatusSeeOther {
		t.Errorf("the other session after the change: %d", code)
	}
	if _, err := s.Acc.Authenticate(context.Background(), "owner@example.edu", ownerPW); err == nil {
		t.Error("old password still works")
	}
	s.signIn(t, "owner@example.edu", next)
	if n := count(t, s, `SELECT count(*) FROM audit_log WHERE action = 'change_password' AND before IS NULL AND after IS NULL`); n != 1 {
		t.Errorf("%d change_password audit entries", n)
	}
}

// A token belongs to the account that created it on the page: the list
// shows whose it is; disabling the account stops its tokens at once (401)
// and deleting it removes them. A command-line token belongs to no account,
// shows "—" and keeps working.
func TestTokenStopsWithItsCreator(t *testing.T) {
	s := mustStaffEnv(t)
	ctx := context.Background()
	olga, _, err := s.Acc.CreateUser(ctx, "olga@example.edu", "Olga Owner", auth.Owner, nil, "olga's own password")
	if err != nil {
		t.Fatal(err)
	}
	oc := s.signIn(t, "olga@example.edu", "olga's own password")
	resp, body := post(t, oc, s.Srv.URL+"/admin/tokens", url.Values{"name": {"Olga's script"}, "role": {"viewer"}})
	secret := regexp.MustCompile(`id="new-token" value="(lrl_[A-Za-z0-9_-]+)"`).FindStringSubmatch(body)
	if resp.StatusCode != http.StatusCreated || secret == nil {
		t.Fatalf("create: %d\n%s", resp.StatusCode, body)
	}
	cli, err := s.Acc.CreateToken(ctx, "cron", auth.Viewer)
	if err != nil {
		t.Fatal(err)
	}
	call := func(tok string) int {
		req, _ := http.NewRequest("GET", s.Srv.URL+"/api/v1/whoami", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	if a, b := call(secret[1]), call(cli); a != 200 || b != 200 {
		t.Fatalf("calls before: page token %d, command-line token %d", a, b)
	}
	var pageID, cliID int64
	s.DB.Get(&pageID, `SELECT id FROM api_tokens WHERE name = 'Olga''s script'`)
	s.DB.Get(&cliID, `SELECT id FROM api_tokens WHERE name = 'cron'`)
	row := func(list string, id int64) string {
		m := regexp.MustCompile(fmt.Sprintf(`(?s)<tr id="token-%d".*?</tr>`, id)).FindString(list)
		if m == "" {
			t.Fatalf("no row for token %d:\n%s", id, list)
		}
		return m
	}
	_, list := get(t, s.owner, s.Srv.URL+"/admin/tokens")
	if r := row(list, pageID); !strings.Contains(r, `class="created-by">Olga Owner`) || !strings.Contains(r, "olga@example.edu") {
		t.Errorf("page token's creator not shown:\n%s", r)
	}
	if r := row(list, cliID); !strings.Contains(r, `class="created-by"><span class="muted"`) || !strings.Contains(r, "—</span>") {
		t.Errorf("command-line token not shown as —:\n%s", r)
	}
	if resp, body := post(t, s.owner, fmt.Sprintf("%s/admin/users/%d/disable", s.Srv.URL, olga.ID), nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable: %d\n%s", resp.StatusCode, body)
	}
	if code := call(secret[1]); code != http.StatusUnauthorized {
		t.Errorf("token of a disabled account: %d, want 401", code)
	}
	if _, err := s.Acc.TokenPrincipal(ctx, secret[1]); !apperr.Is(err, apperr.Unauthorized) {
		t.Errorf("principal of a disabled account's token: %v", err)
	}
	if code := call(cli); code != 200 {
		t.Errorf("command-line token after another account was disabled: %d", code)
	}
	if _, list = get(t, s.owner, s.Srv.URL+"/admin/tokens"); !strings.Contains(row(list, pageID), `data-state="stopped"`) {
		t.Errorf("stopped token not marked:\n%s", row(list, pageID))
	}
	if _, err := s.DB.Exec(`UPDATE users SET disabled = false WHERE id = $1`, olga.ID); err != nil {
		t.Fatal(err)
	}
	if code := call(secret[1]); code != 200 {
		t.Errorf("token after its account is enabled again: %d", code)
	}
	if _, err := s.DB.Exec(`DELETE FROM users WHERE id = $1`, olga.ID); err != nil {
		t.Fatalf("delete the account: %v", err)
	}
	if code := call(secret[1]); code != http.StatusUnauthorized {
		t.Errorf("token of a deleted account: %d, want 401", code)
	}
	if code := call(cli); code != 200 {
		t.Errorf("command-line token after an account was deleted: %d", code)
	}
}

// Tokens are created on the page (shown once), listed with name, role,
// group limit and last use, and revoked; a group limit set on the page is
// the token's principal's.
func TestTokensPage(t *testing.T) {
	s := mustStaffEnv(t)
	resp, body := post(t, s.owner, s.Srv.URL+"/admin/tokens", url.Values{"name": {"SIS sync"}, "role": {"team_member"}, "groups": {fmt.Sprint(s.group)}})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d\n%s", resp.StatusCode, body)
	}
	secret := regexp.MustCompile(`id="new-token" value="(lrl_[A-Za-z0-9_-]+)"`).FindStringSubmatch(body)
	if secret == nil || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("new token not shown (Cache-Control %q):\n%s", resp.Header.Get("Cache-Control"), body)
	}
	_, list := get(t, s.owner, s.Srv.URL+"/admin/tokens")
	if strings.Contains(list, secret[1]) || !strings.Contains(list, "SIS sync") || !strings.Contains(list, "Group 1") || !strings.Contains(list, `class="last-used"><span class="muted">never`) {
		t.Fatalf("list after create:\n%s", list)
	}
	p, err := s.Acc.TokenPrincipal(context.Background(), secret[1])
	if err != nil || p.Role != auth.TeamMember || fmt.Sprint(p.Groups) != fmt.Sprintf("[%d]", s.group) {
		t.Fatalf("token principal %+v %v", p, err)
	}
	call := func() int {
		req, _ := http.NewRequest("GET", s.Srv.URL+"/api/v1/whoami", nil)
		req.Header.Set("Authorization", "Bearer "+secret[1])
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	if code := call(); code != 200 {
		t.Fatalf("token call: %d", code)
	}
	if _, list = get(t, s.owner, s.Srv.URL+"/admin/tokens"); strings.Contains(list, `class="last-used"><span class="muted">never`) {
		t.Errorf("last used not shown after a call:\n%s", list)
	}
	// Bad input: fields named, nothing created.
	for name, tc := range map[string]struct {
		form  url.Values
		field string
	}{
		"no name":      {url.Values{"name": {" "}, "role": {"viewer"}}, "name"},
		"bad role":     {url.Values{"name": {"x"}, "role": {"root"}}, "role"},
		"admin groups": {url.Values{"name": {"x"}, "role": {"admin"}, "groups": {fmt.Sprint(s.group)}}, "groups"},
	} {
		resp, body := post(t, s.owner, s.Srv.URL+"/admin/tokens", tc.form)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `id="`+tc.field+`-error"`) || strings.Contains(body, `id="new-token"`) {
			t.Errorf("%s: %d\n%s", name, resp.StatusCode, body)
		}
	}
	if n := count(t, s, `SELECT count(*) FROM api_tokens`); n != 1 {
		t.Fatalf("%d tokens after refused creates", n)
	}
	var id int64
	s.DB.Get(&id, `SELECT id FROM api_tokens`)
	if resp, _ := post(t, s.owner, fmt.Sprintf("%s/admin/tokens/%d/revoke", s.Srv.URL, id), nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if code := call(); code != http.StatusUnauthorized {
		t.Errorf("revoked token: %d", code)
	}
	if resp, _ := post(t, s.owner, fmt.Sprintf("%s/admin/tokens/%d/revoke", s.Srv.URL, id), nil); resp.StatusCode != http.StatusConflict {
		t.Errorf("revoke twice: %d", resp.StatusCode)
	}
	if resp, _ := post(t, s.owner, s.Srv.URL+"/admin/tokens/999/revoke", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("revoke unknown: %d", resp.StatusCode)
	}
	if _, list = get(t, s.owner, s.Srv.URL+"/admin/tokens"); !strings.Contains(list, `data-state="revoked"`) {
		t.Errorf("list after revoke:\n%s", list)
	}
	var actions []string
	s.DB.Select(&actions, `SELECT action FROM audit_log WHERE entity_type = 'api_token' ORDER BY id`)
	if strings.Join(actions, ",") != "create,revoke" {
		t.Errorf("token audit %v", actions)
	}
	var log string
	s.DB.Get(&log, `SELECT string_agg(coalesce(after::text, ''), ' ') FROM audit_log`)
	if strings.Contains(log, secret[1]) {
		t.Error("the audit log holds the token")
	}
}

// Every staff administration route is owner-only, GET included.
func TestStaffAdminOwnerOnly(t *testing.T) {
	s := mustStaffEnv(t)
	ctx := context.Background()
	u, _, err := s.Acc.CreateUser(ctx, "a@example.edu", "Ann", auth.Admin, nil, "ann's password!")
	if err != nil {
		t.Fatal(err)
	}
	ann := s.signIn(t, "a@example.edu", "ann's password!")
	for _, r := range []struct{ method, path string }{
		{"GET", "/admin/users"}, {"GET", "/admin/users/invite"}, {"POST", "/admin/users/invite"},
		{"GET", fmt.Sprintf("/admin/users/%d", u.ID)}, {"POST", fmt.Sprintf("/admin/users/%d", u.ID)},
		{"POST", fmt.Sprintf("/admin/users/%d/disable", u.ID)}, {"POST", fmt.Sprintf("/admin/users/%d/reset", u.ID)},
		{"GET", "/admin/tokens"}, {"POST", "/admin/tokens"}, {"POST", "/admin/tokens/1/revoke"},
	} {
		var resp *http.Response
		if r.method == "GET" {
			resp, _ = get(t, ann, s.Srv.URL+r.path)
		} else {
			resp, _ = post(t, ann, s.Srv.URL+r.path, url.Values{"role": {"owner"}, "name": {"x"}, "email": {"x@example.edu"}})
		}
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("admin %s %s: %d", r.method, r.path, resp.StatusCode)
		}
	}
	// The owner's forms are refused when posted from another site.
	req, _ := http.NewRequest("POST", s.Srv.URL+"/admin/users/invite", strings.NewReader(url.Values{"email": {"evil@example.edu"}, "name": {"Evil"}, "role": {"owner"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if resp, err := s.owner.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site invite: %v %v", resp, err)
	}
	if who := count(t, s, `SELECT count(*) FROM users WHERE role = 'owner'`); who != 1 {
		t.Errorf("an admin changed roles: %d owners", who)
	}
	// Changing one's own password is for everyone.
	if resp, _ := get(t, ann, s.Srv.URL+"/account/password"); resp.StatusCode != 200 {
		t.Errorf("admin /account/password: %d", resp.StatusCode)
	}
}

// An SMTP outage delays an invitation and loses nothing: the job retries
// and the email goes out once the server is back.
func TestInvitationSurvivesSMTPOutage(t *testing.T) {
	s := mustStaffEnv(t)
	ctx := context.Background()
	down, err := mail.NewCatcher("")
	if err != nil {
		t.Fatal(err)
	}
	addr := down.URL()
	down.Close()
	dead, err := mail.NewSender(addr, "Laurel <no-reply@laurel.test>", 1)
	if err != nil {
		t.Fatal(err)
	}
	s.worker.Handle(accounts.AccountEmailJob, s.Acc.SendAccountEmail(dead, "", "http://laurel.test"))
	if _, err := s.Acc.InviteUser(ctx, "test", "late@example.edu", "Lee", auth.Viewer, nil); err != nil {
		t.Fatal(err)
	}
	s.runJobs(t)
	var state string
	var sealed []byte
	if err := s.DB.QueryRow(`SELECT mail_state, mail_token FROM account_links`).Scan(&state, &sealed); err != nil {
		t.Fatal(err)
	}
	st, _ := jobs.Stats(ctx, s.DB, accounts.AccountEmailJob)
	if state != "queued" || sealed == nil || st["queued"] != 1 {
		t.Fatalf("after a failed send: link %s (token kept %v), jobs %v", state, sealed != nil, st)
	}
	// The server is back; the retry is due.
	sender, _ := mail.NewSender(s.mail.URL(), "Laurel <no-reply@laurel.test>", 1)
	s.worker.Handle(accounts.AccountEmailJob, s.Acc.SendAccountEmail(sender, "", "http://laurel.test"))
	s.clock.Advance(2 * time.Hour)
	s.mustLink(t, 1, "late@example.edu")
	if n := s.mail.Len(); n != 1 {
		t.Fatalf("%d emails, want 1", n)
	}
}

// An invitation works for 7 days; after that the list says it expired and
// the owner resends it, which replaces the old link.
func TestInvitationExpires(t *testing.T) {
	s := mustStaffEnv(t)
	u, err := s.Acc.InviteUser(context.Background(), "test", "slow@example.edu", "Sam Slow", auth.Viewer, nil)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := s.mustLink(t, 1, "slow@example.edu")
	s.clock.Advance(accounts.InviteValidity - time.Minute)
	if resp, _ := get(t, mustClient(t), s.Srv.URL+first); resp.StatusCode != 200 {
		t.Fatalf("invitation a minute before it expires: %d", resp.StatusCode)
	}
	s.clock.Advance(2 * time.Minute)
	if resp, body := get(t, mustClient(t), s.Srv.URL+first); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "expired") {
		t.Fatalf("expired invitation: %d\n%s", resp.StatusCode, body)
	}
	if _, body := get(t, s.owner, s.Srv.URL+"/admin/users"); !strings.Contains(body, "invitation expired") {
		t.Errorf("list does not say the invitation expired:\n%s", body)
	}
	resp, body := post(t, s.owner, fmt.Sprintf("%s/admin/users/%d/reset", s.Srv.URL, u.ID), nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("resend: %d\n%s", resp.StatusCode, body)
	}
	second, m := s.mustLink(t, 2, "slow@example.edu")
	if !strings.HasPrefix(second, "/account/welcome?") || !strings.Contains(m.Subject, "invited") {
		t.Fatalf("resent invitation %q %q", second, m.Subject)
	}
	if resp, _ := get(t, mustClient(t), s.Srv.URL+second); resp.StatusCode != 200 {
		t.Fatalf("resent invitation: %d", resp.StatusCode)
	}
	// An invitation link is not a reset link.
	if resp, _ := get(t, mustClient(t), s.Srv.URL+strings.Replace(second, "welcome", "reset", 1)); resp.StatusCode != http.StatusNotFound {
		t.Errorf("invitation token on the reset page: %d", resp.StatusCode)
	}
	for _, bad := range []string{"/account/welcome", "/account/welcome?token=lrk_nope", "/account/welcome?token=" + strings.Repeat("x", 300)} {
		if resp, _ := get(t, mustClient(t), s.Srv.URL+bad); resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d", bad, resp.StatusCode)
		}
	}
}
