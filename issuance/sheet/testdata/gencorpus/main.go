// Command gencorpus writes the committed input files of
// issuance/sheet/testdata/corpus, byte for byte as the tools they imitate
// write them (Windows-1252 bytes, UTF-16 with a BOM, CRLF line ends). The
// expected outcomes (*.expected.json) are written by hand, not by this
// program. Run from the repository root:
//
//	go run ./issuance/sheet/testdata/gencorpus
package main

import (
	"archive/zip"
	"bytes"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
)

const dir = "issuance/sheet/testdata/corpus"

func main() {
	files := map[string][]byte{
		// Excel "CSV UTF-8 (Comma delimited)": BOM, CRLF, US dates as Excel
		// shows them, quotes only where needed.
		"excel-csv-utf8-bom.csv": append([]byte{0xEF, 0xBB, 0xBF}, crlf(
			"Full name,Email address,Completion date,Grade",
			"Zoë Ångström,zoe@example.edu,3/15/2026,A",
			"\"O'Brien, Seán\",sean@example.edu,12/1/2026,B+",
			"李小龍,li@example.edu,1/31/2026,A-",
		)...),
		// Excel "CSV (Comma delimited)" on Western-European Windows:
		// Windows-1252 bytes for é, ß, smart quotes and the euro sign.
		"excel-windows-1252.csv": cp1252(crlf(
			"Student name,E-mail,Date issued,Course title",
			"José Müller,jose@example.edu,2026-03-15,“Straße” to success",
			"Renée Weiß,renee@example.edu,2026-03-16,Don’t panic – €50 course",
		)),
		// German Excel export: semicolons, D.M.YYYY, decimal commas, UTF-8
		// without BOM.
		"european-semicolon-dmy.csv": crlf(
			"Vorname;Nachname;E-Mail;Ausstellungsdatum;Note",
			"Jürgen;Groß;juergen@example.de;15.03.2026;1,7",
			"Anaïs;Dupont;anais@example.fr;1.4.2026;2,3",
			"Łukasz;Wiśniewski;lukasz@example.pl;30.11.2025;1,0",
		),
		// Excel "Unicode Text (*.txt)": UTF-16LE with a BOM, tab-separated,
		// CRLF, cells with quotes quoted.
		"excel-unicode-text.txt": utf16(unicode.LittleEndian, crlf(
			"Name\tEmail\tIssue date\tNotes",
			"Σοφία Παπαδοπούλου\tsofia@example.gr\t2026-05-01\tΚαλή επιτυχία",
			"Мария Иванова\tmaria@example.ru\t2026-05-02\t\"say \"\"hi\"\"\"",
		)),
		// The same shape in UTF-16BE with a BOM.
		"utf16be-bom.csv": utf16(unicode.BigEndian, crlf(
			"Name,Email",
			"Nguyễn Thị Minh Khai,minh@example.vn",
		)),
		// Google Sheets "Download → CSV": UTF-8 without BOM, ISO dates as the
		// sheet shows them, quotes only where needed.
		"google-sheets-export.csv": lf(
			"Recipient,Email,Issued on,Score",
			"Amara Okafor,amara@example.edu,2026-06-30,97.5",
			"\"Tanaka, Hiro\",hiro@example.edu,2026-06-30,88",
		),
		// A quoted attribute that spans lines, with quotes inside, CRLF
		// inside the quotes as Excel writes them.
		"multiline-attribute.csv": crlf(
			"Name,Email,Achievement",
			"Ana Lima,ana@example.edu,\"Led the \"\"Open Data\"\" project:\r\n- designed the survey\r\n- wrote the report\"",
			"Ben Ode,ben@example.edu,Single line",
		),
		// Separate first and last name columns.
		"first-last-name.csv": crlf(
			"First name,Last name,Email,Issue date",
			"Marie,Curie,marie@example.edu,2026-09-01",
			"Niels,Bohr,niels@example.edu,2026-09-01",
		),
		// Every kind of bad row an import must name. The reader passes the
		// cells through (validation is the import's job) except the row it
		// cannot parse: a bare quote.
		"bad-rows.csv": crlf(
			"Name,Email,Issue date,Credits",
			"Good Row,good@example.edu,2026-01-15,5",
			",missing-name@example.edu,2026-01-15,5",
			"Bad Email,not-an-email,2026-01-15,5",
			"Bad Date,bad-date@example.edu,2026-02-30,5",
			"Ambiguous Date,ambiguous@example.edu,03/04/2026,5",
			"Bad Number,bad-number@example.edu,2026-01-15,five",
			"Nul\x00Char,nul@example.edu,2026-01-15,5",
			"Bell\aChar,bell@example.edu,2026-01-15,5",
			"Duplicate,GOOD@example.edu,2026-01-15,5",
			"Bare \"quote,bare@example.edu,2026-01-15,5",
			"No Credits,no-credits@example.edu,2026-01-15",
			"\"=HYPERLINK(\"\"http://evil.example\"\")\",formula@example.edu,2026-01-15,5",
		),
		// Blank lines before the header and between rows, trailing empty
		// columns as Excel writes them for a formatted range, padding.
		"blank-lines-trailing-columns.csv": crlf(
			",,,,",
			"",
			"Name , Email ,,,",
			"  Ada Lovelace  ,ada@example.edu,,,",
			",,,,",
			"",
			"Alan Turing,alan@example.edu,,,",
			",,,,",
		),
		// A column of dates that fit both M/D/YYYY and D/M/YYYY.
		"ambiguous-dates.csv": crlf(
			"Name,Email,Date",
			"A One,a1@example.edu,03/04/2026",
			"B Two,b2@example.edu,05/06/2026",
			"C Three,c3@example.edu,2026-07-08",
		),
		// US dates with two-digit years, unambiguous thanks to one row.
		"us-two-digit-years.csv": crlf(
			"Name,Email,Date",
			"A One,a1@example.edu,03/04/26",
			"B Two,b2@example.edu,12/25/25",
		),
		// Excel serial numbers where a date-formatted column lost its format.
		"excel-serials.csv": crlf(
			"Name,Email,Issue date",
			"A One,a1@example.edu,46346",
			"B Two,b2@example.edu,46096",
		),
		// Tab-separated UTF-8, as pasted from a spreadsheet into a .tsv.
		"tab-separated.tsv": lf(
			"Name\tEmail\tCity",
			"Ana Lima\tana@example.edu\tSão Paulo, SP",
		),
		// Old Mac Excel "CSV (Macintosh)": CR-only line ends.
		"mac-cr-line-ends.csv": []byte("Name,Email\rAna Lima,ana@example.edu\rBen Ode,ben@example.edu\r"),
		// A quote opened and never closed: the rest of the file is one cell.
		"unterminated-quote.csv": crlf(
			"Name,Email",
			"Ana Lima,ana@example.edu",
			"\"Ben Ode,ben@example.edu",
			"Cy Twombly,cy@example.edu",
		),
		"header-only.csv": crlf("Name,Email,Issue date"),
		"empty.csv":       {},
		// Random bytes named .csv.
		"binary-garbage.csv": garbage(4096),
		// An old binary Excel workbook (OLE compound file header).
		"old-excel.xls": append([]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}, garbage(504)...),
		// A ZIP that is not a workbook, named .xlsx.
		"not-a-workbook.xlsx": zipOf(map[string]string{"readme.txt": "hello\n", "data/list.csv": "a,b\n"}),
		"libreoffice.xlsx":    libreOffice(),
		"google-sheets.xlsx":  googleSheets(),
		"excel.xlsx":          excelWorkbook(),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Printf("wrote %d files to %s\n", len(files), dir)
}

func crlf(lines ...string) []byte { return []byte(strings.Join(lines, "\r\n") + "\r\n") }
func lf(lines ...string) []byte   { return []byte(strings.Join(lines, "\n") + "\n") }

func cp1252(b []byte) []byte {
	out, err := charmap.Windows1252.NewEncoder().Bytes(b)
	if err != nil {
		log.Fatal(err)
	}
	return out
}

func utf16(e unicode.Endianness, b []byte) []byte {
	out, err := unicode.UTF16(e, unicode.UseBOM).NewEncoder().Bytes(b)
	if err != nil {
		log.Fatal(err)
	}
	return out
}

func garbage(n int) []byte {
	rng := rand.New(rand.NewPCG(9, 9))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	// Not a ZIP, not a BOM: random bytes a user renamed.
	b[0], b[1] = 0x13, 0x37
	return b
}

func zipOf(parts map[string]string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	// A fixed order: [Content_Types].xml first, as Office writes it.
	names := []string{"[Content_Types].xml"}
	for n := range parts {
		if n != names[0] {
			names = append(names, n)
		}
	}
	sortStrings(names[1:])
	for _, n := range names {
		p, ok := parts[n]
		if !ok {
			continue
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Deflate, Modified: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			log.Fatal(err)
		}
		w.Write([]byte(p))
	}
	if err := zw.Close(); err != nil {
		log.Fatal(err)
	}
	return buf.Bytes()
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

const contentTypes = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>%s</Types>`

const rootRels = `<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`

const workbook = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="%s" sheetId="1" r:id="rId2"/></sheets></workbook>`

const workbookRels = `<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>%s</Relationships>`

// libreOffice is a workbook shaped the way LibreOffice Calc writes one:
// custom number formats from 164 (upper-case date codes, a locale prefix),
// inline strings, a formula with its cached string, a boolean, a percent, a
// skipped row number, and a number with float noise.
func libreOffice() []byte {
	styles := `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><numFmts count="4"><numFmt numFmtId="164" formatCode="General"/><numFmt numFmtId="165" formatCode="DD/MM/YYYY"/><numFmt numFmtId="166" formatCode="[$-409]MMMM\ D&quot;, &quot;YYYY;@"/><numFmt numFmtId="167" formatCode="0.00"/></numFmts><fonts count="1"><font><sz val="10"/><name val="Arial"/><family val="2"/></font></fonts><fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills><borders count="1"><border diagonalUp="false" diagonalDown="false"><left/><right/><top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="164" fontId="0" fillId="0" borderId="0" applyFont="true" applyBorder="true" applyAlignment="true" applyProtection="true"/></cellStyleXfs><cellXfs count="6"><xf numFmtId="164" fontId="0" fillId="0" borderId="0" applyFont="false" applyBorder="false" applyAlignment="false" applyProtection="false" xfId="0"/><xf numFmtId="165" fontId="0" fillId="0" borderId="0" applyFont="false" applyBorder="false" applyAlignment="false" applyProtection="false" xfId="0"/><xf numFmtId="166" fontId="0" fillId="0" borderId="0" applyFont="false" applyBorder="false" applyAlignment="false" applyProtection="false" xfId="0"/><xf numFmtId="167" fontId="0" fillId="0" borderId="0" applyFont="false" applyBorder="false" applyAlignment="false" applyProtection="false" xfId="0"/><xf numFmtId="10" fontId="0" fillId="0" borderId="0" applyFont="false" applyBorder="false" applyAlignment="false" applyProtection="false" xfId="0"/><xf numFmtId="20" fontId="0" fillId="0" borderId="0" applyFont="false" applyBorder="false" applyAlignment="false" applyProtection="false" xfId="0"/></cellXfs><cellStyles count="1"><cellStyle name="Default" xfId="0" builtinId="0"/></cellStyles></styleSheet>`
	is := func(ref, s string) string {
		return `<c r="` + ref + `" s="0" t="inlineStr"><is><t xml:space="preserve">` + s + `</t></is></c>`
	}
	sheet := `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheetPr filterMode="false"><pageSetUpPr fitToPage="false"/></sheetPr><dimension ref="A1:H4"/><sheetViews><sheetView showFormulas="false" tabSelected="true" workbookViewId="0"><selection pane="topLeft" activeCell="A1" sqref="A1"/></sheetView></sheetViews><sheetFormatPr defaultRowHeight="12.8" zeroHeight="false" outlineLevelRow="0" outlineLevelCol="0"/><sheetData>` +
		`<row r="1" customFormat="false" ht="12.8" hidden="false" customHeight="false" outlineLevel="0" collapsed="false">` + is("A1", "Name") + is("B1", "Email") + is("C1", "Issue date") + is("D1", "Expires") + is("E1", "Upper") + is("F1", "Hours") + is("G1", "Passed") + is("H1", "Share") + is("I1", "Start time") + `</row>` +
		`<row r="2" customFormat="false" ht="12.8" hidden="false" customHeight="false" outlineLevel="0" collapsed="false">` + is("A2", "Chloé Dubois") + is("B2", "chloe@example.fr") + `<c r="C2" s="1" t="n"><v>46096</v></c><c r="D2" s="2" t="n"><v>46461</v></c><c r="E2" s="0" t="str"><f aca="false">UPPER(A2)</f><v>CHLOÉ DUBOIS</v></c><c r="F2" s="3" t="n"><v>12.5</v></c><c r="G2" s="0" t="b"><v>1</v></c><c r="H2" s="4" t="n"><v>0.25</v></c><c r="I2" s="5" t="n"><v>0.375</v></c></row>` +
		`<row r="4" customFormat="false" ht="12.8" hidden="false" customHeight="false" outlineLevel="0" collapsed="false">` + is("A4", " Émile  Zola ") + is("B4", "emile@example.fr") + `<c r="C4" s="1" t="n"><v>46100</v></c><c r="D4" s="0" t="n"><v>0.30000000000000004</v></c><c r="F4" s="3" t="n"><v>7</v></c><c r="G4" s="0" t="b"><v>0</v></c></row>` +
		`</sheetData><pageMargins left="0.7875" right="0.7875" top="1.05277777777778" bottom="1.05277777777778" header="0.7875" footer="0.7875"/></worksheet>`
	return zipOf(map[string]string{
		"[Content_Types].xml":        fmt.Sprintf(contentTypes, ""),
		"_rels/.rels":                rootRels,
		"xl/workbook.xml":            fmt.Sprintf(workbook, "Feuille1"),
		"xl/_rels/workbook.xml.rels": fmt.Sprintf(workbookRels, ""),
		"xl/styles.xml":              styles,
		"xl/worksheets/sheet1.xml":   sheet,
	})
}

// googleSheets is a workbook shaped the way Google Sheets exports one:
// shared strings, custom formats yyyy-mm-dd and m/d/yyyy, empty styled
// cells, and no t attribute on numbers.
func googleSheets() []byte {
	styles := `<?xml version="1.0" ?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/><numFmt numFmtId="165" formatCode="m/d/yyyy"/></numFmts><fonts count="1"><font><sz val="10.0"/><color rgb="FF000000"/><name val="Arial"/><scheme val="minor"/></font></fonts><fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="lightGray"/></fill></fills><borders count="1"><border/></borders><cellStyleXfs count="1"><xf borderId="0" fillId="0" fontId="0" numFmtId="0" applyAlignment="1" applyFont="1"/></cellStyleXfs><cellXfs count="4"><xf borderId="0" fillId="0" fontId="0" numFmtId="0" xfId="0" applyAlignment="1" applyFont="1"><alignment readingOrder="0" shrinkToFit="0" vertical="bottom" wrapText="0"/></xf><xf borderId="0" fillId="0" fontId="0" numFmtId="164" xfId="0" applyAlignment="1" applyFont="1" applyNumberFormat="1"><alignment readingOrder="0"/></xf><xf borderId="0" fillId="0" fontId="0" numFmtId="165" xfId="0" applyAlignment="1" applyFont="1" applyNumberFormat="1"><alignment readingOrder="0"/></xf><xf borderId="0" fillId="0" fontId="0" numFmtId="0" xfId="0" applyAlignment="1" applyFont="1"><alignment readingOrder="0"/></xf></cellXfs><cellStyles count="1"><cellStyle xfId="0" name="Normal" builtinId="0"/></cellStyles><dxfs count="0"/></styleSheet>`
	strs := []string{"Learner", "Email", "Completed", "Expiry", "Points", "Priya Raman", "priya@example.edu", "Tomás Ruiz", "tomas@example.edu"}
	var sst strings.Builder
	fmt.Fprintf(&sst, `<?xml version="1.0" ?>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="%d" uniqueCount="%d">`, len(strs), len(strs))
	for _, s := range strs {
		fmt.Fprintf(&sst, "<si><t>%s</t></si>", s)
	}
	sst.WriteString("</sst>")
	s := func(ref string, i int) string { return fmt.Sprintf(`<c r="%s" s="3" t="s"><v>%d</v></c>`, ref, i) }
	sheet := `<?xml version="1.0" ?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheetPr><outlinePr summaryBelow="0" summaryRight="0"/></sheetPr><sheetViews><sheetView workbookViewId="0"/></sheetViews><sheetFormatPr customHeight="1" defaultColWidth="12.63" defaultRowHeight="15.75"/><sheetData>` +
		`<row r="1">` + s("A1", 0) + s("B1", 1) + s("C1", 2) + s("D1", 3) + s("E1", 4) + `<c r="F1" s="3"/><c r="G1" s="3"/></row>` +
		`<row r="2">` + s("A2", 5) + s("B2", 6) + `<c r="C2" s="1"><v>46203</v></c><c r="D2" s="2"><v>46568</v></c><c r="E2" s="3"><v>42</v></c><c r="F2" s="3"/><c r="G2" s="3"/></row>` +
		`<row r="3">` + s("A3", 7) + s("B3", 8) + `<c r="C3" s="1"><v>46204</v></c><c r="D3" s="2"/><c r="E3" s="3"><v>0.1</v></c><c r="F3" s="3"/></row>` +
		`<row r="4"><c r="A4" s="3"/><c r="B4" s="3"/></row>` +
		`</sheetData><drawing r:id="rId1"/></worksheet>`
	return zipOf(map[string]string{
		"[Content_Types].xml":        fmt.Sprintf(contentTypes, `<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>`),
		"_rels/.rels":                rootRels,
		"xl/workbook.xml":            fmt.Sprintf(workbook, "Sheet1"),
		"xl/_rels/workbook.xml.rels": fmt.Sprintf(workbookRels, `<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>`),
		"xl/styles.xml":              styles,
		"xl/sharedStrings.xml":       sst.String(),
		"xl/worksheets/sheet1.xml":   sheet,
	})
}

// excelWorkbook is written by excelize the way an Excel user lays out a
// cohort: two sheets, built-in short dates (14), a custom d-mmm-yy date, a
// date-time, currency and integer formats.
func excelWorkbook() []byte {
	f := excelize.NewFile()
	defer f.Close()
	must := func(err error) {
		if err != nil {
			log.Fatal(err)
		}
	}
	must(f.SetSheetName("Sheet1", "Cohort 2026"))
	_, err := f.NewSheet("Notes")
	must(err)
	s := "Cohort 2026"
	short, _ := f.NewStyle(&excelize.Style{NumFmt: 14})
	custom := "d-mmm-yy"
	mmm, _ := f.NewStyle(&excelize.Style{CustomNumFmt: &custom})
	dt, _ := f.NewStyle(&excelize.Style{NumFmt: 22})
	money, _ := f.NewStyle(&excelize.Style{NumFmt: 4})
	must(f.SetSheetRow(s, "A1", &[]any{"Student name", "Email", "Date issued", "Valid until", "Awarded at", "Fee", "Credits"}))
	must(f.SetSheetRow(s, "A2", &[]any{"Olivia Smith", "olivia@example.ac.uk", 46096, 46461, 46096.75, 1234.5, 12}))
	must(f.SetSheetRow(s, "A3", &[]any{"Noah Jones", "noah@example.ac.uk", time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC), 46462, 46097.5, 99, 6}))
	for _, r := range []string{"2", "3"} {
		must(f.SetCellStyle(s, "C"+r, "C"+r, short))
		must(f.SetCellStyle(s, "D"+r, "D"+r, mmm))
		must(f.SetCellStyle(s, "E"+r, "E"+r, dt))
		must(f.SetCellStyle(s, "F"+r, "F"+r, money))
	}
	must(f.SetSheetRow("Notes", "A1", &[]any{"Note"}))
	must(f.SetSheetRow("Notes", "A2", &[]any{"Imported from the registry"}))
	var buf bytes.Buffer
	must(f.Write(&buf))
	return buf.Bytes()
}
