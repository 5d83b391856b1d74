package sheet

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"sort"
	"strings"
	"unicode/utf16"

	"github.com/richardlehane/mscfb"

	"github.com/laurel-edu/laurel/internal/apperr"
)

// Excel 97–2003 (.xls) workbooks are BIFF8 record streams inside an OLE2
// compound file. The compound file is read with richardlehane/mscfb (a
// maintained reader of the container, used by file-format identification
// tools); the records this package needs — sheets, shared strings, number
// formats, cell values — are read here, after [MS-XLS]. The Go BIFF8
// readers on offer (extrame/xls, shakinm/xlsReader) are unmaintained and
// slice their input unchecked, which panics on a damaged file.

// BIFF8 record types ([MS-XLS] 2.3).
const (
	recBOF        = 0x0809
	recEOF        = 0x000A
	recFilePass   = 0x002F
	recDateMode   = 0x0022
	recBoundSheet = 0x0085
	recFormat     = 0x041E
	recXF         = 0x00E0
	recSST        = 0x00FC
	recContinue   = 0x003C
	recLabelSST   = 0x00FD
	recLabel      = 0x0204
	recNumber     = 0x0203
	recRK         = 0x027E
	recMulRK      = 0x00BD
	recBoolErr    = 0x0205
	recFormula    = 0x0006
	recString     = 0x0207
)

// xlsMaxRows and xlsMaxCols are BIFF8's sheet size; xlsMaxCells bounds the
// cells of one sheet held in memory (a roster has a few per row).
const (
	xlsMaxRows  = 65536
	xlsMaxCols  = 256
	xlsMaxCells = 4 << 20
)

var oleMagic = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}

func isOLE(head []byte) bool { return bytes.HasPrefix(head, oleMagic) }

func xlsDamaged() error {
	return apperr.Errorf(apperr.Invalid, "The Excel 97–2003 (.xls) workbook is damaged and cannot be read. Open it in Excel or LibreOffice and save it again, or save it as .xlsx or CSV.")
}

// openXLS finds the workbook stream, reads the workbook globals (sheets,
// shared strings, formats) and the chosen sheet's cells.
func (rd *Reader) openXLS(r io.ReaderAt, size int64, opts Options) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = xlsDamaged()
		}
	}()
	doc, err := mscfb.New(io.NewSectionReader(r, 0, size))
	if err != nil {
		return xlsDamaged()
	}
	var book *mscfb.File
	kinds := map[string]bool{}
	for {
		f, err := doc.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return xlsDamaged()
		}
		kinds[f.Name] = true
		if f.Name == "Workbook" || f.Name == "WORKBOOK" {
			book = f
		}
	}
	switch {
	case book != nil:
	case kinds["EncryptionInfo"] || kinds["EncryptedPackage"]:
		return apperr.Errorf(apperr.Invalid, "The workbook is protected by a password, so it cannot be read. In Excel, remove the password (File › Info › Protect Workbook) and upload it again, or save it as CSV UTF-8.")
	case kinds["Book"]:
		return apperr.Errorf(apperr.Invalid, "The file is an Excel 5.0/95 workbook, a format older than Excel 97, which cannot be read. Open it in Excel or LibreOffice and save it as .xlsx or CSV UTF-8.")
	case kinds["WordDocument"]:
		return apperr.Errorf(apperr.Invalid, "The file is a Word document, not a spreadsheet. Upload a CSV, Excel or OpenDocument spreadsheet.")
	case kinds["PowerPoint Document"]:
		return apperr.Errorf(apperr.Invalid, "The file is a PowerPoint presentation, not a spreadsheet. Upload a CSV, Excel or OpenDocument spreadsheet.")
	default:
		return apperr.Errorf(apperr.Invalid, "The file is an Office file without a workbook in it, not a spreadsheet. Upload a CSV, Excel or OpenDocument spreadsheet.")
	}
	// A stream cannot be larger than the file that holds it; a damaged
	// directory saying otherwise would have us read zeros for ever.
	if book.Size <= 0 || book.Size > size {
		return xlsDamaged()
	}
	stream := io.NewSectionReader(book, 0, book.Size)
	wb, err := readGlobals(stream)
	if err != nil {
		return err
	}
	x := &xlsSource{wb: wb}
	rd.src = x
	for _, s := range wb.sheets {
		rd.sheets = append(rd.sheets, s.name)
	}
	if x.sheet, err = pickSheet(rd.sheets, opts.Sheet); err != nil {
		return err
	}
	for _, s := range wb.sheets {
		if s.name == x.sheet {
			x.rows, err = wb.readSheet(stream, s)
			if err != nil {
				return err
			}
			break
		}
	}
	return nil
}

type xlsSheetRef struct {
	name string
	pos  int64
}

type xlsBook struct {
	sheets   []xlsSheetRef
	sst      []string
	formats  map[uint16]string // custom number formats by id
	xfFormat []uint16          // each XF's number format id
	date1904 bool
}

// recordReader reads BIFF records: a 2-byte type, a 2-byte length, the data.
type recordReader struct {
	r   io.Reader
	buf []byte
}

func (rr *recordReader) next() (uint16, []byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(rr.r, h[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, io.EOF
		}
		return 0, nil, err
	}
	typ, n := binary.LittleEndian.Uint16(h[:2]), int(binary.LittleEndian.Uint16(h[2:]))
	if cap(rr.buf) < n {
		rr.buf = make([]byte, n, max(n, 8224))
	}
	data := rr.buf[:n]
	if _, err := io.ReadFull(rr.r, data); err != nil {
		return 0, nil, io.ErrUnexpectedEOF
	}
	return typ, data, nil
}

// readGlobals reads the workbook globals substream, which starts the stream
// and ends at its EOF record.
func readGlobals(stream *io.SectionReader) (*xlsBook, error) {
	rr := &recordReader{r: io.NewSectionReader(stream, 0, stream.Size())}
	wb := &xlsBook{formats: map[uint16]string{}}
	typ, data, err := rr.next()
	if err != nil || typ != recBOF || len(data) < 4 {
		return nil, xlsDamaged()
	}
	if v := binary.LittleEndian.Uint16(data); v != 0x0600 {
		return nil, apperr.Errorf(apperr.Invalid, "The file is an Excel workbook older than Excel 97, which cannot be read. Open it in Excel or LibreOffice and save it as .xlsx or CSV UTF-8.")
	}
	// The shared string table: SST and its CONTINUE records, with the
	// offsets where each CONTINUE starts (a string's characters restart with
	// a flags byte there).
	var sst []byte
	var breaks []int
	inSST := false
	for {
		typ, data, err := rr.next()
		if err != nil {
			return nil, xlsDamaged()
		}
		if typ == recContinue && inSST {
			breaks = append(breaks, len(sst))
			sst = append(sst, data...)
			continue
		}
		inSST = false
		switch typ {
		case recEOF:
			if sst != nil {
				if wb.sst, err = parseSST(sst, breaks); err != nil {
					return nil, err
				}
			}
			return wb, nil
		case recFilePass:
			return nil, apperr.Errorf(apperr.Invalid, "The workbook is protected by a password, so it cannot be read. In Excel, remove the password (File › Info › Protect Workbook) and upload it again, or save it as CSV UTF-8.")
		case recDateMode:
			wb.date1904 = len(data) >= 2 && binary.LittleEndian.Uint16(data) == 1
		case recBoundSheet:
			if len(data) < 8 {
				return nil, xlsDamaged()
			}
			// Only worksheets (dt 0); charts and macro sheets have no rows.
			if data[5] != 0 {
				continue
			}
			name, _, ok := shortString(data[6:])
			if !ok {
				return nil, xlsDamaged()
			}
			wb.sheets = append(wb.sheets, xlsSheetRef{name: name, pos: int64(binary.LittleEndian.Uint32(data))})
		case recFormat:
			if len(data) < 2 {
				return nil, xlsDamaged()
			}
			code, _, ok := unicodeString(data[2:], 2)
			if !ok {
				return nil, xlsDamaged()
			}
			wb.formats[binary.LittleEndian.Uint16(data)] = code
		case recXF:
			if len(data) < 4 {
				return nil, xlsDamaged()
			}
			wb.xfFormat = append(wb.xfFormat, binary.LittleEndian.Uint16(data[2:]))
		case recSST:
			inSST = true
			sst = append(sst[:0], data...)
			breaks = breaks[:0]
		}
	}
}

// shortString reads a ShortXLUnicodeString (1-byte length).
func shortString(b []byte) (string, int, bool) { return unicodeString(b, 1) }

// unicodeString reads an XLUnicodeString whose character count takes
// lenBytes (1 or 2) bytes, then a flags byte, then the characters: 1 byte
// each (the low bytes of UTF-16) or 2. It returns the string and the bytes
// used.
func unicodeString(b []byte, lenBytes int) (string, int, bool) {
	if len(b) < lenBytes+1 {
		return "", 0, false
	}
	n := int(b[0])
	if lenBytes == 2 {
		n = int(binary.LittleEndian.Uint16(b))
	}
	wide := b[lenBytes]&1 == 1
	p := lenBytes + 1
	if wide {
		if len(b) < p+2*n {
			return "", 0, false
		}
		return decodeUTF16(b[p : p+2*n]), p + 2*n, true
	}
	if len(b) < p+n {
		return "", 0, false
	}
	return latin1(b[p : p+n]), p + n, true
}

func latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

func decodeUTF16(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

// parseSST reads the shared strings ([MS-XLS] 2.4.265). A string's
// characters may be split by a CONTINUE record (an offset in breaks), where
// a new flags byte says whether the rest is 1- or 2-byte.
func parseSST(b []byte, breaks []int) ([]string, error) {
	if len(b) < 8 {
		return nil, xlsDamaged()
	}
	unique := int(binary.LittleEndian.Uint32(b[4:]))
	if unique < 0 || unique > len(b) {
		return nil, xlsDamaged()
	}
	out := make([]string, 0, unique)
	p := 8
	nextBreak := func(p int) int {
		i := sort.SearchInts(breaks, p+1)
		if i < len(breaks) {
			return breaks[i]
		}
		return len(b)
	}
	isBreak := func(p int) bool {
		i := sort.SearchInts(breaks, p)
		return i < len(breaks) && breaks[i] == p
	}
	for len(out) < unique {
		if p+3 > len(b) {
			return nil, xlsDamaged()
		}
		n := int(binary.LittleEndian.Uint16(b[p:]))
		flags := b[p+2]
		p += 3
		runs, ext := 0, 0
		if flags&0x08 != 0 {
			if p+2 > len(b) {
				return nil, xlsDamaged()
			}
			runs = int(binary.LittleEndian.Uint16(b[p:]))
			p += 2
		}
		if flags&0x04 != 0 {
			if p+4 > len(b) {
				return nil, xlsDamaged()
			}
			ext = int(binary.LittleEndian.Uint32(b[p:]))
			p += 4
		}
		wide := flags&1 == 1
		var sb strings.Builder
		for left := n; left > 0; {
			if isBreak(p) && p < len(b) {
				// A CONTINUE starts inside the characters: its first byte
				// is the flags of the rest of them.
				wide = b[p]&1 == 1
				p++
			}
			end := nextBreak(p)
			width := 1
			if wide {
				width = 2
			}
			take := min(left, (end-p)/width)
			if take <= 0 {
				return nil, xlsDamaged()
			}
			if wide {
				sb.WriteString(decodeUTF16(b[p : p+2*take]))
			} else {
				sb.WriteString(latin1(b[p : p+take]))
			}
			p += take * width
			left -= take
		}
		p += 4*runs + ext
		if p > len(b) || ext < 0 {
			return nil, xlsDamaged()
		}
		out = append(out, sb.String())
	}
	return out, nil
}

// xlsCell is one cell of a sheet.
type xlsCell struct {
	row, col int
	value    string
}

// readSheet reads every cell of sheet s (a BIFF8 sheet has at most 65,536
// rows) and returns its rows in order. Cells are held as text only.
func (wb *xlsBook) readSheet(stream *io.SectionReader, s xlsSheetRef) ([][]string, error) {
	if s.pos < 0 || s.pos >= stream.Size() {
		return nil, xlsDamaged()
	}
	rr := &recordReader{r: io.NewSectionReader(stream, s.pos, stream.Size()-s.pos)}
	typ, _, err := rr.next()
	if err != nil || typ != recBOF {
		return nil, xlsDamaged()
	}
	var cells []xlsCell
	add := func(row, col int, v string) error {
		if row >= xlsMaxRows || col >= xlsMaxCols {
			return xlsDamaged()
		}
		if v != "" {
			if len(cells) >= xlsMaxCells {
				return apperr.Errorf(apperr.Invalid, "The sheet %q has more than %d filled cells, far more than a list of recipients needs. Save the roster alone as CSV UTF-8 and upload that.", s.name, xlsMaxCells)
			}
			cells = append(cells, xlsCell{row, col, v})
		}
		return nil
	}
	pendingString := -1 // index in cells of a formula whose text follows in a STRING record
	for {
		typ, data, err := rr.next()
		if err != nil {
			return nil, xlsDamaged()
		}
		if typ == recEOF {
			break
		}
		if typ != recString && typ != recContinue {
			pendingString = -1
		}
		switch typ {
		case recBOF:
			// An embedded chart's substream: skip to its EOF.
			for depth := 1; depth > 0; {
				t, _, err := rr.next()
				if err != nil {
					return nil, xlsDamaged()
				}
				switch t {
				case recBOF:
					depth++
				case recEOF:
					depth--
				}
			}
		case recLabelSST:
			if len(data) < 10 {
				return nil, xlsDamaged()
			}
			i := int(binary.LittleEndian.Uint32(data[6:]))
			if i < 0 || i >= len(wb.sst) {
				return nil, xlsDamaged()
			}
			if err := add(int(u16(data)), int(u16(data[2:])), wb.sst[i]); err != nil {
				return nil, err
			}
		case recLabel:
			if len(data) < 8 {
				return nil, xlsDamaged()
			}
			v, _, ok := unicodeString(data[6:], 2)
			if !ok {
				return nil, xlsDamaged()
			}
			if err := add(int(u16(data)), int(u16(data[2:])), v); err != nil {
				return nil, err
			}
		case recNumber:
			if len(data) < 14 {
				return nil, xlsDamaged()
			}
			f := math.Float64frombits(binary.LittleEndian.Uint64(data[6:]))
			if err := add(int(u16(data)), int(u16(data[2:])), wb.number(u16(data[4:]), f)); err != nil {
				return nil, err
			}
		case recRK:
			if len(data) < 10 {
				return nil, xlsDamaged()
			}
			f := rkNumber(binary.LittleEndian.Uint32(data[6:]))
			if err := add(int(u16(data)), int(u16(data[2:])), wb.number(u16(data[4:]), f)); err != nil {
				return nil, err
			}
		case recMulRK:
			if len(data) < 6 || (len(data)-6)%6 != 0 {
				return nil, xlsDamaged()
			}
			row, col := int(u16(data)), int(u16(data[2:]))
			for p := 4; p+6 <= len(data)-2; p += 6 {
				f := rkNumber(binary.LittleEndian.Uint32(data[p+2:]))
				if err := add(row, col, wb.number(u16(data[p:]), f)); err != nil {
					return nil, err
				}
				col++
			}
		case recBoolErr:
			if len(data) < 8 {
				return nil, xlsDamaged()
			}
			if data[7] == 0 { // a boolean, not an error value
				v := "FALSE"
				if data[6] != 0 {
					v = "TRUE"
				}
				if err := add(int(u16(data)), int(u16(data[2:])), v); err != nil {
					return nil, err
				}
			}
		case recFormula:
			if len(data) < 14 {
				return nil, xlsDamaged()
			}
			row, col := int(u16(data)), int(u16(data[2:]))
			val := data[6:14]
			if val[6] == 0xFF && val[7] == 0xFF {
				switch val[0] {
				case 0: // text, in the STRING record that follows
					if err := add(row, col, "\x00"); err != nil {
						return nil, err
					}
					pendingString = len(cells) - 1
				case 1:
					v := "FALSE"
					if val[2] != 0 {
						v = "TRUE"
					}
					if err := add(row, col, v); err != nil {
						return nil, err
					}
				}
				continue
			}
			f := math.Float64frombits(binary.LittleEndian.Uint64(val))
			if err := add(row, col, wb.number(u16(data[4:]), f)); err != nil {
				return nil, err
			}
		case recString:
			if pendingString >= 0 {
				v, _, ok := unicodeString(data, 2)
				if !ok {
					// The text goes on in a CONTINUE record: keep what
					// this one holds.
					v = partialString(data)
				}
				cells[pendingString].value = v
			}
		}
	}
	sort.SliceStable(cells, func(i, j int) bool {
		if cells[i].row != cells[j].row {
			return cells[i].row < cells[j].row
		}
		return cells[i].col < cells[j].col
	})
	var rows [][]string
	for _, c := range cells {
		if c.value == "\x00" {
			continue // a text formula without its STRING record
		}
		for len(rows) <= c.row {
			rows = append(rows, nil)
		}
		r := rows[c.row]
		for len(r) < c.col {
			r = append(r, "")
		}
		if len(r) == c.col {
			r = append(r, c.value)
		} else {
			r[c.col] = c.value
		}
		rows[c.row] = r
	}
	return rows, nil
}

func partialString(data []byte) string {
	if len(data) < 3 {
		return ""
	}
	if data[2]&1 == 1 {
		return decodeUTF16(data[3 : 3+(len(data)-3)&^1])
	}
	return latin1(data[3:])
}

func u16(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }

// rkNumber decodes an RK value ([MS-XLS] 2.5.217).
func rkNumber(rk uint32) float64 {
	var f float64
	if rk&2 != 0 {
		f = float64(int32(rk) >> 2)
	} else {
		f = math.Float64frombits(uint64(rk&^3) << 32)
	}
	if rk&1 != 0 {
		f /= 100
	}
	return f
}

// number renders a numeric cell: an ISO date when its style's format shows
// a date, else the number as stored.
func (wb *xlsBook) number(xf uint16, f float64) string {
	if int(xf) < len(wb.xfFormat) {
		id := wb.xfFormat[xf]
		code, custom := wb.formats[id]
		if (custom && IsDateFormat(code)) || (!custom && builtinDate(int(id))) {
			if f >= 0 && f < maxSerial+1 {
				return dateCell(dateMark+plainNumber(f), wb.date1904)
			}
		}
	}
	return plainNumber(f)
}

// xlsSource hands out the rows of the sheet read by openXLS.
type xlsSource struct {
	wb    *xlsBook
	sheet string
	rows  [][]string
	next  int
}

func (x *xlsSource) read() (int, []string, error) {
	if x.next >= len(x.rows) {
		return 0, nil, io.EOF
	}
	x.next++
	return x.next, x.rows[x.next-1], nil
}

func (x *xlsSource) close() error { x.rows = nil; return nil }
