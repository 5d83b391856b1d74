package moodle_test

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

	"github.com/laurel-edu/laurel/canvas"
	"github.com/laurel-edu/laurel/internal/accounts"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/sandbox/moodlesim"
	"github.com/laurel-edu/laurel/internal/secret"
	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/lti"
	"github.com/laurel-edu/laurel/lti/course"
	"github.com/laurel-edu/laurel/moodle"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// token is the emulated site's token that may do everything Laurel needs.
const token = "0123456789abcdef0123456789abcdef"

// env is one test's Laurel wired as the app wires it: the registry with the
// Canvas and Moodle extensions, the core, the course service with both
// checkers, and the mappings API.
type env struct {
	t        testing.TB
	db       *sqlx.DB
	site     *moodlesim.Site
	registry *lti.Registry
	iss      *issuance.Service
	courses  *course.Service
	svc      *moodle.Service
	platform lti.Platform
	group    issuance.Group
	srv      *httptest.Server
	accounts *accounts.Service
	clock    *testenv.Clock
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, clock: &testenv.Clock{}}
	var err error
	e.db, err = sqlx.Open("postgres", testenv.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	e.db.SetMaxOpenConns(20)
	t.Cleanup(func() { e.db.Close() })
	master := make([]byte, 32)
	rand.Read(master)
	keys, err := secret.New(master)
	if err != nil {
		t.Fatal(err)
	}
	e.site = moodlesim.New()
	t.Cleanup(e.site.Close)
	e.site.AddToken(token, moodlesim.Token{Functions: moodlesim.AllFunctions, Capabilities: moodlesim.AllCapabilities})
	e.registry = lti.NewRegistry(e.db)
	e.registry.SetExtension(canvas.NewPlatformSettings(e.db, keys))
	e.registry.AddExtension(moodle.NewPlatformSettings(e.db, keys))
	e.platform, err = e.registry.AddPlatform(ctx, lti.PlatformInput{
		Name: "Sim Moodle", Issuer: e.site.URL(), ClientID: "laurel-moodle",
		AuthURL: e.site.URL() + "/mod/lti/auth.php", TokenURL: e.site.URL() + "/mod/lti/token.php",
		JWKSURL: e.site.URL() + "/mod/lti/certs.php", Extra: moodle.PlatformExtra(e.site.URL(), token),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.iss = issuance.New(e.db, "http://laurel.test")
	d, err := e.iss.DefaultDesign(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if e.group, err = e.iss.CreateGroup(ctx, "test", issuance.Group{Name: "Moodle course", CourseName: "Moodle course", DesignID: d.ID, Language: "en"}); err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if e.courses, err = course.New(course.Options{DB: e.db, Platforms: e.registry, BaseURL: "http://laurel.test", Now: e.clock.Now, Log: quiet}); err != nil {
		t.Fatal(err)
	}
	if e.svc, err = moodle.New(moodle.Options{DB: e.db, Keys: keys, Issuer: e.iss, Courses: e.courses, Platforms: e.registry, Now: e.clock.Now, Log: quiet}); err != nil {
		t.Fatal(err)
	}
	e.courses.AddChecker(e.svc.Checker())
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(web.RequestID())
	e.accounts = accounts.New(e.db, keys)
	a := auth.New(nil, keys, "http://laurel.test", e.accounts)
	e.courses.RegisterAPI(r.Group("/api/v1", a.Bearer()))
	e.srv = httptest.NewServer(r)
	t.Cleanup(e.srv.Close)
	return e
}

// mustMap maps Moodle course courseID (the launch's context id) with rule
// moodle_completion.
func (e *env) mustMap(courseID string) course.Mapping {
	e.t.Helper()
	pid, gid, rule := e.platform.ID, e.group.ID, string(course.RuleMoodleCompletion)
	m, err := e.courses.CreateMapping(context.Background(), "test", course.MappingInput{
		PlatformID: &pid, GroupID: &gid, ContextID: &courseID, CompletionRule: &rule})
	if err != nil {
		e.t.Fatalf("map moodle course %s: %v", courseID, err)
	}
	return m
}

type credRow struct {
	Name, Email, IssuedOn, State, Source, Ref string
}

func (e *env) credentials() []credRow {
	e.t.Helper()
	var rows []credRow
	const q = `SELECT recipient_name AS name, recipient_email AS email, to_char(issued_on, 'YYYY-MM-DD') AS issuedon,
    state, source, COALESCE(external_ref, '') AS ref FROM credentials WHERE group_id = $1 ORDER BY recipient_email`
	if err := e.db.Select(&rows, q, e.group.ID); err != nil {
		e.t.Fatal(err)
	}
	return rows
}

func (e *env) api(method, path, body string) (int, string) {
	e.t.Helper()
	tok, err := e.accounts.CreateToken(context.Background(), "test admin", auth.Admin)
	if err != nil {
		e.t.Fatal(err)
	}
	req, _ := http.NewRequest(method, e.srv.URL+"/api/v1"+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// day is a fixed moment of the course's story.
func day(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}
