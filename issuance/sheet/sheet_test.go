package sheet_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/issuance/sheet"
)

// readAll opens data and returns its header and rows (row errors as rows
// with a nil Cells and the message in errs).
func readAll(t *testing.T, data []byte, opts sheet.Options) (*sheet.Reader, []string, []sheet.Row, []string) {
	t.Helper()
	r, err := sheet.Open(bytes.NewReader(data), int64(len(data)), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	h, err := r.Header()
	if err != nil {
		t.Fatalf("Header: %v", err)
	}
	var rows []sheet.Row
	var errs []string
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var re *sheet.RowError
		if errors.As(err, &re) {
			errs = append(errs, err.Error())
			continue
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		rows = append(rows, row)
	}
	return r, h, rows, errs
}

func TestCSVBasics(t *testing.T) {
	data := []byte("\r\nName;Email;Note\r\n\"Dupont; Jean\";jean@example.org;\"two\r\nlines\"\r\n;;\r\n\r\nAna;ana@example.org;\"say \"\"hi\"\"\";;\r\n")
	r, h, rows, errs := readAll(t, data, sheet.Options{})
	if r.Format() != "csv" || r.Encoding() != "UTF-8" || r.Delimiter() != ';' || r.HeaderRow() != 2 {
		t.Fatalf("format %q encoding %q delimiter %q header row %d", r.Format(), r.Encoding(), r.Delimiter(), r.HeaderRow())
	}
	if diff := cmp.Diff([]string{"Name", "Email", "Note"}, h); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	want := []sheet.Row{
		{Number: 3, Cells: []string{"Dupont; Jean", "jean@example.org", "two\nlines"}},
		{Number: 6, Cells: []string{"Ana", "ana@example.org", `say "hi"`}},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	if len(errs) != 0 {
		t.Errorf("row errors: %v", errs)
	}
}

func TestOpenRefuses(t *testing.T) {
	for name, data := range map[string][]byte{
		"empty":  {},
		"blank":  []byte("\r\n  \r\n"),
		"binary": bytes.Repeat([]byte{0, 1, 2, 3, 0xff, 0xfe, 7, 8}, 100),
		"zip":    []byte("PK\x05\x06" + string(make([]byte, 18))),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := sheet.Open(bytes.NewReader(data), int64(len(data)), sheet.Options{})
			if !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("Open: %v, want an Invalid error", err)
			}
			t.Log(apperr.Message(err))
		})
	}
}
