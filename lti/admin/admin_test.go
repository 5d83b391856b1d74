package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/accounts"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/internal/secret"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/lti"
	"github.com/laurel-edu/laurel/lti/admin"
)

const adminPassword = "correct horse battery"

// adminEnv is the LTI env (tool, simulator, one registered platform) plus
// the owner pages behind the app's stack: sessions, CSRF, the staff guard.
type adminEnv struct {
	*env
	auth     *auth.Auth
	accounts *accounts.Service
	srv      *httptest.Server
}

func newAdminEnv(t *testing.T) *adminEnv {
	t.Helper()
	e := newEnv(t)
	keys, err := secret.New([]byte("0123456789abcdef0123456789abcdef-auth"))
	must(t, err)
	// A plain-http, non-loopback base URL: session cookies without Secure,
	// so the cookie jar sends them back over httptest's http://127.0.0.1.
	acc := accounts.New(e.db, keys)
	a := auth.New(e.rdb, keys, "http://laurel.test", acc)
	e.tool.Staff = acc
	rd, err := web.NewRenderer(nil, auth.Templates, admin.Templates)
	must(t, err)
	r := gin.New()
	r.Use(web.Recovery(rd), a.Load())
	web.RegisterStatic(r) // the pages' styles and scripts, for the browser tests
	a.Register(r, rd)
	admin.New(e.tool, nil).Register(r.Group("/", auth.RequireStaff(rd)), rd)
	ae := &adminEnv{env: e, auth: a, accounts: acc}
	ae.srv = httptest.NewServer(auth.CSRF(a.Sessions.LoadAndSave(r)))
	t.Cleanup(ae.srv.Close)
	return ae
}

// staff is a signed-in browser: a cookie jar, no automatic redirects and
// same-origin fetch metadata, as a real browser sends on the site's forms.
type staff struct {
	e  *adminEnv
	hc *http.Client
}

type page struct {
	code     int
	body     string
	location string
}

func (e *adminEnv) signIn(role auth.Role) *staff {
	e.t.Helper()
	email := string(role) + "@example.edu"
	if _, _, err := e.accounts.CreateUser(context.Background(), email, string(role), role, nil, adminPassword); err != nil {
		e.t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	s := &staff{e: e, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if r := s.post("/login", url.Values{"email": {email}, "password": {adminPassword}}); r.code != http.StatusSeeOther {
		e.t.Fatalf("sign in %s: %d\n%s", email, r.code, r.body)
	}
	return s
}

func (s *staff) do(method, path string, form url.Values) page {
	s.e.t.Helper()
	req, err := http.NewRequest(method, s.e.srv.URL+path, strings.NewReader(form.Encode()))
	must(s.e.t, err)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := s.hc.Do(req)
	must(s.e.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{code: resp.StatusCode, body: string(b), location: resp.Header.Get("Location")}
}

func (s *staff) get(path string) page { return s.do(http.MethodGet, path, nil) }

func (s *staff) post(path string, form url.Values) page { return s.do(http.MethodPost, path, form) }

// submit posts a form and follows its Post/Redirect/Get to the page shown.
func (s *staff) submit(path string, form url.Values) page {
	s.e.t.Helper()
	r := s.post(path, form)
	if r.code != http.StatusSeeOther {
		s.e.t.Fatalf("POST %s: %d, want 303\n%s", path, r.code, r.body)
	}
	return s.get(r.location)
}

func has(t *testing.T, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Fatalf("page lacks %q:\n%s", w, body)
		}
	}
}

// fieldError returns the message shown next to field name, "" when none.
func fieldError(body, name string) string {
	m := regexp.MustCompile(`<span class="field-error" id="` + regexp.QuoteMeta(name) + `-error">([^<]*)</span>`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return htmlUnescape(m[1])
}

// inputValue returns the value attribute of input name.
func inputValue(body, name string) string {
	m := regexp.MustCompile(`<input type="[a-z]+" id="` + regexp.QuoteMeta(name) + `" name="` + regexp.QuoteMeta(name) + `" value="([^"]*)"`).FindStringSubmatch(body)
	if m == nil {
		return "<no input>"
	}
	return htmlUnescape(m[1])
}

// platformsState is what a refused change must leave unchanged.
func (e *adminEnv) platformsState() string {
	e.t.Helper()
	var s string
	const q = `SELECT COALESCE((SELECT string_agg(concat_ws('|', id, name, issuer, client_id, auth_url, token_url, jwks_url,
			auto_register_deployments, disabled, updated_at), ',' ORDER BY id) FROM platforms), '') || '/' ||
		COALESCE((SELECT string_agg(concat_ws('|', platform_id, canvas_url, encode(canvas_token_enc, 'hex'), updated_at), ',' ORDER BY platform_id)
			FROM canvas_platform_settings), '') || '/' ||
		COALESCE((SELECT string_agg(platform_id || ':' || deployment_id, ',' ORDER BY id) FROM deployments), '') || '/' ||
		COALESCE((SELECT string_agg(kid || ':' || COALESCE(retired_at::text, ''), ',' ORDER BY kid) FROM tool_keys), '') || '/' ||
		COALESCE((SELECT string_agg(id || ':' || expires_at || ':' || COALESCE(used_at::text, ''), ',' ORDER BY id) FROM registration_links), '')`
	must(e.t, e.db.Get(&s, q))
	return s
}

func (e *adminEnv) platformNamed(name string) lti.Platform {
	e.t.Helper()
	ps, err := e.tool.Registry().Platforms(context.Background())
	must(e.t, err)
	for _, p := range ps {
		if p.Name == name {
			return p
		}
	}
	e.t.Fatalf("no platform %q in %v", name, ps)
	return lti.Platform{}
}

func selfHostedForm() url.Values {
	return url.Values{
		"name": {"State U Canvas"}, "issuer": {"https://canvas.state.edu"}, "client_id": {"170000000000042"},
		"auth_url": {"https://canvas.state.edu/api/lti/authorize_redirect"}, "token_url": {"https://canvas.state.edu/login/oauth2/token"},
		"jwks_url": {"https://canvas.state.edu/api/lti/security/jwks"}, "deployment_ids": {"12:abc\r\n\r\n13:def\n"},
		"canvas_url": {"https://canvas.state.edu"}, "canvas_token": {"7~secret-canvas-token-0042"},
	}
}

// An owner adds a platform, sees it listed (token stored, never shown),
// edits it keeping the token, replaces the token, and adds deployments.
func TestAdminAddEditPlatform(t *testing.T) {
	e := newAdminEnv(t)
	o := e.signIn(auth.Owner)
	ctx := context.Background()

	r := o.get("/admin/platforms")
	if r.code != 200 {
		t.Fatalf("list: %d\n%s", r.code, r.body)
	}
	has(t, r.body, `id="platforms"`, "Sim Canvas", `id="tool-config"`,
		`<code id="cfg-login">`+e.tool.LoginURL()+`</code>`, `<code id="cfg-launch">`+e.tool.LaunchURL()+`</code>`,
		`<code id="cfg-jwks">`+e.tool.JWKSURL()+`</code>`, `<code id="cfg-canvas-json">`+e.tool.BaseURL()+`/lti/canvas.json</code>`,
		`id="cfg-register"`, `id="registration-links"`)

	r = o.get("/admin/platforms/new")
	has(t, r.body, `id="platform-form"`, `id="save-platform"`, "https://sso.canvaslms.com/api/lti/authorize_redirect", "optional")
	if !regexp.MustCompile(`id="auto_register"[^>]*checked`).MatchString(r.body) {
		t.Fatal("auto-register is not checked by default on a new platform")
	}

	form := selfHostedForm()
	r = o.submit("/admin/platforms/new", form)
	has(t, r.body, `id="flash"`, "Platform “State U Canvas” added.")
	p := e.platformNamed("State U Canvas")
	if p.Issuer != "https://canvas.state.edu" || p.ClientID != "170000000000042" || p.TokenURL != "https://canvas.state.edu/login/oauth2/token" ||
		e.canvasSettings(p.ID).URL != "https://canvas.state.edu" || !e.canvasSettings(p.ID).HasToken || p.AutoRegisterDeployments || p.Disabled {
		t.Fatalf("stored platform = %+v, canvas settings %+v", p, e.canvasSettings(p.ID))
	}
	deps, err := e.tool.Registry().Deployments(ctx, p.ID)
	must(t, err)
	if len(deps) != 2 || deps[0].DeploymentID != "12:abc" || deps[1].DeploymentID != "13:def" {
		t.Fatalf("deployments = %+v", deps)
	}
	row := regexp.MustCompile(`(?s)<tr id="platform-` + fmt.Sprint(p.ID) + `".*?</tr>`).FindString(r.body)
	for _, w := range []string{"State U Canvas", "https://canvas.state.edu", "170000000000042", `<td class="token">stored</td>`,
		`<td class="deployments">2</td>`, `<td class="auto-register">off</td>`, "enabled", `href="/admin/platforms/` + fmt.Sprint(p.ID) + `/edit"`} {
		if !strings.Contains(row, w) {
			t.Fatalf("list row lacks %q:\n%s", w, row)
		}
	}
	if strings.Contains(r.body, "secret-canvas-token") {
		t.Fatal("the list shows the Canvas token")
	}

	edit := fmt.Sprintf("/admin/platforms/%d/edit", p.ID)
	r = o.get(edit)
	has(t, r.body, "12:abc", "13:def", "A token is stored")
	if strings.Contains(r.body, "secret-canvas-token") {
		t.Fatal("the edit form shows the Canvas token")
	}
	if v := inputValue(r.body, "client_id"); v != "170000000000042" {
		t.Fatalf("edit form client_id = %q", v)
	}

	// Rename, add a deployment, turn auto-register on; token left empty.
	form.Set("name", "State U Canvas (prod)")
	form.Set("deployment_ids", "14:ghi")
	form.Set("canvas_token", "")
	form.Set("auto_register", "1")
	r = o.submit(edit, form)
	has(t, r.body, "Platform “State U Canvas (prod)” saved.", `<td class="deployments">3</td>`, `<td class="auto-register">on</td>`)
	if strings.Contains(r.body, "token was replaced") {
		t.Fatal("flash says the token was replaced although none was entered")
	}
	tok, err := e.settings.Token(ctx, p.ID)
	must(t, err)
	if tok != "7~secret-canvas-token-0042" {
		t.Fatalf("token after an edit without one = %q, want it kept", tok)
	}
	p2, err := e.tool.Registry().Platform(ctx, p.ID)
	must(t, err)
	if p2.Name != "State U Canvas (prod)" || !p2.AutoRegisterDeployments {
		t.Fatalf("after edit = %+v", p2)
	}

	form.Set("canvas_token", " 7~replacement-token ")
	form.Del("auto_register")
	r = o.submit(edit, form)
	has(t, r.body, "Its Canvas API token was replaced.", `<td class="auto-register">off</td>`)
	if tok, _ = e.settings.Token(ctx, p.ID); tok != "7~replacement-token" {
		t.Fatalf("token after replacing = %q", tok)
	}
	if strings.Contains(o.get(edit).body, "replacement-token") {
		t.Fatal("the edit form shows the new token")
	}
}

// An Instructure-hosted issuer needs only the client ID: the endpoints are
// filled in, and the name comes from the Canvas URL.
func TestAdminInstructureIssuerFillsEndpoints(t *testing.T) {
	e := newAdminEnv(t)
	o := e.signIn(auth.Owner)
	r := o.submit("/admin/platforms/new", url.Values{"issuer": {"https://canvas.beta.instructure.com"}, "client_id": {"10000000000077"},
		"canvas_url": {"https://school.beta.instructure.com"}, "auto_register": {"1"}})
	has(t, r.body, "Platform “school.beta.instructure.com” added.")
	p := e.platformNamed("school.beta.instructure.com")
	if p.AuthURL != "https://sso.beta.canvaslms.com/api/lti/authorize_redirect" || p.TokenURL != "https://sso.beta.canvaslms.com/login/oauth2/token" ||
		p.JWKSURL != "https://sso.beta.canvaslms.com/api/lti/security/jwks" || !p.AutoRegisterDeployments {
		t.Fatalf("endpoints not filled: %+v", p)
	}
	// Emptying an endpoint on edit puts the known one back (not "kept as is").
	edit := fmt.Sprintf("/admin/platforms/%d/edit", p.ID)
	form := url.Values{"name": {"Beta"}, "issuer": {p.Issuer}, "client_id": {p.ClientID}, "auth_url": {""},
		"token_url": {p.TokenURL}, "jwks_url": {p.JWKSURL}, "canvas_url": {e.canvasSettings(p.ID).URL}, "auto_register": {"1"}}
	o.submit(edit, form)
	p = e.platformNamed("Beta")
	if p.AuthURL != "https://sso.beta.canvaslms.com/api/lti/authorize_redirect" {
		t.Fatalf("auth url after emptying = %q", p.AuthURL)
	}
}

// Bad input re-renders the form with a message next to each field, keeps
// the values typed, never echoes the token, and changes nothing.
func TestAdminPlatformFormErrors(t *testing.T) {
	e := newAdminEnv(t)
	o := e.signIn(auth.Owner)
	before := e.platformsState()

	form := selfHostedForm()
	form.Set("auth_url", "canvas.state.edu/authorize")
	form.Set("jwks_url", "ftp://canvas.state.edu/jwks")
	form.Set("canvas_url", "not a url")
	r := o.post("/admin/platforms/new", form)
	if r.code != http.StatusUnprocessableEntity {
		t.Fatalf("bad URLs: %d, want 422\n%s", r.code, r.body)
	}
	has(t, r.body, `id="form-problem"`, "Nothing was saved", `id="token-not-kept"`)
	for _, f := range []string{"auth_url", "jwks_url", "canvas_url"} {
		if msg := fieldError(r.body, f); !strings.Contains(msg, "not an absolute http(s) URL") {
			t.Errorf("%s error = %q", f, msg)
		}
		if !strings.Contains(r.body, `id="`+f+`"`) || inputValue(r.body, f) != form.Get(f) {
			t.Errorf("%s value not kept: %q", f, inputValue(r.body, f))
		}
	}
	if msg := fieldError(r.body, "issuer"); msg != "" {
		t.Errorf("valid issuer marked: %q", msg)
	}
	if inputValue(r.body, "name") != "State U Canvas" || !strings.Contains(r.body, "12:abc") {
		t.Error("typed values not kept")
	}
	if strings.Contains(r.body, "secret-canvas-token") {
		t.Fatal("the re-rendered form echoes the token")
	}
	if after := e.platformsState(); after != before {
		t.Fatalf("bad URLs changed the database:\n%s\n%s", before, after)
	}

	// A non-Instructure issuer without endpoints: both required ones named.
	r = o.post("/admin/platforms/new", url.Values{"issuer": {"https://lms.example.org"}, "client_id": {"abc"}})
	if r.code != 422 || fieldError(r.body, "auth_url") == "" || fieldError(r.body, "jwks_url") == "" || fieldError(r.body, "token_url") != "" {
		t.Fatalf("missing endpoints: %d auth=%q jwks=%q\n%s", r.code, fieldError(r.body, "auth_url"), fieldError(r.body, "jwks_url"), r.body)
	}

	// The same issuer and client ID as the simulator's platform: a conflict
	// shown on the client ID.
	form = selfHostedForm()
	form.Set("issuer", e.platform.Issuer)
	form.Set("client_id", e.platform.ClientID)
	r = o.post("/admin/platforms/new", form)
	if r.code != 422 || !strings.Contains(fieldError(r.body, "client_id"), "already registered") {
		t.Fatalf("duplicate: %d client_id error %q\n%s", r.code, fieldError(r.body, "client_id"), r.body)
	}
	if after := e.platformsState(); after != before {
		t.Fatalf("a duplicate changed the database:\n%s\n%s", before, after)
	}

	// Editing another platform onto the simulator's issuer + client ID.
	o.submit("/admin/platforms/new", selfHostedForm())
	p := e.platformNamed("State U Canvas")
	before = e.platformsState()
	edit := fmt.Sprintf("/admin/platforms/%d/edit", p.ID)
	form = selfHostedForm()
	form.Set("issuer", e.platform.Issuer)
	form.Set("client_id", e.platform.ClientID)
	form.Set("deployment_ids", "99:new")
	r = o.post(edit, form)
	if r.code != 422 || !strings.Contains(fieldError(r.body, "client_id"), "already registered") || inputValue(r.body, "client_id") != e.platform.ClientID {
		t.Fatalf("duplicate on edit: %d %q\n%s", r.code, fieldError(r.body, "client_id"), r.body)
	}
	// Cleared required fields are named rather than silently kept.
	form = selfHostedForm()
	form.Set("name", "")
	form.Set("auth_url", "")
	form.Set("canvas_url", "")
	r = o.post(edit, form)
	if r.code != 422 || fieldError(r.body, "name") == "" || fieldError(r.body, "auth_url") == "" || fieldError(r.body, "canvas_url") == "" {
		t.Fatalf("cleared fields on edit: %d\n%s", r.code, r.body)
	}
	if after := e.platformsState(); after != before {
		t.Fatalf("a refused edit changed the database:\n%s\n%s", before, after)
	}
	if r := o.get("/admin/platforms/999999/edit"); r.code != http.StatusNotFound {
		t.Fatalf("unknown platform: %d", r.code)
	}
}

// Disabling a platform refuses its launches; enabling accepts them again.
func TestAdminDisableEnablePlatform(t *testing.T) {
	e := newAdminEnv(t)
	o := e.signIn(auth.Owner)
	launchOK(t, e.env, e.student)
	id := fmt.Sprint(e.platform.ID)

	r := o.submit("/admin/platforms/"+id+"/disable", nil)
	has(t, r.body, "Platform “Sim Canvas” is disabled", `<tr id="platform-`+id+`" data-state="disabled">`, `id="enable-platform-`+id+`"`)
	p, err := e.tool.Registry().Platform(context.Background(), e.platform.ID)
	must(t, err)
	if !p.Disabled {
		t.Fatal("platform not disabled")
	}
	lr, err := e.sim.BeginLaunch(e.student.ID, e.course.ID, canvassim.LaunchOptions{NoStorageTarget: true})
	must(t, err)
	resp, err := browser(true).PostForm(lr.URL, lr.Form)
	must(t, err)
	assertRefused(t, resp, http.StatusForbidden, lti.ReasonPlatformDisabled, "disabled")

	r = o.submit("/admin/platforms/"+id+"/enable", nil)
	has(t, r.body, "Platform “Sim Canvas” is enabled", `<tr id="platform-`+id+`" data-state="enabled">`, `id="disable-platform-`+id+`"`)
	launchOK(t, e.env, e.student)
	if r := o.post("/admin/platforms/999999/disable", nil); r.code != http.StatusNotFound {
		t.Fatalf("disable unknown: %d", r.code)
	}
}

// The keys page lists the tool's keys; rotating adds one (the JWKS then
// publishes both) and retiring drops keys older than a week but the newest.
func TestAdminKeys(t *testing.T) {
	e := newAdminEnv(t)
	o := e.signIn(auth.Owner)
	jwks := func() []string {
		resp, err := http.Get(e.tool.JWKSURL())
		must(t, err)
		var set struct{ Keys []struct{ KID string } }
		must(t, json.Unmarshal([]byte(readBody(t, resp)), &set))
		var kids []string
		for _, k := range set.Keys {
			kids = append(kids, k.KID)
		}
		return kids
	}
	first := jwks()
	if len(first) != 1 {
		t.Fatalf("jwks before = %v", first)
	}
	r := o.get("/admin/keys")
	has(t, r.body, `id="keys"`, `data-kid="`+first[0]+`" data-state="signing"`, `id="rotate-keys"`, `id="retire-keys"`, e.tool.JWKSURL())

	r = o.submit("/admin/keys/rotate", nil)
	has(t, r.body, "signs from now on", `data-kid="`+first[0]+`" data-state="published"`)
	kids := jwks()
	if len(kids) != 2 || kids[0] != first[0] {
		t.Fatalf("jwks after rotate = %v", kids)
	}
	newest := kids[1]
	has(t, r.body, `data-kid="`+newest+`" data-state="signing"`, "New signing key "+newest)

	// Nothing is old enough yet.
	r = o.submit("/admin/keys/retire", nil)
	has(t, r.body, "No key was retired")
	if len(jwks()) != 2 {
		t.Fatal("a young key was retired")
	}
	_, err := e.db.Exec(`UPDATE tool_keys SET created_at = created_at - interval '8 days'`)
	must(t, err)
	r = o.submit("/admin/keys/retire", nil)
	has(t, r.body, "Retired 1 key(s)", first[0], `data-kid="`+first[0]+`" data-state="retired"`, `data-kid="`+newest+`" data-state="signing"`)
	if kids := jwks(); len(kids) != 1 || kids[0] != newest {
		t.Fatalf("jwks after retire = %v, want only %s", kids, newest)
	}
}

// Only the owner manages platforms and keys: every other role gets the 403
// page on every route, GET included, and nothing changes.
func TestAdminPagesOwnerOnly(t *testing.T) {
	e := newAdminEnv(t)
	_, err := e.tool.Keys().JWKS(context.Background())
	must(t, err)
	id := fmt.Sprint(e.platform.ID)
	routes := []struct {
		method, path string
		form         url.Values
	}{
		{"GET", "/admin/platforms", nil},
		{"GET", "/admin/platforms/new", nil},
		{"POST", "/admin/platforms/new", selfHostedForm()},
		{"GET", "/admin/platforms/" + id + "/edit", nil},
		{"POST", "/admin/platforms/" + id + "/edit", selfHostedForm()},
		{"POST", "/admin/platforms/" + id + "/disable", nil},
		{"POST", "/admin/platforms/" + id + "/enable", nil},
		{"GET", "/admin/keys", nil},
		{"POST", "/admin/keys/rotate", nil},
		{"POST", "/admin/keys/retire", nil},
		{"POST", "/admin/platforms/links", url.Values{"expires": {"24h"}}},
		{"POST", "/admin/platforms/links/1/revoke", nil},
	}
	_, err = e.db.Exec(`UPDATE tool_keys SET created_at = created_at - interval '8 days'`)
	must(t, err)
	_, _, err = e.tool.CreateRegistrationLink(context.Background(), 0, time.Hour)
	must(t, err)
	before := e.platformsState()
	for _, role := range []auth.Role{auth.Admin, auth.TeamMember, auth.Viewer} {
		s := e.signIn(role)
		for _, rt := range routes {
			r := s.do(rt.method, rt.path, rt.form)
			if r.code != http.StatusForbidden || !strings.Contains(r.body, "403 Forbidden") {
				t.Errorf("%s %s %s: %d, want the 403 page\n%s", role, rt.method, rt.path, r.code, r.body)
			}
			if strings.Contains(r.body, "Sim Canvas") || strings.Contains(r.body, "laurel-") {
				t.Errorf("%s %s %s: the 403 page shows platform or key data", role, rt.method, rt.path)
			}
		}
	}
	if after := e.platformsState(); after != before {
		t.Fatalf("a refused role changed the database:\n%s\n%s", before, after)
	}
	// Signed out: a GET goes to the sign-in page, a POST is refused.
	anon := &staff{e: e, hc: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if r := anon.get("/admin/platforms"); r.code != http.StatusSeeOther || !strings.HasPrefix(r.location, "/login") {
		t.Fatalf("anonymous GET: %d %s", r.code, r.location)
	}
	if r := anon.post("/admin/keys/rotate", nil); r.code != http.StatusUnauthorized {
		t.Fatalf("anonymous rotate: %d", r.code)
	}
	if after := e.platformsState(); after != before {
		t.Fatalf("an anonymous request changed the database")
	}
}

var newLinkRE = regexp.MustCompile(`id="new-registration-link" value="([^"]+)"`)

// An owner creates a one-time registration link (shown once), the platform
// registers with it, and the list shows the new platform with what it was
// granted and the link as used; a revoked link registers nothing.
func TestAdminRegistrationLinks(t *testing.T) {
	e := newAdminEnv(t)
	o := e.signIn(auth.Owner)
	r := o.post("/admin/platforms/links", url.Values{"expires": {"1h"}})
	m := newLinkRE.FindStringSubmatch(r.body)
	if r.code != 200 || m == nil {
		t.Fatalf("create link: %d\n%s", r.code, r.body)
	}
	link := htmlUnescape(m[1])
	tok := mustQuery(t, link).Get(lti.RegistrationLinkParam)
	if !strings.HasPrefix(link, e.tool.RegisterURL()+"?") || len(tok) < 40 {
		t.Fatalf("link = %q", link)
	}
	list := o.get("/admin/platforms")
	if strings.Contains(list.body, tok) {
		t.Fatal("the link's token is shown again after creation")
	}
	has(t, list.body, `data-state="unused"`, `by owner`)

	other := canvassim.New().Start()
	defer other.Close()
	other.GrantScopes = []string{} // the platform's admin stripped the NRPS scope
	if status, body := e.register(link, other.OpenIDConfigurationURL(), ""); status != 200 {
		t.Fatalf("registration with the owner's link: %d %s", status, body)
	}
	p, err := e.tool.Registry().PlatformByIssuerClient(context.Background(), other.Issuer, other.ClientID)
	must(t, err)
	list = o.get("/admin/platforms")
	row := list.body[strings.Index(list.body, fmt.Sprintf(`id="platform-%d"`, p.ID)):]
	row = row[:strings.Index(row, "</tr>")]
	has(t, row, "Dynamic Registration on ", "link by owner", "Granted: no service scope", "did not grant the Names and Roles scope")
	has(t, list.body, `data-state="used"`, "registered <strong>"+p.Name+"</strong>")

	// A revoked link registers nothing.
	r = o.post("/admin/platforms/links", url.Values{"expires": {"24h"}})
	m = newLinkRE.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("second link: %d", r.code)
	}
	links, err := e.tool.RegistrationLinks(context.Background(), 1)
	must(t, err)
	if r := o.submit(fmt.Sprintf("/admin/platforms/links/%d/revoke", links[0].ID), nil); !strings.Contains(r.body, "is revoked") {
		t.Fatalf("revoke: %d %s", r.code, r.body)
	}
	before := e.platformsState()
	other.ClientID = "second-client"
	if status, body := e.register(htmlUnescape(m[1]), other.OpenIDConfigurationURL(), ""); status != http.StatusForbidden || !strings.Contains(body, "expired") {
		t.Fatalf("revoked link: %d %s", status, body)
	}
	if after := e.platformsState(); after != before {
		t.Fatalf("a revoked link changed the database:\n%s\n%s", before, after)
	}
	// An out-of-range lifetime creates nothing.
	r = o.post("/admin/platforms/links", url.Values{"expires": {"5s"}})
	if r.code != http.StatusUnprocessableEntity || fieldError(r.body, "link-expires") == "" || newLinkRE.MatchString(r.body) {
		t.Fatalf("bad expiry: %d\n%s", r.code, r.body)
	}
	if after := e.platformsState(); after != before {
		t.Fatal("a refused link request changed the database")
	}
}
