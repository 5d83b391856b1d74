package sheet_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/issuance/sheet"
	"github.com/xuri/excelize/v2"
)

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustInvalid(t *testing.T, data []byte, opts sheet.Options, frag string) {
	t.Helper()
	r, err := sheet.Open(bytes.NewReader(data), int64(len(data)), opts)
	if err == nil {
		r.Close()
		t.Fatalf("Open succeeded, want an Invalid error containing %q", frag)
	}
	if !apperr.Is(err, apperr.Invalid) || !strings.Contains(apperr.Message(err), frag) {
		t.Fatalf("Open: %v, want an Invalid error containing %q", err, frag)
	}
}

func TestXLSXPickSheet(t *testing.T) {
	data := mustRead(t, corpusDir+"/excel.xlsx")
	r, h, rows, _ := readAll(t, data, sheet.Options{Sheet: "Notes"})
	if diff := cmp.Diff([]string{"Cohort 2026", "Notes"}, r.Sheets()); diff != "" {
		t.Errorf("sheets (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Note"}, h); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]sheet.Row{{Number: 2, Cells: []string{"Imported from the registry"}}}, rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	mustInvalid(t, data, sheet.Options{Sheet: "Cohort 2025"}, `no sheet named "Cohort 2025"; its sheets are: Cohort 2026, Notes`)
}

// TestXLSXTempFilesRemoved opens a workbook from memory (so Open copies it
// to a temporary file) large enough that excelize unpacks its worksheet to
// another one, and checks Close leaves no temporary file behind.
func TestXLSXTempFilesRemoved(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	data := bigWorkbook(t, 20000)
	r, err := sheet.Open(bytes.NewReader(data), int64(len(data)), sheet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		if n == 1 {
			want := []string{"Student 1", "s1@example.edu", "2026-03-16", "Course 1", "1.5", "B"}
			if diff := cmp.Diff(sheet.Row{Number: 2, Cells: want}, row); diff != "" {
				t.Errorf("first row (-want +got):\n%s", diff)
			}
		}
	}
	if n != 20000 {
		t.Errorf("read %d rows, want 20000", n)
	}
	during, _ := os.ReadDir(tmp)
	if len(during) < 2 {
		t.Errorf("%d temporary files while reading, want the copy and the unpacked worksheet", len(during))
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	after, _ := os.ReadDir(tmp)
	if len(after) != 0 {
		t.Errorf("temporary files left after Close: %v", after)
	}
	if _, err := r.Next(); err == nil {
		t.Error("Next after Close succeeded")
	}
}

// bigWorkbook writes rows data rows with excelize's StreamWriter: name,
// email, a date cell, text, a number, text.
func bigWorkbook(t testing.TB, rows int) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		t.Fatal(err)
	}
	date, _ := f.NewStyle(&excelize.Style{NumFmt: 14})
	sw.SetRow("A1", []any{"Name", "Email", "Issue date", "Course", "Hours", "Grade"})
	for i := 1; i <= rows; i++ {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := sw.SetRow(cell, []any{
			fmt.Sprintf("Student %d", i), fmt.Sprintf("s%d@example.edu", i),
			excelize.Cell{StyleID: date, Value: 46096 + i%365}, fmt.Sprintf("Course %d", i%7), 1.5 * float64(i%9), string(rune('A' + i%5)),
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := sw.Flush(); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zipBytes(t *testing.T, parts map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range parts {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(body)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestXLSXRefused(t *testing.T) {
	workbook := mustRead(t, corpusDir+"/google-sheets.xlsx")
	types := []byte(`<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`)
	for name, tc := range map[string]struct {
		data []byte
		frag string
	}{
		"truncated":    {workbook[:len(workbook)/2], "damaged or incomplete"},
		"word":         {zipBytes(t, map[string][]byte{"[Content_Types].xml": types, "word/document.xml": []byte("<w/>")}), "Word document"},
		"ods":          {zipBytes(t, map[string][]byte{"mimetype": []byte("application/vnd.oasis.opendocument.spreadsheet"), "content.xml": []byte("<x/>")}), "no sheets"},
		"styles bomb":  {zipBytes(t, map[string][]byte{"[Content_Types].xml": types, "xl/workbook.xml": []byte("<w/>"), "xl/styles.xml": make([]byte, 40<<20)}), "ZIP bomb"},
		"no workbook":  {zipBytes(t, map[string][]byte{"[Content_Types].xml": types}), "not a spreadsheet"},
		"broken sheet": {zipBytes(t, map[string][]byte{"[Content_Types].xml": types, "xl/workbook.xml": []byte("<workbook><sheets>")}), "cannot be read"},
	} {
		t.Run(name, func(t *testing.T) { mustInvalid(t, tc.data, sheet.Options{}, tc.frag) })
	}
}

func TestMaxBytes(t *testing.T) {
	data := []byte("Name,Email\r\nAna,ana@example.edu\r\n")
	mustInvalid(t, data, sheet.Options{MaxBytes: 10}, "the largest accepted is 10 bytes")
	if _, _, rows, _ := readAll(t, data, sheet.Options{MaxBytes: int64(len(data))}); len(rows) != 1 {
		t.Errorf("rows = %v", rows)
	}
	// The default: 100 MiB and not a byte more (a sparse file).
	f, err := os.Create(t.TempDir() + "/big.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Write(data)
	if err := f.Truncate(sheet.DefaultMaxBytes + 1); err != nil {
		t.Fatal(err)
	}
	if _, err := sheet.Open(f, sheet.DefaultMaxBytes+1, sheet.Options{}); !apperr.Is(err, apperr.Invalid) || !strings.Contains(apperr.Message(err), "the largest accepted is 100.0 MB") {
		t.Errorf("Open(100 MiB + 1) = %v", err)
	}
}

// TestXLSXDamagedPart flips a byte inside the compressed worksheet: the
// checksum no longer matches, and the file is refused instead of read short.
func TestXLSXDamagedPart(t *testing.T) {
	data := bytes.Clone(mustRead(t, corpusDir+"/google-sheets.xlsx"))
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range zr.File {
		if e.Name == "xl/worksheets/sheet1.xml" {
			off, err := e.DataOffset()
			if err != nil {
				t.Fatal(err)
			}
			data[off+int64(e.CompressedSize64)/2] ^= 0x55
		}
	}
	mustInvalid(t, data, sheet.Options{}, `The workbook is damaged: its part "xl/worksheets/sheet1.xml" cannot be unpacked`)
}

// TestXLSX1904: a workbook in the 1904 date system (old Mac Excel) counts
// its serials from 1904-01-01.
func TestXLSX1904(t *testing.T) {
	f := excelize.NewFile()
	defer f.Close()
	yes := true
	if err := f.SetWorkbookProps(&excelize.WorkbookPropsOptions{Date1904: &yes}); err != nil {
		t.Fatal(err)
	}
	date, _ := f.NewStyle(&excelize.Style{NumFmt: 14})
	f.SetSheetRow("Sheet1", "A1", &[]any{"Name", "Issue date", "Plain"})
	f.SetSheetRow("Sheet1", "A2", &[]any{"Ana", 44634, 44634})
	f.SetCellStyle("Sheet1", "B2", "B2", date)
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	_, _, rows, _ := readAll(t, buf.Bytes(), sheet.Options{})
	if diff := cmp.Diff([]sheet.Row{{Number: 2, Cells: []string{"Ana", "2026-03-15", "44634"}}}, rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}
