package auth_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/accounts/accountstest"
	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// env is the shared staff site (accountstest.Env).
type env = accountstest.Env

func mustEnv(t *testing.T, baseURL string) *env {
	t.Helper()
	return accountstest.New(t, baseURL)
}

func mustUser(t *testing.T, e *env, email string, role auth.Role) {
	t.Helper()
	accountstest.User(t, e.Acc, email, role)
}

// The shared helpers under the names the tests use.
var (
	mustClient = accountstest.Client
	post       = accountstest.Post
	get        = accountstest.Get
)

func TestLogin(t *testing.T) {
	e := mustEnv(t, "http://localhost:8080")
	mustUser(t, e, "ada@example.edu", auth.Owner)
	c := mustClient(t)

	// Anonymous → redirected to the login page, remembering where to go.
	resp, _ := get(t, c, e.Srv.URL+"/groups?x=1")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2Fgroups%3Fx%3D1" {
		t.Fatalf("anonymous /groups: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// An anonymous POST is a 401 page, not a redirect.
	resp, _ = post(t, c, e.Srv.URL+"/groups", nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous POST: %d", resp.StatusCode)
	}

	// Empty fields: each field's own message.
	resp, body := post(t, c, e.Srv.URL+"/login", url.Values{"email": {""}, "password": {""}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `id="email-error">Enter your email address.`) || !strings.Contains(body, `id="password-error">Enter your password.`) {
		t.Fatalf("empty form: %d\n%s", resp.StatusCode, body)
	}
	// Wrong password and unknown email: the same generic message, email kept.
	for _, email := range []string{"ada@example.edu", "nobody@example.edu"} {
		resp, body = post(t, c, e.Srv.URL+"/login", url.Values{"email": {email}, "password": {"wrong password!"}})
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "The email or password is wrong.") || !strings.Contains(body, `value="`+email+`"`) {
			t.Fatalf("wrong login for %s: %d\n%s", email, resp.StatusCode, body)
		}
	}

	// Success: a new session cookie with the right flags, redirect to next.
	resp, _ = post(t, c, e.Srv.URL+"/login", url.Values{"email": {"ADA@example.edu"}, "password": {"correct horse battery"}, "next": {"/groups?x=1"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/groups?x=1" {
		t.Fatalf("login: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var ck *http.Cookie
	for _, k := range resp.Cookies() {
		if k.Name == auth.SessionCookie {
			ck = k
		}
	}
	if ck == nil || !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" {
		t.Fatalf("session cookie flags: %+v", ck)
	}
	// httptest serves http://127.0.0.1, where a cookie jar drops Secure
	// cookies; send it by hand as a browser on loopback would.
	req, _ := http.NewRequest("GET", e.Srv.URL+"/groups", nil)
	req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	if r2.StatusCode != 200 || string(b) != "hello Ada Lovelace" {
		t.Fatalf("signed-in /groups: %d %q", r2.StatusCode, b)
	}
}

func TestSessionFixationAndLogout(t *testing.T) {
	e := mustEnv(t, "http://laurel.test")
	mustUser(t, e, "ada@example.edu", auth.Admin)
	c := mustClient(t)
	// A plain-http non-loopback base URL → cookies without Secure, so the
	// jar (and a browser) keeps them.
	resp, _ := post(t, c, e.Srv.URL+"/login", url.Values{"email": {"x@example.edu"}, "password": {"nope nope nope"}})
	before := ""
	for _, k := range resp.Cookies() {
		if k.Name == auth.SessionCookie {
			before = k.Value
			if k.Secure {
				t.Errorf("cookie for http://laurel.test is Secure")
			}
		}
	}
	_ = before
	resp, _ = post(t, c, e.Srv.URL+"/login", url.Values{"email": {"ada@example.edu"}, "password": {"correct horse battery"}})
	var after string
	for _, k := range resp.Cookies() {
		if k.Name == auth.SessionCookie {
			after = k.Value
		}
	}
	if after == "" || after == before {
		t.Fatalf("session token not renewed on login: before %q after %q", before, after)
	}
	if resp, body := get(t, c, e.Srv.URL+"/groups"); resp.StatusCode != 200 {
		t.Fatalf("after login: %d %s", resp.StatusCode, body)
	}
	resp, _ = post(t, c, e.Srv.URL+"/logout", nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("logout: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, body := get(t, c, e.Srv.URL+"/login"); !strings.Contains(body, "You are signed out.") {
		t.Fatalf("no flash after logout:\n%s", body)
	}
	if resp, _ := get(t, c, e.Srv.URL+"/groups"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after logout /groups: %d", resp.StatusCode)
	}
	// The old session token no longer works either.
	req, _ := http.NewRequest("GET", e.Srv.URL+"/groups", nil)
	req.AddCookie(&http.Cookie{Name: auth.SessionCookie, Value: after})
	r2, _ := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if r2.StatusCode != http.StatusSeeOther {
		t.Fatalf("old token after logout: %d", r2.StatusCode)
	}
}

func TestDisabledUserIsSignedOut(t *testing.T) {
	e := mustEnv(t, "http://laurel.test")
	u, _, err := e.Acc.CreateUser(context.Background(), "ada@example.edu", "Ada", auth.Viewer, nil, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	c := mustClient(t)
	post(t, c, e.Srv.URL+"/login", url.Values{"email": {"ada@example.edu"}, "password": {"correct horse battery"}})
	if resp, _ := get(t, c, e.Srv.URL+"/groups"); resp.StatusCode != 200 {
		t.Fatalf("signed in: %d", resp.StatusCode)
	}
	if err := e.Acc.SetDisabled(context.Background(), u.ID, true); err != nil {
		t.Fatal(err)
	}
	if resp, _ := get(t, c, e.Srv.URL+"/groups"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("disabled user still signed in: %d", resp.StatusCode)
	}
	resp, body := post(t, c, e.Srv.URL+"/login", url.Values{"email": {"ada@example.edu"}, "password": {"correct horse battery"}})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "The email or password is wrong.") {
		t.Fatalf("disabled user login: %d", resp.StatusCode)
	}
}

func TestLoginRateLimit(t *testing.T) {
	e := mustEnv(t, "http://laurel.test")
	e.Auth.Limits = auth.LoginLimits{PerEmail: 3, PerIP: 5, Window: 15 * time.Minute}
	mustUser(t, e, "ada@example.edu", auth.Owner)
	c := mustClient(t)
	for i := 0; i < 3; i++ {
		if resp, _ := post(t, c, e.Srv.URL+"/login", url.Values{"email": {"ada@example.edu"}, "password": {"wrong password"}}); resp.StatusCode != 401 {
			t.Fatalf("attempt %d: %d", i, resp.StatusCode)
		}
	}
	// Even the right password is refused now, with the wait named.
	resp, body := post(t, c, e.Srv.URL+"/login", url.Values{"email": {"Ada@Example.edu"}, "password": {"correct horse battery"}})
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "Too many failed sign-in attempts. Try again in 15 minutes.") {
		t.Fatalf("rate limited login: %d\n%s", resp.StatusCode, body)
	}
	// Per IP: spraying other accounts from the same address is capped too.
	for i := 0; i < 2; i++ {
		post(t, c, e.Srv.URL+"/login", url.Values{"email": {"other" + string(rune('a'+i)) + "@example.edu"}, "password": {"x"}})
	}
	resp, _ = post(t, c, e.Srv.URL+"/login", url.Values{"email": {"fresh@example.edu"}, "password": {"x"}})
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("per-IP limit: %d", resp.StatusCode)
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"":                      "/groups",
		"/groups/3":             "/groups/3",
		"/groups?x=1":           "/groups?x=1",
		"//evil.example/":       "/groups",
		"/\\evil.example":       "/groups",
		"https://evil.example/": "/groups",
		"javascript:alert(1)":   "/groups",
		"/login":                "/groups",
		"groups":                "/groups",
	} {
		if got := auth.SafeNext(in); got != want {
			t.Errorf("SafeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLoginNextIsLocal(t *testing.T) {
	e := mustEnv(t, "http://laurel.test")
	mustUser(t, e, "ada@example.edu", auth.Owner)
	c := mustClient(t)
	resp, _ := post(t, c, e.Srv.URL+"/login", url.Values{"email": {"ada@example.edu"}, "password": {"correct horse battery"}, "next": {"//evil.example/x"}})
	if resp.Header.Get("Location") != "/groups" {
		t.Fatalf("open redirect: %q", resp.Header.Get("Location"))
	}
}

func TestCSRF(t *testing.T) {
	e := mustEnv(t, "http://laurel.test")
	mustUser(t, e, "ada@example.edu", auth.Owner)
	c := mustClient(t)
	post(t, c, e.Srv.URL+"/login", url.Values{"email": {"ada@example.edu"}, "password": {"correct horse battery"}})
	for name, h := range map[string][2]string{
		"sec-fetch-site": {"Sec-Fetch-Site", "cross-site"},
		"origin":         {"Origin", "https://evil.example"},
	} {
		req, _ := http.NewRequest("POST", e.Srv.URL+"/groups", strings.NewReader("a=b"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set(h[0], h[1])
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "cross-origin request refused") || strings.Contains(string(b), "HANDLER-RAN") {
			t.Errorf("%s: %d %s", name, resp.StatusCode, b)
		}
	}
	// Same-origin passes.
	req, _ := http.NewRequest("POST", e.Srv.URL+"/groups", nil)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, _ := c.Do(req)
	if resp.StatusCode != 200 {
		t.Errorf("same-origin POST: %d", resp.StatusCode)
	}
	// A forged logout is refused too (it would sign the victim out).
	req, _ = http.NewRequest("POST", e.Srv.URL+"/logout", nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if resp, _ := c.Do(req); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site logout: %d", resp.StatusCode)
	}
}

func TestBearer(t *testing.T) {
	e := mustEnv(t, "http://laurel.test")
	tok, err := e.Acc.CreateToken(context.Background(), "sis sync", auth.Admin)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, "lrl_") || len(tok) < 40 {
		t.Fatalf("token %q", tok)
	}
	call := func(hdr string) (int, string) {
		req, _ := http.NewRequest("GET", e.Srv.URL+"/api/v1/whoami", nil)
		if hdr != "" {
			req.Header.Set("Authorization", hdr)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	if code, body := call("Bearer " + tok); code != 200 || body != "sis sync admin" {
		t.Fatalf("valid token: %d %s", code, body)
	}
	// Stored as a MAC only, and its use recorded.
	var stored []byte
	var used bool
	if err := e.DB.QueryRow(`SELECT token_hash, last_used_at IS NOT NULL FROM api_tokens`).Scan(&stored, &used); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(stored), tok[4:20]) || len(stored) != 32 || !used {
		t.Errorf("stored token %x (used %v); want a 32-byte MAC and last_used_at set", stored, used)
	}
	// A revoked token stops working.
	if _, err := e.DB.Exec(`UPDATE api_tokens SET revoked_at = now()`); err != nil {
		t.Fatal(err)
	}
	if code, _ := call("Bearer " + tok); code != 401 {
		t.Errorf("revoked token: %d", code)
	}
	for _, h := range []string{"", "Bearer ", "Bearer lrl_nope", "Basic abc", "Bearer " + tok + "x"} {
		code, body := call(h)
		if code != 401 || !strings.Contains(body, `"code":"unauthorized"`) {
			t.Errorf("header %q: %d %s", h, code, body)
		}
	}
	if _, err := e.Acc.CreateToken(context.Background(), " ", auth.Admin); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("nameless token: %v", err)
	}
}
