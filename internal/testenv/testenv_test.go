package testenv_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func TestDatabasesAreMigratedAndIsolated(t *testing.T) {
	a, b := testenv.DB(t), testenv.DB(t)
	if _, err := a.Exec(`INSERT INTO users (email, name, role, password_hash) VALUES ('a@x.edu', 'A', 'owner', 'x')`); err != nil {
		t.Fatalf("insert into migrated database: %v", err)
	}
	var n int
	if err := b.Get(&n, `SELECT count(*) FROM users`); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("second database sees %d users from the first; want isolation", n)
	}
}

func TestRedisDatabasesAreIsolated(t *testing.T) {
	ctx := context.Background()
	a, b := testenv.Redis(t), testenv.Redis(t)
	if err := a.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, _ := b.Exists(ctx, "k").Result(); n != 0 {
		t.Fatal("second Redis database sees the first's key")
	}
}

func TestClock(t *testing.T) {
	var running testenv.Clock
	before := time.Now()
	running.Advance(time.Hour)
	if got := running.Now(); got.Before(before.Add(time.Hour)) || got.After(time.Now().Add(time.Hour)) {
		t.Errorf("running clock advanced an hour reads %v", got)
	}
	start := time.Date(2026, 6, 30, 12, 0, 0, 0, time.UTC)
	stopped := testenv.NewClock(start)
	time.Sleep(time.Millisecond)
	if got := stopped.Now(); !got.Equal(start) {
		t.Errorf("stopped clock moved to %v", got)
	}
	stopped.Advance(90 * time.Second)
	if got := stopped.Now(); !got.Equal(start.Add(90 * time.Second)) {
		t.Errorf("stopped clock advanced 90s reads %v", got)
	}
	running.Set(start)
	if got := running.Now(); !got.Equal(start) {
		t.Errorf("Set clock reads %v", got)
	}
}
