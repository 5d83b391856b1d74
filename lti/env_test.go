package lti_test

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
	"sync"
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
	if os.Getenv("LAUREL_BENCH_TOOL") != "" {
		os.Exit(benchToolProcess()) // BenchmarkLoginLaunch's tool process
	}
	gin.SetMode(gin.ReleaseMode)
	os.Exit(testenv.Main(m))
}

// env is Laurel's LTI routes on gin over real HTTP with PostgreSQL and
// Redis, and the Canvas simulator on another port.
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
	fetches  *fetchCounter
	course   *canvassim.Course
	teacher  *canvassim.User
	ta       *canvassim.User
	student  *canvassim.User

	mu       sync.Mutex
	launches []*lti.Launch
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, db: testenv.DB(t), rdb: testenv.Redis(t), clock: &testenv.Clock{}}
	keys, err := secret.New([]byte("0123456789abcdef0123456789abcdef-test"))
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(e.srv.Close)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e.tool = lti.New(e.db, e.rdb, keys, e.srv.URL, log, e.onLaunch)
	e.fetches = &fetchCounter{next: e.tool.HTTPClient.Transport, n: map[string]int{}}
	e.tool.HTTPClient.Transport = e.fetches
	// Canvas's platform settings (URL, API token), as the app installs them.
	e.settings = canvas.NewPlatformSettings(e.db, keys)
	e.tool.Registry().SetExtension(e.settings)
	e.tool.Now = e.clock.Now
	// The simulated platforms run on loopback over plain http.
	e.tool.AllowHTTPPlatforms = true
	e.tool.Staff = accounts.New(e.db, nil) // links a launch to a staff account by email
	rd, err := web.NewRenderer(nil, lti.Templates)
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	r.Use(web.Recovery(rd))
	web.RegisterStatic(r)
	e.tool.Register(r, rd)
	r.POST("/deep", func(c *gin.Context) {
		l, err := e.tool.LaunchFromRequest(c)
		if err != nil {
			rd.WriteError(c, err)
			return
		}
		if err := e.tool.WriteDeepLinkResponse(c, rd, l, []lti.ContentItem{{Type: "ltiResourceLink", Title: "My credential", URL: e.tool.LaunchURL(), Custom: map[string]string{"view": "my_credential"}}}); err != nil {
			rd.WriteError(c, err)
		}
	})
	h = r
	e.sim = canvassim.New().Start()
	t.Cleanup(e.sim.Close)
	e.platform, err = e.sim.Register(context.Background(), e.tool, "Sim Canvas")
	if err != nil {
		t.Fatal(err)
	}
	e.course = e.sim.AddCourse(canvassim.Course{Title: "Biology 101", Label: "BIO101"})
	e.teacher = e.sim.AddUser(canvassim.User{Name: "Tina Teacher", Email: "tina@example.edu"})
	e.ta = e.sim.AddUser(canvassim.User{Name: "Tom Assistant"})
	e.student = e.sim.AddUser(canvassim.User{Name: "Sam Student", Email: "sam@example.edu"})
	must(t, e.sim.Enroll(e.course.ID, e.teacher.ID, canvassim.Teacher))
	must(t, e.sim.Enroll(e.course.ID, e.ta.ID, canvassim.TA))
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

func (e *env) onLaunch(c *gin.Context, l *lti.Launch) error {
	e.mu.Lock()
	e.launches = append(e.launches, l)
	e.mu.Unlock()
	c.JSON(http.StatusOK, gin.H{"sub": l.Sub, "ltik": l.Token, "instructor": l.IsInstructor(), "learner": l.IsLearner(), "message_type": l.MessageType})
	return nil
}

func (e *env) lastLaunch() *lti.Launch {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.launches) == 0 {
		return nil
	}
	return e.launches[len(e.launches)-1]
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
	if err != nil {
		t.Fatal(err)
	}
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

// login sends the login initiation; it returns the auth URL the tool sent
// the browser to (from the redirect or the storage page).
func (e *env) login(c *http.Client, user, course string, o canvassim.LaunchOptions) (authURL string, page map[string]string) {
	e.t.Helper()
	lr, err := e.sim.BeginLaunch(user, course, o)
	must(e.t, err)
	resp, err := c.PostForm(lr.URL, lr.Form)
	must(e.t, err)
	body := readBody(e.t, resp)
	switch resp.StatusCode {
	case http.StatusFound:
		return resp.Header.Get("Location"), nil
	case http.StatusOK:
		page = dataAttrs(body)
		if page["auth-url"] == "" {
			e.t.Fatalf("login page without auth url: %s", body)
		}
		return page["auth-url"], page
	}
	e.t.Fatalf("login: %d %s", resp.StatusCode, body)
	return "", nil
}

// authorize follows the auth request at the sim and returns the form it posts.
func (e *env) authorize(c *http.Client, authURL string) (string, url.Values) {
	e.t.Helper()
	resp, err := c.Get(authURL)
	must(e.t, err)
	body := readBody(e.t, resp)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("authorize: %d %s", resp.StatusCode, body)
	}
	action, vals, err := canvassim.FormFromHTML([]byte(body))
	must(e.t, err)
	return action, vals
}

// fullLaunch runs login → auth → launch and returns the launch response.
func (e *env) fullLaunch(c *http.Client, user, course string, o canvassim.LaunchOptions) (int, string) {
	e.t.Helper()
	auth, _ := e.login(c, user, course, o)
	action, vals := e.authorize(c, auth)
	resp, err := c.PostForm(action, vals)
	must(e.t, err)
	return resp.StatusCode, readBody(e.t, resp)
}

// stateNonce returns the state and nonce of an auth URL.
func stateNonce(t testing.TB, authURL string) (string, string) {
	t.Helper()
	u, err := url.Parse(authURL)
	must(t, err)
	return u.Query().Get("state"), u.Query().Get("nonce")
}

func (e *env) countUsers() int {
	var n int
	must(e.t, e.db.Get(&n, `SELECT count(*) FROM lti_users`))
	return n
}

func (e *env) countSessions() int {
	keys, err := e.rdb.Keys(context.Background(), "lti:ltik:*").Result()
	must(e.t, err)
	return len(keys)
}

// fetchCounter counts the requests the Tool sends to platforms, by URL.
type fetchCounter struct {
	next http.RoundTripper
	mu   sync.Mutex
	n    map[string]int
}

func (f *fetchCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	f.n[r.URL.String()]++
	f.mu.Unlock()
	return f.next.RoundTrip(r)
}

// jwksFetches reports how many times the Tool fetched the platform's JWKS.
func (e *env) jwksFetches() int {
	e.fetches.mu.Lock()
	defer e.fetches.mu.Unlock()
	return e.fetches.n[e.platform.JWKSURL]
}
