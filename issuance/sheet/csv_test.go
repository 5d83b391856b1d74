package sheet_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/issuance/sheet"
)

func TestDetectDelimiter(t *testing.T) {
	for _, tc := range []struct {
		name string
		data string
		want rune
	}{
		{"comma", "Name,Email\nAna,a@x\n", ','},
		{"semicolon", "Name;Email\nAna;a@x\n", ';'},
		{"tab", "Name\tEmail\nAna\ta@x\n", '\t'},
		{"one column", "Email\na@x\n", ','},
		{"quoted comma in a semicolon file", "\"Last, First\";Email;Date\n\"Lima, Ana\";a@x;2026-01-01\n", ';'},
		{"quoted semicolons in a comma file", "\"a;b;c\",Email\n\"x;y;z\",a@x\n", ','},
		{"decimal commas in data", "Name;Grade\nAna;1,5\nBen;2,5\n", ';'},
		{"tab beats a comma inside a cell", "Name\tCity\tEmail\nAna\tSão Paulo, SP\ta@x\n", '\t'},
		{"quoted newline in the header", "\"Full\nname\";Email\nAna;a@x\n", ';'},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _, _, _ := readAll(t, []byte(tc.data), sheet.Options{})
			if r.Delimiter() != tc.want {
				t.Errorf("Delimiter() = %q, want %q", r.Delimiter(), tc.want)
			}
		})
	}
}

// TestEncodingWholeFile puts the only non-UTF-8 byte after the first
// megabytes: the file is still Windows-1252. A UTF-8 rune straddling the
// check's 1 MiB chunks does not make a UTF-8 file Windows-1252.
func TestEncodingWholeFile(t *testing.T) {
	filler := strings.Repeat("Ana Lima,ana@example.edu\r\n", 3<<20/26)
	late := []byte("Name,Email\r\n" + filler + "Jos\xe9 M\xfcller,jose@example.edu\r\n")
	r, _, rows, _ := readAll(t, late, sheet.Options{})
	if r.Encoding() != "Windows-1252" {
		t.Errorf("Encoding() = %q, want Windows-1252", r.Encoding())
	}
	if got := rows[len(rows)-1].Cells[0]; got != "José Müller" {
		t.Errorf("last name = %q, want José Müller", got)
	}
	for pad := 0; pad < 4; pad++ {
		head := "Name,Email\r\n"
		body := strings.Repeat("x", 1<<20-len(head)-pad-1) + ",€\r\n" // € is 3 bytes
		r, _, rows, _ := readAll(t, []byte(head+body), sheet.Options{})
		if r.Encoding() != "UTF-8" || rows[0].Cells[1] != "€" {
			t.Errorf("pad %d: Encoding() = %q, cell %q", pad, r.Encoding(), rows[0].Cells[1])
		}
	}
}

// TestRecordTooLarge: a quote never closed in a large file ends reading
// with a clear error instead of buffering the rest of the file.
func TestRecordTooLarge(t *testing.T) {
	data := []byte("Name,Email\r\nAna,ana@example.edu\r\n\"Ben,ben@example.edu\r\n" + strings.Repeat("Cy,cy@example.edu\r\n", 3<<20/19))
	r, err := sheet.Open(bytes.NewReader(data), int64(len(data)), sheet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if row, err := r.Next(); err != nil || row.Number != 2 {
		t.Fatalf("first row = %v, %v", row, err)
	}
	_, err = r.Next()
	if !apperr.Is(err, apperr.Invalid) || !strings.Contains(apperr.Message(err), "Row 3 is larger than 1.0 MB") {
		t.Fatalf("Next = %v, want Invalid \"Row 3 is larger than 1.0 MB\"", err)
	}
	if _, again := r.Next(); again != err {
		t.Errorf("Next after a final error = %v, want the same error", again)
	}
}

// TestRowNumbers: numbers are those a spreadsheet shows, whatever the
// blank lines, multi-line cells and bad rows around them.
func TestRowNumbers(t *testing.T) {
	data := "\n\nName,Note\n\"A\",\"1\n2\n3\"\n\n\"B\"x,bad\nC,\"multi\r\nline\"\n,,\nD,ok\n\n"
	r, _, rows, errs := readAll(t, []byte(data), sheet.Options{})
	if r.HeaderRow() != 3 {
		t.Errorf("HeaderRow() = %d, want 3", r.HeaderRow())
	}
	want := []sheet.Row{
		{Number: 4, Cells: []string{"A", "1\n2\n3"}},
		{Number: 7, Cells: []string{"C", "multi\nline"}},
		{Number: 9, Cells: []string{"D", "ok"}},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	if len(errs) != 1 || !strings.HasPrefix(errs[0], "row 6: ") {
		t.Errorf("row errors = %q, want one for row 6", errs)
	}
}

func TestNextAfterEOF(t *testing.T) {
	data := []byte("Name\nAna\n")
	r, err := sheet.Open(bytes.NewReader(data), int64(len(data)), sheet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.Next()
	for i := 0; i < 2; i++ {
		if _, err := r.Next(); !errors.Is(err, io.EOF) {
			t.Fatalf("Next = %v, want io.EOF", err)
		}
	}
}

// TestSepHint: Excel's "sep=;" line names the delimiter and is not a row.
func TestSepHint(t *testing.T) {
	r, h, rows, _ := readAll(t, []byte("sep=;\r\nName;Note\r\nAna;1,5\r\n"), sheet.Options{})
	if r.Delimiter() != ';' || r.HeaderRow() != 1 {
		t.Errorf("Delimiter() = %q, HeaderRow() = %d; want ';', 1", r.Delimiter(), r.HeaderRow())
	}
	if diff := cmp.Diff([]string{"Name", "Note"}, h); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]sheet.Row{{Number: 2, Cells: []string{"Ana", "1,5"}}}, rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	// Not a hint: a header that happens to start with "sep=".
	r, h, _, _ = readAll(t, []byte("sep=x,b\r\n1,2\r\n"), sheet.Options{})
	if r.Delimiter() != ',' || h[0] != "sep=x" {
		t.Errorf("Delimiter() = %q, header %q", r.Delimiter(), h)
	}
}

func TestUTF16WithoutBOM(t *testing.T) {
	le := []byte{}
	for _, c := range "Name\tEmail\r\nAna\tana@example.edu\r\n" {
		le = append(le, byte(c), 0)
	}
	mustInvalid(t, le, sheet.Options{}, "UTF-16 (\"Unicode\") text without a byte-order mark")
	be := append([]byte{0}, le[:len(le)-1]...)
	mustInvalid(t, be, sheet.Options{}, "without a byte-order mark")
}

// TestSpaceBeforeQuote: a space after the delimiter does not turn a quoted
// cell into a bare quote; empty cells between tabs stay cells.
func TestSpaceBeforeQuote(t *testing.T) {
	_, h, rows, errs := readAll(t, []byte("Name, Email, Note\r\nAna, ana@example.edu, \"Lima, Ana\"\r\n"), sheet.Options{})
	if diff := cmp.Diff([]string{"Name", "Email", "Note"}, h); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]sheet.Row{{Number: 2, Cells: []string{"Ana", "ana@example.edu", "Lima, Ana"}}}, rows); diff != "" || len(errs) > 0 {
		t.Errorf("rows (-want +got):\n%s errors %q", diff, errs)
	}
	_, _, rows, _ = readAll(t, []byte("A\tB\tC\r\n1\t\t3\r\n"), sheet.Options{})
	if diff := cmp.Diff([]sheet.Row{{Number: 2, Cells: []string{"1", "", "3"}}}, rows); diff != "" {
		t.Errorf("tab rows (-want +got):\n%s", diff)
	}
}
