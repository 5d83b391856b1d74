package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/issuance"
)

// Credentials written before search keys existed are found once the
// running server's worker has handled the job migration 0060 enqueues.
func TestSearchKeysJobRuns(t *testing.T) {
	app := mustRun(t)
	g, cr := seedOwnerAndCredential(t, app)
	ctx := context.Background()
	if _, err := app.DB.Exec(`UPDATE credentials SET search_key = NULL`); err != nil {
		t.Fatal(err)
	}
	found := func() int {
		cs, _, err := app.Issuance.Credentials(ctx, g.ID, issuance.ListOptions{Query: "HOPPER"})
		if err != nil {
			t.Fatal(err)
		}
		return len(cs)
	}
	if found() != 0 {
		t.Fatal("found without a key")
	}
	// The statement of migration 0060.
	if _, err := app.DB.Exec(`INSERT INTO jobs (kind, payload)
		SELECT 'credential_search_keys', '{}' WHERE EXISTS (SELECT 1 FROM credentials)`); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); found() == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			st, _ := jobs.Stats(ctx, app.DB, issuance.SearchKeysJob)
			t.Fatalf("credential %s not found after the job: %v", cr.ID, st)
		}
	}
}
