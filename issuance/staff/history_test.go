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

// TestHistoryLines: the credential's history reads as sentences with the
// group's labels, dates in the organisation's language and zone, and no
// snapshot key, state code or ISO time.
func TestHistoryLines(t *testing.T) {
	g := issuance.Group{Attributes: []issuance.Attribute{
		{Key: "grade", Label: "Final grade", Type: issuance.TextAttr},
		{Key: "completed_on", Label: "Completed", Type: issuance.DateAttr},
	}}
	at := time.Date(2026, 12, 7, 6, 33, 6, 30368000, time.UTC)
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	entries := []audit.Entry{
		{At: at, Who: "Ada Byron", Action: "create", After: raw(`{"state":"unpublished","recipient":{"name":"Ada","email":"ada@example.edu"},"issued_on":"2026-12-01"}`)},
		{At: at, Who: "Ada Byron", Action: "amend",
			Before: raw(`{"state":"unpublished","recipient":{"name":"Ada","email":"ada@example.edu"},"issued_on":"2026-12-01","expires_on":null,"attributes":{"grade":"B","completed_on":"2026-11-30","gone_key":"x"}}`),
			After:  raw(`{"state":"unpublished","recipient":{"name":"Ada Byron","email":"ada@example.edu"},"issued_on":"2026-12-02","expires_on":"2027-12-02","attributes":{"grade":"A","completed_on":"2026-12-01","gone_key":""}}`)},
		{At: at, Who: "Ada Byron", Action: "publish", Before: raw(`{"state":"unpublished"}`), After: raw(`{"state":"published","published_at":"2026-12-07T07:33:06.030368+00:00"}`)},
		{At: at, Who: "API token “sync”", Action: "resend", After: raw(`{"email_id":3,"to":"ada@example.edu"}`)},
		{At: at, Who: "Ada Byron", Action: "revoke", After: raw(`{"state":"revoked","revocation_reason":"Issued in error"}`)},
	}
	got := historyLines(locale.New("en", "Europe/Paris"), g, entries)
	when := "7 Dec 2026, 07:33"
	want := []string{
		"Revoked by Ada Byron on " + when + ". Reason: “Issued in error”",
		"Email resent to ada@example.edu by API token “sync” on " + when,
		"Published by Ada Byron on " + when,
		"Name changed from “Ada” to “Ada Byron” by Ada Byron on " + when,
		"Issue date changed from “1 Dec 2026” to “2 Dec 2026” by Ada Byron on " + when,
		"Expiry date set to “2 Dec 2027” by Ada Byron on " + when,
		"Final grade changed from “B” to “A” by Ada Byron on " + when,
		"Completed changed from “30 Nov 2026” to “1 Dec 2026” by Ada Byron on " + when,
		"Gone key cleared (was “x”) by Ada Byron on " + when,
		"Created by Ada Byron on " + when,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("history (-want +got):\n%s", d)
	}
	// In French and New York time the same entry reads in both.
	fr := historyLines(locale.New("fr", "America/New_York"), g, entries[2:3])
	if d := cmp.Diff([]string{"Published by Ada Byron on 7 déc. 2026, 01:33"}, fr); d != "" {
		t.Errorf("French history (-want +got):\n%s", d)
	}
}
