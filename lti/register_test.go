package lti_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/canvas"
	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/jose"
	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/lti"
)

// mustLink creates a one-time registration link valid for ttl.
func (e *env) mustLink(ttl time.Duration) string {
	e.t.Helper()
	link, _, err := e.tool.CreateRegistrationLink(context.Background(), 0, ttl)
	must(e.t, err)
	return link
}

// register opens link as the platform does, with openid_configuration and
// registration_token appended to the link's own query.
func (e *env) register(link, cfg, tok string) (int, string) {
	e.t.Helper()
	return e.shared.Register(link, cfg, tok)
}

// snapshot is what registration may change: platforms, deployments and the
// links' use.
func (e *env) snapshot() string {
	e.t.Helper()
	var s struct {
		Platforms   string `db:"p"`
		Deployments string `db:"d"`
		Links       string `db:"l"`
	}
	const q = `SELECT
		(SELECT COALESCE(string_agg(id || ':' || issuer || ':' || client_id, ',' ORDER BY id), '') FROM platforms) AS p,
		(SELECT COALESCE(string_agg(platform_id || ':' || deployment_id, ',' ORDER BY id), '') FROM deployments) AS d,
		(SELECT COALESCE(string_agg(id || ':' || (used_at IS NULL) || ':' || (claimed_at IS NULL) || ':' || COALESCE(platform_id, 0), ',' ORDER BY id), '') FROM registration_links) AS l`
	must(e.t, e.db.Get(&s, q))
	return s.Platforms + " | " + s.Deployments + " | " + s.Links
}

// counting is a stand-in for whatever a forged openid_configuration points
// at: it counts the requests that reach it.
func counting(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if h != nil {
			h(w, r)
			return
		}
		http.Error(w, "internal admin console: SECRET-BODY", http.StatusForbidden)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestDynamicRegistration(t *testing.T) {
	e := newEnv(t)
	other := canvassim.New().Start()
	defer other.Close()
	other.RegistrationToken = "reg-token-123"
	other.GrantScopes = []string{} // the admin stripped the NRPS scope
	link := e.mustLink(time.Hour)
	if !strings.Contains(link, "/lti/register?"+lti.RegistrationLinkParam+"=") {
		t.Fatalf("link = %s", link)
	}
	status, body := e.register(link, other.OpenIDConfigurationURL(), "reg-token-123")
	if status != 200 || !strings.Contains(body, `src="/static/lti-registered.js"`) || !strings.Contains(body, "Names and Roles scope") {
		t.Fatalf("registration page: %d %s", status, body)
	}
	resp, err := http.Get(e.srv.URL + "/static/lti-registered.js")
	must(t, err)
	if js := readBody(t, resp); resp.StatusCode != 200 || !strings.Contains(js, "org.imsglobal.lti.close") {
		t.Fatalf("registered script: %d %s", resp.StatusCode, js)
	}
	p, err := e.tool.Registry().PlatformByIssuerClient(context.Background(), other.Issuer, other.ClientID)
	must(t, err)
	if p.AuthURL != other.AuthURL() || p.TokenURL != other.TokenURL() || p.JWKSURL != other.JWKSURL() || e.canvasSettings(p.ID).URL != other.URL() {
		t.Fatalf("registered platform = %+v, canvas settings %+v", p, e.canvasSettings(p.ID))
	}
	deps, err := e.tool.Registry().Deployments(context.Background(), p.ID)
	must(t, err)
	if len(deps) != 1 || deps[0].DeploymentID != other.DeploymentID {
		t.Fatalf("deployments = %+v, want %s", deps, other.DeploymentID)
	}
	links, err := e.tool.RegistrationLinks(context.Background(), 10)
	must(t, err)
	if len(links) != 1 || links[0].PlatformID == nil || *links[0].PlatformID != p.ID || links[0].UsedAt == nil ||
		len(links[0].Warnings) != 1 || !strings.Contains(links[0].Warnings[0], "Names and Roles") {
		t.Fatalf("links = %+v", links)
	}
	// The sim now launches the registered tool.
	course := other.AddCourse(canvassim.Course{Title: "Chem"})
	u := other.AddUser(canvassim.User{Name: "New Teacher"})
	must(t, other.Enroll(course.ID, u.ID, canvassim.Teacher))
	c := browser(true)
	lr, err := other.BeginLaunch(u.ID, course.ID, canvassim.LaunchOptions{NoStorageTarget: true})
	must(t, err)
	resp, err = c.PostForm(lr.URL, lr.Form)
	must(t, err)
	readBody(t, resp)
	action, vals := e.authorize(c, resp.Header.Get("Location"))
	resp, err = c.PostForm(action, vals)
	must(t, err)
	if b := readBody(t, resp); resp.StatusCode != 200 || !strings.Contains(b, u.LTIID) {
		t.Fatalf("launch after registration: %d %s", resp.StatusCode, b)
	}
	// The link registered one platform: used again, it stores nothing.
	before := e.snapshot()
	other.ClientID = "another-client"
	status, body = e.register(link, other.OpenIDConfigurationURL(), "reg-token-123")
	if status != http.StatusForbidden || !strings.Contains(body, "already used") || !strings.Contains(body, "Nothing was registered") {
		t.Fatalf("reused link: %d %s", status, body)
	}
	if after := e.snapshot(); after != before {
		t.Fatalf("a reused link changed the database:\n%s\n%s", before, after)
	}
}

// The attack of issue 7: a forged registration (no link, a made-up link, an
// expired one) stores nothing, fetches nothing, and says why.
func TestRegistrationNeedsOwnerLink(t *testing.T) {
	e := newEnv(t)
	other := canvassim.New().Start()
	defer other.Close()
	target, hits := counting(t, nil)
	expired := e.mustLink(time.Hour)
	before := e.snapshot()
	e.clock.Advance(61 * time.Minute)
	for _, tc := range []struct{ name, link, cfg, want string }{
		{"no link", e.tool.RegisterURL(), other.OpenIDConfigurationURL(), "one-time registration link"},
		{"no link, probe", e.tool.RegisterURL(), target.URL + "/admin", "one-time registration link"},
		{"no parameters at all", e.tool.RegisterURL(), "", "one-time registration link"},
		{"made-up link", e.tool.RegisterURL() + "?" + lti.RegistrationLinkParam + "=forged", other.OpenIDConfigurationURL(), "not valid"},
		{"expired link", expired, other.OpenIDConfigurationURL(), "expired"},
		{"expired link, probe", expired, target.URL + "/admin", "expired"},
	} {
		status, body := e.register(tc.link, tc.cfg, "tok")
		if status != http.StatusForbidden || !strings.Contains(body, tc.want) || !strings.Contains(body, "Nothing was registered") {
			t.Errorf("%s: %d, want 403 with %q: %s", tc.name, status, tc.want, body)
		}
		if strings.Contains(body, "SECRET-BODY") {
			t.Errorf("%s: the page shows the probed body", tc.name)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("forged registrations fetched the probed URL %d times", n)
	}
	if after := e.snapshot(); after != before {
		t.Fatalf("forged registrations changed the database:\n%s\n%s", before, after)
	}
	// A link opened in a browser (no openid_configuration) stays unused.
	link := e.mustLink(time.Hour)
	if status, body := e.register(link, "", ""); status != 422 || !strings.Contains(body, "still unused") {
		t.Fatalf("link without openid_configuration: %d %s", status, body)
	}
	if status, body := e.register(link, other.OpenIDConfigurationURL(), ""); status != 200 {
		t.Fatalf("the link after a browser opened it: %d %s", status, body)
	}
}

// dynPlatform is a minimal LTI platform's Dynamic Registration (what a
// Moodle exposes): every registration gets a new client_id, and the
// configuration answers after delay, so concurrent registrations overlap.
type dynPlatform struct {
	srv           *httptest.Server
	delay         time.Duration
	issuer        string // default: the server's URL
	registrations atomic.Int32
}

func newDynPlatform(t *testing.T, delay time.Duration) *dynPlatform {
	p := &dynPlatform{delay: delay}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /config", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(p.delay)
		u, iss := p.srv.URL, p.issuer
		if iss == "" {
			iss = u
		}
		json.NewEncoder(w).Encode(map[string]any{"issuer": iss, "authorization_endpoint": u + "/auth", "token_endpoint": u + "/token",
			"jwks_uri": u + "/jwks", "registration_endpoint": u + "/register",
			"https://purl.imsglobal.org/spec/lti-platform-configuration": map[string]any{"product_family_code": "moodle"}})
	})
	mux.HandleFunc("POST /register", func(w http.ResponseWriter, r *http.Request) {
		n := p.registrations.Add(1)
		var reg map[string]any
		json.NewDecoder(r.Body).Decode(&reg)
		reg["client_id"] = fmt.Sprintf("client-%d", n)
		json.NewEncoder(w).Encode(reg)
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// Two (here eight) concurrent uses of one link store exactly one platform.
func TestRegistrationLinkConcurrentUse(t *testing.T) {
	e := newEnv(t)
	p := newDynPlatform(t, 300*time.Millisecond)
	link := e.mustLink(time.Hour)
	const n = 8
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i], _ = e.register(link, p.srv.URL+"/config", "")
		}()
	}
	wg.Wait()
	ok := 0
	for _, s := range statuses {
		if s == 200 {
			ok++
		} else if s != http.StatusConflict && s != http.StatusForbidden {
			t.Errorf("a losing registration answered %d", s)
		}
	}
	var platforms int
	must(t, e.db.Get(&platforms, `SELECT count(*) FROM platforms WHERE issuer = $1`, p.srv.URL))
	if ok != 1 || platforms != 1 || p.registrations.Load() != 1 {
		t.Fatalf("concurrent uses: %d succeeded (%v), %d platforms stored, %d registrations at the platform; want 1, 1, 1", ok, statuses, platforms, p.registrations.Load())
	}
}

// Outside laurel dev (and without LAUREL_ALLOW_HTTP_PLATFORMS), the
// registration fetches only public https URLs; a refused one stores nothing
// and leaves the link unused.
func TestRegistrationFetchRule(t *testing.T) {
	e := newEnv(t)
	e.tool.AllowHTTPPlatforms = false
	target, hits := counting(t, nil)
	tlsTarget := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer tlsTarget.Close()
	port := tlsTarget.Listener.Addr().(*net.TCPAddr).Port
	link := e.mustLink(time.Hour)
	before := e.snapshot()
	for _, tc := range []struct{ cfg, want string }{
		{target.URL + "/config", "must use https"},
		{tlsTarget.URL + "/config", "loopback or private"},
		{fmt.Sprintf("https://localhost:%d/config", port), "localhost"},
		{fmt.Sprintf("https://[::1]:%d/config", port), "loopback or private"},
		{"https://10.0.0.7/config", "loopback or private"},
		{"https://192.168.1.1/config", "loopback or private"},
		{"https://169.254.169.254/latest/meta-data/", "loopback or private"},
		{"https://[::ffff:127.0.0.1]/config", "loopback or private"},
		{"ftp://example.edu/config", "not an absolute https URL"},
	} {
		status, body := e.register(link, tc.cfg, "tok")
		if status != 422 || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d, want 422 with %q: %s", tc.cfg, status, tc.want, body)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("refused URLs were fetched %d times", n)
	}
	if after := e.snapshot(); after != before {
		t.Fatalf("refused registrations changed the database:\n%s\n%s", before, after)
	}
	// The same link works once http is allowed (a test installation).
	e.tool.AllowHTTPPlatforms = true
	p := newDynPlatform(t, 0)
	if status, body := e.register(link, p.srv.URL+"/config", ""); status != 200 {
		t.Fatalf("allowed registration: %d %s", status, body)
	}
}

func TestDynamicRegistrationErrors(t *testing.T) {
	e := newEnv(t)
	other := canvassim.New().Start()
	defer other.Close()
	other.RegistrationToken = "good"
	link := e.mustLink(time.Hour)
	get := func(cfg, tok string) (int, string) { return e.register(link, cfg, tok) }
	// The platform's answer is never echoed: only its status.
	if st, b := get(other.OpenIDConfigurationURL(), "bad"); st != 422 || !strings.Contains(b, "HTTP 401") || !strings.Contains(b, "registration token may have expired") || strings.Contains(b, "Invalid registration token") {
		t.Fatalf("bad token: %d %s", st, b)
	}
	other.RegistrationErrors = []string{"Developer key limit reached SECRET-BODY"}
	if st, b := get(other.OpenIDConfigurationURL(), "good"); st != 422 || !strings.Contains(b, "HTTP 422") || strings.Contains(b, "SECRET-BODY") {
		t.Fatalf("422: %d %s", st, b)
	}
	other.RegistrationErrors = nil
	other.Issuer = "https://evil.example.org"
	if st, b := get(other.OpenIDConfigurationURL(), "good"); st != 422 || !strings.Contains(b, "issuer is not on the host") || strings.Contains(b, "evil.example.org") {
		t.Fatalf("foreign issuer: %d %s", st, b)
	}
	// A configuration whose registration endpoint is elsewhere.
	elsewhere, elsewhereHits := counting(t, nil)
	cfgSrv, _ := counting(t, func(w http.ResponseWriter, r *http.Request) {
		u := "http://" + r.Host
		json.NewEncoder(w).Encode(map[string]any{"issuer": u, "authorization_endpoint": u + "/auth", "token_endpoint": u + "/token",
			"jwks_uri": u + "/jwks", "registration_endpoint": elsewhere.URL + "/register"})
	})
	if st, b := get(cfgSrv.URL+"/config", ""); st != 422 || !strings.Contains(b, "registration_endpoint is on another host") || strings.Contains(b, elsewhere.URL) {
		t.Fatalf("registration endpoint elsewhere: %d %s", st, b)
	}
	// A redirect to another host is not followed.
	redirect, _ := counting(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+"/config", http.StatusFound)
	})
	if st, b := get(redirect.URL+"/config", ""); st != 422 || !strings.Contains(b, "redirected elsewhere") || strings.Contains(b, elsewhere.URL) {
		t.Fatalf("redirect: %d %s", st, b)
	}
	if n := elsewhereHits.Load(); n != 0 {
		t.Fatalf("the other host was fetched %d times", n)
	}
	// Connection details are not shown.
	dead, _ := counting(t, nil)
	deadURL := dead.URL
	dead.Close()
	if st, b := get(deadURL+"/config", ""); st != 422 || strings.Contains(b, "refused") || strings.Contains(b, "dial") {
		t.Fatalf("unreachable: %d %s", st, b)
	}
	ps, err := e.tool.Registry().Platforms(context.Background())
	must(t, err)
	if len(ps) != 1 {
		t.Fatalf("failed registrations stored platforms: %+v", ps)
	}
}

// What a platform answers is bounded in size and time.
func TestRegistrationFetchBounds(t *testing.T) {
	e := newEnv(t)
	e.tool.FetchTimeout = 500 * time.Millisecond
	link := e.mustLink(time.Hour)
	huge, _ := counting(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"issuer":"`))
		chunk := []byte(strings.Repeat("a", 64<<10))
		for range 64 { // 4 MiB
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	if st, b := e.register(link, huge.URL+"/config", ""); st != 422 || !strings.Contains(b, "larger than 1024 KiB") {
		t.Fatalf("huge answer: %d %s", st, b)
	}
	release := make(chan struct{})
	defer close(release)
	slow, _ := counting(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"issuer":`))
		w.(http.Flusher).Flush()
		select { // a body that never ends
		case <-release:
		case <-r.Context().Done():
		}
	})
	start := time.Now()
	st, b := e.register(link, slow.URL+"/config", "")
	if took := time.Since(start); st != 422 || !strings.Contains(b, "did not answer") || took > 3*time.Second {
		t.Fatalf("slow answer: %d after %s: %s", st, took, b)
	}
	ps, err := e.tool.Registry().Platforms(context.Background())
	must(t, err)
	if len(ps) != 1 {
		t.Fatalf("failed registrations stored platforms: %+v", ps)
	}
}

func TestRegistryPlatforms(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	reg := e.tool.Registry()
	// Instructure-hosted issuer: only issuer and client_id needed.
	p, err := reg.AddPlatform(ctx, lti.PlatformInput{Issuer: "https://canvas.instructure.com", ClientID: "170000000000001",
		DeploymentIDs: []string{"1:abc"}, Extra: canvas.PlatformExtra("https://school.instructure.com", "secret-canvas-token")})
	must(t, err)
	if p.AuthURL != "https://sso.canvaslms.com/api/lti/authorize_redirect" || p.JWKSURL != "https://sso.canvaslms.com/api/lti/security/jwks" ||
		p.TokenURL != "https://sso.canvaslms.com/login/oauth2/token" || p.Name != "school.instructure.com" || !e.canvasSettings(p.ID).HasToken || p.AutoRegisterDeployments {
		t.Fatalf("platform = %+v, canvas settings %+v", p, e.canvasSettings(p.ID))
	}
	tok, err := e.settings.Token(ctx, p.ID)
	must(t, err)
	if tok != "secret-canvas-token" {
		t.Fatalf("canvas token = %q", tok)
	}
	var raw []byte
	must(t, e.db.Get(&raw, `SELECT canvas_token_enc FROM canvas_platform_settings WHERE platform_id = $1`, p.ID))
	if strings.Contains(string(raw), "secret-canvas-token") {
		t.Fatal("canvas token stored in clear")
	}
	// Same issuer, another client_id: a second registration side by side.
	beta, err := reg.AddPlatform(ctx, lti.PlatformInput{Issuer: "https://canvas.instructure.com", ClientID: "170000000000002"})
	must(t, err)
	if beta.ID == p.ID {
		t.Fatal("second registration reused the first")
	}
	_, err = reg.AddPlatform(ctx, lti.PlatformInput{Issuer: "https://canvas.instructure.com", ClientID: "170000000000001"})
	if !apperr.Is(err, apperr.Conflict) || !strings.Contains(apperr.Message(err), "170000000000001") {
		t.Fatalf("duplicate: %v", err)
	}
	_, err = reg.AddPlatform(ctx, lti.PlatformInput{Issuer: "https://moodle.example.edu", ClientID: "x", AuthURL: "not a url"})
	fe := apperr.FieldErrors(err)
	if !apperr.Is(err, apperr.Invalid) || len(fe) != 2 || fe[0].Field != "auth_url" || fe[1].Field != "jwks_url" {
		t.Fatalf("invalid: %v %+v", err, fe)
	}
	got, err := reg.PlatformByIssuerClient(ctx, "https://canvas.instructure.com", "170000000000002")
	must(t, err)
	if got.ID != beta.ID {
		t.Fatalf("by issuer/client = %d, want %d", got.ID, beta.ID)
	}
	if _, err := reg.Platform(ctx, 9999); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("missing platform: %v", err)
	}
	up, err := reg.UpdatePlatform(ctx, beta.ID, lti.PlatformInput{Name: "Beta", DeploymentIDs: []string{"2:def"}})
	must(t, err)
	if up.Name != "Beta" || up.Issuer != "https://canvas.instructure.com" {
		t.Fatalf("updated = %+v", up)
	}
	all, err := reg.Platforms(ctx)
	must(t, err)
	if len(all) != 3 {
		t.Fatalf("platforms = %d, want 3", len(all))
	}
}

func TestRoles(t *testing.T) {
	for _, tc := range []struct {
		role                                     canvassim.Role
		instructor, ta, designer, learner, admin bool
		test                                     bool
	}{
		{canvassim.Teacher, true, false, false, false, false, false},
		{canvassim.TA, false, true, false, false, false, false},
		{canvassim.Designer, false, false, true, false, false, false},
		{canvassim.Student, false, false, false, true, false, false},
		{canvassim.TestStudent, false, false, false, true, false, true},
		{canvassim.AccountAdmin, false, false, false, false, true, false},
		{canvassim.SiteAdmin, false, false, false, false, true, false},
		{canvassim.Observer, false, false, false, false, false, false},
	} {
		l := &lti.Launch{Roles: canvassim.RoleURIs(tc.role)}
		if l.IsInstructor() != tc.instructor || l.IsTeachingAssistant() != tc.ta || l.IsContentDeveloper() != tc.designer ||
			l.IsLearner() != tc.learner || l.IsAdmin() != tc.admin || l.IsTestUser() != tc.test {
			t.Errorf("%s: instructor=%v ta=%v designer=%v learner=%v admin=%v test=%v", tc.role, l.IsInstructor(),
				l.IsTeachingAssistant(), l.IsContentDeveloper(), l.IsLearner(), l.IsAdmin(), l.IsTestUser())
		}
	}
	// Short role names (other platforms) count too.
	if l := (&lti.Launch{Roles: []string{"Instructor"}}); !l.IsInstructor() {
		t.Error("short Instructor role not recognised")
	}
	if l := (&lti.Launch{Custom: map[string]string{"canvas_user_id": "$Canvas.user.id"}}); l.CustomValue("canvas_user_id") != "" {
		t.Error("an unsubstituted variable must read as empty")
	}
}

// `laurel dev` re-registers its sandbox on every start: no conflict, same row.
func TestSimRegisterIsIdempotent(t *testing.T) {
	e := newEnv(t)
	p, err := e.sim.Register(context.Background(), e.tool, "Sim Canvas")
	must(t, err)
	if p.ID != e.platform.ID || p.Name != "Sim Canvas" {
		t.Fatalf("re-register = %+v, want platform %d", p, e.platform.ID)
	}
	launchOK(t, e, e.student)
}

// The fetch rule also holds for the URLs an owner stored: outside laurel dev
// a platform whose JWKS is on a loopback address cannot have its keys
// fetched, so its launches are refused.
func TestStoredPlatformURLsFollowFetchRule(t *testing.T) {
	e := newEnv(t)
	e.tool.AllowHTTPPlatforms = false
	start := time.Now()
	status, body := e.fullLaunch(browser(true), e.student.ID, e.course.ID, canvassim.LaunchOptions{NoStorageTarget: true})
	if status != http.StatusUnauthorized || dataAttrs(body)["reason"] != lti.ReasonJWKS {
		t.Fatalf("launch with a loopback JWKS URL: %d %s", status, body)
	}
	t.Logf("refused launch took %s", time.Since(start))
	e.tool.AllowHTTPPlatforms = true
	e.clock.Advance(jose.DefaultMinRefetch + time.Second)
	start = time.Now()
	launchOK(t, e, e.student)
	t.Logf("allowed launch took %s", time.Since(start))
}

// The issuer's host name must match the configuration URL's (the spec's
// "domain"), whatever the port; another host name is still refused.
func TestRegistrationIssuerDomainIgnoresPort(t *testing.T) {
	e := newEnv(t)
	p := newDynPlatform(t, 0)
	u, err := url.Parse(p.srv.URL)
	must(t, err)
	p.issuer = "http://" + u.Hostname() + ":1/lms"
	if status, body := e.register(e.mustLink(time.Hour), p.srv.URL+"/config", ""); status != 200 {
		t.Fatalf("issuer on the same host name, another port: %d %s", status, body)
	}
	if _, err := e.tool.Registry().PlatformByIssuerClient(context.Background(), p.issuer, "client-1"); err != nil {
		t.Fatalf("platform not stored under its issuer: %v", err)
	}
	q := newDynPlatform(t, 0)
	q.issuer = "http://localhost:" + u.Port()
	if status, body := e.register(e.mustLink(time.Hour), q.srv.URL+"/config", ""); status != 422 || !strings.Contains(body, "issuer is not on the host") {
		t.Fatalf("issuer on another host name, same port: %d %s", status, body)
	}
}

// A configuration may name Instructure's shared issuer from any host (hosted
// Canvas on a vanity domain), but then the keys and endpoints are
// Instructure's, never the configuration's own.
func TestRegistrationInstructureIssuerPinsEndpoints(t *testing.T) {
	e := newEnv(t)
	p := newDynPlatform(t, 0)
	p.issuer = "https://canvas.instructure.com"
	if status, body := e.register(e.mustLink(time.Hour), p.srv.URL+"/config", ""); status != 200 {
		t.Fatalf("registration: %d %s", status, body)
	}
	got, err := e.tool.Registry().PlatformByIssuerClient(context.Background(), "https://canvas.instructure.com", "client-1")
	must(t, err)
	if got.JWKSURL != "https://sso.canvaslms.com/api/lti/security/jwks" || got.AuthURL != "https://sso.canvaslms.com/api/lti/authorize_redirect" ||
		got.TokenURL != "https://sso.canvaslms.com/login/oauth2/token" {
		t.Fatalf("platform = %+v, want Instructure's endpoints", got)
	}
}
