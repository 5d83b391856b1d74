// Package accountstest builds, for the tests of package accounts and package
// auth, the one staff site they both run against: a fresh database and Redis,
// the accounts service, authentication with its pages, a few staff-only
// routes and an API route, behind sessions and CSRF. It owns no table.
package accountstest

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/accounts"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/secret"
	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/internal/web"
)

// Env is one test's staff site; see the package comment.
type Env struct {
	Acc  *accounts.Service
	Auth *auth.Auth
	DB   *sqlx.DB
	Srv  *httptest.Server
}

// New builds an Env whose links start with baseURL, torn down when t ends.
// Its staff routes: GET /groups greets the user, POST /groups answers
// HANDLER-RAN, GET /whoami and GET /api/v1/whoami tell who is signed in.
func New(t testing.TB, baseURL string) *Env {
	t.Helper()
	keys, err := secret.New([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	d := testenv.DB(t)
	acc := accounts.New(d, keys)
	a := auth.New(testenv.Redis(t), keys, baseURL, acc)
	rd, err := web.NewRenderer(nil, auth.Templates, accounts.Templates)
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.TestMode)
	r := gin.New()
	r.Use(a.Load())
	a.Register(r, rd)
	acc.Register(r, rd, a)
	staff := r.Group("/", auth.RequireStaff(rd))
	staff.GET("/groups", func(c *gin.Context) { c.String(200, "hello %s", auth.Current(c).Name) })
	staff.POST("/groups", func(c *gin.Context) { c.String(200, "HANDLER-RAN") })
	staff.GET("/whoami", func(c *gin.Context) { p := auth.Current(c); c.String(200, "%s %s %v", p.Email, p.Role, p.Groups) })
	acc.RegisterStaff(staff, rd, a)
	acc.GroupOptions = func(ctx context.Context) ([]accounts.GroupOption, error) {
		var gs []accounts.GroupOption
		err := d.SelectContext(ctx, &gs, `SELECT id AS "id", name AS "name" FROM groups ORDER BY id`)
		return gs, err
	}
	api := r.Group("/api/v1", a.Bearer())
	api.GET("/whoami", func(c *gin.Context) { c.String(200, "%s %s", auth.Current(c).Name, auth.Current(c).Role) })
	srv := httptest.NewServer(auth.CSRF(a.Sessions.LoadAndSave(r)))
	t.Cleanup(srv.Close)
	return &Env{Acc: acc, Auth: a, DB: d, Srv: srv}
}

// Client is a browser: it keeps cookies and does not follow redirects. It
// takes the test only to match the other helpers.
func Client(testing.TB) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// User creates the staff user Ada Lovelace with email and role and the
// password "correct horse battery".
func User(t testing.TB, acc *accounts.Service, email string, role auth.Role) {
	t.Helper()
	if _, _, err := acc.CreateUser(context.Background(), email, "Ada Lovelace", role, nil, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
}

// Post posts form to u with c and answers the response and its body.
func Post(t testing.TB, c *http.Client, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// Get gets u with c and answers the response and its body.
func Get(t testing.TB, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}
