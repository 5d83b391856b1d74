package staff

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/sheet"
)

// exportWriter writes the Credentials export row by row.
type exportWriter interface {
	contentType() string
	header([]string) error
	row([]exportCell) error
	close() error
	// release frees what the writer holds (an XLSX's temporary files),
	// finished or not.
	release()
}

func newExportWriter(format string, w *bufio.Writer) (exportWriter, error) {
	switch format {
	case "csv":
		return &csvExport{buf: w, w: csv.NewWriter(w)}, nil
	case "xlsx":
		return newXLSXExport(w)
	}
	return nil, fmt.Errorf("export: unknown format %q", format)
}

// csvExport is UTF-8 with a BOM (so Excel reads every script right), CRLF,
// every cell neutralised against formula injection, dates as YYYY-MM-DD
// (what spreadsheets and Laurel's imports read back).
type csvExport struct {
	buf  *bufio.Writer
	w    *csv.Writer
	rows int
}

func (e *csvExport) contentType() string { return "text/csv; charset=utf-8" }

func (e *csvExport) header(h []string) error {
	if _, err := e.buf.WriteString("\ufeff"); err != nil {
		return err
	}
	e.w.UseCRLF = true
	return e.w.Write(h)
}

func (e *csvExport) row(cells []exportCell) error {
	out := make([]string, len(cells))
	for i, c := range cells {
		if c.date {
			out[i] = c.dateOf
		} else {
			out[i] = sheet.Neutralize(c.text)
		}
	}
	if err := e.w.Write(out); err != nil {
		return err
	}
	// Hand each few thousand rows to the connection: the download starts
	// at once and memory stays one buffer.
	if e.rows++; e.rows%2000 == 0 {
		e.w.Flush()
		return e.w.Error()
	}
	return nil
}

func (e *csvExport) release() {}

func (e *csvExport) close() error {
	e.w.Flush()
	if err := e.w.Error(); err != nil {
		return err
	}
	return e.buf.Flush()
}

// xlsxExport writes one sheet with excelize's StreamWriter, which keeps
// rows in a temporary file beyond a small buffer: a million rows never sit
// in memory. Dates are date cells; text cells are never formulas.
type xlsxExport struct {
	out       *bufio.Writer
	f         *excelize.File
	sw        *excelize.StreamWriter
	dateStyle int
	n         int
}

func newXLSXExport(w *bufio.Writer) (*xlsxExport, error) {
	f := excelize.NewFile()
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("export xlsx: %w", err)
	}
	style, err := f.NewStyle(&excelize.Style{NumFmt: 14})
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("export xlsx: %w", err)
	}
	return &xlsxExport{out: w, f: f, sw: sw, dateStyle: style}, nil
}

func (e *xlsxExport) contentType() string {
	return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
}

func (e *xlsxExport) header(h []string) error {
	row := make([]any, len(h))
	for i, x := range h {
		row[i] = x
	}
	e.n = 1
	if err := e.sw.SetColWidth(1, len(h), 18); err != nil {
		return err
	}
	return e.sw.SetRow("A1", row)
}

func (e *xlsxExport) row(cells []exportCell) error {
	e.n++
	row := make([]any, len(cells))
	for i, c := range cells {
		switch {
		case c.date && c.dateOf != "":
			d, err := time.Parse(issuance.DateLayout, c.dateOf)
			if err != nil {
				return err
			}
			row[i] = excelize.Cell{StyleID: e.dateStyle, Value: d}
		case c.date:
			row[i] = nil
		default:
			row[i] = c.text
		}
	}
	cell, err := excelize.CoordinatesToCellName(1, e.n)
	if err != nil {
		return err
	}
	return e.sw.SetRow(cell, row)
}

func (e *xlsxExport) release() { _ = e.f.Close() }

func (e *xlsxExport) close() error {
	if err := e.sw.Flush(); err != nil {
		return fmt.Errorf("export xlsx: %w", err)
	}
	if err := e.f.Write(e.out); err != nil {
		return fmt.Errorf("export xlsx: %w", err)
	}
	return e.out.Flush()
}
