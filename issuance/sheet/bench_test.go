package sheet_test

import (
	"archive/zip"
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/benchcpu"
	"github.com/laurel-edu/laurel/issuance/sheet"
)

// BenchmarkReadCSV1M reads a generated 1,000,000-row CSV (name, email,
// issue date, three attributes; about 80 MB) and reports rows/s and the
// process's peak RSS while reading:
//
//	go test -run '^$' -bench ReadCSV1M -benchtime 1x ./issuance/sheet/
func BenchmarkReadCSV1M(b *testing.B) {
	path := filepath.Join(b.TempDir(), "1m.csv")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString("Name,Email,Issue date,Course,Grade,Hours\r\n")
	for i := 1; i <= 1_000_000; i++ {
		fmt.Fprintf(w, "Student %07d,student%07d@example.edu,2026-%02d-%02d,\"Data Science, Part %d\",%c,%d\r\n", i, i, i%12+1, i%28+1, i%4+1, 'A'+i%5, i%200)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	benchRead(b, path, 1_000_000)
}

// BenchmarkReadXLSX100k reads a generated 100,000-row workbook (the same
// columns, the issue date a date cell) and reports rows/s and peak RSS:
//
//	go test -run '^$' -bench ReadXLSX100k -benchtime 1x ./issuance/sheet/
func BenchmarkReadXLSX100k(b *testing.B) {
	path := filepath.Join(b.TempDir(), "100k.xlsx")
	data := bigWorkbook(b, 100_000)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	data = nil
	benchRead(b, path, 100_000)
}

func benchRead(b *testing.B, path string, want int) {
	b.Helper()
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	// Generating the file is not the reader's memory: reset the peak.
	benchcpu.ResetPeakRSS(b)
	b.ResetTimer()
	start := time.Now()
	rows := 0
	for i := 0; i < b.N; i++ {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		r, err := sheet.Open(f, st.Size(), sheet.Options{})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			row, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if len(row.Cells) != 6 {
				b.Fatalf("row %d: %q", row.Number, row.Cells)
			}
			n++
		}
		if err := r.Close(); err != nil {
			b.Fatal(err)
		}
		f.Close()
		if n != want {
			b.Fatalf("read %d rows, want %d", n, want)
		}
		rows += n
	}
	elapsed := time.Since(start)
	b.StopTimer()
	peak := benchcpu.PeakRSSMB(b)
	b.ReportMetric(float64(rows)/elapsed.Seconds(), "rows/s")
	b.ReportMetric(peak, "peak-MB")
	b.Logf("%d rows from %.1f MB in %.2f s: %.0f rows/s, peak RSS %.0f MB", rows, float64(st.Size())/1e6, elapsed.Seconds(), float64(rows)/elapsed.Seconds(), peak)
}

// BenchmarkReadXLSX100kSharedStrings reads a 100,000-row workbook laid out
// the way Excel saves one — every text cell in the shared-strings table
// (200,000 unique names and emails), the issue date a date-styled serial —
// which is where excelize's memory grows with the file:
//
//	go test -run '^$' -bench ReadXLSX100kSharedStrings -benchtime 1x ./issuance/sheet/
func BenchmarkReadXLSX100kSharedStrings(b *testing.B) {
	path := filepath.Join(b.TempDir(), "100k-sst.xlsx")
	writeSSTWorkbook(b, path, 100_000)
	benchRead(b, path, 100_000)
}

// writeSSTWorkbook streams a workbook to path: shared strings for every text
// cell, style 1 a built-in date (14).
func writeSSTWorkbook(b *testing.B, path string, rows int) {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	part := func(name string) io.Writer {
		w, err := zw.Create(name)
		if err != nil {
			b.Fatal(err)
		}
		return w
	}
	io.WriteString(part("[Content_Types].xml"), `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>`)
	io.WriteString(part("_rels/.rels"), `<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`)
	io.WriteString(part("xl/workbook.xml"), `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId2"/></sheets></workbook>`)
	io.WriteString(part("xl/_rels/workbook.xml.rels"), `<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>`)
	io.WriteString(part("xl/styles.xml"), `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts><fills count="1"><fill><patternFill patternType="none"/></fill></fills><borders count="1"><border/></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs></styleSheet>`)
	// Strings 0–6: the header; 7–13: courses; 14–18: grades; then a name
	// and an email per row.
	fixed := []string{"Name", "Email", "Issue date", "Course", "Grade", "Hours"}
	for i := 0; i < 7; i++ {
		fixed = append(fixed, fmt.Sprintf("Course %d", i))
	}
	for i := 0; i < 5; i++ {
		fixed = append(fixed, string(rune('A'+i)))
	}
	sst := bufio.NewWriterSize(part("xl/sharedStrings.xml"), 1<<20)
	fmt.Fprintf(sst, `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="%d" uniqueCount="%d">`, len(fixed)+2*rows, len(fixed)+2*rows)
	for _, s := range fixed {
		fmt.Fprintf(sst, "<si><t>%s</t></si>", s)
	}
	for i := 1; i <= rows; i++ {
		fmt.Fprintf(sst, "<si><t>Student %07d</t></si><si><t>student%07d@example.edu</t></si>", i, i)
	}
	sst.WriteString("</sst>")
	sst.Flush()
	ws := bufio.NewWriterSize(part("xl/worksheets/sheet1.xml"), 1<<20)
	ws.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c><c r="D1" t="s"><v>3</v></c><c r="E1" t="s"><v>4</v></c><c r="F1" t="s"><v>5</v></c></row>`)
	base := len(fixed)
	for i := 1; i <= rows; i++ {
		r := i + 1
		fmt.Fprintf(ws, `<row r="%d"><c r="A%d" t="s"><v>%d</v></c><c r="B%d" t="s"><v>%d</v></c><c r="C%d" s="1"><v>%d</v></c><c r="D%d" t="s"><v>%d</v></c><c r="E%d" t="s"><v>%d</v></c><c r="F%d"><v>%g</v></c></row>`,
			r, r, base+2*(i-1), r, base+2*(i-1)+1, r, 46096+i%365, r, 6+i%7, r, 13+i%5, r, 1.5*float64(i%9))
	}
	ws.WriteString(`</sheetData></worksheet>`)
	ws.Flush()
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
}
