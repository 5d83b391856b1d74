package imports

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/laurel-edu/laurel/issuance/sheet"
)

// WriteImportErrors writes import im's bad rows as CSV to w: the file's own
// columns, then "row" and "error", every cell neutralised against formula
// injection, so the registrar can fix the rows and upload them again. The
// file and the staged errors are both read in row order and merged, so
// neither is held in memory.
func (s *Service) WriteImportErrors(ctx context.Context, w io.Writer, im Import) error {
	f, size, err := s.loadFile(ctx, im.ID)
	if err != nil {
		return err
	}
	defer func() { f.Close(); os.Remove(f.Name()) }()
	rd, err := sheet.Open(f, size, sheet.Options{Sheet: im.Sheet, HeaderRow: im.HeaderRow, MaxBytes: MaxImportBytes})
	if err != nil {
		return fmt.Errorf("errors of import %d: %w", im.ID, err)
	}
	defer rd.Close()
	header, err := rd.Header()
	if err != nil {
		return fmt.Errorf("errors of import %d: %w", im.ID, err)
	}
	// A UTF-8 BOM so spreadsheet programs do not read the file as their
	// legacy code page.
	if _, err := io.WriteString(w, "\ufeff"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	out := make([]string, 0, len(header)+2)
	for _, h := range header {
		out = append(out, sheet.Neutralize(h))
	}
	if err := cw.Write(append(out, "row", "error")); err != nil {
		return err
	}
	const q = `SELECT row_number, errors FROM import_rows WHERE import_id = $1 AND errors IS NOT NULL ORDER BY row_number`
	rows, err := s.DB.QueryContext(ctx, q, im.ID)
	if err != nil {
		return fmt.Errorf("errors of import %d: %w", im.ID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var n int
		var raw []byte
		if err := rows.Scan(&n, &raw); err != nil {
			return fmt.Errorf("errors of import %d: %w", im.ID, err)
		}
		var errs []rowErr
		_ = json.Unmarshal(raw, &errs)
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Message
		}
		var cells []string
		for {
			row, err := rd.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			var re *sheet.RowError
			if err != nil && !errors.As(err, &re) {
				return fmt.Errorf("errors of import %d: %w", im.ID, err)
			}
			if row.Number == n {
				cells = row.Cells
				break
			}
			if row.Number > n {
				break
			}
		}
		out = out[:0]
		for i := range header {
			out = append(out, sheet.Neutralize(cell(cells, i)))
		}
		out = append(out, strconv.Itoa(n), sheet.Neutralize(strings.Join(msgs, " ")))
		if err := cw.Write(out); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("errors of import %d: %w", im.ID, err)
	}
	cw.Flush()
	return cw.Error()
}
