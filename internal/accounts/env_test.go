package accounts_test

import (
	"context"
	"io"
	"io/fs"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
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

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

type env struct {
	acc  *accounts.Service
	auth *auth.Auth
	db   *sqlx.DB
	srv  *httptest.Server
}

func mustEnv(t *testing.T, baseURL string) *env {
	t.Helper()
	keys, err := secret.New([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	d := testenv.DB(t)
	acc := accounts.New(d, keys)
	a := auth.New(testenv.Redis(t), keys, baseURL, acc)
	sub, _ := fs.Sub(auth.Templates, "templates")
	accSub, _ := fs.Sub(accounts.Templates, "templates")
	rd, err := web.NewRenderer(nil, sub, accSub)
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
	return &env{acc: acc, auth: a, db: d, srv: srv}
}

func mustClient(t *testing.T) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func mustUser(t *testing.T, e *env, email string, role auth.Role) {
	t.Helper()
	if _, _, err := e.acc.CreateUser(context.Background(), email, "Ada Lovelace", role, nil, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
}

func post(t *testing.T, c *http.Client, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}
