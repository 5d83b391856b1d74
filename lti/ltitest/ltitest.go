// Package ltitest builds, for the tests of package lti and package admin,
// the one Laurel they both run against: the LTI routes on gin over real HTTP
// with PostgreSQL and Redis, Canvas's platform settings installed, and the
// Canvas simulator on another port with one course registered; plus the
// browser steps of a launch and a registration. It owns no table.
package ltitest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/laurel-edu/laurel/canvas"
	"github.com/laurel-edu/laurel/internal/accounts"
	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/internal/secret"
	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/lti"
)

// Env is one test's Laurel; see the package comment.
type Env struct {
	T        testing.TB
	DB       *sqlx.DB
	RDB      *redis.Client
	Tool     *lti.Tool
	Srv      *httptest.Server
	Sim      *canvassim.Sim
	Platform lti.Platform
	Settings *canvas.PlatformSettings
	Clock    *testenv.Clock
	Course   *canvassim.Course // "Biology 101"; the caller adds and enrolls its users
}

// Options change what New builds; every field may be left zero.
type Options struct {
	// OnLaunch handles accepted launches; by default it answers {"sub": ...}.
	OnLaunch func(*gin.Context, *lti.Launch) error
	// Tool, when set, sees the tool right after lti.New, before anything uses it.
	Tool func(*lti.Tool)
	// Routes, when set, adds routes after the tool's.
	Routes func(*gin.Engine, *lti.Tool, *web.Renderer)
}

// New builds an Env, torn down when t ends.
func New(t testing.TB, o Options) *Env {
	t.Helper()
	e := &Env{T: t, DB: testenv.DB(t), RDB: testenv.Redis(t), Clock: &testenv.Clock{}}
	keys, err := secret.New([]byte("0123456789abcdef0123456789abcdef-test"))
	Must(t, err)
	var h http.Handler
	e.Srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(e.Srv.Close)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	onLaunch := o.OnLaunch
	if onLaunch == nil {
		onLaunch = func(c *gin.Context, l *lti.Launch) error {
			c.JSON(http.StatusOK, gin.H{"sub": l.Sub})
			return nil
		}
	}
	e.Tool = lti.New(e.DB, e.RDB, keys, e.Srv.URL, log, onLaunch)
	if o.Tool != nil {
		o.Tool(e.Tool)
	}
	// Canvas's platform settings (URL, API token), as the app installs them.
	e.Settings = canvas.NewPlatformSettings(e.DB, keys)
	e.Tool.Registry().SetExtension(e.Settings)
	e.Tool.Now = e.Clock.Now
	// The simulated platforms run on loopback over plain http.
	e.Tool.AllowHTTPPlatforms = true
	e.Tool.Staff = accounts.New(e.DB, nil) // links a launch to a staff account by email
	rd, err := web.NewRenderer(nil, lti.Templates)
	Must(t, err)
	r := gin.New()
	r.Use(web.Recovery(rd))
	web.RegisterStatic(r)
	e.Tool.Register(r, rd)
	if o.Routes != nil {
		o.Routes(r, e.Tool, rd)
	}
	h = r
	e.Sim = canvassim.New().Start()
	t.Cleanup(e.Sim.Close)
	e.Platform, err = e.Sim.Register(context.Background(), e.Tool, "Sim Canvas")
	Must(t, err)
	e.Course = e.Sim.AddCourse(canvassim.Course{Title: "Biology 101", Label: "BIO101"})
	return e
}

// CanvasSettings are platform id's Canvas settings (package canvas's table).
func (e *Env) CanvasSettings(id int64) canvas.Settings {
	e.T.Helper()
	st, err := e.Settings.Settings(context.Background(), id)
	Must(e.T, err)
	return st
}

// Must fails t on err.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Browser returns a client that does not follow redirects, with a cookie
// jar when jar.
func Browser(jar bool) *http.Client {
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 10 * time.Second}
	if jar {
		c.Jar, _ = cookiejar.New(nil)
	}
	return c
}

// ReadBody reads and closes resp's body.
func ReadBody(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	Must(t, err)
	return string(b)
}

var dataRE = regexp.MustCompile(`data-([a-z-]+)="([^"]*)"`)

// DataAttrs returns the data-* attributes of the page (unescaped).
func DataAttrs(page string) map[string]string {
	out := map[string]string{}
	for _, m := range dataRE.FindAllStringSubmatch(page, -1) {
		out[m[1]] = HTMLUnescape(m[2])
	}
	return out
}

// HTMLUnescape undoes the escapes html/template writes.
func HTMLUnescape(s string) string {
	r := strings.NewReplacer("&amp;", "&", "&#43;", "+", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">", "&quot;", `"`)
	return r.Replace(s)
}

// MustQuery is the query of URL u.
func MustQuery(t testing.TB, u string) url.Values {
	t.Helper()
	p, err := url.Parse(u)
	Must(t, err)
	return p.Query()
}

// AssertRefused checks the refused-launch page: status, the reason code and
// (when given) a fragment of the message; never a stack trace.
func AssertRefused(t testing.TB, resp *http.Response, status int, reason, fragment string) {
	t.Helper()
	body := ReadBody(t, resp)
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d (reason %s): %s", resp.StatusCode, status, reason, body)
	}
	if d := DataAttrs(body); d["reason"] != reason {
		t.Fatalf("reason = %q, want %q: %s", d["reason"], reason, body)
	}
	if fragment != "" && !strings.Contains(HTMLUnescape(body), fragment) {
		t.Fatalf("message lacks %q: %s", fragment, body)
	}
	if strings.Contains(body, "goroutine") || strings.Contains(body, ".go:") {
		t.Fatalf("refused page shows a stack trace: %s", body)
	}
}

// Login sends the login initiation; it returns the auth URL the tool sent
// the browser to (from the redirect or the storage page).
func (e *Env) Login(c *http.Client, user, course string, o canvassim.LaunchOptions) (authURL string, page map[string]string) {
	e.T.Helper()
	lr, err := e.Sim.BeginLaunch(user, course, o)
	Must(e.T, err)
	resp, err := c.PostForm(lr.URL, lr.Form)
	Must(e.T, err)
	body := ReadBody(e.T, resp)
	switch resp.StatusCode {
	case http.StatusFound:
		return resp.Header.Get("Location"), nil
	case http.StatusOK:
		page = DataAttrs(body)
		if page["auth-url"] == "" {
			e.T.Fatalf("login page without auth url: %s", body)
		}
		return page["auth-url"], page
	}
	e.T.Fatalf("login: %d %s", resp.StatusCode, body)
	return "", nil
}

// Authorize follows the auth request at the sim and returns the form it posts.
func (e *Env) Authorize(c *http.Client, authURL string) (string, url.Values) {
	e.T.Helper()
	resp, err := c.Get(authURL)
	Must(e.T, err)
	body := ReadBody(e.T, resp)
	if resp.StatusCode != http.StatusOK {
		e.T.Fatalf("authorize: %d %s", resp.StatusCode, body)
	}
	action, vals, err := canvassim.FormFromHTML([]byte(body))
	Must(e.T, err)
	return action, vals
}

// FullLaunch runs login → auth → launch and returns the launch response.
func (e *Env) FullLaunch(c *http.Client, user, course string, o canvassim.LaunchOptions) (int, string) {
	e.T.Helper()
	auth, _ := e.Login(c, user, course, o)
	action, vals := e.Authorize(c, auth)
	resp, err := c.PostForm(action, vals)
	Must(e.T, err)
	return resp.StatusCode, ReadBody(e.T, resp)
}

// LaunchOK runs login → auth → launch for user in the course and wants it
// accepted.
func (e *Env) LaunchOK(t testing.TB, user *canvassim.User) {
	t.Helper()
	status, body := e.FullLaunch(Browser(true), user.ID, e.Course.ID, canvassim.LaunchOptions{NoStorageTarget: true})
	if status != http.StatusOK {
		t.Fatalf("launch: %d %s", status, body)
	}
}

// Register opens link as the platform does, with openid_configuration and
// registration_token appended to the link's own query.
func (e *Env) Register(link, cfg, tok string) (int, string) {
	e.T.Helper()
	q := url.Values{"openid_configuration": {cfg}, "registration_token": {tok}}
	sep := "?"
	if strings.Contains(link, "?") {
		sep = "&"
	}
	u := link
	if cfg != "" {
		u += sep + q.Encode()
	}
	resp, err := http.Get(u)
	Must(e.T, err)
	return resp.StatusCode, HTMLUnescape(ReadBody(e.T, resp))
}
