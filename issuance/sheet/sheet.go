// Package sheet reads spreadsheets (CSV, XLSX, Excel 97–2003 .xls and
// OpenDocument .ods) as rows of text, streaming: neither a CSV/XLSX/ODS file
// nor its rows are ever held in memory whole (an .xls sheet, at most 65,536
// rows, is read one sheet at a time). It knows the
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
	Sheet string // workbooks: the sheet to read; "" = the first sheet
	// HeaderRow is the row (numbered as the spreadsheet shows it) that
	// holds the column names; rows above it (a title, notes) are skipped.
	// 0 = the first non-blank row.
	HeaderRow int
	MaxBytes  int64 // largest file accepted; 0 = 100 MiB
	// zipChecked: the archive was checked already (Preview opens one
	// workbook once per sheet).
	zipChecked string
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

// Open sniffs the format from the content (ZIP magic → XLSX or ODS, OLE2
// magic → XLS, else CSV), never from the file name, and reads up to the
// header row. A file that is none of them (binary garbage, an empty file, a
// ZIP that is not a workbook, a ZIP bomb, a password-protected workbook), a
// file larger than opts.MaxBytes, or one with no non-blank row is an
// *apperr.Error with code apperr.Invalid and a message a registrar
// understands. The caller must Close the Reader; r must stay readable until
// then.
func Open(r io.ReaderAt, size int64, opts Options) (*Reader, error) {
	rd, err := open(r, size, opts)
	if err != nil {
		return nil, err
	}
	if err := rd.readHeader(opts.HeaderRow); err != nil {
		rd.Close()
		return nil, err
	}
	return rd, nil
}

// open picks the format and starts the chosen sheet's row source, without
// reading any row.
func open(r io.ReaderAt, size int64, opts Options) (*Reader, error) {
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
	if opts.HeaderRow < 0 {
		return nil, apperr.Errorf(apperr.Invalid, "The header row must be a row number (1 or more).")
	}
	head := make([]byte, min(size, sniffBytes))
	if _, err := r.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("sheet: read the start of the file: %w", err)
	}
	rd := &Reader{}
	var err error
	switch {
	case isOLE(head):
		rd.format = "xls"
		err = rd.openXLS(r, size, opts)
	case isZip(head):
		kind := opts.zipChecked
		if kind == "" {
			kind, err = checkZip(r, size, xlsxUnzipLimit(limit))
		}
		if err == nil {
			rd.format = kind
			if kind == "ods" {
				err = rd.openODS(r, size, opts)
			} else {
				err = rd.openXLSX(r, size, opts)
			}
		}
	default:
		if msg := binaryKind(head); msg != "" {
			return nil, apperr.Errorf(apperr.Invalid, "%s", msg)
		}
		if msg := bomlessUTF16(head); msg != "" {
			return nil, apperr.Errorf(apperr.Invalid, "%s", msg)
		}
		rd.format = "csv"
		err = rd.openCSV(r, size, head)
	}
	if err != nil {
		rd.Close()
		return nil, err
	}
	return rd, nil
}

// pickSheet returns the sheet named want among sheets ("" = the first), or
// an Invalid error listing them.
func pickSheet(sheets []string, want string) (string, error) {
	if len(sheets) == 0 {
		return "", apperr.Errorf(apperr.Invalid, "The workbook has no sheets.")
	}
	if want == "" {
		return sheets[0], nil
	}
	for _, s := range sheets {
		if s == want {
			return s, nil
		}
	}
	return "", apperr.Errorf(apperr.Invalid, "The workbook has no sheet named %q; its sheets are: %s.", want, strings.Join(sheets, ", "))
}

// SheetRows is the start of one sheet: its name ("" for a CSV file) and its
// first non-blank rows.
type SheetRows struct {
	Name string
	Rows []Row
	// Err is why the sheet cannot be read, "" when it can.
	Err string
}

// Preview returns the first maxRows non-blank rows of every sheet of a
// workbook (of the one table of a CSV file), so a caller can choose the sheet
// and the header row before reading the file. The file-level errors are
// Open's.
func Preview(r io.ReaderAt, size int64, opts Options, maxRows int) ([]SheetRows, error) {
	opts.Sheet = ""
	first, err := open(r, size, opts)
	if err != nil {
		return nil, err
	}
	names := first.sheets
	if names == nil {
		names = []string{""}
	}
	out := make([]SheetRows, 0, len(names))
	for i, name := range names {
		rd := first
		if i > 0 {
			opts.Sheet = name
			if first.format == "xlsx" || first.format == "ods" {
				opts.zipChecked = first.format
			}
			if rd, err = open(r, size, opts); err != nil {
				if apperr.Code(err) == apperr.Internal {
					return nil, err
				}
				out = append(out, SheetRows{Name: name, Err: apperr.Message(err)})
				continue
			}
		}
		sr := SheetRows{Name: name}
		for len(sr.Rows) < maxRows {
			n, cells, err := rd.src.read()
			if errors.Is(err, io.EOF) {
				break
			}
			var re *RowError
			if errors.As(err, &re) {
				continue
			}
			if err != nil {
				rd.Close()
				if apperr.Code(err) == apperr.Internal {
					return nil, err
				}
				sr.Err = apperr.Message(err)
				break
			}
			if cells = tidy(cells); len(cells) > 0 {
				sr.Rows = append(sr.Rows, Row{Number: n, Cells: append([]string(nil), cells...)})
			}
		}
		rd.Close()
		out = append(out, sr)
	}
	return out, nil
}

var errEmpty = apperr.Errorf(apperr.Invalid, "The file is empty: it has no header row and no data.")

// Format returns "csv", "xlsx", "xls" or "ods".
func (r *Reader) Format() string { return r.format }

// Sheets returns a workbook's sheet names in order; nil for CSV.
func (r *Reader) Sheets() []string { return r.sheets }

// Encoding returns a CSV file's character encoding: "UTF-8", "UTF-8 with
// BOM", "UTF-16LE", "UTF-16BE" or "Windows-1252"; "" for a workbook.
func (r *Reader) Encoding() string { return r.encoding }

// Delimiter returns a CSV file's delimiter (',', ';' or '\t'); 0 for XLSX.
func (r *Reader) Delimiter() rune { return r.delimiter }

// Header returns the header row (Options.HeaderRow, else the first
// non-blank row): cells trimmed, trailing empty
// columns dropped. Open has already read it, so the error is always nil; it
// is kept so callers need not know that.
func (r *Reader) Header() ([]string, error) { return r.header, nil }

// HeaderRow returns the header's row number as the spreadsheet shows it (1
// unless blank or skipped rows come first).
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

func (r *Reader) readHeader(want int) error {
	for {
		n, cells, err := r.src.read()
		if errors.Is(err, io.EOF) {
			if want > 0 {
				return apperr.Errorf(apperr.Invalid, "%s has no row %d to take the column names from.", r.where(), want)
			}
			if name := r.sheetName(); name != "" {
				return apperr.Errorf(apperr.Invalid, "The sheet %q is empty: it has no header row and no data.", name)
			}
			return errEmpty
		}
		var re *RowError
		if errors.As(err, &re) {
			if want > 0 && re.Row < want {
				continue
			}
			return apperr.Errorf(apperr.Invalid, "The header row (row %d) cannot be read: %s", re.Row, re.Message)
		}
		if err != nil {
			return err
		}
		if want > 0 && n < want {
			continue
		}
		cells = tidy(cells)
		if want > 0 && (n > want || len(cells) == 0) {
			return apperr.Errorf(apperr.Invalid, "Row %d of %s is empty; choose the row that holds the column names.", want, strings.ToLower(r.where()[:1])+r.where()[1:])
		}
		if len(cells) > 0 {
			r.header, r.headerRow = cells, n
			return nil
		}
	}
}

// where names what is being read, for a message: the sheet or the file.
func (r *Reader) where() string {
	if name := r.sheetName(); name != "" {
		return fmt.Sprintf("The sheet %q", name)
	}
	return "The file"
}

func (r *Reader) sheetName() string {
	switch x := r.src.(type) {
	case *xlsxSource:
		return x.sheet
	case *xlsSource:
		return x.sheet
	case *odsSource:
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
