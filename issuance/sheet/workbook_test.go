package sheet_test

import (
	"bytes"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/issuance/sheet"
)

// The roster as LibreOffice wrote it (testdata/src/roster.fods converted by
// make-fixtures.sh): a notes sheet first, then the roster with a merged title
// row, a blank row, the header on row 3, non-Latin names, date cells, numbers,
// empty cells, a cell merged over two rows, repeated cells and a repeated row.
var rosterRows = []sheet.Row{
	{Number: 4, Cells: []string{"Dmitri Соколов", "dmitri@example.edu", "2026-12-07", "92.5", "Physics"}},
	{Number: 5, Cells: []string{"李娜", "li.na@example.edu", "2026-01-31", "100", "Physics"}},
	{Number: 6, Cells: []string{"Zoë Wiśniewski", "zoe@example.edu", "", "", "Chemistry"}},
	{Number: 7, Cells: []string{"Aoife Ní Bhriain", "aoife@example.edu", "2026-02-28", "7", "Chemistry"}},
	// The merged cell's value is in its first row only, as Excel shows it.
	{Number: 8, Cells: []string{"Same Person", "same@example.edu", "x", "x"}},
	{Number: 9, Cells: []string{"Twin Row", "twin@example.edu"}},
	{Number: 10, Cells: []string{"Twin Row", "twin@example.edu"}},
}

func TestLibreOfficeWorkbooks(t *testing.T) {
	for _, tc := range []struct{ file, format string }{{"roster.ods", "ods"}, {"roster.xls", "xls"}} {
		t.Run(tc.file, func(t *testing.T) {
			data := mustRead(t, "testdata/"+tc.file)
			pv, err := sheet.Preview(bytes.NewReader(data), int64(len(data)), sheet.Options{}, 3)
			if err != nil {
				t.Fatal(err)
			}
			wantPreview := []sheet.SheetRows{
				{Name: "Notes", Rows: []sheet.Row{{Number: 1, Cells: []string{"Exported from the registry"}}, {Number: 2, Cells: []string{"Do not edit"}}}},
				{Name: "Roster 2026", Rows: []sheet.Row{
					{Number: 1, Cells: []string{"Spring 2026 graduates"}},
					{Number: 3, Cells: []string{"Name", "Email", "Completion date", "Score", "Group"}},
					rosterRows[0],
				}},
			}
			if diff := cmp.Diff(wantPreview, pv); diff != "" {
				t.Errorf("preview (-want +got):\n%s", diff)
			}

			r, h, rows, errs := readAll(t, data, sheet.Options{Sheet: "Roster 2026", HeaderRow: 3})
			if r.Format() != tc.format || r.HeaderRow() != 3 || len(errs) > 0 {
				t.Errorf("format %q header row %d errors %v", r.Format(), r.HeaderRow(), errs)
			}
			if diff := cmp.Diff([]string{"Notes", "Roster 2026"}, r.Sheets()); diff != "" {
				t.Errorf("sheets (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"Name", "Email", "Completion date", "Score", "Group"}, h); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(rosterRows, rows); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}

			// Without a header row, the title is taken for the header (the
			// caller chooses the row; see imports).
			_, h, _, _ = readAll(t, data, sheet.Options{Sheet: "Roster 2026"})
			if diff := cmp.Diff([]string{"Spring 2026 graduates"}, h); diff != "" {
				t.Errorf("default header (-want +got):\n%s", diff)
			}
			mustInvalid(t, data, sheet.Options{Sheet: "Roster 2026", HeaderRow: 2}, `Row 2 of the sheet "Roster 2026" is empty; choose the row that holds the column names`)
			mustInvalid(t, data, sheet.Options{Sheet: "Roster 2026", HeaderRow: 40}, `The sheet "Roster 2026" has no row 40`)
			mustInvalid(t, data, sheet.Options{Sheet: "Roster 2025"}, `no sheet named "Roster 2025"; its sheets are: Notes, Roster 2026`)
		})
	}
}

// TestXLSDamaged cuts and corrupts a real .xls: every variant is refused
// with a message (or read), never a panic.
func TestXLSDamaged(t *testing.T) {
	data := mustRead(t, "testdata/roster.xls")
	mustInvalid(t, data[:len(data)/2], sheet.Options{}, "damaged")
	for i := 512; i < len(data); i += 97 {
		b := bytes.Clone(data)
		b[i] ^= 0xA5
		r, err := sheet.Open(bytes.NewReader(b), int64(len(b)), sheet.Options{Sheet: "Roster 2026"})
		if err == nil {
			for {
				if _, err := r.Next(); err != nil {
					break
				}
			}
			r.Close()
		} else if !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("byte %d: %v, want Invalid", i, err)
		}
	}
}

func TestODSShapes(t *testing.T) {
	content := `<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0">
<office:body><office:spreadsheet><table:table table:name="Sheet1">
<table:table-column table:number-columns-repeated="1024"/>
<table:table-header-rows><table:table-row><table:table-cell office:value-type="string"><text:p>Name</text:p></table:table-cell><table:table-cell table:number-columns-repeated="2"/><table:table-cell office:value-type="string"><text:p>Note</text:p></table:table-cell><table:table-cell table:number-columns-repeated="16380"/></table:table-row></table:table-header-rows>
<table:table-row><table:table-cell office:value-type="string"><text:p>Ana<text:s text:c="2"/>Lima</text:p><office:annotation><text:p>checked</text:p></office:annotation></table:table-cell><table:covered-table-cell table:number-columns-repeated="2"/><table:table-cell office:value-type="string"><text:p>line one</text:p><text:p>line <text:span>two</text:span></text:p></table:table-cell></table:table-row>
<table:table-row table:number-rows-repeated="1048570"><table:table-cell table:number-columns-repeated="1024"/></table:table-row>
</table:table></office:spreadsheet></office:body></office:document-content>`
	data := zipBytes(t, map[string][]byte{"mimetype": []byte("application/vnd.oasis.opendocument.spreadsheet"), "content.xml": []byte(content)})
	_, h, rows, _ := readAll(t, data, sheet.Options{})
	if diff := cmp.Diff([]string{"Name", "", "", "Note"}, h); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	want := []sheet.Row{{Number: 2, Cells: []string{"Ana  Lima", "", "", "line one\nline two"}}}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	mustInvalid(t, zipBytes(t, map[string][]byte{"mimetype": []byte("application/vnd.oasis.opendocument.text"), "content.xml": []byte("<x/>")}), sheet.Options{}, "OpenDocument text document, not a spreadsheet")
	mustInvalid(t, zipBytes(t, map[string][]byte{"mimetype": []byte("application/vnd.oasis.opendocument.spreadsheet"), "content.xml": []byte(content[:400])}), sheet.Options{}, "malformed")
}

// TestLibreOfficeBigWorkbooks reads 3,000 rows of mixed-script names that
// LibreOffice wrote (testdata/src/big.py): in the .xls their shared strings
// span many CONTINUE records, some cut inside a string. Every cell must
// come back as written.
func TestLibreOfficeBigWorkbooks(t *testing.T) {
	names := []string{"Соколова-Вишневская Анастасия", "李娜", "Aoife Ní Bhriain", "Paweł Wiśniewski", "Zoë", "Ἀριστοτέλης", "محمد"}
	var want []sheet.Row
	for i := range 3000 {
		day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i%365)
		want = append(want, sheet.Row{Number: i + 2, Cells: []string{fmt.Sprintf("%s %d", names[i%len(names)], i),
			fmt.Sprintf("learner%d@example.edu", i), day.Format(time.DateOnly), strconv.FormatFloat(float64(i)*0.25, 'f', -1, 64)}})
	}
	for _, file := range []string{"big.xls", "big.ods"} {
		t.Run(file, func(t *testing.T) {
			_, h, rows, errs := readAll(t, mustRead(t, "testdata/"+file), sheet.Options{})
			if diff := cmp.Diff([]string{"Name", "Email", "Issue date", "Hours"}, h); diff != "" || len(errs) > 0 {
				t.Fatalf("header (-want +got):\n%s\nerrors %v", diff, errs)
			}
			if diff := cmp.Diff(want, rows); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}
}
