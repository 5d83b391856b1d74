package admin_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
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

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	os.Exit(testenv.Main(m))
}

// env is Laurel's LTI routes on gin over real HTTP with PostgreSQL and
// Redis, and the Canvas simulator on another port: what the owner pages
// manage, and the launches and registrations their changes affect.
type env struct {
	t        testing.TB
	db       *sqlx.DB
	rdb      *redis.Client
	tool     *lti.Tool
	srv      *httptest.Server
	sim      *canvassim.Sim
	platform lti.Platform
	settings *canvas.PlatformSettings
	clock    *testenv.Clock
	course   *canvassim.Course
	student  *canvassim.User
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, db: testenv.DB(t), rdb: testenv.Redis(t), clock: &testenv.Clock{}}
	keys, err := secret.New([]byte("0123456789abcdef0123456789abcdef-test"))
	must(t, err)
	var h http.Handler
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(e.srv.Close)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e.tool = lti.New(e.db, e.rdb, keys, e.srv.URL, log, func(c *gin.Context, l *lti.Launch) error {
		c.JSON(http.StatusOK, gin.H{"sub": l.Sub})
		return nil
	})
	// Canvas's platform settings (URL, API token), as the app installs them.
	e.settings = canvas.NewPlatformSettings(e.db, keys)
	e.tool.Registry().SetExtension(e.settings)
	e.tool.Now = e.clock.Now
	// The simulated platforms run on loopback over plain http.
	e.tool.AllowHTTPPlatforms = true
	e.tool.Staff = accounts.New(e.db, nil)
	rd, err := web.NewRenderer(nil, lti.Templates)
	must(t, err)
	r := gin.New()
	r.Use(web.Recovery(rd))
	web.RegisterStatic(r)
	e.tool.Register(r, rd)
	h = r
	e.sim = canvassim.New().Start()
	t.Cleanup(e.sim.Close)
	e.platform, err = e.sim.Register(context.Background(), e.tool, "Sim Canvas")
	must(t, err)
	e.course = e.sim.AddCourse(canvassim.Course{Title: "Biology 101", Label: "BIO101"})
	e.student = e.sim.AddUser(canvassim.User{Name: "Sam Student", Email: "sam@example.edu"})
	must(t, e.sim.Enroll(e.course.ID, e.student.ID, canvassim.Student))
	return e
}

// canvasSettings are platform id's Canvas settings (package canvas's table).
func (e *env) canvasSettings(id int64) canvas.Settings {
	e.t.Helper()
	st, err := e.settings.Settings(context.Background(), id)
	must(e.t, err)
	return st
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// browser returns a client with a cookie jar that does not follow redirects.
func browser(jar bool) *http.Client {
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 10 * time.Second}
	if jar {
		c.Jar, _ = cookiejar.New(nil)
	}
	return c
}

func readBody(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	return string(b)
}

var dataRE = regexp.MustCompile(`data-([a-z-]+)="([^"]*)"`)

// dataAttrs returns the data-* attributes of the page (unescaped).
func dataAttrs(page string) map[string]string {
	out := map[string]string{}
	for _, m := range dataRE.FindAllStringSubmatch(page, -1) {
		out[m[1]] = htmlUnescape(m[2])
	}
	return out
}

func htmlUnescape(s string) string {
	r := strings.NewReplacer("&amp;", "&", "&#43;", "+", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">", "&quot;", `"`)
	return r.Replace(s)
}

func mustQuery(t testing.TB, u string) url.Values {
	t.Helper()
	p, err := url.Parse(u)
	must(t, err)
	return p.Query()
}

// launchOK runs login → auth → launch for user and wants it accepted.
func launchOK(t *testing.T, e *env, user *canvassim.User) {
	t.Helper()
	c := browser(true)
	lr, err := e.sim.BeginLaunch(user.ID, e.course.ID, canvassim.LaunchOptions{NoStorageTarget: true})
	must(t, err)
	resp, err := c.PostForm(lr.URL, lr.Form)
	must(t, err)
	body := readBody(t, resp)
	authURL := resp.Header.Get("Location")
	if resp.StatusCode == http.StatusOK {
		authURL = dataAttrs(body)["auth-url"]
	}
	if authURL == "" {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	resp, err = c.Get(authURL)
	must(t, err)
	if body = readBody(t, resp); resp.StatusCode != http.StatusOK {
		t.Fatalf("authorize: %d %s", resp.StatusCode, body)
	}
	action, vals, err := canvassim.FormFromHTML([]byte(body))
	must(t, err)
	resp, err = c.PostForm(action, vals)
	must(t, err)
	if body = readBody(t, resp); resp.StatusCode != http.StatusOK {
		t.Fatalf("launch: %d %s", resp.StatusCode, body)
	}
}

// register opens link as the platform does, with openid_configuration and
// registration_token appended to the link's own query.
func (e *env) register(link, cfg, tok string) (int, string) {
	e.t.Helper()
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
	must(e.t, err)
	return resp.StatusCode, htmlUnescape(readBody(e.t, resp))
}

// assertRefused checks the refused-launch page: status, the reason code and
// (when given) a fragment of the message; never a stack trace.
func assertRefused(t testing.TB, resp *http.Response, status int, reason, fragment string) {
	t.Helper()
	body := readBody(t, resp)
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d (reason %s): %s", resp.StatusCode, status, reason, body)
	}
	if d := dataAttrs(body); d["reason"] != reason {
		t.Fatalf("reason = %q, want %q: %s", d["reason"], reason, body)
	}
	if fragment != "" && !strings.Contains(htmlUnescape(body), fragment) {
		t.Fatalf("message lacks %q: %s", fragment, body)
	}
	if strings.Contains(body, "goroutine") || strings.Contains(body, ".go:") {
		t.Fatalf("refused page shows a stack trace: %s", body)
	}
}
