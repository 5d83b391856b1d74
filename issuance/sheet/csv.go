package sheet

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/laurel-edu/laurel/internal/apperr"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

const (
	// sniffBytes is how much of the start of a file decides its format,
	// whether it is binary, and a CSV file's delimiter.
	sniffBytes = 64 << 10
	// maxRecordBytes bounds one CSV record (encoding/csv holds a record
	// whole): a row larger than this is refused rather than buffered.
	maxRecordBytes = 1 << 20
	// utf8CheckChunk is the read size of the whole-file UTF-8 check.
	utf8CheckChunk = 1 << 20
)

var (
	bomUTF8    = []byte{0xEF, 0xBB, 0xBF}
	bomUTF16LE = []byte{0xFF, 0xFE}
	bomUTF16BE = []byte{0xFE, 0xFF}
)

// openCSV picks the encoding and delimiter and starts the record reader.
//
// Encoding: a BOM decides (UTF-8, UTF-16LE, UTF-16BE); without one, the whole
// file is checked as strict UTF-8 (streamed, 1 MiB at a time), and a file
// that is not valid UTF-8 is read as Windows-1252, which is what Excel's
// plain "CSV" writes on Western-European Windows. No statistical detector:
// the strict check cannot mistake a valid UTF-8 file, and Windows-1252 is the
// only legacy encoding our registrars' tools produce.
func (rd *Reader) openCSV(r io.ReaderAt, size int64, head []byte) error {
	var (
		off int64
		dec func(io.Reader) io.Reader
	)
	switch {
	case bytes.HasPrefix(head, bomUTF8):
		rd.encoding, off = "UTF-8 with BOM", 3
	case bytes.HasPrefix(head, bomUTF16LE):
		rd.encoding, off = "UTF-16LE", 2
		dec = func(in io.Reader) io.Reader {
			return transform.NewReader(in, unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM).NewDecoder())
		}
	case bytes.HasPrefix(head, bomUTF16BE):
		rd.encoding, off = "UTF-16BE", 2
		dec = func(in io.Reader) io.Reader {
			return transform.NewReader(in, unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM).NewDecoder())
		}
	default:
		ok, err := validUTF8(r, size)
		if err != nil {
			return err
		}
		if ok {
			rd.encoding = "UTF-8"
		} else {
			rd.encoding = "Windows-1252"
			dec = func(in io.Reader) io.Reader { return charmap.Windows1252.NewDecoder().Reader(in) }
		}
	}
	open := func() io.Reader {
		var in io.Reader = io.NewSectionReader(r, off, size-off)
		if dec != nil {
			in = dec(in)
		}
		return in
	}

	// The start of the text decides the delimiter, whether the file is
	// binary after all, and old-Mac CR-only line ends.
	sample, err := io.ReadAll(io.LimitReader(open(), sniffBytes))
	if err != nil {
		return fmt.Errorf("sheet: decode the start of the file: %w", err)
	}
	text := string(sample)
	if strings.TrimSpace(strings.ReplaceAll(text, "\uFEFF", "")) == "" && size-off <= sniffBytes {
		return errEmpty
	}
	if looksBinary(text) {
		return apperr.Errorf(apperr.Invalid, "The file is not a spreadsheet: it contains binary data, not text. Upload a CSV, Excel or OpenDocument spreadsheet.")
	}
	crOnly := !strings.Contains(text, "\n") && strings.Contains(text, "\r")
	if crOnly {
		text = strings.ReplaceAll(text, "\r", "\n")
	}
	hint, hinted := sepHint(text)
	if hinted {
		rd.delimiter = hint
	} else {
		rd.delimiter = detectDelimiter(text)
	}

	in := open()
	if crOnly {
		in = transform.NewReader(in, crToLF{})
	}
	lim := &recordLimit{r: in}
	cr := csv.NewReader(bufio.NewReaderSize(lim, int(min(64<<10, max(size, 4096)))))
	cr.Comma = rd.delimiter
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = false
	// `Ana, "Lima, Ana"` (a space after the comma, as people and scripts
	// write CSV) is a quoted cell, not a bare quote. Not with tabs:
	// encoding/csv would also skip the empty cells between two tabs.
	cr.TrimLeadingSpace = rd.delimiter != '\t'
	rd.src = &csvSource{cr: cr, lim: lim, skipHint: hinted}
	return nil
}

// sepHint reads Excel's "sep=;" first line, which names the delimiter and
// which Excel does not show as a row.
func sepHint(text string) (rune, bool) {
	rest, ok := strings.CutPrefix(text, "sep=")
	if !ok || rest == "" {
		return 0, false
	}
	d := rune(rest[0])
	if d != ',' && d != ';' && d != '\t' {
		return 0, false
	}
	if after := rest[1:]; after != "" && !strings.HasPrefix(after, "\n") && !strings.HasPrefix(after, "\r\n") {
		return 0, false
	}
	return d, true
}

// validUTF8 reports whether the whole file is valid UTF-8, reading it in
// chunks; a rune split across two chunks is carried over.
func validUTF8(r io.ReaderAt, size int64) (bool, error) {
	buf := make([]byte, min(utf8CheckChunk, size)+utf8.UTFMax)
	carry := 0
	for off := int64(0); off < size; {
		n, err := r.ReadAt(buf[carry:carry+int(min(utf8CheckChunk, size-off))], off)
		if err != nil && !errors.Is(err, io.EOF) {
			return false, fmt.Errorf("sheet: read the file at %d: %w", off, err)
		}
		if n == 0 {
			break
		}
		off += int64(n)
		b := buf[:carry+n]
		// Keep an incomplete rune at the end for the next chunk.
		keep := 0
		if off < size {
			for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
				if utf8.RuneStart(b[i]) {
					if !utf8.FullRune(b[i:]) {
						keep = len(b) - i
					}
					break
				}
			}
		}
		if !utf8.Valid(b[:len(b)-keep]) {
			return false, nil
		}
		copy(buf, b[len(b)-keep:])
		carry = keep
	}
	return carry == 0 || utf8.Valid(buf[:carry]), nil
}

// looksBinary reports whether decoded text is binary data rather than a
// spreadsheet: more than 2% control characters (other than tab, CR, LF,
// form feed). A stray NUL in one cell is a bad row, not a binary file.
func looksBinary(text string) bool {
	controls, n := 0, 0
	for _, c := range text {
		n++
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') || c == utf8.RuneError {
			controls++
		}
	}
	return controls >= 4 && controls*50 > n
}

// detectDelimiter picks ',', ';' or '\t' from the first records of text:
// the one that splits the first non-blank record into the most cells,
// respecting quotes; on a tie, the one whose next records keep that many
// cells; then in that order. A one-column file is comma-separated.
func detectDelimiter(text string) rune {
	best, bestCells, bestSame := ',', 1, -1
	for _, d := range []rune{',', ';', '\t'} {
		cr := csv.NewReader(strings.NewReader(text))
		cr.Comma, cr.FieldsPerRecord, cr.TrimLeadingSpace = d, -1, d != '\t'
		cells, same := 0, 0
		for i := 0; i < 20; i++ {
			rec, err := cr.Read()
			if err != nil {
				// A record cut by the end of the sample is not a reason to
				// distrust the delimiter; a malformed header is.
				if i == 0 {
					cells = 0
				}
				break
			}
			if i == 0 {
				cells = len(tidy(rec))
			} else if len(tidy(rec)) == cells {
				same++
			}
		}
		if cells > bestCells || (cells == bestCells && cells > 1 && same > bestSame) {
			best, bestCells, bestSame = d, cells, same
		}
	}
	return best
}

// csvSource reads records and numbers them as a spreadsheet would show them.
type csvSource struct {
	cr       *csv.Reader
	lim      *recordLimit
	row      int  // the last row returned
	endLine  int  // the line the last record ended on
	skipHint bool // the first line is Excel's "sep=" hint
}

func (s *csvSource) read() (int, []string, error) {
	if s.skipHint {
		// Excel hides the "sep=" line: the row after it is row 1.
		s.skipHint = false
		if _, err := s.cr.Read(); err == nil {
			s.endLine, _ = s.cr.FieldPos(0)
		}
	}
	s.lim.mark(s.cr.InputOffset())
	rec, err := s.cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return 0, nil, io.EOF
		}
		if errors.Is(err, errRecordTooLarge) {
			return 0, nil, apperr.Errorf(apperr.Invalid, "Row %d is larger than %s; no spreadsheet row is that large. Check the file's quotes: a quote that is never closed makes the rest of the file one cell.", s.row+1, humanBytes(maxRecordBytes))
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			n := s.row + max(1, pe.StartLine-s.endLine)
			s.row, s.endLine = n, pe.Line
			return n, nil, &RowError{Row: n, Message: quoteMessage(pe)}
		}
		return 0, nil, fmt.Errorf("sheet: read CSV after row %d: %w", s.row, err)
	}
	start, _ := s.cr.FieldPos(0)
	last, _ := s.cr.FieldPos(len(rec) - 1)
	// Blank lines between records are rows too (encoding/csv skips them).
	n := s.row + max(1, start-s.endLine)
	s.row = n
	s.endLine = last + strings.Count(rec[len(rec)-1], "\n")
	return n, rec, nil
}

func (s *csvSource) close() error { return nil }

func quoteMessage(pe *csv.ParseError) string {
	switch {
	case errors.Is(pe.Err, csv.ErrBareQuote):
		return `a cell contains a quote (") but does not start with one; put the whole cell in quotes and double the quote inside it ("")`
	case errors.Is(pe.Err, csv.ErrQuote):
		return `a quoted cell is not closed properly: a quote (") is missing, or one inside the cell is not doubled ("")`
	}
	return "the row is not valid CSV"
}

// errRecordTooLarge ends reading when one record exceeds maxRecordBytes.
var errRecordTooLarge = errors.New("sheet: CSV record too large")

// recordLimit fails reads that go more than maxRecordBytes past the start of
// the current record, so a never-closed quote cannot make encoding/csv buffer
// the rest of a 100 MB file as one cell.
type recordLimit struct {
	r     io.Reader
	read  int64 // bytes handed to the csv reader
	start int64 // offset of the current record's start
}

func (l *recordLimit) mark(off int64) { l.start = off }

func (l *recordLimit) Read(p []byte) (int, error) {
	// The bufio reader in between reads ahead by at most its size.
	if l.read-l.start > maxRecordBytes+128<<10 {
		return 0, errRecordTooLarge
	}
	n, err := l.r.Read(p)
	l.read += int64(n)
	return n, err
}

// crToLF turns old-Mac CR line ends into LF (used only on files with no LF).
type crToLF struct{ transform.NopResetter }

func (crToLF) Transform(dst, src []byte, atEOF bool) (int, int, error) {
	n := copy(dst, src)
	for i := range dst[:n] {
		if dst[i] == '\r' {
			dst[i] = '\n'
		}
	}
	if n < len(src) {
		return n, n, transform.ErrShortDst
	}
	return n, n, nil
}

// isZip reports whether the content starts like a ZIP archive (an XLSX).
func isZip(head []byte) bool {
	return bytes.HasPrefix(head, []byte("PK\x03\x04")) || bytes.HasPrefix(head, []byte("PK\x05\x06"))
}

// binaryKind names well-known non-spreadsheet formats by their magic bytes,
// so the message can say what the file is.
func binaryKind(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte("%PDF")):
		return "The file is a PDF, not a spreadsheet. Upload a CSV, Excel or OpenDocument spreadsheet."
	case bytes.HasPrefix(head, []byte{0x1F, 0x8B}):
		return "The file is gzip-compressed. Uncompress it and upload the spreadsheet inside."
	case bytes.HasPrefix(head, []byte("\x89PNG")), bytes.HasPrefix(head, []byte{0xFF, 0xD8, 0xFF}), bytes.HasPrefix(head, []byte("GIF8")):
		return "The file is an image, not a spreadsheet. Upload a CSV, Excel or OpenDocument spreadsheet."
	}
	return ""
}

// bomlessUTF16 recognises UTF-16 text without a byte-order mark (every
// other byte NUL in the first ones), which cannot be told from binary data
// reliably and is therefore refused with a message saying how to save it.
func bomlessUTF16(head []byte) string {
	n := min(len(head), 512) &^ 1
	if n < 8 || bytes.HasPrefix(head, bomUTF16LE) || bytes.HasPrefix(head, bomUTF16BE) {
		return ""
	}
	even, odd := 0, 0
	for i := 0; i < n; i += 2 {
		if head[i] == 0 {
			even++
		}
		if head[i+1] == 0 {
			odd++
		}
	}
	if half := n / 2; (odd*10 >= half*9 && even == 0) || (even*10 >= half*9 && odd == 0) {
		return "The file looks like UTF-16 (\"Unicode\") text without a byte-order mark, which cannot be read reliably. In Excel, save it as \"CSV UTF-8 (Comma delimited)\"."
	}
	return ""
}
