package issuance_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/issuance"
)

// Search finds people in every script, in any case, with or without
// accents either way, one or two Chinese characters, whichever way the
// credential was written (form, completion, bulk import, amendment), on a
// database whose locale is C; a pasted credential ID finds its credential.
func TestSearchEveryScript(t *testing.T) {
	s, d := mustService(t)
	ctx := context.Background()
	g := mustGroup(t, s, nil)
	var lc string
	if err := d.Get(&lc, `SELECT datcollate FROM pg_database WHERE datname = current_database()`); err != nil {
		t.Fatal(err)
	}
	t.Logf("database collation %s", lc)

	// The form's path.
	form := mustCreate(t, s, g.ID, item("Dmitri Соколов", "dmitri@example.edu"), item("Agnieszka Wiśniewska", "aga@example.edu"),
		item("Áine Ní Bhriain", "aine@example.edu"), item("李娜", "lina@example.cn"), item("Łukasz Støvring", "lukasz@example.dk"))
	// The completion path.
	tx := d.MustBeginTx(ctx, nil)
	if _, err := s.EnsureCredentials(ctx, tx, "canvas", g.ID, issuance.FromCompletion,
		[]issuance.NewCredential{item("Σωκράτης Παπαδόπουλος", "sokratis@example.gr")}, false); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, tx)
	// The bulk path of imports.
	tx = d.MustBeginTx(ctx, nil)
	rows := [][]issuance.BulkRow{{{ID: issuance.NewCredentialID(), Name: "Thomas Müßig", Email: "Thomas@Example.DE", Key: "thomas@example.de",
		IssuedOn: "2026-06-30", Attributes: `{}`}}}
	if _, err := s.BulkCreate(ctx, tx, g.ID, issuance.FromCSV, 0, func() ([]issuance.BulkRow, error) {
		if len(rows) == 0 {
			return nil, nil
		}
		r := rows[0]
		rows = rows[1:]
		return r, nil
	}); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, tx)
	// An amendment: the old name is no longer found, the new one is.
	if _, err := s.AmendCredential(ctx, actor, form[4].ID, issuance.Amendment{Name: strp("Đorđe Ødegård")}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		q    string
		want []string
	}{
		{"соколов", []string{"Dmitri Соколов"}},
		{"СОКОЛ", []string{"Dmitri Соколов"}},
		{"ΠΑΠΑΔΟΠΟΥΛΟΣ", []string{"Σωκράτης Παπαδόπουλος"}},
		{"σωκρατης", []string{"Σωκράτης Παπαδόπουλος"}},
		{"Wisniewska", []string{"Agnieszka Wiśniewska"}},
		{"ni bhriain", []string{"Áine Ní Bhriain"}},
		{"Ní Bhríain", []string{"Áine Ní Bhriain"}},
		{"李娜", []string{"李娜"}},
		{"娜", []string{"李娜"}},
		{"李明", nil},
		{"mussig", []string{"Thomas Müßig"}},
		{"example.de", []string{"Thomas Müßig"}},
		{"dorde odegard", []string{"Đorđe Ødegård"}},
		{"Ødegård", []string{"Đorđe Ødegård"}},
		{"lukasz støvring", nil}, // amended away
		{form[1].ID, []string{"Agnieszka Wiśniewska"}},
	} {
		cs, _, err := s.Credentials(ctx, g.ID, issuance.ListOptions{Query: tc.q})
		if err != nil {
			t.Fatalf("%q: %v", tc.q, err)
		}
		var got []string
		for _, c := range cs {
			got = append(got, c.Recipient.Name)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("search %q (-want +got)\n%s", tc.q, diff)
		}
	}
}

// Credentials written before search keys existed get theirs from the
// background job, which may run again harmlessly; until then they are not
// found.
func TestFillSearchKeys(t *testing.T) {
	s, d := mustService(t)
	ctx := context.Background()
	g := mustGroup(t, s, nil)
	cs := mustCreate(t, s, g.ID, item("Dmitri Соколов", "dmitri@example.edu"), item("李娜", "lina@example.cn"))
	if _, err := d.Exec(`UPDATE credentials SET search_key = NULL`); err != nil {
		t.Fatal(err)
	}
	find := func(q string) int {
		t.Helper()
		got, _, err := s.Credentials(ctx, g.ID, issuance.ListOptions{Query: q})
		if err != nil {
			t.Fatal(err)
		}
		return len(got)
	}
	if n := find("соколов"); n != 0 {
		t.Fatalf("found %d without a key", n)
	}
	if n, err := s.FillSearchKeys(ctx); err != nil || n != len(cs) {
		t.Fatalf("FillSearchKeys: %d %v", n, err)
	}
	if find("соколов") != 1 || find("娜") != 1 {
		t.Fatal("not found after the job")
	}
	if n, err := s.FillSearchKeys(ctx); err != nil || n != 0 {
		t.Fatalf("again: %d %v", n, err)
	}
}

func mustCommit(t *testing.T, tx *sqlx.Tx) {
	t.Helper()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}
