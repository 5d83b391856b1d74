package course_test

import (
	"os"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/canvas"
	"github.com/laurel-edu/laurel/canvas/canvastest"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/internal/secret"
	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/lti"
	"github.com/laurel-edu/laurel/lti/course"
)

func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m))
}

// env is one test's Laurel: a fresh database, the issuance core, the LTI
// registry with one Canvas platform (the simulator), the course service with
// package canvas's side (as the app wires them) and an HTTP server with the
// webhook and the mapping API.
type env struct {
	t        testing.TB
	db       *sqlx.DB
	keys     *secret.Keys
	iss      *issuance.Service
	svc      *canvas.Service
	courses  *course.Service
	events   *canvassim.LiveEvents
	platform lti.Platform
	group    issuance.Group
	shared   *canvastest.Env
}

const canvasToken = canvastest.Token

type envOptions struct {
	noToken bool
}

func newEnv(t testing.TB, opts ...envOptions) *env {
	t.Helper()
	var o envOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	s := canvastest.New(t, canvastest.Options{NoToken: o.noToken})
	return &env{t: t, db: s.DB, keys: s.Keys, iss: s.Iss, svc: s.Svc, courses: s.Courses, events: s.Events,
		platform: s.Platform, group: s.Group, shared: s}
}

func (e *env) webhookURL() string { return e.shared.WebhookURL() }

// drain processes the inbox until nothing is ready.
func (e *env) drain() { e.t.Helper(); e.shared.Drain() }

func (e *env) count(q string, args ...any) int { e.t.Helper(); return e.shared.Count(q, args...) }

func (e *env) token(role auth.Role) string { e.t.Helper(); return e.shared.Token(role) }

func (e *env) api(method, path, token, body string) (int, string) {
	e.t.Helper()
	return e.shared.API(method, path, token, body)
}
