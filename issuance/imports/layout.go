package imports

import (
	"fmt"
	"strings"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/sheet"
)

// layoutRows is how many non-blank rows at the top of each sheet are
// considered for the header row (title rows, notes, blank lines above it).
const layoutRows = 20

// ImportLayout is what the import page offers to choose before checking the
// file again: the workbook's sheets and the first rows of the sheet read.
type ImportLayout struct {
	Sheets []string    `json:"sheets,omitempty"`
	Rows   []LayoutRow `json:"rows,omitempty"`
	// AutoSheet and AutoHeader tell that the sheet and the header row were
	// chosen by matching the group's columns, not by the user.
	AutoSheet  bool `json:"auto_sheet,omitempty"`
	AutoHeader bool `json:"auto_header,omitempty"`
}

// LayoutRow is one of the first rows of a sheet, as the header-row chooser
// shows it.
type LayoutRow struct {
	Number int    `json:"number"`
	Text   string `json:"text"`
}

// headerScore is how many different columns a row's cells name, as the
// mapping would recognise them: a header row names several, a title row
// none.
type headerScore func(cells []string) int

// chooseLayout picks the sheet (wantSheet, else the one whose best row
// scores highest, the first on a tie) and its header row (wantRow, else its
// best-scoring row among the first layoutRows, else its first non-blank
// row), and describes them for the chooser. A wantSheet the workbook lacks
// is returned as is, for sheet.Open to refuse with the list of sheets.
func chooseLayout(pv []sheet.SheetRows, wantSheet string, wantRow int, score headerScore) (string, int, ImportLayout) {
	var lay ImportLayout
	best := func(s sheet.SheetRows) (int, int) {
		row, top := 0, 0
		for _, r := range s.Rows {
			if n := score(r.Cells); n > top {
				row, top = r.Number, n
			}
		}
		return row, top
	}
	chosen := -1
	for i, s := range pv {
		if s.Name != "" {
			lay.Sheets = append(lay.Sheets, s.Name)
		}
		if wantSheet != "" && s.Name == wantSheet {
			chosen = i
		}
	}
	if wantSheet == "" && len(pv) > 0 {
		chosen, top := 0, -1
		for i, s := range pv {
			if _, n := best(s); n > top && s.Err == "" {
				chosen, top = i, n
			}
		}
		lay.AutoSheet = len(pv) > 1
		return pickRow(pv[chosen], wantRow, best, lay)
	}
	if chosen < 0 {
		return wantSheet, wantRow, lay
	}
	return pickRow(pv[chosen], wantRow, best, lay)
}

func pickRow(s sheet.SheetRows, wantRow int, best func(sheet.SheetRows) (int, int), lay ImportLayout) (string, int, ImportLayout) {
	for _, r := range s.Rows {
		lay.Rows = append(lay.Rows, LayoutRow{Number: r.Number, Text: rowText(r.Cells)})
	}
	if wantRow > 0 {
		return s.Name, wantRow, lay
	}
	if row, n := best(s); n > 0 {
		lay.AutoHeader = true
		return s.Name, row, lay
	}
	if len(s.Rows) > 0 {
		return s.Name, s.Rows[0].Number, lay
	}
	return s.Name, 0, lay
}

// rowText is a row as the chooser shows it: its non-empty cells, shortened,
// without control characters (which jsonb and pages cannot hold).
func rowText(cells []string) string {
	var parts []string
	for _, c := range cells {
		c = strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return ' '
			}
			return r
		}, c)
		if c = strings.Join(strings.Fields(c), " "); c != "" {
			parts = append(parts, c)
		}
	}
	s := strings.Join(parts, " · ")
	if r := []rune(s); len(r) > 90 {
		s = string(r[:89]) + "…"
	}
	return s
}

// noDataRows refuses a file whose header row has nothing below it.
func noDataRows(sheetName string, headerRow int) error {
	where := "The file"
	if sheetName != "" {
		where = fmt.Sprintf("The sheet %q", sheetName)
	}
	msg := fmt.Sprintf("%s has column names on row %d but no rows of recipients below them; nothing can be imported. Add at least one recipient below the column names, or choose the sheet or row that holds them.", where, headerRow)
	return apperr.Fields(msg, []apperr.FieldError{{Index: -1, Field: "file", Message: msg}})
}

// Warning kinds of an import.
const warnLostLetters = "lost_letters"

// rowWarning is a warning about some rows, shown before commit: the first
// rows it applies to and how many in all.
type rowWarning struct {
	Kind  string `json:"kind"`
	Rows  []int  `json:"rows"`
	Count int    `json:"count"`
}

// maxWarningRows is how many row numbers a warning names.
const maxWarningRows = 20

func (w rowWarning) text() string {
	if w.Kind != warnLostLetters {
		return ""
	}
	nums := make([]string, len(w.Rows))
	for i, n := range w.Rows {
		nums[i] = fmt.Sprint(n)
	}
	rows := strings.Join(nums, ", ")
	if more := w.Count - len(w.Rows); more > 0 {
		rows += fmt.Sprintf(" and %d more", more)
	}
	label := "Rows"
	if w.Count == 1 {
		label = "Row"
	}
	return fmt.Sprintf("%s %s: names contain “?” where letters were probably lost when the file was saved as a Windows “CSV” (which cannot hold letters such as ł, ő, Ж or 李). In Excel, save it as “CSV UTF-8 (Comma delimited)” and upload it again.", label, rows)
}

// lostLetters tells whether a name read from a Windows-1252 file probably
// lost letters: Excel's plain "CSV" writes "?" for every letter Windows-1252
// lacks, and a real name has no question mark.
func lostLetters(name string) bool { return strings.ContainsRune(name, '?') }

// groupScore scores a row by the columns of group g it names.
func groupScore(g issuance.Group) headerScore {
	return func(cells []string) int {
		seen := map[string]bool{}
		for _, c := range cells {
			if t := autoTarget(g, c); t != "" {
				seen[t] = true
			}
		}
		return len(seen)
	}
}
