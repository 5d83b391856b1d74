package sheet_test

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/issuance/sheet"
)

// expected is one corpus file's NAME.expected.json.
type expected struct {
	// Generate names an input the test writes under t.TempDir() instead of
	// reading a committed file ("zip-bomb", "100mb").
	Generate string `json:"generate,omitempty"`
	Sheet    string `json:"sheet,omitempty"` // Options.Sheet
	// Error is a fragment of the message Open must fail with (an
	// apperr.Invalid); when set, nothing else is checked.
	Error     string   `json:"error,omitempty"`
	Format    string   `json:"format"`
	Encoding  string   `json:"encoding"`
	Delimiter string   `json:"delimiter"`
	Sheets    []string `json:"sheets"`
	Header    []string `json:"header"`
	HeaderRow int      `json:"header_row"`
	// Rows are the rows Next returns in order; a row Next refuses has
	// Error (a message fragment) instead of Cells.
	Rows []expectedRow `json:"rows"`
	// RowCount and LastRow replace Rows for the generated 100 MB file; its
	// first rows are still compared with Rows.
	RowCount int `json:"row_count,omitempty"`
	LastRow  int `json:"last_row,omitempty"`
	// FinalError is a fragment of the final error Next returns instead of
	// io.EOF (an apperr.Invalid).
	FinalError string `json:"final_error,omitempty"`
	// DateOrders are DetectOrder's answers for the named columns.
	DateOrders map[string]expectedOrder `json:"date_orders,omitempty"`
}

type expectedRow struct {
	Number int      `json:"number"`
	Cells  []string `json:"cells,omitempty"`
	Error  string   `json:"error,omitempty"`
}

type expectedOrder struct {
	Order string `json:"order"`
	OK    bool   `json:"ok"`
}

const corpusDir = "testdata/corpus"

// TestCorpus reads every file of testdata/corpus (and the generated ones)
// and compares the outcome with its NAME.expected.json.
func TestCorpus(t *testing.T) {
	entries, err := os.ReadDir(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	inputs, expects := map[string]bool{}, map[string]bool{}
	for _, e := range entries {
		switch n := e.Name(); {
		case n == "README.md":
		case strings.HasSuffix(n, ".expected.json"):
			expects[strings.TrimSuffix(n, ".expected.json")] = true
		default:
			inputs[n] = true
		}
	}
	for n := range inputs {
		if !expects[n] {
			t.Errorf("%s has no %s.expected.json", n, n)
		}
	}
	if len(expects) < 20 {
		t.Errorf("the corpus has %d files, want at least 20", len(expects))
	}
	for name := range expects {
		t.Run(name, func(t *testing.T) {
			var want expected
			b, err := os.ReadFile(filepath.Join(corpusDir, name+".expected.json"))
			if err != nil {
				t.Fatal(err)
			}
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&want); err != nil {
				t.Fatalf("%s.expected.json: %v", name, err)
			}
			path := filepath.Join(corpusDir, name)
			switch want.Generate {
			case "":
				if !inputs[name] {
					t.Fatalf("no input file %s", name)
				}
			case "zip-bomb":
				path = writeZipBomb(t)
			case "100mb":
				path = write100MB(t)
			default:
				t.Fatalf("unknown generator %q", want.Generate)
			}
			checkCorpusFile(t, path, want)
		})
	}
}

func checkCorpusFile(t *testing.T, path string, want expected) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	r, err := sheet.Open(f, st.Size(), sheet.Options{Sheet: want.Sheet})
	if want.Error != "" {
		if err == nil {
			r.Close()
			t.Fatalf("Open succeeded, want an error containing %q", want.Error)
		}
		if !apperr.Is(err, apperr.Invalid) || !strings.Contains(apperr.Message(err), want.Error) {
			t.Fatalf("Open: %v (code %s), want an Invalid error containing %q", err, apperr.Code(err), want.Error)
		}
		return
	}
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	header, err := r.Header()
	if err != nil {
		t.Fatalf("Header: %v", err)
	}
	delim := ""
	if r.Delimiter() != 0 {
		delim = string(r.Delimiter())
	}
	got := expected{Format: r.Format(), Encoding: r.Encoding(), Delimiter: delim, Sheets: r.Sheets(), Header: header, HeaderRow: r.HeaderRow()}
	columns := map[string][]string{}
	count, last := 0, 0
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var re *sheet.RowError
		switch {
		case errors.As(err, &re):
			if row.Number != re.Row {
				t.Errorf("row error %v comes with row number %d", re, row.Number)
			}
			got.Rows = append(got.Rows, expectedRow{Number: re.Row, Error: re.Message})
			continue
		case err != nil:
			if !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("Next: %v, want io.EOF, a *RowError or an Invalid error", err)
			}
			got.FinalError = apperr.Message(err)
		}
		if err != nil {
			break
		}
		if row.Number <= last {
			t.Fatalf("row %d after row %d", row.Number, last)
		}
		count, last = count+1, row.Number
		if want.RowCount == 0 || len(got.Rows) < len(want.Rows) {
			got.Rows = append(got.Rows, expectedRow{Number: row.Number, Cells: row.Cells})
		}
		for name := range want.DateOrders {
			for i, h := range header {
				if h == name && i < len(row.Cells) {
					columns[name] = append(columns[name], row.Cells[i])
				}
			}
		}
	}
	// Fragments: keep the got message when it contains the wanted one.
	for i := range got.Rows {
		if i < len(want.Rows) && want.Rows[i].Error != "" && strings.Contains(got.Rows[i].Error, want.Rows[i].Error) {
			got.Rows[i].Error = want.Rows[i].Error
		}
	}
	if want.FinalError != "" && strings.Contains(got.FinalError, want.FinalError) {
		got.FinalError = want.FinalError
	}
	if want.RowCount != 0 {
		got.RowCount, got.LastRow = count, last
	}
	if len(want.DateOrders) > 0 {
		got.DateOrders = map[string]expectedOrder{}
		for name := range want.DateOrders {
			o, ok := sheet.DetectOrder(columns[name])
			got.DateOrders[name] = expectedOrder{Order: string(o), OK: ok}
		}
	}
	want.Generate, want.Sheet = "", ""
	if len(want.Rows) == 0 {
		want.Rows = nil
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outcome (-want +got):\n%s", diff)
	}
}

// writeZipBomb writes an .xlsx whose one worksheet unpacks to 4 GiB of
// zeros from about 4 MB: a workbook in every other respect. Compressing
// 4 GiB would take half a minute, so the deflate stream is built from one
// compressed 1 MiB block of zeros repeated (deflate blocks after a flush are
// byte-aligned, and once the window is all zeros every block is the same).
func writeZipBomb(t *testing.T) string {
	t.Helper()
	const block, blocks = 1 << 20, 4 << 10
	var out bytes.Buffer
	fw, err := flate.NewWriter(&out, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, block)
	var chunks [3][]byte
	for i := range chunks {
		fw.Write(zeros)
		fw.Flush()
		chunks[i] = bytes.Clone(out.Bytes())
		out.Reset()
	}
	fw.Close()
	tail := bytes.Clone(out.Bytes())
	if !bytes.Equal(chunks[1], chunks[2]) {
		t.Fatal("deflate blocks of zeros differ; cannot build the ZIP bomb this way")
	}
	crc := crc32.NewIEEE()
	for i := 0; i < blocks; i++ {
		crc.Write(zeros)
	}

	path := filepath.Join(t.TempDir(), "zip-bomb.xlsx")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	for name, body := range map[string]string{
		"[Content_Types].xml": `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`,
		"xl/workbook.xml":     `<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"/>`,
	} {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, body)
	}
	compressed := uint64(len(chunks[0]) + (blocks-1)*len(chunks[1]) + len(tail))
	w, err := zw.CreateRaw(&zip.FileHeader{
		Name: "xl/worksheets/sheet1.xml", Method: zip.Deflate, CRC32: crc.Sum32(),
		CompressedSize64: compressed, UncompressedSize64: block * blocks,
	})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(chunks[0])
	for i := 1; i < blocks; i++ {
		w.Write(chunks[1])
	}
	w.Write(tail)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// write100MB writes a 100 MB (just under 100 MiB) CSV in the shape of a real
// cohort: name, email, issue date, three custom attributes, CRLF.
func write100MB(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "100mb.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprint(w, "Name,Email,Issue date,Course,Grade,Hours\r\n")
	size := int64(44)
	for i := 1; ; i++ {
		line := fmt.Sprintf("Student %07d,student%07d@example.edu,2026-%02d-%02d,\"Data Science, Part %d\",%c,%d\r\n", i, i, i%12+1, i%28+1, i%4+1, 'A'+i%5, i%200)
		if size+int64(len(line)) > 100_000_000 {
			break
		}
		size += int64(len(line))
		w.WriteString(line)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return path
}
