package course_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/laurel-edu/laurel/canvas"
	"github.com/laurel-edu/laurel/internal/accounts"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/internal/secret"
	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance"
	issuanceapi "github.com/laurel-edu/laurel/issuance/api"
	"github.com/laurel-edu/laurel/lti"
	"github.com/laurel-edu/laurel/lti/course"
)

func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m))
}

// fakeCanvas is a stand-in Canvas host for the Live Events and REST
// additions of the simulator: a real HTTP server with a ServeMux.
type fakeCanvas struct {
	mux *http.ServeMux
	srv *httptest.Server
}

func (f *fakeCanvas) Handle(p string, h http.Handler) { f.mux.Handle(p, h) }

func (f *fakeCanvas) URL() string { return f.srv.URL }

func newFakeCanvas(t testing.TB) *fakeCanvas {
	f := &fakeCanvas{mux: http.NewServeMux()}
	f.srv = httptest.NewServer(f.mux)
	t.Cleanup(f.srv.Close)
	return f
}

// env is one test's Laurel: a fresh database, the issuance core, the LTI
// registry with one Canvas platform (the simulator), the course service with
// package canvas's side (as the app wires them) and an HTTP server with the
// webhook and the mapping API.
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
	canvas    *fakeCanvas
	events    *canvassim.LiveEvents
	rest      *canvassim.REST
	platform  lti.Platform
	group     issuance.Group
	srv       *httptest.Server
	auth      *auth.Auth
	accounts  *accounts.Service
	reg       *prometheus.Registry
	clock     *testenv.Clock
}

const canvasToken = "sim-canvas-api-token-0123456789"

type envOptions struct {
	noToken bool
}

func newEnv(t testing.TB, opts ...envOptions) *env {
	t.Helper()
	var o envOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	ctx := context.Background()
	e := &env{t: t, clock: &testenv.Clock{}}
	e.dbURL = testenv.DatabaseURL(t) + os.Getenv("BENCH_DSN_SUFFIX")
	var err error
	e.db, err = sqlx.Open("postgres", e.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	e.db.SetMaxOpenConns(40)
	e.db.SetMaxIdleConns(40)
	t.Cleanup(func() { e.db.Close() })
	e.masterKey = make([]byte, 32)
	rand.Read(e.masterKey)
	if e.keys, err = secret.New(e.masterKey); err != nil {
		t.Fatal(err)
	}
	e.canvas = newFakeCanvas(t)
	if e.events, err = canvassim.NewLiveEvents(e.canvas); err != nil {
		t.Fatal(err)
	}
	e.rest = canvassim.NewREST(e.canvas, canvasToken)
	e.registry = lti.NewRegistry(e.db)
	// Canvas's settings ride on the registry, as the app installs them.
	e.registry.SetExtension(canvas.NewPlatformSettings(e.db, e.keys))
	in := lti.PlatformInput{
		Name: "Sim Canvas", Issuer: e.canvas.URL(), ClientID: "10000000000001",
		AuthURL: e.canvas.URL() + "/api/lti/authorize_redirect", TokenURL: e.canvas.URL() + "/login/oauth2/token",
		JWKSURL: e.canvas.URL() + "/api/lti/security/jwks", Extra: canvas.PlatformExtra(e.canvas.URL(), ""),
	}
	if !o.noToken {
		in.Extra[canvas.FieldCanvasToken] = canvasToken
	}
	if e.platform, err = e.registry.AddPlatform(ctx, in); err != nil {
		t.Fatal(err)
	}
	e.iss = issuance.New(e.db, "http://laurel.test")
	e.group = mustGroup(t, e, "Computer Science I")
	e.reg = prometheus.NewRegistry()
	e.courses, err = course.New(course.Options{DB: e.db, Platforms: e.registry, BaseURL: "http://laurel.test",
		Now: e.clock.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	e.svc, err = canvas.New(canvas.Options{
		DB: e.db, Keys: e.keys, Issuer: e.iss, Platforms: canvas.LTIPlatforms(e.registry), Courses: e.courses,
		BaseURL: "http://laurel.test", LiveEventsJWKSURL: e.events.JWKSURL(), Registerer: e.reg,
		RateLimitBackoff: 5 * time.Millisecond, Now: e.clock.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.courses.SetCanvas(e.svc.CourseSide())
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(web.RequestID())
	e.svc.RegisterWebhook(r)
	e.svc.RegisterDevKey(r)
	e.accounts = accounts.New(e.db, e.keys)
	e.auth = auth.New(nil, e.keys, "http://laurel.test", e.accounts)
	api := r.Group("/api/v1", e.auth.Bearer())
	e.courses.RegisterAPI(api)
	e.svc.RegisterAPI(api, e.courses)
	issuanceapi.Register(api, e.iss) // the credentials API, beside the mappings'
	e.srv = httptest.NewServer(r)
	t.Cleanup(e.srv.Close)
	return e
}

func mustGroup(t testing.TB, e *env, name string) issuance.Group {
	t.Helper()
	ctx := context.Background()
	d, err := e.iss.DefaultDesign(ctx)
	if err != nil {
		t.Fatalf("default design: %v", err)
	}
	g, err := e.iss.CreateGroup(ctx, "test", issuance.Group{Name: name, CourseName: name, DesignID: d.ID, Language: "en"})
	if err != nil {
		t.Fatalf("create group: %v", err)
	}
	return g
}

func (e *env) webhookURL() string { return e.srv.URL + "/webhooks/canvas" }

// drain processes the inbox until nothing is ready.
func (e *env) drain() {
	e.t.Helper()
	for {
		n, err := e.svc.ProcessInbox(context.Background(), 500)
		if err != nil {
			e.t.Fatalf("process inbox: %v", err)
		}
		if n == 0 {
			return
		}
	}
}

func (e *env) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.db.Get(&n, q, args...); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	return n
}

func (e *env) token(role auth.Role) string {
	e.t.Helper()
	tok, err := e.accounts.CreateToken(context.Background(), "test "+string(role), role)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func (e *env) api(method, path, token, body string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+"/api/v1"+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var _ = fmt.Sprintf
