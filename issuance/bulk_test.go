package issuance_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/laurel-edu/laurel/issuance"
)

// BulkCreate stages chunk after chunk, creates what it can and skips, rather
// than doubles or fails on, a recipient who already holds a credential; it
// audits nothing itself (its caller records the batch).
func TestBulkCreate(t *testing.T) {
	s, d := mustService(t)
	ctx := context.Background()
	g := mustGroup(t, s, nil)
	held := mustCreate(t, s, g.ID, item("Held", "held@example.edu"))[0]

	got, err := s.Holders(ctx, g.ID, []string{"held@example.edu", "new1@example.edu"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"held@example.edu": held.ID}, got); diff != "" {
		t.Errorf("Holders (-want +got):\n%s", diff)
	}

	row := func(name, email string) issuance.BulkRow {
		return issuance.BulkRow{ID: issuance.NewCredentialID(), Name: name, Email: email, Key: email,
			IssuedOn: "2026-06-30", Attributes: `{"grade": "90"}`}
	}
	again := row("Held Again", "held@example.edu")
	chunks := [][]issuance.BulkRow{
		{row("New One", "new1@example.edu"), again},
		{row("New Two", "new2@example.edu")},
	}
	tx := d.MustBeginTx(ctx, nil)
	defer tx.Rollback()
	res, err := s.BulkCreate(ctx, tx, g.ID, issuance.FromCSV, 42, func() ([]issuance.BulkRow, error) {
		if len(chunks) == 0 {
			return nil, nil
		}
		next := chunks[0]
		chunks = chunks[1:]
		return next, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(issuance.BulkResult{Created: 2, Skipped: []string{again.ID}}, res); diff != "" {
		t.Errorf("BulkCreate (-want +got):\n%s", diff)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		Email    string `db:"recipient_email"`
		Source   string `db:"source"`
		ImportID int64  `db:"import_id"`
		State    string `db:"state"`
	}
	if err := d.Select(&rows, `SELECT recipient_email, source, import_id, state FROM credentials
		WHERE group_id = $1 AND import_id IS NOT NULL ORDER BY recipient_email`, g.ID); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		Email    string `db:"recipient_email"`
		Source   string `db:"source"`
		ImportID int64  `db:"import_id"`
		State    string `db:"state"`
	}{{"new1@example.edu", "csv", 42, "unpublished"}, {"new2@example.edu", "csv", 42, "unpublished"}}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}
	var audited int
	if err := d.Get(&audited, `SELECT count(*) FROM audit_log a JOIN credentials c ON c.id = a.entity_id
		WHERE a.entity_type = 'credential' AND c.import_id = 42`); err != nil {
		t.Fatal(err)
	}
	if audited != 0 {
		t.Errorf("%d audit entries for the bulk-created credentials, want none (the caller records the batch)", audited)
	}
}
