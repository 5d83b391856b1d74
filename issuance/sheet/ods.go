package sheet

import (
	"archive/zip"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/laurel-edu/laurel/internal/apperr"
)

// odsMime is the mimetype part of an OpenDocument spreadsheet.
const odsMime = "application/vnd.oasis.opendocument.spreadsheet"

// OpenDocument namespaces (ODF 1.2/1.3, part 3).
const (
	nsTable  = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
	nsOffice = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
	nsText   = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
)

// Spreadsheet limits: LibreOffice writes the empty rest of a sheet as one
// row or cell repeated up to them, which must never be expanded.
const (
	odsMaxRows = 1 << 20
	odsMaxCols = 1 << 14
)

func odfKind(mime string) string {
	switch strings.TrimPrefix(mime, "application/vnd.oasis.opendocument.") {
	case "text":
		return "text document"
	case "presentation":
		return "presentation"
	case "graphics":
		return "drawing"
	}
	return "document"
}

// openODS reads an OpenDocument spreadsheet's content.xml with a streaming
// XML decoder (there is no maintained Go library for ODS; the format is
// documented in ODF 1.3 part 3, §9.1): once to list the sheets, once more to
// read the chosen one. checkZip has already bounded the archive.
func (rd *Reader) openODS(r io.ReaderAt, size int64, opts Options) error {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return apperr.Errorf(apperr.Invalid, "The OpenDocument file is damaged. Save it again from LibreOffice, or export it as CSV.")
	}
	var content *zip.File
	for _, f := range zr.File {
		if f.Name == "content.xml" {
			content = f
		}
	}
	if content == nil {
		return apperr.Errorf(apperr.Invalid, "The OpenDocument file has no content. Save it again from LibreOffice, or export it as CSV.")
	}
	if rd.sheets, err = odsSheets(content); err != nil {
		return err
	}
	x := &odsSource{}
	rd.src = x
	if x.sheet, err = pickSheet(rd.sheets, opts.Sheet); err != nil {
		return err
	}
	rc, err := content.Open()
	if err != nil {
		return apperr.Errorf(apperr.Invalid, "The OpenDocument file is damaged. Save it again from LibreOffice, or export it as CSV.")
	}
	x.rc = rc
	x.dec = xml.NewDecoder(rc)
	// Skip to the chosen table.
	for {
		se, err := x.nextStart()
		if err != nil {
			return err
		}
		if se.Name.Space == nsTable && se.Name.Local == "table" && attr(se, nsTable, "name") == x.sheet {
			return nil
		}
	}
}

// odsSheets lists the tables of content.xml in order.
func odsSheets(content *zip.File) ([]string, error) {
	rc, err := content.Open()
	if err != nil {
		return nil, apperr.Errorf(apperr.Invalid, "The OpenDocument file is damaged. Save it again from LibreOffice, or export it as CSV.")
	}
	defer rc.Close()
	dec := xml.NewDecoder(rc)
	var names []string
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return names, nil
		}
		if err != nil {
			return nil, odsBroken(err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Space == nsTable && se.Name.Local == "table" {
			names = append(names, attr(se, nsTable, "name"))
			if err := dec.Skip(); err != nil {
				return nil, odsBroken(err)
			}
		}
	}
}

func odsBroken(err error) error {
	return apperr.Errorf(apperr.Invalid, "The OpenDocument file cannot be read: its content is malformed (%s). Save it again from LibreOffice, or export it as CSV.", shortReason(err))
}

func attr(se xml.StartElement, space, local string) string {
	for _, a := range se.Attr {
		if a.Name.Space == space && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// odsSource streams the rows of one table.
type odsSource struct {
	rc    io.ReadCloser
	dec   *xml.Decoder
	sheet string
	row   int // the last row number handed out
	// A row repeated by table:number-rows-repeated: its cells and how many
	// more times to hand it out.
	repeat      []string
	repeatsLeft int
	done        bool
}

func (x *odsSource) nextStart() (xml.StartElement, error) {
	for {
		tok, err := x.dec.Token()
		if errors.Is(err, io.EOF) {
			return xml.StartElement{}, io.EOF
		}
		if err != nil {
			return xml.StartElement{}, odsBroken(err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se, nil
		}
	}
}

// read returns the next row of the table. A repeated row is handed out as
// often as it repeats, unless it is blank: then its row numbers are skipped
// at once.
func (x *odsSource) read() (int, []string, error) {
	if x.repeatsLeft > 0 {
		x.repeatsLeft--
		x.row++
		return x.row, append([]string(nil), x.repeat...), nil
	}
	for !x.done {
		tok, err := x.dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return 0, nil, odsBroken(io.ErrUnexpectedEOF)
			}
			return 0, nil, odsBroken(err)
		}
		switch t := tok.(type) {
		case xml.EndElement:
			if t.Name.Space == nsTable && t.Name.Local == "table" {
				x.done = true
			}
		case xml.StartElement:
			if t.Name.Space != nsTable {
				if err := x.dec.Skip(); err != nil {
					return 0, nil, odsBroken(err)
				}
				continue
			}
			switch t.Name.Local {
			case "table-row":
				n := repeatCount(t, "number-rows-repeated")
				cells, err := x.readRow()
				if err != nil {
					return 0, nil, err
				}
				if len(tidy(cells)) == 0 || x.row+n > odsMaxRows {
					// Blank rows count but are never expanded.
					x.row += n
					if x.row > odsMaxRows {
						x.done = true
					}
					continue
				}
				x.row++
				if n > 1 {
					x.repeat, x.repeatsLeft = cells, n-1
					return x.row, append([]string(nil), cells...), nil
				}
				return x.row, cells, nil
			case "table-header-rows", "table-rows", "table-row-group":
				// Rows inside these groups are rows of the table.
			default:
				// Columns, shapes, named ranges, a nested table...
				if err := x.dec.Skip(); err != nil {
					return 0, nil, odsBroken(err)
				}
			}
		}
	}
	return 0, nil, io.EOF
}

func repeatCount(se xml.StartElement, name string) int {
	v := attr(se, nsTable, name)
	if v == "" {
		return 1
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 1
	}
	// No sheet is larger; a bigger count is a damaged or hostile file.
	return min(n, odsMaxRows)
}

// readRow reads the cells of the row whose start the decoder has just
// returned. A covered cell (hidden by a merged one) is empty, as in an XLSX
// file; runs of empty cells are kept only when a value follows them.
func (x *odsSource) readRow() ([]string, error) {
	var cells []string
	pending := 0 // empty cells not yet appended
	for {
		tok, err := x.dec.Token()
		if err != nil {
			return nil, odsBroken(err)
		}
		switch t := tok.(type) {
		case xml.EndElement:
			if t.Name.Space == nsTable && t.Name.Local == "table-row" {
				return cells, nil
			}
		case xml.StartElement:
			if t.Name.Space != nsTable || (t.Name.Local != "table-cell" && t.Name.Local != "covered-table-cell") {
				if err := x.dec.Skip(); err != nil {
					return nil, odsBroken(err)
				}
				continue
			}
			n := repeatCount(t, "number-columns-repeated")
			v, err := x.cellValue(t)
			if err != nil {
				return nil, err
			}
			if t.Name.Local == "covered-table-cell" || strings.TrimSpace(v) == "" {
				pending += n
				continue
			}
			if len(cells)+pending+n > odsMaxCols {
				return nil, apperr.Errorf(apperr.Invalid, "Row %d of the sheet %q has more than %d columns.", x.row+1, x.sheet, odsMaxCols)
			}
			for ; pending > 0; pending-- {
				cells = append(cells, "")
			}
			for i := 0; i < n; i++ {
				cells = append(cells, v)
			}
		}
	}
}

// cellValue reads one cell (whose start the decoder has just returned) to
// its end: dates as ISO "YYYY-MM-DD", numbers as stored (no float noise, no
// display rounding), anything else as the text the sheet shows.
func (x *odsSource) cellValue(se xml.StartElement) (string, error) {
	text, err := x.cellText(se.Name)
	if err != nil {
		return "", err
	}
	switch attr(se, nsOffice, "value-type") {
	case "date":
		v := attr(se, nsOffice, "date-value")
		if len(v) >= 10 && v[4] == '-' && v[7] == '-' {
			return v[:10], nil
		}
	case "float":
		if f, err := strconv.ParseFloat(attr(se, nsOffice, "value"), 64); err == nil {
			return plainNumber(f), nil
		}
	}
	return text, nil
}

// cellText collects a cell's paragraphs (joined by a line break), with
// text:s spaces, tabs and line breaks, skipping annotations.
func (x *odsSource) cellText(cell xml.Name) (string, error) {
	var b strings.Builder
	paras := 0
	for {
		tok, err := x.dec.Token()
		if err != nil {
			return "", odsBroken(err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			b.Write(t)
		case xml.EndElement:
			if t.Name == cell {
				return b.String(), nil
			}
		case xml.StartElement:
			switch {
			case t.Name.Space == nsOffice && t.Name.Local == "annotation":
				if err := x.dec.Skip(); err != nil {
					return "", odsBroken(err)
				}
			case t.Name.Space == nsText && t.Name.Local == "p":
				if paras > 0 {
					b.WriteByte('\n')
				}
				paras++
			case t.Name.Space == nsText && t.Name.Local == "s":
				c, err := strconv.Atoi(attr(t, nsText, "c"))
				if err != nil || c < 1 {
					c = 1
				}
				b.WriteString(strings.Repeat(" ", min(c, 1000)))
			case t.Name.Space == nsText && t.Name.Local == "tab":
				b.WriteByte('\t')
			case t.Name.Space == nsText && t.Name.Local == "line-break":
				b.WriteByte('\n')
			}
		}
		if b.Len() > maxRecordBytes {
			return "", apperr.Errorf(apperr.Invalid, "A cell in row %d of the sheet %q is larger than %s; no spreadsheet cell is that large.", x.row+1, x.sheet, humanBytes(maxRecordBytes))
		}
	}
}

func (x *odsSource) close() error {
	if x.rc != nil {
		return x.rc.Close()
	}
	return nil
}

// plainNumber writes a stored number the way a spreadsheet's General format
// shows it: at most 15 significant digits (what the binary value really
// holds), no exponent, no trailing zeros.
func plainNumber(f float64) string {
	r, err := strconv.ParseFloat(strconv.FormatFloat(f, 'g', 15, 64), 64)
	if err != nil {
		r = f
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}
