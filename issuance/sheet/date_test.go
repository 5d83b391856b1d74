package sheet_test

import (
	"strings"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/issuance/sheet"
)

func TestParseDate(t *testing.T) {
	d := func(y, m, day int) time.Time { return time.Date(y, time.Month(m), day, 0, 0, 0, 0, time.UTC) }
	for _, tc := range []struct {
		in    string
		order sheet.DateOrder
		want  time.Time
		err   string // fragment of the error; "" = no error
	}{
		{"2026-03-15", "", d(2026, 3, 15), ""},
		{" 2026-3-5 ", "", d(2026, 3, 5), ""},
		{"2026/03/15", "", d(2026, 3, 15), ""},
		{"2026-03-15T10:30:00Z", "", d(2026, 3, 15), ""},
		{"2026-03-15 00:00:00", "", d(2026, 3, 15), ""},
		{"2026-03-15", sheet.DMY, d(2026, 3, 15), ""},
		{"2026-02-29", "", time.Time{}, "has no day 29"},
		{"2024-02-29", "", d(2024, 2, 29), ""},
		{"2026-13-01", "", time.Time{}, "no month 13"},
		{"2026-03/15", "", time.Time{}, "mixes separators"},
		{"03/04/2026", "", time.Time{}, "date order"},
		{"03/04/2026", sheet.MDY, d(2026, 3, 4), ""},
		{"03/04/2026", sheet.DMY, d(2026, 4, 3), ""},
		{"3/15/2026", sheet.MDY, d(2026, 3, 15), ""},
		{"3/15/2026", sheet.DMY, time.Time{}, "no month 15"},
		{"15.03.2026", sheet.DMY, d(2026, 3, 15), ""},
		{"15.03.2026", "", time.Time{}, "date order"},
		{"15-03-2026", sheet.DMY, d(2026, 3, 15), ""},
		{"31/04/2026", sheet.DMY, time.Time{}, "has no day 31"},
		{"03/04/26", sheet.MDY, d(2026, 3, 4), ""},
		{"03/04/29", sheet.DMY, d(2029, 4, 3), ""},
		{"03/04/30", sheet.DMY, d(1930, 4, 3), ""},
		{"26/03/15", sheet.YMD, d(2026, 3, 15), ""},
		{"03/04/202", sheet.MDY, time.Time{}, "2 or 4 digits"},
		{"46346", sheet.MDY, d(2026, 11, 20), ""},
		{"46346", sheet.DMY, d(2026, 11, 20), ""},
		{"46346.75", sheet.YMD, d(2026, 11, 20), ""},
		{"46346", "", time.Time{}, "serial"},
		{"61", sheet.MDY, d(1900, 3, 1), ""},
		{"59", sheet.MDY, d(1900, 2, 28), ""},
		{"1", sheet.MDY, d(1900, 1, 1), ""},
		{"60", sheet.MDY, time.Time{}, "did not exist"},
		{"0", sheet.MDY, time.Time{}, "out of range"},
		{"2958466", sheet.MDY, time.Time{}, "out of range"},
		{"", sheet.MDY, time.Time{}, "empty"},
		{"March 15, 2026", sheet.MDY, time.Time{}, "not a date"},
		{"0999-01-01", "", time.Time{}, "out of range"},
		{"2026-03-15", "XYZ", d(2026, 3, 15), ""},
		{"03/04/2026", "XYZ", time.Time{}, "not one of"},
	} {
		got, err := sheet.ParseDate(tc.in, tc.order)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("ParseDate(%q, %q): %v", tc.in, tc.order, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseDate(%q, %q) = %v, %v; want an error containing %q", tc.in, tc.order, got, err, tc.err)
		case tc.err == "" && !got.Equal(tc.want):
			t.Errorf("ParseDate(%q, %q) = %v, want %v", tc.in, tc.order, got, tc.want)
		}
		if err == nil && (got.Location() != time.UTC || got.Hour() != 0) {
			t.Errorf("ParseDate(%q, %q) = %v, want UTC midnight", tc.in, tc.order, got)
		}
	}
}

func TestDetectOrder(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []string
		order  sheet.DateOrder
		ok     bool
	}{
		{"ISO only", []string{"2026-03-15", "", "2026-04-01"}, "", true},
		{"empty column", nil, "", true},
		{"ambiguous only", []string{"03/04/2026", "05/06/2026"}, "", false},
		{"one day above 12 decides DMY", []string{"03/04/2026", "13/04/2026"}, sheet.DMY, true},
		{"one day above 12 decides MDY", []string{"03/04/2026", "04/13/2026", "2026-01-01"}, sheet.MDY, true},
		{"mixed conventions", []string{"13/04/2026", "04/13/2026"}, "", false},
		{"dots", []string{"15.03.2026", "1.4.2026"}, sheet.DMY, true},
		{"dots ambiguous", []string{"01.04.2026", "02.03.2026"}, "", false},
		{"two-digit years", []string{"03/04/26", "12/25/25"}, sheet.MDY, true},
		{"two-digit years ambiguous", []string{"03/04/05"}, "", false},
		{"year first", []string{"26/03/15", "26/12/31"}, "", false}, // each fits YMD and DMY (26/12/31 = 26 December 1931)
		{"serials", []string{"46346", "46096"}, sheet.YMD, true},
		{"serials and a D/M date", []string{"46346", "13/04/2026"}, sheet.DMY, true},
		{"garbage ignored", []string{"n/a", "13/04/2026"}, sheet.DMY, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			order, ok := sheet.DetectOrder(tc.values)
			if order != tc.order || ok != tc.ok {
				t.Errorf("DetectOrder(%q) = %q, %v; want %q, %v", tc.values, order, ok, tc.order, tc.ok)
			}
		})
	}
}

func TestParseOrder(t *testing.T) {
	for in, want := range map[string]sheet.DateOrder{"": "", "dmy": sheet.DMY, " MDY ": sheet.MDY, "YMD": sheet.YMD} {
		if got, err := sheet.ParseOrder(in); err != nil || got != want {
			t.Errorf("ParseOrder(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := sheet.ParseOrder("DDMMYY"); err == nil || !strings.Contains(err.Error(), "YMD, MDY, DMY") {
		t.Errorf("ParseOrder(DDMMYY) error = %v", err)
	}
}
