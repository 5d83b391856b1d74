package canvas_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/laurel-edu/laurel/canvas"
	"github.com/laurel-edu/laurel/canvas/canvastest"
	"github.com/laurel-edu/laurel/internal/accounts"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/internal/secret"
	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/lti"
	"github.com/laurel-edu/laurel/lti/course"
)

func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) != "" {
		os.Exit(runWorkerProcess())
	}
	os.Exit(testenv.Main(m))
}

// env is one test's Laurel: a fresh database, the issuance core, the LTI
// registry with one Canvas platform (the simulator), the Canvas service and
// an HTTP server with the webhook and the mapping API.
type env struct {
	t         testing.TB
	db        *sqlx.DB
	keys      *secret.Keys
	dbURL     string
	masterKey []byte
	registry  *lti.Registry
	iss       *issuance.Service
	svc       *canvas.Service
	courses   *course.Service
	canvas    *canvastest.Host
	events    *canvassim.LiveEvents
	rest      *canvassim.REST
	platform  lti.Platform
	group     issuance.Group
	srv       *httptest.Server
	auth      *auth.Auth
	accounts  *accounts.Service
	reg       *prometheus.Registry
	clock     *testenv.Clock
	shared    *canvastest.Env
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
	return &env{t: t, db: s.DB, keys: s.Keys, dbURL: s.DBURL, masterKey: s.MasterKey, registry: s.Registry,
		iss: s.Iss, svc: s.Svc, courses: s.Courses, canvas: s.Canvas, events: s.Events, rest: s.REST,
		platform: s.Platform, group: s.Group, srv: s.Srv, auth: s.Auth, accounts: s.Accounts, reg: s.Reg,
		clock: s.Clock, shared: s}
}

func mustGroup(t testing.TB, e *env, name string) issuance.Group {
	t.Helper()
	return canvastest.MustGroup(t, e.iss, name)
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

// mustMap maps Canvas course courseID to the env's group.
func (e *env) mustMap(courseID string, autoPublish bool) course.Mapping {
	e.t.Helper()
	pid, gid := e.platform.ID, e.group.ID
	rule := string(course.RuleCanvasCompletion)
	m, err := e.courses.CreateMapping(context.Background(), "test", course.MappingInput{
		PlatformID: &pid, GroupID: &gid, CanvasCourseID: &courseID, CompletionRule: &rule, AutoPublish: &autoPublish,
	})
	if err != nil {
		e.t.Fatalf("map course %s: %v", courseID, err)
	}
	return m
}

// credentials returns the group's credentials keyed by external ref.
type credRow struct {
	ID          string  `db:"id"`
	State       string  `db:"state"`
	Name        string  `db:"recipient_name"`
	Email       string  `db:"recipient_email"`
	IssuedOn    string  `db:"issued_on"`
	Source      string  `db:"source"`
	ExternalRef *string `db:"external_ref"`
}

func (e *env) credentials() []credRow {
	e.t.Helper()
	var rows []credRow
	err := e.db.Select(&rows, `SELECT id, state, recipient_name, recipient_email, to_char(issued_on, 'YYYY-MM-DD') AS issued_on,
		source, external_ref FROM credentials WHERE group_id = $1 ORDER BY seq`, e.group.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return rows
}

func (e *env) deliver(c canvassim.Completion) (int, string) {
	e.t.Helper()
	st, body, err := e.events.DeliverCompletion(context.Background(), e.webhookURL(), c)
	if err != nil {
		e.t.Fatal(err)
	}
	return st, string(body)
}

// runWorkers runs n inbox workers until the returned stop is called.
func (e *env) runWorkers(n int) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() { defer wg.Done(); e.svc.RunInboxWorker(ctx) }()
	}
	return func() { cancel(); wg.Wait() }
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func readAll(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
