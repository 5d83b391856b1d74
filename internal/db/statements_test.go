package db_test

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// Statements answers as the text queries do, from many goroutines, and
// keeps answering after PostgreSQL drops every connection (a restart or a
// failover): database/sql prepares the statement again on the new ones.
func TestStatementsSurviveLostConnections(t *testing.T) {
	ctx := context.Background()
	d, err := db.Open(ctx, testenv.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Exec(`CREATE TABLE stmt_probe (id int PRIMARY KEY, name text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	st := db.NewStatements(d)
	const upsert = `INSERT INTO stmt_probe (id, name) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name`
	const get = `SELECT name FROM stmt_probe WHERE id = $1`
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 8 {
				id := g*8 + i
				if _, err := st.ExecContext(ctx, upsert, id, "n"+string(rune('a'+i))); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("prepared upsert: %v", err)
	}
	var n int
	if err := d.Get(&n, `SELECT count(*) FROM stmt_probe`); err != nil || n != 64 {
		t.Fatalf("rows = %d (%v), want 64", n, err)
	}

	// PostgreSQL drops every connection of the pool (and their prepared
	// statements) but the one asking.
	if _, err := d.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	for i := range 20 { // more than one pass over the pool's connections
		var name string
		if err := st.GetContext(ctx, &name, get, 3); err != nil {
			t.Fatalf("query %d after the connections were dropped: %v", i, err)
		}
		if name != "nd" {
			t.Fatalf("name = %q, want nd", name)
		}
	}

	// A query that cannot be prepared reports its own error.
	var x int
	err = st.GetContext(ctx, &x, `SELECT id FROM no_such_table WHERE id = $1`, 1)
	if err == nil || !strings.Contains(err.Error(), "no_such_table") {
		t.Fatalf("query on a missing table: %v, want PostgreSQL's error naming it", err)
	}
}
