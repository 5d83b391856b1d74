package accounts_test

import (
	"os"
	"testing"

	"github.com/laurel-edu/laurel/internal/accounts/accountstest"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// env is the shared staff site (accountstest.Env).
type env = accountstest.Env

func mustEnv(t *testing.T, baseURL string) *env {
	t.Helper()
	return accountstest.New(t, baseURL)
}

func mustUser(t *testing.T, e *env, email string, role auth.Role) {
	t.Helper()
	accountstest.User(t, e.Acc, email, role)
}

// The shared helpers under the names the tests use.
var (
	mustClient = accountstest.Client
	post       = accountstest.Post
	get        = accountstest.Get
)
