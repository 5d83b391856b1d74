package imports_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/imports"
)

// A LibreOffice workbook (.xls and .ods) whose roster is on its second sheet,
// under a merged title row and a blank row: the import reads the sheet whose
// header matches the group and takes row 3 as the header, without being
// told; choosing the title row instead is possible and yields the
// file-level problems, and choosing row 3 again restores the import.
func TestImportWorkbookPicksSheetAndHeaderRow(t *testing.T) {
	s, _, api, _ := importEnv(t)
	svc := imports.New(s)
	g := mustGroup(t, s, func(g *issuance.Group) {
		g.Attributes = []issuance.Attribute{{Key: "score", Label: "Score", Type: issuance.NumberAttr}}
	})
	for _, file := range []string{"roster.xls", "roster.ods"} {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile("../sheet/testdata/" + file)
			if err != nil {
				t.Fatal(err)
			}
			code, body := api.upload("owner", g.ID, file, data, nil)
			if code != 201 {
				t.Fatalf("upload: %d %v", code, body)
			}
			body = api.ready("owner", body["id"])
			if body["sheet"] != "Roster 2026" || body["header_row"] != float64(3) || body["format"] != strings.TrimPrefix(file[len("roster"):], ".") {
				t.Fatalf("read sheet %v row %v format %v", body["sheet"], body["header_row"], body["format"])
			}
			if diff := cmp.Diff([]any{"Notes", "Roster 2026"}, body["sheets"]); diff != "" {
				t.Errorf("sheets (-want +got):\n%s", diff)
			}
			// Rows 4, 5, 7 have a name, an email and a completion date;
			// row 6 has no date, row 8's is "x", rows 9 and 10 none.
			if body["rows"] != float64(7) || body["valid"] != float64(3) {
				t.Fatalf("rows %v valid %v\n%s", body["rows"], body["valid"], errorMessages(body))
			}
			id := int64(body["id"].(float64))
			pv, err := svc.ImportPreview(context.Background(), id, 10)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range pv {
				got = append(got, fmt.Sprintf("%d %s %s %s", r.Row, r.Name, r.IssuedOn, r.Attributes["score"]))
			}
			want := []string{"4 Dmitri Соколов 2026-12-07 92.5", "5 李娜 2026-01-31 100", "7 Aoife Ní Bhriain 2026-02-28 7"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("preview (-want +got):\n%s", diff)
			}

			// The user picks the title row: every column is unknown.
			if _, err := svc.ChangeLayout(context.Background(), "test", id, "Roster 2026", 1); err != nil {
				t.Fatal(err)
			}
			body = api.ready("owner", id)
			if body["header_row"] != float64(1) || body["valid"] != float64(0) || !strings.Contains(errorMessages(body), "No column is mapped to the recipient name") {
				t.Fatalf("title row as header: row %v valid %v\n%s", body["header_row"], body["valid"], errorMessages(body))
			}
			// Another sheet: its header row is found again.
			if _, err := svc.ChangeLayout(context.Background(), "test", id, "Notes", 0); err != nil {
				t.Fatal(err)
			}
			body = api.ready("owner", id)
			if body["sheet"] != "Notes" || body["header_row"] != float64(1) {
				t.Fatalf("notes: %v", body)
			}
			if _, err := svc.ChangeLayout(context.Background(), "test", id, "Roster 2026", 0); err != nil {
				t.Fatal(err)
			}
			body = api.ready("owner", id)
			if body["header_row"] != float64(3) || body["valid"] != float64(3) {
				t.Fatalf("back to the roster: row %v valid %v", body["header_row"], body["valid"])
			}
			if _, err := svc.ChangeLayout(context.Background(), "test", id, "Roster 2025", 0); err == nil || !strings.Contains(err.Error(), "Unknown sheet") {
				t.Errorf("unknown sheet: %v", err)
			}
		})
	}
}

// A header-only file, an empty sheet and a header row with nothing below it
// are refused at upload with a reason naming them; nothing is stored.
func TestImportRefusesFilesWithoutDataRows(t *testing.T) {
	s, d, api, _ := importEnv(t)
	g := mustGroup(t, s, nil)
	before := tableCounts(t, d)
	var n0 int
	d.Get(&n0, `SELECT count(*) FROM imports`)
	for name, tc := range map[string]struct {
		file   string
		fields map[string]string
		want   string
	}{
		"header only":       {"Name,Email,Issue date,Grade\r\n\r\n,,,\r\n", nil, "The file has column names on row 1 but no rows of recipients below them"},
		"header row chosen": {"Roster\r\nName,Email,Issue date,Grade\r\nAda,ada@example.edu,2026-06-30,90\r\n", map[string]string{"header_row": "3"}, "has column names on row 3 but no rows of recipients"},
		"past the end":      {"Name,Email\r\nAda,ada@example.edu\r\n", map[string]string{"header_row": "7"}, "The file has no row 7"},
		"bad header row":    {"Name,Email\r\nAda,ada@example.edu\r\n", map[string]string{"header_row": "first"}, `header_row must be the number of the row`},
	} {
		t.Run(name, func(t *testing.T) {
			code, body := api.upload("owner", g.ID, "roster.csv", []byte(tc.file), tc.fields)
			errs, _ := body["errors"].([]any)
			if code != 422 || len(errs) == 0 || !strings.Contains(fmt.Sprint(errs[0].(map[string]any)["message"]), tc.want) {
				t.Fatalf("%d %v, want 422 with %q", code, body, tc.want)
			}
		})
	}
	var n int
	d.Get(&n, `SELECT count(*) FROM imports`)
	if n != n0 {
		t.Errorf("%d imports stored", n-n0)
	}
	assertUnchanged(t, d, before)
}

// A Windows-1252 CSV whose non-Latin names Excel already turned into "?":
// the import names the rows before commit (and only those), the names stay
// as read, and a UTF-8 file with the same shape has no such warning.
func TestImportWarnsOfLostLetters(t *testing.T) {
	s, _, api, _ := importEnv(t)
	g := mustGroup(t, s, func(g *issuance.Group) { g.Attributes = nil })
	data, err := os.ReadFile("../sheet/testdata/windows-1252-lost-letters.csv")
	if err != nil {
		t.Fatal(err)
	}
	_, body := api.upload("owner", g.ID, "roster.csv", data, nil)
	body = api.ready("owner", body["id"])
	if body["encoding"] != "Windows-1252" || body["valid"] != float64(12) {
		t.Fatalf("encoding %v valid %v\n%s", body["encoding"], body["valid"], errorMessages(body))
	}
	warnings := fmt.Sprint(body["warnings"])
	if !strings.Contains(warnings, "Rows 4, 8, 11, 12: names contain “?” where letters were probably lost") || !strings.Contains(warnings, "CSV UTF-8") {
		t.Errorf("warnings: %s", warnings)
	}
	utf8 := "Name,Email,Issue date\r\nZoë Müller,zoe@example.edu,2026-06-30\r\nWhat? Really,q@example.edu,2026-06-30\r\n"
	_, body = api.upload("owner", g.ID, "utf8.csv", []byte(utf8), nil)
	body = api.ready("owner", body["id"])
	if w := body["warnings"].([]any); len(w) != 0 {
		t.Errorf("UTF-8 file warned: %v", w)
	}
}
