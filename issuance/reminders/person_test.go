package reminders_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/internal/issuancetest"
	"github.com/laurel-edu/laurel/issuance/reminders"
)

// TestPersonListsRemindersAndRenewals: the export's part of the
// expiry emails lists the reminder the scan queued for the person's
// credential and the renewal they asked for through the link, not the
// other person's; nothing is an empty list, not null.
func TestPersonListsRemindersAndRenewals(t *testing.T) {
	core, _ := mustService(t)
	s := reminders.New(core, issuancetest.MustKeys(t))
	ctx := context.Background()
	g := mustGroup(t, core, nil)
	if _, err := s.SetGroup(ctx, actor, g.ID, &reminders.Settings{Offsets: []int{30}, Renewal: true}); err != nil {
		t.Fatal(err)
	}
	expires := core.Time().AddDate(0, 0, 10).Format(issuance.DateLayout)
	ada, bob := item("Ada Lovelace", "ada@example.edu"), item("Bob Babbage", "bob@example.edu")
	ada.ExpiresOn, bob.ExpiresOn = expires, expires
	cs := mustCreate(t, core, g.ID, ada, bob)
	if _, err := core.Publish(ctx, actor, issuance.Selection{IDs: []string{cs[0].ID, cs[1].ID}}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.SendDue(ctx); err != nil || n != 2 {
		t.Fatalf("reminders queued: %d %v", n, err)
	}
	c, err := core.Credential(ctx, cs[0].ID)
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
	got, err := s.Person(ctx, []string{c.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Reminders) != 1 || got.Reminders[0].CredentialID != c.ID || got.Reminders[0].Kind != issuance.ReminderKind ||
		got.Reminders[0].DaysBefore != 30 || got.Reminders[0].ExpiresOn != expires || time.Since(got.Reminders[0].QueuedAt) > time.Hour ||
		len(got.RenewalRequests) != 1 || got.RenewalRequests[0].CredentialID != c.ID || got.RenewalRequests[0].ExpiresOn != expires {
		t.Fatalf("expiry records: %+v", got)
	}
	none, err := s.Person(ctx, nil)
	if b, _ := json.Marshal(none); err != nil || !strings.Contains(string(b), `"expiry_reminders":[]`) || !strings.Contains(string(b), `"renewal_requests":[]`) {
		t.Fatalf("nothing: %s %v", b, err)
	}
}
