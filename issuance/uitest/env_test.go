package uitest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/accounts"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/secret"
	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/delivery"
	"github.com/laurel-edu/laurel/issuance/imports"
	"github.com/laurel-edu/laurel/issuance/public"
	"github.com/laurel-edu/laurel/issuance/reminders"
	"github.com/laurel-edu/laurel/issuance/signing"
	"github.com/laurel-edu/laurel/issuance/staff"
	"github.com/laurel-edu/laurel/issuance/updates"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

const password = "correct horse battery"

// env is a Laurel with the staff pages, the public page and sign-in, served
// through the same middleware stack as the app (sessions, CSRF, staff guard).
type env struct {
	t     testing.TB
	db    *sqlx.DB
	svc   *issuance.Service
	auth  *auth.Auth
	accts *accounts.Service
	srv   *httptest.Server
	group issuance.Group // "Data Science 101": grade (text, required), hours (number)
	other issuance.Group // a second group, for group limits

	mu      sync.Mutex
	record  bool
	timings []time.Duration // server time of each request while record is set
}

// timed measures the server's time per request: the whole stack from
// sessions and CSRF to the rendered page, without the client's side.
func (e *env) timed(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h.ServeHTTP(w, r)
		d := time.Since(start)
		e.mu.Lock()
		if e.record {
			e.timings = append(e.timings, d)
		}
		e.mu.Unlock()
	})
}

func mustEnv(t testing.TB) *env {
	t.Helper()
	d := testenv.DB(t)
	keys, err := secret.New([]byte(strings.Repeat("s", 32)))
	if err != nil {
		t.Fatal(err)
	}
	// A plain-http, non-loopback base URL: cookies without Secure, so the
	// test's cookie jar sends them back over httptest's http://127.0.0.1.
	acc := accounts.New(d, keys)
	a := auth.New(testenv.Redis(t), keys, "http://laurel.test", acc)
	svc := issuance.New(d, "http://laurel.test")
	svc.Actors = acc
	svc.Limits = acc
	rd, err := web.NewRenderer(nil, auth.Templates, staff.Templates, imports.Templates, updates.Templates, delivery.Templates,
		public.Templates)
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(web.RequestID(), web.Recovery(rd), a.Load(), web.TextGuard(rd))
	web.RegisterStatic(r) // the pages' scripts, under the app's CSP
	a.Register(r, rd)
	sg := signing.New(svc, nil)
	rem := reminders.New(svc, nil)
	pub, dlv := public.New(svc, rem, sg), delivery.New(svc, rem, sg)
	pub.Register(r, rd)
	staffr := r.Group("/", auth.RequireStaff(rd))
	staff.New(svc, rem, pub, dlv).Register(staffr, rd)
	imports.New(svc).RegisterUI(staffr, rd)
	updates.New(svc).RegisterUI(staffr, rd)
	dlv.RegisterUI(staffr, rd)
	e := &env{t: t, db: d, svc: svc, auth: a, accts: acc}
	e.srv = httptest.NewServer(e.timed(web.SecurityHeaders("", auth.CSRF(a.Sessions.LoadAndSave(r)))))
	t.Cleanup(e.srv.Close)

	ctx := context.Background()
	des, err := svc.CreateDesign(ctx, "test", issuance.Design{Name: "Classic", Kind: issuance.Certificate, Title: "Certificate of Completion",
		PrimaryColor: "#1f3a5f", SecondaryColor: "#c9a227", PrintedAttributes: []string{"recipient_name", "issued_on", "grade"}, IsDefault: true})
	if err != nil {
		t.Fatal(err)
	}
	e.group, err = svc.CreateGroup(ctx, "test", issuance.Group{Name: "Data Science 101", CourseName: "Data Science 101", Language: "en", DesignID: des.ID,
		Attributes: []issuance.Attribute{{Key: "grade", Label: "Grade", Type: issuance.TextAttr, Required: true}, {Key: "hours", Label: "Hours", Type: issuance.NumberAttr}}})
	if err != nil {
		t.Fatal(err)
	}
	e.other, err = svc.CreateGroup(ctx, "test", issuance.Group{Name: "Other Course", CourseName: "Other", Language: "en", DesignID: des.ID})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// client is a browser: a cookie jar, no automatic redirects, and same-origin
// fetch metadata on every request as a real browser sends on its own forms.
type client struct {
	e  *env
	hc *http.Client
}

func (e *env) signIn(email string, role auth.Role, groups ...int64) *client {
	e.t.Helper()
	if _, _, err := e.accts.CreateUser(context.Background(), email, strings.Split(email, "@")[0], role, groups, password); err != nil {
		e.t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	c := &client{e: e, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	resp := c.post("/login", url.Values{"email": {email}, "password": {password}})
	if resp.code != http.StatusSeeOther {
		e.t.Fatalf("sign in %s: %d\n%s", email, resp.code, resp.body)
	}
	return c
}

type response struct {
	code     int
	body     string
	location string
	header   http.Header
}

func (c *client) do(req *http.Request) response {
	c.e.t.Helper()
	if req.Header.Get("Sec-Fetch-Site") == "" {
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{code: resp.StatusCode, body: string(b), location: resp.Header.Get("Location"), header: resp.Header}
}

func (c *client) get(path string) response {
	c.e.t.Helper()
	req, _ := http.NewRequest("GET", c.e.srv.URL+path, nil)
	return c.do(req)
}

func (c *client) post(path string, form url.Values) response {
	c.e.t.Helper()
	req, _ := http.NewRequest("POST", c.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

// follow GETs a redirect's target.
func (c *client) follow(r response) response {
	c.e.t.Helper()
	if r.code != http.StatusSeeOther {
		c.e.t.Fatalf("want 303, got %d\n%s", r.code, r.body)
	}
	return c.get(r.location)
}

func (e *env) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.db.Get(&n, q, args...); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// snapshot is what a refused request must leave unchanged.
func (e *env) snapshot() string {
	e.t.Helper()
	var s string
	const q = `SELECT (SELECT count(*) FROM credentials)::text || '/' ||
		(SELECT count(*) FROM credentials WHERE state = 'published')::text || '/' ||
		(SELECT count(*) FROM groups)::text || '/' || (SELECT count(*) FROM designs)::text || '/' ||
		(SELECT count(*) FROM jobs)::text || '/' || (SELECT count(*) FROM audit_log)::text || '/' ||
		COALESCE((SELECT string_agg(recipient_name || recipient_email || state, ',' ORDER BY id) FROM credentials), '') || '/' ||
		COALESCE((SELECT string_agg(name || course_name || attributes::text, ',' ORDER BY id) FROM groups), '')`
	if err := e.db.Get(&s, q); err != nil {
		e.t.Fatal(err)
	}
	return s
}

// seed inserts n unpublished credentials into group g in one statement.
func (e *env) seed(g int64, n int) {
	e.t.Helper()
	// The search key of an ASCII name and email is both, lower case
	// (issuance.SearchKey).
	const q = `INSERT INTO credentials (id, group_id, recipient_name, recipient_email, recipient_key, issued_on, attributes, source, search_key)
		SELECT translate(md5('seed' || $1::text || '-' || i::text), '0189', 'qrst'), $1::bigint,
			'Learner ' || i, 'learner' || i || '@example.edu', 'learner' || i || '@example.edu',
			date '2026-06-01', '{"grade":"A"}', 'api', 'learner ' || i || ' learner' || i || '@example.edu'
		FROM generate_series(1, $2) AS i`
	if _, err := e.db.Exec(q, g, n); err != nil {
		e.t.Fatal(err)
	}
}

var nextRE = regexp.MustCompile(`href="([^"]+)" id="page-next"`)
var prevRE = regexp.MustCompile(`href="([^"]+)" id="page-prev"`)

func contains(t testing.TB, body string, want ...string) {
	t.Helper()
	failed := false
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q", w)
			failed = true
		}
	}
	if failed {
		t.Logf("page:\n%s", body)
	}
}

func gid(g issuance.Group) string { return fmt.Sprint(g.ID) }

func sprint(v any) string { return fmt.Sprint(v) }
