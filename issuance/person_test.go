package issuance_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/internal/issuancetest"
)

// TestPersonExpiryListsRemindersAndRenewals: the export's part of the
// expiry emails lists the reminder the scan queued for the person's
// credential and the renewal they asked for through the link, not the
// other person's; nothing is an empty list, not null.
func TestPersonExpiryListsRemindersAndRenewals(t *testing.T) {
	s, _ := mustService(t)
	s.Keys = issuancetest.MustKeys(t)
	ctx := context.Background()
	g := mustGroup(t, s, nil)
	if _, err := s.SetGroupReminders(ctx, actor, g.ID, &issuance.ReminderSettings{Offsets: []int{30}, Renewal: true}); err != nil {
		t.Fatal(err)
	}
	expires := s.Time().AddDate(0, 0, 10).Format(issuance.DateLayout)
	ada, bob := item("Ada Lovelace", "ada@example.edu"), item("Bob Babbage", "bob@example.edu")
	ada.ExpiresOn, bob.ExpiresOn = expires, expires
	cs := mustCreate(t, s, g.ID, ada, bob)
	if _, err := s.Publish(ctx, actor, issuance.Selection{IDs: []string{cs[0].ID, cs[1].ID}}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.SendDueReminders(ctx); err != nil || n != 2 {
		t.Fatalf("reminders queued: %d %v", n, err)
	}
	c, err := s.Credential(ctx, cs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(s.RenewURL(c))
	if err != nil || u.Query().Get("t") == "" {
		t.Fatalf("renew link %q: %v", s.RenewURL(c), err)
	}
	if _, requested, err := s.RequestRenewal(ctx, c.ID, u.Query().Get("e"), u.Query().Get("t")); err != nil || !requested {
		t.Fatalf("request renewal: %v %v", requested, err)
	}
	got, err := s.PersonExpiry(ctx, []string{c.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Reminders) != 1 || got.Reminders[0].CredentialID != c.ID || got.Reminders[0].Kind != issuance.ReminderKind ||
		got.Reminders[0].DaysBefore != 30 || got.Reminders[0].ExpiresOn != expires || time.Since(got.Reminders[0].QueuedAt) > time.Hour ||
		len(got.RenewalRequests) != 1 || got.RenewalRequests[0].CredentialID != c.ID || got.RenewalRequests[0].ExpiresOn != expires {
		t.Fatalf("expiry records: %+v", got)
	}
	none, err := s.PersonExpiry(ctx, nil)
	if b, _ := json.Marshal(none); err != nil || !strings.Contains(string(b), `"expiry_reminders":[]`) || !strings.Contains(string(b), `"renewal_requests":[]`) {
		t.Fatalf("nothing: %s %v", b, err)
	}
}
