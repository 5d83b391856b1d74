package accounts_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/accounts"
	"github.com/laurel-edu/laurel/internal/accounts/accountstest"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/testenv"
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
	s := accountstest.New(t, baseURL)
	return &env{acc: s.Acc, auth: s.Auth, db: s.DB, srv: s.Srv}
}

func mustClient(t *testing.T) *http.Client { t.Helper(); return accountstest.Client() }

func mustUser(t *testing.T, e *env, email string, role auth.Role) {
	t.Helper()
	accountstest.User(t, e.acc, email, role)
}

func post(t *testing.T, c *http.Client, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	return accountstest.Post(t, c, u, form)
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	return accountstest.Get(t, c, u)
}
