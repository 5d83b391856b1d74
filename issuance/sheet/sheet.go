// Package sheet reads CSV and XLSX spreadsheets as rows of text, streaming:
// neither the file nor its rows are ever held in memory whole. It knows the
// shapes registrars' tools really export (Excel's "CSV UTF-8" with a BOM, its
// Windows-1252 "CSV", UTF-16 "Unicode text", semicolon-separated European
// exports, Google Sheets and LibreOffice workbooks) and numbers rows the way a
// spreadsheet program shows them, so an import can name the row to fix. It
// owns no table: issuance/imports stores what it reads.
package sheet

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/laurel-edu/laurel/internal/apperr"
)

// DefaultMaxBytes is the largest file Open accepts when Options.MaxBytes is 0.
const DefaultMaxBytes = 100 << 20

// Options tune Open.
type Options struct {
	Sheet    string // XLSX: the sheet to read; "" = the first sheet
	MaxBytes int64  // largest file accepted; 0 = 100 MiB
}

// Row is one non-blank row of a spreadsheet.
type Row struct {
	// Number is the row number a spreadsheet program shows: the header is 1
	// in a normal file; a CSV record with embedded newlines is one row; blank
	// rows count but are skipped.
	Number int
	// Cells are trimmed, with trailing empty cells dropped. XLSX
	// date-formatted cells are ISO "YYYY-MM-DD"; numbers are as the
	// spreadsheet shows them, without float noise.
	Cells []string
}

// RowError is a problem with one row (a stray quote in a CSV record, say).
// Next returns it for that row only: the caller reports it and may call Next
// again for the rows after it.
type RowError struct {
	Row     int    // the row number as a spreadsheet shows it
	Message string // what is wrong, for a registrar
}

func (e *RowError) Error() string { return fmt.Sprintf("row %d: %s", e.Row, e.Message) }

// source is one file format's row reader. read returns every row, blank ones
// included, numbered as a spreadsheet shows them; io.EOF at the end; a
// *RowError for one bad row (reading may go on); any other error is final.
type source interface {
	read() (int, []string, error)
	close() error
}

// Reader reads one spreadsheet's rows. It is not safe for concurrent use.
type Reader struct {
	format    string
	sheets    []string
	encoding  string
	delimiter rune
	header    []string
	headerRow int
	src       source
	err       error // a final error: every later Next returns it
	closed    bool
}

// Open sniffs the format from the content (ZIP magic → XLSX, else CSV), never
// from the file name, and reads up to the header row. A file that is neither
// (binary garbage, an empty file, a ZIP that is not an XLSX, a ZIP bomb), a
// file larger than opts.MaxBytes, or one with no non-blank row is an
// *apperr.Error with code apperr.Invalid and a message a registrar
// understands. The caller must Close the Reader; r must stay readable until
// then.
func Open(r io.ReaderAt, size int64, opts Options) (*Reader, error) {
	limit := opts.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxBytes
	}
	if size < 0 {
		return nil, apperr.Errorf(apperr.Invalid, "The file could not be read.")
	}
	if size > limit {
		return nil, apperr.Errorf(apperr.Invalid, "The file is %s; the largest accepted is %s. Split it into smaller files.", humanBytes(size), humanBytes(limit))
	}
	if size == 0 {
		return nil, errEmpty
	}
	head := make([]byte, min(size, sniffBytes))
	if _, err := r.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("sheet: read the start of the file: %w", err)
	}
	if msg := binaryKind(head); msg != "" {
		return nil, apperr.Errorf(apperr.Invalid, "%s", msg)
	}
	if msg := bomlessUTF16(head); msg != "" {
		return nil, apperr.Errorf(apperr.Invalid, "%s", msg)
	}
	rd := &Reader{}
	var err error
	if isZip(head) {
		rd.format = "xlsx"
		err = rd.openXLSX(r, size, opts)
	} else {
		rd.format = "csv"
		err = rd.openCSV(r, size, head)
	}
	if err != nil {
		rd.Close()
		return nil, err
	}
	if err := rd.readHeader(); err != nil {
		rd.Close()
		return nil, err
	}
	return rd, nil
}

var errEmpty = apperr.Errorf(apperr.Invalid, "The file is empty: it has no header row and no data.")

// Format returns "csv" or "xlsx".
func (r *Reader) Format() string { return r.format }

// Sheets returns an XLSX workbook's sheet names in order; nil for CSV.
func (r *Reader) Sheets() []string { return r.sheets }

// Encoding returns a CSV file's character encoding: "UTF-8", "UTF-8 with
// BOM", "UTF-16LE", "UTF-16BE" or "Windows-1252"; "" for XLSX.
func (r *Reader) Encoding() string { return r.encoding }

// Delimiter returns a CSV file's delimiter (',', ';' or '\t'); 0 for XLSX.
func (r *Reader) Delimiter() rune { return r.delimiter }

// Header returns the first non-blank row: cells trimmed, trailing empty
// columns dropped. Open has already read it, so the error is always nil; it
// is kept so callers need not know that.
func (r *Reader) Header() ([]string, error) { return r.header, nil }

// HeaderRow returns the header's row number as the spreadsheet shows it (1
// unless blank rows come first).
func (r *Reader) HeaderRow() int { return r.headerRow }

// Next returns the next non-blank data row, io.EOF after the last one, or a
// *RowError for a row that cannot be read (Next may be called again). Any
// other error is final and is returned by every later call.
func (r *Reader) Next() (Row, error) {
	if r.err != nil {
		return Row{}, r.err
	}
	if r.closed {
		return Row{}, errors.New("sheet: Next after Close")
	}
	for {
		n, cells, err := r.src.read()
		if err != nil {
			var re *RowError
			if errors.As(err, &re) {
				return Row{Number: re.Row}, err
			}
			r.err = err
			return Row{}, err
		}
		if cells = tidy(cells); len(cells) > 0 {
			return Row{Number: n, Cells: cells}, nil
		}
	}
}

// Close releases the Reader's temporary files. It is safe to call twice.
func (r *Reader) Close() error {
	if r.closed || r.src == nil {
		r.closed = true
		return nil
	}
	r.closed = true
	return r.src.close()
}

func (r *Reader) readHeader() error {
	for {
		n, cells, err := r.src.read()
		if errors.Is(err, io.EOF) {
			if r.format == "xlsx" {
				return apperr.Errorf(apperr.Invalid, "The sheet %q is empty: it has no header row and no data.", r.sheetName())
			}
			return errEmpty
		}
		var re *RowError
		if errors.As(err, &re) {
			return apperr.Errorf(apperr.Invalid, "The header row (row %d) cannot be read: %s", re.Row, re.Message)
		}
		if err != nil {
			return err
		}
		if cells = tidy(cells); len(cells) > 0 {
			r.header, r.headerRow = cells, n
			return nil
		}
	}
}

func (r *Reader) sheetName() string {
	if x, ok := r.src.(*xlsxSource); ok {
		return x.sheet
	}
	return ""
}

// tidy trims every cell and drops trailing empty ones, in place.
func tidy(cells []string) []string {
	last := -1
	for i, c := range cells {
		c = strings.TrimSpace(c)
		cells[i] = c
		if c != "" {
			last = i
		}
	}
	return cells[:last+1]
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
