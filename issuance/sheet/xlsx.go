package sheet

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/xuri/excelize/v2"
)

const (
	// xlsxMemPart is the size above which excelize unzips a worksheet or the
	// shared strings to a temporary file instead of memory.
	xlsxMemPart = 4 << 20
	// xlsxMaxOtherPart bounds every other part (styles, workbook,
	// relationships...), which excelize reads into memory whole.
	xlsxMaxOtherPart = 32 << 20
	// xlsxMaxEntries bounds the number of parts in the archive.
	xlsxMaxEntries = 10000
	// xlsxMaxRatio is the largest compression ratio of a part bigger than
	// xlsxRatioFloor: real sheets compress 5–50×, a ZIP bomb thousands.
	xlsxMaxRatio   = 200
	xlsxRatioFloor = 8 << 20
)

// xlsxUnzipLimit is the largest total uncompressed size accepted for a file
// of maxBytes: 16× the file (spreadsheet XML compresses about 10×), at least
// 256 MiB.
func xlsxUnzipLimit(maxBytes int64) int64 { return max(256<<20, 16*maxBytes) }

// openXLSX checks the archive before excelize reads it (ZIP bombs, ZIPs that
// are not workbooks), opens it from a file so it is never read into memory,
// and starts the streaming row iterator on the chosen sheet.
func (rd *Reader) openXLSX(r io.ReaderAt, size int64, opts Options) (err error) {
	defer recoverXLSX(&err, "")
	maxBytes := opts.MaxBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	limit := xlsxUnzipLimit(maxBytes)
	x := &xlsxSource{}
	rd.src = x
	path, err := x.localFile(r, size)
	if err != nil {
		return err
	}
	f, err := excelize.OpenFile(path, excelize.Options{
		UnzipSizeLimit:    limit,
		UnzipXMLSizeLimit: xlsxMemPart,
	})
	if err != nil {
		if f != nil {
			f.Close()
		}
		// excelize has no error value for this one; checkZip should have
		// caught it already.
		if strings.Contains(err.Error(), "unzip size exceeds") {
			return zipBomb(limit)
		}
		return apperr.Errorf(apperr.Invalid, "The file looks like an Excel workbook but cannot be read (%s). Open it in Excel or LibreOffice and save it again as .xlsx, or export it as CSV.", shortReason(err))
	}
	x.f = f
	rd.sheets = f.GetSheetList()
	if x.sheet, err = pickSheet(rd.sheets, opts.Sheet); err != nil {
		return err
	}
	if x.date1904, err = isoDateStyles(f); err != nil {
		return apperr.Errorf(apperr.Invalid, "The workbook's styles cannot be read (%s). Save it again as .xlsx, or export it as CSV.", shortReason(err))
	}
	rows, err := f.Rows(x.sheet)
	if err != nil {
		return apperr.Errorf(apperr.Invalid, "The sheet %q cannot be read (%s). Save the workbook again as .xlsx, or export it as CSV.", x.sheet, shortReason(err))
	}
	x.rows = rows
	return nil
}

func zipBomb(limit int64) error {
	return apperr.Errorf(apperr.Invalid, "The file is refused: it would expand to more than %s when unpacked, which no real spreadsheet does (it looks like a ZIP bomb). Save the spreadsheet again from Excel or LibreOffice, or export it as CSV.", humanBytes(limit))
}

// checkZip refuses what is not a workbook or would unpack to more than limit
// (decided from the archive's directory, before anything is unpacked), then
// what has a damaged part. It returns the workbook's kind: "xlsx" or "ods".
func checkZip(r io.ReaderAt, size, limit int64) (string, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return "", apperr.Errorf(apperr.Invalid, "The file starts like an Excel or OpenDocument workbook (a ZIP archive) but is damaged or incomplete. Save it again as .xlsx, or export it as CSV.")
	}
	if len(zr.File) > xlsxMaxEntries {
		return "", apperr.Errorf(apperr.Invalid, "The file is a ZIP archive of %d files, not a workbook.", len(zr.File))
	}
	var total uint64
	hasTypes, hasWorkbook, isDocx, isPptx, hasContent := false, false, false, false, false
	odfType := ""
	for _, e := range zr.File {
		name := strings.ToLower(strings.ReplaceAll(e.Name, "\\", "/"))
		switch {
		case name == "[content_types].xml":
			hasTypes = true
		case strings.HasPrefix(name, "xl/workbook") && strings.HasSuffix(name, ".xml"):
			hasWorkbook = true
		case strings.HasPrefix(name, "word/"):
			isDocx = true
		case strings.HasPrefix(name, "ppt/"):
			isPptx = true
		case name == "content.xml":
			hasContent = true
		case name == "mimetype" && e.UncompressedSize64 < 200:
			if rc, err := e.Open(); err == nil {
				b, _ := io.ReadAll(io.LimitReader(rc, 200))
				rc.Close()
				odfType = strings.TrimSpace(string(b))
			}
		}
		total += e.UncompressedSize64
		if total > uint64(limit) || e.UncompressedSize64 > uint64(limit) {
			return "", zipBomb(limit)
		}
		if e.UncompressedSize64 > xlsxRatioFloor && e.UncompressedSize64 > xlsxMaxRatio*max(e.CompressedSize64, 1) {
			return "", zipBomb(limit)
		}
		streamed := strings.HasPrefix(name, "xl/worksheets/sheet") || name == "xl/sharedstrings.xml" || name == "content.xml"
		if !streamed && e.UncompressedSize64 > xlsxMaxOtherPart {
			return "", apperr.Errorf(apperr.Invalid, "The workbook's part %q would unpack to %s, far more than a spreadsheet needs; it looks like a ZIP bomb. Save it again from Excel or LibreOffice, or export it as CSV.", e.Name, humanBytes(int64(e.UncompressedSize64)))
		}
	}
	switch {
	case hasTypes && hasWorkbook:
		return "xlsx", verifyParts(zr)
	case hasContent && odfType == odsMime:
		return "ods", verifyParts(zr)
	case isDocx:
		return "", apperr.Errorf(apperr.Invalid, "The file is a Word document, not a spreadsheet. Upload a CSV, Excel or OpenDocument spreadsheet.")
	case isPptx:
		return "", apperr.Errorf(apperr.Invalid, "The file is a PowerPoint presentation, not a spreadsheet. Upload a CSV, Excel or OpenDocument spreadsheet.")
	case strings.HasPrefix(odfType, "application/vnd.oasis.opendocument."):
		return "", apperr.Errorf(apperr.Invalid, "The file is an OpenDocument %s, not a spreadsheet. Upload a CSV, Excel or OpenDocument spreadsheet (.ods).", odfKind(odfType))
	}
	return "", apperr.Errorf(apperr.Invalid, "The file is a ZIP archive, not a spreadsheet. Upload a CSV, Excel or OpenDocument spreadsheet.")
}

// verifyParts unpacks every part once, to nowhere, so a damaged part (bad
// checksum, cut short, longer than its header says) is refused here: excelize
// ignores such errors and would silently read fewer rows.
func verifyParts(zr *zip.Reader) error {
	for _, e := range zr.File {
		rc, err := e.Open()
		if err == nil {
			_, err = io.Copy(io.Discard, rc)
			rc.Close()
		}
		if err != nil {
			return apperr.Errorf(apperr.Invalid, "The workbook is damaged: its part %q cannot be unpacked. Open it in Excel or LibreOffice and save it again, or export it as CSV.", e.Name)
		}
	}
	return nil
}

// shortReason is an excelize error in a few words, without file paths.
func shortReason(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.Contains(s[:i], "/") {
		s = s[i+2:]
	}
	if len(s) > 120 {
		s = s[:120]
	}
	return strings.ToValidUTF8(s, "")
}

// xlsxSource streams one sheet's rows through excelize.
type xlsxSource struct {
	f     *excelize.File
	rows  *excelize.Rows
	sheet string
	tmp   string // our copy of the upload, when it was not a file
	row   int
	// date1904 is the workbook's date system (old Mac Excel counts from 1904).
	date1904 bool
}

// localFile returns the path of a file holding the upload: the upload's own
// file when r is one, otherwise a temporary copy. excelize reads a path
// through ReadAt; given a reader it would read the whole file into memory.
func (x *xlsxSource) localFile(r io.ReaderAt, size int64) (string, error) {
	if f, ok := r.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() == size {
			return f.Name(), nil
		}
	}
	tmp, err := os.CreateTemp("", "laurel-sheet-*.xlsx")
	if err != nil {
		return "", fmt.Errorf("sheet: temporary copy of the workbook: %w", err)
	}
	x.tmp = tmp.Name()
	_, err = io.Copy(tmp, io.NewSectionReader(r, 0, size))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("sheet: temporary copy of the workbook: %w", err)
	}
	return x.tmp, nil
}

// recoverXLSX turns a panic inside excelize, which parses untrusted XML,
// into a refusal of the file instead of a crash.
func recoverXLSX(err *error, sheet string) {
	if p := recover(); p != nil {
		where := "The workbook"
		if sheet != "" {
			where = fmt.Sprintf("The sheet %q", sheet)
		}
		*err = apperr.Errorf(apperr.Invalid, "%s cannot be read: it is malformed. Open it in Excel or LibreOffice and save it again as .xlsx, or export it as CSV.", where)
	}
}

func (x *xlsxSource) read() (n int, cells []string, err error) {
	defer recoverXLSX(&err, x.sheet)
	if !x.rows.Next() {
		if err := x.rows.Error(); err != nil {
			if errors.Is(err, excelize.ErrMaxRows) {
				return 0, nil, apperr.Errorf(apperr.Invalid, "The sheet %q has a row number beyond Excel's limit of %d rows.", x.sheet, excelize.TotalRows)
			}
			return 0, nil, apperr.Errorf(apperr.Invalid, "The sheet %q cannot be read after row %d (%s).", x.sheet, x.row, shortReason(err))
		}
		return 0, nil, io.EOF
	}
	x.row++
	cells, err = x.rows.Columns()
	if err != nil {
		return 0, nil, apperr.Errorf(apperr.Invalid, "Row %d of the sheet %q cannot be read (%s). Save the workbook again as .xlsx, or export it as CSV.", x.row, x.sheet, shortReason(err))
	}
	for i, c := range cells {
		cells[i] = dateCell(c, x.date1904)
	}
	return x.row, cells, nil
}

func (x *xlsxSource) close() error {
	var errs []error
	if x.rows != nil {
		errs = append(errs, x.rows.Close())
	}
	if x.f != nil {
		errs = append(errs, x.f.Close())
	}
	if x.tmp != "" {
		errs = append(errs, os.Remove(x.tmp))
	}
	return errors.Join(errs...)
}

// dateMark starts the text excelize renders for a date-formatted cell once
// isoDateStyles has rewritten the styles: a private-use character no
// registrar types, then the serial number.
const dateMark = "\uE000"

// rawNumFmt is a number format id that is neither built in nor defined by
// the workbook: excelize then returns the cell's value as stored.
const rawNumFmt = 1 << 30

// isoDateStyles rewrites, in the opened workbook's styles (never in the
// file), the number format of every cell style:
//
//   - a date format (built-in 14–17, 22, the East-Asian 27–36 and 50–58, or
//     a custom format with a day or year part, see IsDateFormat) becomes
//     dateMark followed by the serial number, which read turns into an ISO
//     date. excelize's Rows() renders cells through their style but does not
//     say which style a cell has, so this is how a date cell is recognised
//     while streaming; it is also ten times faster than letting excelize
//     render dates.
//   - General and text (0, 49) become rawNumFmt, so excelize returns the
//     value as stored (numbers already without float noise) instead of
//     parsing "General" again for every cell.
//   - other formats (0.00, percent, currency, times — 18–21 and 45–47 are
//     times, not dates) stay, and their cells read as the sheet shows them.
func isoDateStyles(f *excelize.File) (date1904 bool, err error) {
	if _, err := f.GetStyle(0); err != nil && f.Styles == nil {
		return false, err
	}
	if f.WorkBook != nil && f.WorkBook.WorkbookPr != nil {
		date1904 = f.WorkBook.WorkbookPr.Date1904
	}
	ss := f.Styles
	if ss == nil || ss.CellXfs == nil || len(ss.CellXfs.Xf) == 0 {
		return date1904, nil
	}
	custom := map[int]string{}
	if ss.NumFmts != nil {
		for _, nf := range ss.NumFmts.NumFmt {
			if nf == nil {
				continue
			}
			code := nf.FormatCode
			if nf.FormatCode16 != "" {
				code = nf.FormatCode16
			}
			custom[nf.NumFmtID] = code
		}
	}
	if _, taken := custom[rawNumFmt]; taken {
		return date1904, errors.New("number format id in use")
	}
	// excelize adds the marker format (and a style using it) for us.
	xfs := len(ss.CellXfs.Xf)
	code := `"` + dateMark + `"0.######`
	id, err := f.NewStyle(&excelize.Style{CustomNumFmt: &code})
	if err != nil {
		return date1904, err
	}
	markID := *f.Styles.CellXfs.Xf[id].NumFmtID
	ss = f.Styles
	for i := 0; i < xfs; i++ {
		xf := &ss.CellXfs.Xf[i]
		n := 0
		if xf.NumFmtID != nil {
			n = *xf.NumFmtID
		}
		code, isCustom := custom[n]
		switch {
		case (isCustom && IsDateFormat(code)) || (!isCustom && builtinDate(n)):
			xf.NumFmtID = &markID
		case (isCustom && strings.EqualFold(strings.TrimSpace(code), "General")) || (!isCustom && (n == 0 || n == 49)):
			raw := rawNumFmt
			xf.NumFmtID = &raw
		}
	}
	return date1904, nil
}

// dateCell turns a cell rendered through the date marker into an ISO date.
func dateCell(c string, date1904 bool) string {
	i := strings.Index(c, dateMark)
	if i < 0 {
		return c
	}
	num := c[i+len(dateMark):]
	if i > 0 || num == "" {
		// A negative serial: no date.
		return strings.ReplaceAll(c, dateMark, "")
	}
	whole := num
	if j := strings.IndexByte(num, '.'); j >= 0 {
		whole = num[:j]
	}
	n, err := strconv.Atoi(whole)
	if err != nil {
		return strings.ReplaceAll(c, dateMark, "")
	}
	if date1904 {
		return time.Date(1904, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n).Format(time.DateOnly)
	}
	if n == 0 {
		// Excel shows serial 0 as 1900-01-00; a time-of-day in a date
		// format: no date either way.
		return num
	}
	t, err := serialDate(n, num)
	if err != nil {
		return num
	}
	return t.Format(time.DateOnly)
}

// builtinDate reports whether a built-in number format shows a date (with or
// without a time). 27–36 and 50–58 are East-Asian date formats.
func builtinDate(id int) bool {
	return (14 <= id && id <= 17) || id == 22 || (27 <= id && id <= 36) || (50 <= id && id <= 58)
}

// IsDateFormat reports whether a custom number format code shows a date: it
// has a day or year part (d, y) outside quoted
// text, escapes and [colour]/[$-locale] brackets. Month alone ("mmm") counts
// only with no hour part, since "m" is also minutes.
func IsDateFormat(code string) bool {
	if strings.EqualFold(strings.TrimSpace(code), "General") {
		return false
	}
	// Only the first section (positive numbers) decides.
	hasMonth, hasHour := false, false
	for i := 0; i < len(code); i++ {
		c := code[i]
		switch c {
		case '"':
			j := strings.IndexByte(code[i+1:], '"')
			if j < 0 {
				return false
			}
			i += j + 1
		case '\\', '_', '*':
			i++
		case '[':
			j := strings.IndexByte(code[i+1:], ']')
			if j < 0 {
				return false
			}
			i += j + 1
		case ';':
			return hasMonth && !hasHour
		case 'd', 'D', 'y', 'Y':
			return true
		case 'm', 'M':
			hasMonth = true
		case 'h', 'H', 's', 'S':
			hasHour = true
		case '0', '#', '?', '@':
			// A digit placeholder: a number format, whatever else it has
			// (e.g. "0.00 \"days\"" has its d quoted; "#,##0;[Red]-#,##0").
			return false
		}
	}
	return hasMonth && !hasHour
}
