// Package testenv gives tests real PostgreSQL and Redis servers: the ones named
// by LAUREL_TEST_DATABASE_URL / LAUREL_TEST_REDIS_URL, or private ones started
// from the installed binaries for the test binary's lifetime. Each test gets its
// own migrated database (cloned from a template) and its own Redis database
// number, so tests may run in parallel.
//
// When a server is unavailable the test is skipped, except with CI=true, where
// it fails: CI must never count a skipped test as passing.
package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/devstack"
)

var (
	mu        sync.Mutex
	dir       string
	pgServer  *devstack.Server
	rdServer  *devstack.Server
	pgAdmin   string // URL of a database we can CREATE DATABASE from
	template  string // name of the migrated template database
	pgErr     error
	redisURL  string
	redisErr  error
	pgOnce    sync.Once
	redisOnce sync.Once
	dbSeq     atomic.Int64
	redisSeq  atomic.Int64
)

// Main runs the package's tests and then stops any servers it started. Call it
// from TestMain: os.Exit(testenv.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	mu.Lock()
	defer mu.Unlock()
	_ = pgServer.Stop()
	_ = rdServer.Stop()
	if dir != "" {
		os.RemoveAll(dir)
	}
	return code
}

func unavailable(t testing.TB, what string, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s unavailable (CI=true, so this fails rather than skips): %v", what, err)
	}
	t.Skipf("%s unavailable: %v", what, err)
}

func workDir() (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if dir == "" {
		d, err := os.MkdirTemp("", "laurel-test-")
		if err != nil {
			return "", err
		}
		dir = d
	}
	return dir, nil
}

func setupPostgres() {
	ctx := context.Background()
	base := os.Getenv("LAUREL_TEST_DATABASE_URL")
	if base == "" {
		d, err := workDir()
		if err != nil {
			pgErr = err
			return
		}
		s, err := devstack.StartPostgres(ctx, d+"/pg", "postgres", devstack.Options{})
		if err != nil {
			pgErr = err
			return
		}
		mu.Lock()
		pgServer = s
		mu.Unlock()
		base = s.URL
	}
	pgAdmin = base
	template = fmt.Sprintf("laurel_tmpl_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	admin, err := sqlx.Open("postgres", base)
	if err != nil {
		pgErr = err
		return
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+template); err != nil {
		pgErr = fmt.Errorf("create template database: %w", err)
		return
	}
	tdb, err := db.Open(ctx, withDB(base, template))
	if err != nil {
		pgErr = err
		return
	}
	defer tdb.Close()
	if _, err := db.Migrate(ctx, tdb.DB); err != nil {
		pgErr = err
		return
	}
	// Tests start, as `laurel dev` does, with an organisation an owner has
	// named, so the many that publish need no setup of their own; the tests
	// of the unnamed state clear named_at themselves.
	if _, err := tdb.ExecContext(ctx, `UPDATE organisation SET named_at = now()`); err != nil {
		pgErr = fmt.Errorf("name the test organisation: %w", err)
	}
}

func withDB(rawURL, name string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	u.Path = "/" + name
	return u.String()
}

// DatabaseURL creates a new, migrated database for this test and returns its
// URL. The database is dropped when the test ends.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	pgOnce.Do(setupPostgres)
	if pgErr != nil {
		unavailable(t, "PostgreSQL", pgErr)
	}
	name := fmt.Sprintf("%s_%d", template, dbSeq.Add(1))
	admin, err := sql.Open("postgres", pgAdmin)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	// CREATE DATABASE ... TEMPLATE fails while another session uses the
	// template; nobody does after setup, but retry briefly to be safe.
	for i := 0; ; i++ {
		_, err = admin.Exec(`CREATE DATABASE ` + name + ` TEMPLATE ` + template)
		if err == nil || i == 20 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("postgres", pgAdmin)
		if err != nil {
			return
		}
		defer a.Close()
		_, _ = a.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
	})
	return withDB(pgAdmin, name)
}

// DB returns a connection pool to a new, migrated database for this test.
func DB(t testing.TB) *sqlx.DB {
	t.Helper()
	d, err := db.Open(context.Background(), DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func setupRedis() {
	if u := os.Getenv("LAUREL_TEST_REDIS_URL"); u != "" {
		redisURL = u
		return
	}
	d, err := workDir()
	if err != nil {
		redisErr = err
		return
	}
	s, err := devstack.StartRedis(context.Background(), d+"/redis", devstack.Options{})
	if err != nil {
		redisErr = err
		return
	}
	mu.Lock()
	rdServer = s
	mu.Unlock()
	redisURL = s.URL
}

// RedisURL returns the URL of an empty Redis database of this test's own.
func RedisURL(t testing.TB) string {
	t.Helper()
	redisOnce.Do(setupRedis)
	if redisErr != nil {
		unavailable(t, "Redis", redisErr)
	}
	n := redisSeq.Add(1) % 1024
	u := redisURL
	if i := strings.LastIndex(u, "/"); i > len("redis://") {
		u = u[:i]
	}
	u = fmt.Sprintf("%s/%d", u, n)
	opt, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	if err := c.FlushDB(context.Background()).Err(); err != nil {
		unavailable(t, "Redis", err)
	}
	return u
}

// Redis returns a client for an empty Redis database of this test's own.
func Redis(t testing.TB) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}
