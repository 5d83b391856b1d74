package web

import (
	"testing"
	"time"
)

func TestLocalDateAndTime(t *testing.T) {
	at := time.Date(2026, 12, 1, 14, 5, 0, 0, time.UTC)
	cet := at.In(time.FixedZone("CET", 3600))
	for _, tc := range []struct {
		lang, date, datetime string
	}{
		{"en", "1 Dec 2026", "1 Dec 2026, 14:05 UTC"},
		{"en-GB", "1 Dec 2026", "1 Dec 2026, 14:05 UTC"},
		{"en-US", "Dec 1, 2026", "Dec 1, 2026, 14:05 UTC"},
		{"de", "01.12.2026", "01.12.2026, 14:05 UTC"},
		{"de-AT", "01.12.2026", "01.12.2026, 14:05 UTC"},
		{"fr", "01/12/2026", "01/12/2026, 14:05 UTC"},
		{"xx-not a tag", "1 Dec 2026", "1 Dec 2026, 14:05 UTC"},
		{"", "1 Dec 2026", "1 Dec 2026, 14:05 UTC"},
	} {
		if got := localDate(tc.lang, at); got != tc.date {
			t.Errorf("LocalDate(%q) = %q, want %q", tc.lang, got, tc.date)
		}
		if got := localTime(tc.lang, &cet); got != tc.datetime {
			t.Errorf("LocalTime(%q) = %q, want %q", tc.lang, got, tc.datetime)
		}
	}
	var none *time.Time
	if localDate("en", none) != "" || localTime("en", time.Time{}) != "" {
		t.Error("nil or zero time is not empty")
	}
}
