package imports

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/issuance"
)

// templateHeader is the header row of group g's import template: the
// standard columns and every custom attribute, labelled as the mapping
// recognises them.
func templateHeader(g issuance.Group) []string {
	h := []string{"Recipient name", "Recipient email", "Issue date", "Expiry date"}
	for _, a := range g.ValueAttributes() {
		h = append(h, a.Label)
	}
	return h
}

// templateExample is one example row matching templateHeader.
func templateExample(g issuance.Group, now time.Time) []string {
	issued := issuance.DateOnly(now.UTC())
	expires := ""
	if e := issuance.ExpiryFor(g, issued); e != nil {
		expires = e.Format(issuance.DateLayout)
	}
	row := []string{"Ada Lovelace", "ada.lovelace@example.edu", issued.Format(issuance.DateLayout), expires}
	for _, a := range g.ValueAttributes() {
		switch a.Type {
		case issuance.NumberAttr:
			row = append(row, "90")
		case issuance.DateAttr:
			row = append(row, issued.Format(issuance.DateLayout))
		default:
			row = append(row, "Example "+strings.ToLower(a.Label))
		}
	}
	return row
}

func templateFileName(g issuance.Group, format string) string {
	name := strings.Map(func(r rune) rune {
		if r < 0x20 || strings.ContainsRune(`"\/:*?<>|;`, r) {
			return '-'
		}
		return r
	}, g.Name)
	return fmt.Sprintf("%s import template.%s", name, format)
}

// ImportTemplate returns group g's import template as "csv" (UTF-8 with a
// BOM, so Excel reads accents right) or "xlsx", with its media type.
func ImportTemplate(g issuance.Group, format string, now time.Time) ([]byte, string, error) {
	header, example := templateHeader(g), templateExample(g, now)
	switch format {
	case "csv":
		var b bytes.Buffer
		b.WriteString("\ufeff")
		w := csv.NewWriter(&b)
		w.UseCRLF = true
		_ = w.Write(header)
		_ = w.Write(example)
		w.Flush()
		return b.Bytes(), "text/csv; charset=utf-8", w.Error()
	case "xlsx":
		f := excelize.NewFile()
		defer f.Close()
		const sh = "Sheet1"
		if err := f.SetSheetName(f.GetSheetName(0), sh); err != nil {
			return nil, "", fmt.Errorf("import template: %w", err)
		}
		dateStyle, err := f.NewStyle(&excelize.Style{NumFmt: 14})
		if err != nil {
			return nil, "", fmt.Errorf("import template: %w", err)
		}
		for i, h := range header {
			c, _ := excelize.CoordinatesToCellName(i+1, 1)
			if err := f.SetCellStr(sh, c, h); err != nil {
				return nil, "", fmt.Errorf("import template: %w", err)
			}
		}
		dateCol := map[int]bool{2: true, 3: true}
		for i, a := range g.ValueAttributes() {
			if a.Type == issuance.DateAttr {
				dateCol[4+i] = true
			}
		}
		for i, v := range example {
			c, _ := excelize.CoordinatesToCellName(i+1, 2)
			var err error
			if d, perr := time.Parse(issuance.DateLayout, v); perr == nil && dateCol[i] {
				if err = f.SetCellValue(sh, c, d); err == nil {
					err = f.SetCellStyle(sh, c, c, dateStyle)
				}
			} else {
				err = f.SetCellStr(sh, c, v)
			}
			if err != nil {
				return nil, "", fmt.Errorf("import template: %w", err)
			}
		}
		var b bytes.Buffer
		if err := f.Write(&b); err != nil {
			return nil, "", fmt.Errorf("import template: %w", err)
		}
		return b.Bytes(), XLSXType, nil
	}
	return nil, "", apperr.Errorf(apperr.NotFound, "There is no %q template.", format)
}
