package updates_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/issuance/internal/issuancetest"
	"github.com/laurel-edu/laurel/issuance/updates"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// TestPersonRowsListWhatErasureDeletes: the export of a person's update
// rows gives the file, the row and the values it carried (old and new), or
// its problem, for their credentials only; ErasePerson then deletes exactly
// those rows, and the export lists none.
func TestPersonRowsListWhatErasureDeletes(t *testing.T) {
	core, _ := issuancetest.MustService(t)
	s := updates.New(core)
	ctx := context.Background()
	g := issuancetest.MustGroup(t, core, nil)
	cs := issuancetest.MustCreate(t, core, g.ID, issuancetest.Item("Ada Lovelace", "ada@example.edu"), issuancetest.Item("Bob Babbage", "bob@example.edu"))
	file := "Credential ID,Grade\n" + cs[0].ID + ",97\n" + cs[1].ID + ",88\n" + cs[0].ID + ",not a number\n"
	id, err := s.Upload(ctx, issuancetest.Actor, nil, "grades.csv", strings.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := s.PersonRows(ctx, []string{cs[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].UpdateID != id || rows[0].FileName != "grades.csv" || rows[0].Row != 2 || rows[0].CredentialID != cs[0].ID ||
		rows[0].Name != "Ada Lovelace" || len(rows[0].Changes) != 1 || rows[0].Changes[0].Old != "91.5" || rows[0].Changes[0].New != "97" ||
		rows[0].Problems == nil || rows[0].AppliedAt != nil || rows[1].Row != 4 || len(rows[1].Problems) == 0 {
		t.Fatalf("Ada's rows: %+v", rows)
	}
	if n, err := s.ErasePerson(ctx, []string{cs[0].ID}); err != nil || n != 2 {
		t.Fatalf("erase: %d %v", n, err)
	}
	if rows, err := s.PersonRows(ctx, []string{cs[0].ID}); err != nil || rows == nil || len(rows) != 0 {
		t.Fatalf("after erasure: %+v %v", rows, err)
	}
	if rows, err := s.PersonRows(ctx, []string{cs[1].ID}); err != nil || len(rows) != 1 || rows[0].Changes[0].New != "88" {
		t.Fatalf("Bob's rows: %+v %v", rows, err)
	}
}
