package staff

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/laurel-edu/laurel/internal/audit"
	"github.com/laurel-edu/laurel/internal/locale"
	"github.com/laurel-edu/laurel/issuance"
)

// The expiry emails and a renewal request read as sentences in the
// credential's history, dates in the organisation's language and zone.
func TestHistoryLinesOfReminders(t *testing.T) {
	at := time.Date(2027, 2, 8, 14, 0, 0, 0, time.UTC)
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	entries := []audit.Entry{
		{At: at, Who: "Laurel (automatic)", Action: "remind", After: raw(`{"email_id":7,"to":"ada@example.edu","kind":"reminder","days":30,"expires_on":"2027-03-10"}`)},
		{At: at, Who: "recipient", Action: "request_renewal", After: raw(`{"request_id":1,"expires_on":"2027-03-10"}`)},
		{At: at, Who: "Laurel (automatic)", Action: "remind", After: raw(`{"email_id":9,"to":"ada@example.edu","kind":"expired","days":0,"expires_on":"2027-03-10"}`)},
	}
	got := historyLines(locale.New("en", "America/Chicago"), issuance.Group{}, entries)
	want := []string{
		"Expired email sent to ada@example.edu (expired on 10 Mar 2027) on 8 Feb 2027, 08:00",
		"Renewal requested by the recipient (for the expiry date 10 Mar 2027) on 8 Feb 2027, 08:00",
		"Expiry reminder sent to ada@example.edu (30 days before 10 Mar 2027) on 8 Feb 2027, 08:00",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("history (-want +got):\n%s", d)
	}
}
