package admin_test

import (
	"net/http/httptest"
	"os"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/laurel-edu/laurel/canvas"
	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/lti"
	"github.com/laurel-edu/laurel/lti/ltitest"
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
	course   *canvassim.Course
	student  *canvassim.User
	shared   *ltitest.Env
}

func newEnv(t testing.TB) *env {
	t.Helper()
	s := ltitest.New(t, ltitest.Options{})
	e := &env{t: t, db: s.DB, rdb: s.RDB, tool: s.Tool, srv: s.Srv, sim: s.Sim, platform: s.Platform,
		settings: s.Settings, course: s.Course, shared: s}
	e.student = e.sim.AddUser(canvassim.User{Name: "Sam Student", Email: "sam@example.edu"})
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
	must          = ltitest.Must
	browser       = ltitest.Browser
	readBody      = ltitest.ReadBody
	mustQuery     = ltitest.MustQuery
	assertRefused = ltitest.AssertRefused
	htmlUnescape  = ltitest.HTMLUnescape
)

// launchOK runs login → auth → launch for user and wants it accepted.
func launchOK(t *testing.T, e *env, user *canvassim.User) { t.Helper(); e.shared.LaunchOK(t, user) }

// register opens link as the platform does, with openid_configuration and
// registration_token appended to the link's own query.
func (e *env) register(link, cfg, tok string) (int, string) {
	e.t.Helper()
	return e.shared.Register(link, cfg, tok)
}
