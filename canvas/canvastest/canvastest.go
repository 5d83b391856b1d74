// Package canvastest builds, for the tests of package canvas and package
// course, the one Laurel they both run against: a fresh database, the
// issuance core, the LTI registry with one Canvas platform (the simulator),
// the course service with package canvas's side (as the app wires them) and
// an HTTP server with the webhook, the developer key and the API. It owns no
// table.
package canvastest

import (
	"context"
	"crypto/rand"
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
	"github.com/laurel-edu/laurel/issuance/reminders"
	"github.com/laurel-edu/laurel/lti"
	"github.com/laurel-edu/laurel/lti/course"
)

// Token is the simulated Canvas's REST API token, stored on the platform
// unless Options.NoToken.
const Token = "sim-canvas-api-token-0123456789"

// Host is a stand-in Canvas host for the Live Events and REST additions of
// the simulator: a real HTTP server with a ServeMux.
type Host struct {
	mux *http.ServeMux
	srv *httptest.Server
}

// Handle serves h at pattern p on the host.
func (f *Host) Handle(p string, h http.Handler) { f.mux.Handle(p, h) }

// URL is the host's base URL.
func (f *Host) URL() string { return f.srv.URL }

// NewHost starts a Host, closed when t ends.
func NewHost(t testing.TB) *Host {
	f := &Host{mux: http.NewServeMux()}
	f.srv = httptest.NewServer(f.mux)
	t.Cleanup(f.srv.Close)
	return f
}

// Env is one test's Laurel; see the package comment.
type Env struct {
	T         testing.TB
	DB        *sqlx.DB
	Keys      *secret.Keys
	DBURL     string
	MasterKey []byte
	Registry  *lti.Registry
	Iss       *issuance.Service
	Svc       *canvas.Service
	Courses   *course.Service
	Canvas    *Host
	Events    *canvassim.LiveEvents
	REST      *canvassim.REST
	Platform  lti.Platform
	Group     issuance.Group
	Srv       *httptest.Server
	Auth      *auth.Auth
	Accounts  *accounts.Service
	Reg       *prometheus.Registry
	Clock     *testenv.Clock
}

// Options change what New builds.
type Options struct {
	NoToken bool // the platform has no Canvas API token
}

// New builds an Env, torn down when t ends. BENCH_DSN_SUFFIX is appended to
// the database URL, so benchmarks can tune the connection.
func New(t testing.TB, o Options) *Env {
	t.Helper()
	ctx := context.Background()
	e := &Env{T: t, Clock: &testenv.Clock{}}
	e.DBURL = testenv.DatabaseURL(t) + os.Getenv("BENCH_DSN_SUFFIX")
	var err error
	e.DB, err = sqlx.Open("postgres", e.DBURL)
	if err != nil {
		t.Fatal(err)
	}
	e.DB.SetMaxOpenConns(40)
	e.DB.SetMaxIdleConns(40)
	t.Cleanup(func() { e.DB.Close() })
	e.MasterKey = make([]byte, 32)
	rand.Read(e.MasterKey)
	if e.Keys, err = secret.New(e.MasterKey); err != nil {
		t.Fatal(err)
	}
	e.Canvas = NewHost(t)
	if e.Events, err = canvassim.NewLiveEvents(e.Canvas); err != nil {
		t.Fatal(err)
	}
	e.REST = canvassim.NewREST(e.Canvas, Token)
	e.Registry = lti.NewRegistry(e.DB)
	// Canvas's settings ride on the registry, as the app installs them.
	e.Registry.SetExtension(canvas.NewPlatformSettings(e.DB, e.Keys))
	in := lti.PlatformInput{
		Name: "Sim Canvas", Issuer: e.Canvas.URL(), ClientID: "10000000000001",
		AuthURL: e.Canvas.URL() + "/api/lti/authorize_redirect", TokenURL: e.Canvas.URL() + "/login/oauth2/token",
		JWKSURL: e.Canvas.URL() + "/api/lti/security/jwks", Extra: canvas.PlatformExtra(e.Canvas.URL(), ""),
	}
	if !o.NoToken {
		in.Extra[canvas.FieldCanvasToken] = Token
	}
	if e.Platform, err = e.Registry.AddPlatform(ctx, in); err != nil {
		t.Fatal(err)
	}
	e.Iss = issuance.New(e.DB, "http://laurel.test")
	e.Group = MustGroup(t, e.Iss, "Computer Science I")
	e.Reg = prometheus.NewRegistry()
	e.Courses, err = course.New(course.Options{DB: e.DB, Platforms: e.Registry, BaseURL: "http://laurel.test",
		Now: e.Clock.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	e.Svc, err = canvas.New(canvas.Options{
		DB: e.DB, Keys: e.Keys, Issuer: e.Iss, Platforms: canvas.LTIPlatforms(e.Registry), Courses: e.Courses,
		BaseURL: "http://laurel.test", LiveEventsJWKSURL: e.Events.JWKSURL(), Registerer: e.Reg,
		RateLimitBackoff: 5 * time.Millisecond, Now: e.Clock.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.Courses.SetCanvas(e.Svc.CourseSide())
	e.Courses.AddChecker(e.Svc.Checker())
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(web.RequestID())
	e.Svc.RegisterWebhook(r)
	e.Svc.RegisterDevKey(r)
	e.Accounts = accounts.New(e.DB, e.Keys)
	e.Auth = auth.New(nil, e.Keys, "http://laurel.test", e.Accounts)
	api := r.Group("/api/v1", e.Auth.Bearer())
	e.Courses.RegisterAPI(api)
	issuanceapi.Register(api, e.Iss, reminders.New(e.Iss, nil)) // the credentials API, beside the mappings'
	e.Srv = httptest.NewServer(r)
	t.Cleanup(e.Srv.Close)
	return e
}

// MustGroup creates a group named name with the default design.
func MustGroup(t testing.TB, iss *issuance.Service, name string) issuance.Group {
	t.Helper()
	ctx := context.Background()
	d, err := iss.DefaultDesign(ctx)
	if err != nil {
		t.Fatalf("default design: %v", err)
	}
	g, err := iss.CreateGroup(ctx, "test", issuance.Group{Name: name, CourseName: name, DesignID: d.ID, Language: "en"})
	if err != nil {
		t.Fatalf("create group: %v", err)
	}
	return g
}

// WebhookURL is where Canvas posts Live Events.
func (e *Env) WebhookURL() string { return e.Srv.URL + "/webhooks/canvas" }

// Drain processes the inbox until nothing is ready.
func (e *Env) Drain() {
	e.T.Helper()
	for {
		n, err := e.Svc.ProcessInbox(context.Background(), 500)
		if err != nil {
			e.T.Fatalf("process inbox: %v", err)
		}
		if n == 0 {
			return
		}
	}
}

// Count runs q, a query answering one integer.
func (e *Env) Count(q string, args ...any) int {
	e.T.Helper()
	var n int
	if err := e.DB.Get(&n, q, args...); err != nil {
		e.T.Fatalf("%s: %v", q, err)
	}
	return n
}

// Token creates an API token with role.
func (e *Env) Token(role auth.Role) string {
	e.T.Helper()
	tok, err := e.Accounts.CreateToken(context.Background(), "test "+string(role), role)
	if err != nil {
		e.T.Fatal(err)
	}
	return tok
}

// API sends a JSON request to /api/v1+path with token and answers the
// status and body.
func (e *Env) API(method, path, token, body string) (int, string) {
	e.T.Helper()
	req, err := http.NewRequest(method, e.Srv.URL+"/api/v1"+path, strings.NewReader(body))
	if err != nil {
		e.T.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.T.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
