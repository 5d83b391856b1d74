package accounts_test

import (
	"net/http/httptest"
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

func mustUser(t *testing.T, e *env, email string, role auth.Role) {
	t.Helper()
	accountstest.User(t, e.acc, email, role)
}

// The shared helpers under the names the tests use.
var (
	mustClient = accountstest.Client
	post       = accountstest.Post
	get        = accountstest.Get
)
