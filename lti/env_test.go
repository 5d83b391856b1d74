package lti_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/laurel-edu/laurel/canvas"
	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/lti"
	"github.com/laurel-edu/laurel/lti/ltitest"
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

	shared *ltitest.Env

	mu       sync.Mutex
	launches []*lti.Launch
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t}
	s := ltitest.New(t, ltitest.Options{
		OnLaunch: e.onLaunch,
		Tool: func(tool *lti.Tool) {
			e.fetches = &fetchCounter{next: tool.HTTPClient.Transport, n: map[string]int{}}
			tool.HTTPClient.Transport = e.fetches
		},
		Routes: func(r *gin.Engine, tool *lti.Tool, rd *web.Renderer) {
			r.POST("/deep", func(c *gin.Context) {
				l, err := tool.LaunchFromRequest(c)
				if err != nil {
					rd.WriteError(c, err)
					return
				}
				if err := tool.WriteDeepLinkResponse(c, rd, l, []lti.ContentItem{{Type: "ltiResourceLink", Title: "My credential", URL: tool.LaunchURL(), Custom: map[string]string{"view": "my_credential"}}}); err != nil {
					rd.WriteError(c, err)
				}
			})
		},
	})
	e.shared, e.db, e.rdb, e.tool, e.srv, e.sim = s, s.DB, s.RDB, s.Tool, s.Srv, s.Sim
	e.platform, e.settings, e.clock, e.course = s.Platform, s.Settings, s.Clock, s.Course
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
	return e.shared.CanvasSettings(id)
}

// The shared helpers under the names the tests use.
var (
	must         = ltitest.Must
	browser      = ltitest.Browser
	readBody     = ltitest.ReadBody
	dataAttrs    = ltitest.DataAttrs
	htmlUnescape = ltitest.HTMLUnescape
)

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

// login sends the login initiation; it returns the auth URL the tool sent
// the browser to (from the redirect or the storage page).
func (e *env) login(c *http.Client, user, course string, o canvassim.LaunchOptions) (authURL string, page map[string]string) {
	e.t.Helper()
	return e.shared.Login(c, user, course, o)
}

// authorize follows the auth request at the sim and returns the form it posts.
func (e *env) authorize(c *http.Client, authURL string) (string, url.Values) {
	e.t.Helper()
	return e.shared.Authorize(c, authURL)
}

// fullLaunch runs login → auth → launch and returns the launch response.
func (e *env) fullLaunch(c *http.Client, user, course string, o canvassim.LaunchOptions) (int, string) {
	e.t.Helper()
	return e.shared.FullLaunch(c, user, course, o)
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
