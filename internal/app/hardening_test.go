package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/canvas"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/config"
	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/lti"
)

// client is a non-browser HTTP client with its own cookies that does not
// follow redirects, so each answer is seen as Laurel gave it.
type client struct {
	t    *testing.T
	base string
	http *http.Client
	// header is added to every request (e.g. Authorization).
	header http.Header
}

func newClient(t *testing.T, base string) *client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: base, header: http.Header{}, http: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (c *client) do(method, path, contentType, body string) (*http.Response, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (c *client) form(path string, v url.Values) (*http.Response, string) {
	c.t.Helper()
	return c.do("POST", path, "application/x-www-form-urlencoded", v.Encode())
}

// mustSignIn signs a new staff user in through the login form.
func mustSignIn(t *testing.T, app *running, role auth.Role) *client {
	t.Helper()
	const password = "correct horse battery staple"
	email := fmt.Sprintf("%s@uni.example.edu", role)
	if _, _, err := app.Accounts.CreateUser(context.Background(), email, "Staff "+string(role), role, nil, password); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, app.URL)
	resp, body := c.form("/login", url.Values{"email": {email}, "password": {password}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %d %s", resp.StatusCode, body)
	}
	return c
}

func mustToken(t *testing.T, app *running) *client {
	t.Helper()
	tok, err := app.Accounts.CreateToken(context.Background(), "script", auth.Admin)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, app.URL)
	c.header.Set("Authorization", "Bearer "+tok)
	return c
}

func count(t *testing.T, app *running, table string) int {
	t.Helper()
	var n int
	if err := app.DB.Get(&n, `SELECT count(*) FROM `+table); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBadTextIsRefusedNamingTheField sends NUL bytes, other control
// characters and invalid UTF-8 through every door text comes in by: API
// JSON (names, emails, attributes, keys, a batch item), a staff form, the
// sign-in email and query parameters. Each is a 422 naming the field, and
// the database is unchanged (before, PostgreSQL's "invalid byte sequence"
// was a 500).
func TestBadTextIsRefusedNamingTheField(t *testing.T) {
	app := mustRun(t)
	ctx := context.Background()
	g, err := app.Issuance.CreateGroup(ctx, "test", issuance.Group{
		Name: "Data Science", CourseName: "DS 101", Language: "en",
		Attributes: []issuance.Attribute{{Key: "grade", Label: "Grade", Type: issuance.TextAttr}},
	})
	if err != nil {
		t.Fatal(err)
	}
	api := mustToken(t, app)
	staff := mustSignIn(t, app, auth.TeamMember)
	groups, creds := count(t, app, "groups"), count(t, app, "credentials")

	type fieldErr struct {
		Index int    `json:"index"`
		Field string `json:"field"`
	}
	apiCases := []struct {
		name, method, path, body string
		want                     fieldErr
	}{
		{"NUL escape in a batch item's name", "POST", fmt.Sprintf("/api/v1/groups/%d/credentials", g.ID),
			`{"credentials":[{"recipient":{"name":"Ada","email":"ada@example.edu"},"issued_on":"2026-01-02"},{"recipient":{"name":"Al\u0000an","email":"alan@example.edu"},"issued_on":"2026-01-02"}]}`,
			fieldErr{1, "recipient.name"}},
		{"raw invalid UTF-8 in an email", "POST", fmt.Sprintf("/api/v1/groups/%d/credentials", g.ID),
			"{\"credentials\":[{\"recipient\":{\"name\":\"Ada\",\"email\":\"ada\xff@example.edu\"},\"issued_on\":\"2026-01-02\"}]}",
			fieldErr{0, "recipient.email"}},
		{"control character in an attribute", "POST", fmt.Sprintf("/api/v1/groups/%d/credentials", g.ID),
			`{"credentials":[{"recipient":{"name":"Ada","email":"ada@example.edu"},"issued_on":"2026-01-02","attributes":{"grade":"A\u0007"}}]}`,
			fieldErr{0, "attributes.grade"}},
		{"lone surrogate in an attribute", "POST", fmt.Sprintf("/api/v1/groups/%d/credentials", g.ID),
			`{"credentials":[{"recipient":{"name":"Ada","email":"ada@example.edu"},"issued_on":"2026-01-02","attributes":{"grade":"\ud800"}}]}`,
			fieldErr{0, "attributes.grade"}},
		{"NUL in an attribute key", "POST", fmt.Sprintf("/api/v1/groups/%d/credentials", g.ID),
			`{"credentials":[{"recipient":{"name":"Ada","email":"ada@example.edu"},"issued_on":"2026-01-02","attributes":{"gr\u0000ade":"A"}}]}`,
			fieldErr{0, `attributes.gr\x00ade`}},
		{"NUL in a group's name", "POST", "/api/v1/groups", `{"name":"Bad\u0000","course_name":"X"}`, fieldErr{-1, "name"}},
		{"NUL in a group attribute label", "PATCH", fmt.Sprintf("/api/v1/groups/%d", g.ID),
			`{"attributes":[{"key":"grade","label":"Gr\u0000ade","type":"text"}]}`, fieldErr{-1, "attributes[0].label"}},
		{"NUL in a mapping's context_id", "POST", "/api/v1/mappings", fmt.Sprintf(`{"platform_id":1,"group_id":%d,"context_id":"c\u0000"}`, g.ID), fieldErr{-1, "context_id"}},
		{"NUL in a query parameter", "GET", fmt.Sprintf("/api/v1/groups/%d/credentials?cursor=%%00", g.ID), "", fieldErr{-1, "cursor"}},
	}
	for _, tc := range apiCases {
		t.Run(tc.name, func(t *testing.T) {
			ct := "application/json"
			if tc.body == "" {
				ct = ""
			}
			resp, body := api.do(tc.method, tc.path, ct, tc.body)
			var got struct {
				Error struct {
					Code string `json:"code"`
				} `json:"error"`
				Errors []fieldErr `json:"errors"`
			}
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("%d %q is not a JSON error: %v", resp.StatusCode, body, err)
			}
			if resp.StatusCode != http.StatusUnprocessableEntity || got.Error.Code != "invalid" || len(got.Errors) != 1 || got.Errors[0] != tc.want {
				t.Fatalf("got %d %s, want 422 invalid with errors [%+v]", resp.StatusCode, body, tc.want)
			}
		})
	}

	t.Run("staff form", func(t *testing.T) {
		resp, body := staff.form(fmt.Sprintf("/groups/%d/credentials/new", g.ID), url.Values{
			"name_0": {"Ada\x00"}, "email_0": {"ada@example.edu"}, "issued_on_0": {"2026-01-02"}, "action": {"create"},
		})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "name_0") || !strings.Contains(body, "NUL") {
			t.Fatalf("form with a NUL: %d %.600s; want 422 naming name_0", resp.StatusCode, body)
		}
		resp, body = staff.form("/groups/new", url.Values{"name": {"caf\xe9"}, "course_name": {"Course"}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "&#34;name&#34;") || !strings.Contains(body, "UTF-8") {
			t.Fatalf("group form with invalid UTF-8: %d %.600s; want 422 naming name", resp.StatusCode, body)
		}
	})
	t.Run("multipart form", func(t *testing.T) {
		designs := count(t, app, "designs")
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		mw.WriteField("name", "Badge\x00")
		mw.WriteField("kind", "badge")
		fw, _ := mw.CreateFormFile("image", "badge.png")
		fw.Write([]byte("\x89PNG\r\n\x1a\n\x00\x00 binary content is not text"))
		mw.Close()
		owner := mustSignIn(t, app, auth.Owner)
		resp, body := owner.do("POST", "/designs/new", mw.FormDataContentType(), buf.String())
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "&#34;name&#34;") {
			t.Fatalf("multipart form with a NUL in name: %d %.600s; want 422 naming name", resp.StatusCode, body)
		}
		// Signed out, the upload is refused as before (never parsed).
		resp, _ = newClient(t, app.URL).do("POST", "/designs/new", mw.FormDataContentType(), buf.String())
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("anonymous upload: %d, want 401", resp.StatusCode)
		}
		if n := count(t, app, "designs"); n != designs {
			t.Fatalf("designs %d → %d", designs, n)
		}
	})
	t.Run("sign-in email", func(t *testing.T) {
		resp, body := newClient(t, app.URL).form("/login", url.Values{"email": {"owner\x00@uni.example.edu"}, "password": {"x"}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "&#34;email&#34;") {
			t.Fatalf("login with a NUL in the email: %d %.600s; want 422 naming email", resp.StatusCode, body)
		}
	})
	t.Run("staff page query", func(t *testing.T) {
		resp, body := staff.do("GET", fmt.Sprintf("/groups/%d/unpublished?cursor=%%ff", g.ID), "", "")
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "cursor") {
			t.Fatalf("query with invalid UTF-8: %d %.600s", resp.StatusCode, body)
		}
	})
	if n, m := count(t, app, "groups"), count(t, app, "credentials"); n != groups || m != creds {
		t.Errorf("refused input changed the database: groups %d → %d, credentials %d → %d", groups, n, creds, m)
	}
	// Good text still goes through.
	resp, body := api.do("POST", fmt.Sprintf("/api/v1/groups/%d/credentials", g.ID), "application/json",
		`{"credentials":[{"recipient":{"name":"Zoë Ångström\tII","email":"zoe@example.edu"},"issued_on":"2026-01-02","attributes":{"grade":"A\nwith merit"}}]}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("good text refused: %d %s", resp.StatusCode, body)
	}
}

func csp(resp *http.Response) map[string]string {
	out := map[string]string{}
	for _, d := range strings.Split(resp.Header.Get("Content-Security-Policy"), ";") {
		name, val, _ := strings.Cut(strings.TrimSpace(d), " ")
		out[name] = val
	}
	return out
}

// TestSecurityHeaders checks the headers of a staff page, a public page,
// the API and an LTI page: a CSP without inline script, framing refused
// except for LTI pages (the platform's origins), Referrer-Policy
// same-origin, nosniff. (HSTS: see TestHSTSOnlyOverHTTPS.)
func TestSecurityHeaders(t *testing.T) {
	app := mustRun(t)
	staff := mustSignIn(t, app, auth.Owner)
	api := mustToken(t, app)
	anon := newClient(t, app.URL)
	check := func(name string, resp *http.Response, wantFrame string) {
		t.Helper()
		h := resp.Header
		p := csp(resp)
		if p["script-src"] != "'self'" || p["default-src"] != "'self'" || p["object-src"] != "'none'" || p["base-uri"] != "'none'" {
			t.Errorf("%s: CSP %q", name, h.Get("Content-Security-Policy"))
		}
		if strings.Contains(p["script-src"], "unsafe-inline") {
			t.Errorf("%s: inline scripts allowed", name)
		}
		if p["frame-ancestors"] != wantFrame {
			t.Errorf("%s: frame-ancestors %q, want %q", name, p["frame-ancestors"], wantFrame)
		}
		if wantFrame == "'none'" && h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: X-Frame-Options %q", name, h.Get("X-Frame-Options"))
		}
		if h.Get("Referrer-Policy") != "same-origin" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: Referrer-Policy %q, X-Content-Type-Options %q", name, h.Get("Referrer-Policy"), h.Get("X-Content-Type-Options"))
		}
		if h.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: HSTS over plain http", name)
		}
	}
	resp, _ := staff.do("GET", "/groups", "", "")
	check("staff page", resp, "'none'")
	resp, _ = anon.do("GET", "/login", "", "")
	check("sign-in page", resp, "'none'")
	resp, _ = anon.do("GET", "/c/NOSUCHCREDENTIAL", "", "")
	check("public credential page", resp, "'none'")
	resp, _ = api.do("GET", "/api/v1/groups", "", "")
	check("API", resp, "'none'")
	resp, _ = anon.do("GET", "/static/select-all.js", "", "")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("/static/select-all.js: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	// An LTI login with postMessage storage renders a page in the platform's
	// iframe: framed by the platform's origins (issuer, OIDC host, the
	// institution's Canvas) and the LMS page that posted the login.
	p, err := app.LTI.Registry().AddPlatform(context.Background(), lti.PlatformInput{
		Name: "Canvas", Issuer: "https://canvas.instructure.com", ClientID: "10000000000042",
		Extra: canvas.PlatformExtra("https://canvas.uni.example.edu", ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	login := url.Values{"iss": {p.Issuer}, "client_id": {p.ClientID}, "login_hint": {"u1"},
		"target_link_uri": {app.URL + "/lti/launch"}, "lti_storage_target": {"post_message_forwarding"}}
	req, _ := http.NewRequest("POST", app.URL+"/lti/login", strings.NewReader(login.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://lms-frame.uni.example.edu")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("LTI login: %d", resp.StatusCode)
	}
	check("LTI login page", resp, "https://canvas.instructure.com https://sso.canvaslms.com https://canvas.uni.example.edu https://lms-frame.uni.example.edu")
	if fa := csp(resp)["form-action"]; !strings.HasPrefix(fa, "'self' https://canvas.instructure.com") {
		t.Errorf("LTI page form-action %q", fa)
	}
	if resp.Header.Get("X-Frame-Options") != "" {
		t.Errorf("LTI page sends X-Frame-Options %q, which would refuse the platform's frame", resp.Header.Get("X-Frame-Options"))
	}

	// An expired launch's message shows in any registered platform's frame.
	resp, _ = anon.do("GET", "/lti/app?ltik=expired-or-unknown", "", "")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("expired launch: %d, want 401", resp.StatusCode)
	}
	check("expired launch page", resp, "https://canvas.instructure.com https://sso.canvaslms.com https://canvas.uni.example.edu")
}

// TestHSTSOnlyOverHTTPS: Strict-Transport-Security when LAUREL_BASE_URL is
// https (behind a TLS-terminating proxy), never over plain http.
func TestHSTSOnlyOverHTTPS(t *testing.T) {
	app := mustRunWith(t, testenv.DatabaseURL(t), testenv.RedisURL(t), func(c *config.Config) { c.BaseURL = "https://laurel.uni.example.edu" })
	resp, _ := newClient(t, app.URL).do("GET", "/login", "", "")
	if got := resp.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(got, "max-age=") {
		t.Errorf("HSTS with an https base URL = %q", got)
	}
}

// TestMetricsBehindToken: with LAUREL_METRICS_TOKEN, /metrics needs it.
func TestMetricsBehindToken(t *testing.T) {
	app := mustRunWith(t, testenv.DatabaseURL(t), testenv.RedisURL(t), func(c *config.Config) { c.MetricsToken = "m-3tr1cs-t0ken" })
	c := newClient(t, app.URL)
	if resp, _ := c.do("GET", "/metrics", "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/metrics without the token: %d, want 401", resp.StatusCode)
	}
	c.header.Set("Authorization", "Bearer wrong")
	if resp, _ := c.do("GET", "/metrics", "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/metrics with a wrong token: %d, want 401", resp.StatusCode)
	}
	c.header.Set("Authorization", "Bearer m-3tr1cs-t0ken")
	if resp, body := c.do("GET", "/metrics", "", ""); resp.StatusCode != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics with the token: %d", resp.StatusCode)
	}
}

// TestMetricsOnOwnAddress: with LAUREL_METRICS_LISTEN, /metrics is served
// there only, not on the public listener.
func TestMetricsOnOwnAddress(t *testing.T) {
	maddr, addr := freeAddr(t), freeAddr(t)
	app := mustRunWith(t, testenv.DatabaseURL(t), testenv.RedisURL(t), func(c *config.Config) { c.MetricsListen = maddr })
	if resp, _ := newClient(t, app.URL).do("GET", "/metrics", "", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/metrics on the public handler: %d, want 404", resp.StatusCode)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Serve(ctx, addr) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	var resp *http.Response
	var body string
	for i := 0; i < 100; i++ {
		r, err := http.Get("http://" + maddr + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(r.Body)
			r.Body.Close()
			resp, body = r, string(b)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if resp == nil || resp.StatusCode != 200 || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("/metrics on LAUREL_METRICS_LISTEN: %v %.200s", resp, body)
	}
	if resp, _ := newClient(t, "http://"+addr).do("GET", "/metrics", "", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/metrics on LAUREL_LISTEN while LAUREL_METRICS_LISTEN is set: %d, want 404", resp.StatusCode)
	}
	if resp, _ := newClient(t, "http://"+maddr).do("GET", "/groups", "", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("the metrics address serves pages: %d", resp.StatusCode)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
