package sheet_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/issuance/sheet"
)

// FuzzCSV opens arbitrary bytes and reads every row: no panic, every
// refusal an Invalid error a registrar can read, rows numbered upwards,
// cells tidy, and every row's cost bounded (a 1 MiB record limit; the
// fuzzer's inputs are small, so a slow or memory-hungry path shows as a
// timeout or an out-of-memory failure).
func FuzzCSV(f *testing.F) {
	for _, s := range []string{
		"Name,Email\r\nAna,ana@example.edu\r\n",
		"\xef\xbb\xbfName;Email\r\n\"Lima; Ana\";ana@example.edu\r\n",
		"\xff\xfeN\x00a\x00m\x00e\x00\t\x00E\x00\r\x00\n\x00",
		"Name,Note\n\"multi\nline\",\"say \"\"hi\"\"\"\n\n,,\n",
		"a,\"b\nc",
		"Jos\xe9,\x93quoted\x94\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(fuzzRead)
}

// FuzzWorkbook is FuzzCSV from real .xls and .ods workbooks, and previews
// every sheet too: a damaged workbook is refused, never a panic or a hang.
func FuzzWorkbook(f *testing.F) {
	for _, name := range []string{"roster.xls", "roster.ods"} {
		f.Add(mustRead(f, "testdata/"+name))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := sheet.Preview(bytes.NewReader(data), int64(len(data)), sheet.Options{}, 20); err != nil && !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("Preview: %v, want an Invalid error", err)
		}
		fuzzRead(t, data)
	})
}

func fuzzRead(t *testing.T, data []byte) {
	{
		r, err := sheet.Open(bytes.NewReader(data), int64(len(data)), sheet.Options{})
		if err != nil {
			if !apperr.Is(err, apperr.Invalid) || apperr.Message(err) == "" {
				t.Fatalf("Open: %v (code %s), want an Invalid error", err, apperr.Code(err))
			}
			return
		}
		defer func() {
			if err := r.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		}()
		h, err := r.Header()
		if err != nil || len(h) == 0 || h[len(h)-1] == "" {
			t.Fatalf("Header = %q, %v", h, err)
		}
		last := r.HeaderRow()
		if last < 1 {
			t.Fatalf("HeaderRow = %d", last)
		}
		for i := 0; ; i++ {
			row, err := r.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			var re *sheet.RowError
			if errors.As(err, &re) {
				if re.Row <= last || re.Message == "" {
					t.Fatalf("row error %v after row %d", re, last)
				}
				last = re.Row
				continue
			}
			if err != nil {
				if !apperr.Is(err, apperr.Invalid) {
					t.Fatalf("Next: %v, want io.EOF, a *RowError or an Invalid error", err)
				}
				return
			}
			if row.Number <= last || len(row.Cells) == 0 || row.Cells[len(row.Cells)-1] == "" {
				t.Fatalf("row %d %q after row %d", row.Number, row.Cells, last)
			}
			for _, c := range row.Cells {
				if c != strings.TrimSpace(c) {
					t.Fatalf("row %d: cell %q not trimmed", row.Number, c)
				}
			}
			last = row.Number
		}
	}
}

// FuzzParseDate: no panic; a date is a UTC midnight in years 1000–9999;
// its ISO form reads back as itself in every order; a value read without an
// order reads the same in every order.
func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"2026-03-15", "03/04/2026", "15.03.2026", "3/15/26", "46346", "46346.5", "60", "2026-02-29", "2026-03-15T10:00:00+02:00", " 1-1-2026 ", "99999999"} {
		for _, o := range []string{"", "YMD", "MDY", "DMY"} {
			f.Add(s, o)
		}
	}
	f.Fuzz(func(t *testing.T, s, order string) {
		o := sheet.DateOrder(order)
		d, err := sheet.ParseDate(s, o)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if d.Location() != time.UTC || d.Hour() != 0 || d.Minute() != 0 || d.Second() != 0 || d.Nanosecond() != 0 {
			t.Fatalf("ParseDate(%q, %q) = %v, not a UTC midnight", s, order, d)
		}
		if d.Year() < 1000 || d.Year() > 9999 {
			t.Fatalf("ParseDate(%q, %q) = %v, year out of range", s, order, d)
		}
		iso := d.Format(time.DateOnly)
		for _, o2 := range []sheet.DateOrder{"", sheet.YMD, sheet.MDY, sheet.DMY} {
			back, err := sheet.ParseDate(iso, o2)
			if err != nil || !back.Equal(d) {
				t.Fatalf("ParseDate(%q, %q) = %v, %v; want %v", iso, o2, back, err, d)
			}
			if o == "" {
				if again, err := sheet.ParseDate(s, o2); err != nil || !again.Equal(d) {
					t.Fatalf("ParseDate(%q, %q) = %v, %v; without an order it was %v", s, o2, again, err, d)
				}
			}
		}
		if got, ok := sheet.DetectOrder([]string{s}); o == "" && (got != "" || !ok) {
			t.Fatalf("DetectOrder([%q]) = %q, %v; an ISO value needs no order", s, got, ok)
		}
	})
}
