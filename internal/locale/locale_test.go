package locale

import (
	"testing"
	"time"
)

func TestDateAndDateTime(t *testing.T) {
	at := time.Date(2026, 12, 1, 23, 5, 0, 0, time.UTC) // already 2 Dec in Paris
	day := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC) // a calendar date
	for _, tc := range []struct {
		lang, zone, date, dayOf, dateTime string
	}{
		{"en", "UTC", "1 Dec 2026", "1 Dec 2026", "1 Dec 2026, 23:05"},
		{"en-GB", "Europe/London", "1 Dec 2026", "1 Dec 2026", "1 Dec 2026, 23:05"},
		{"en-US", "America/Chicago", "Dec 1, 2026", "Dec 1, 2026", "Dec 1, 2026, 5:05 PM"},
		{"fr", "Europe/Paris", "1 déc. 2026", "2 déc. 2026", "2 déc. 2026, 00:05"},
		{"de-AT", "Europe/Vienna", "1. Dez. 2026", "2. Dez. 2026", "2. Dez. 2026, 00:05"},
		{"pt-BR", "America/Sao_Paulo", "1 dez. 2026", "1 dez. 2026", "1 dez. 2026, 20:05"},
		{"ja", "Asia/Tokyo", "2026年12月1日", "2026年12月2日", "2026年12月2日, 08:05"},
		{"xx-not a tag", "Not/AZone", "1 Dec 2026", "1 Dec 2026", "1 Dec 2026, 23:05"},
		{"", "", "1 Dec 2026", "1 Dec 2026", "1 Dec 2026, 23:05"},
	} {
		l := New(tc.lang, tc.zone)
		if got := l.Date(day); got != tc.date {
			t.Errorf("%s %s: Date = %q, want %q", tc.lang, tc.zone, got, tc.date)
		}
		if got := l.DayOf(&at); got != tc.dayOf {
			t.Errorf("%s %s: DayOf = %q, want %q", tc.lang, tc.zone, got, tc.dayOf)
		}
		if got := l.DateTime(at); got != tc.dateTime {
			t.Errorf("%s %s: DateTime = %q, want %q", tc.lang, tc.zone, got, tc.dateTime)
		}
	}
	var none *time.Time
	if l := Default(); l.Date(none) != "" || l.DateTime(time.Time{}) != "" || l.DayOf(nil) != "" {
		t.Error("nil or zero time is not empty")
	}
	if got := New("en", "Europe/Paris").Today(at); !got.Equal(time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("Today in Paris = %v, want 2 Dec", got)
	}
}
