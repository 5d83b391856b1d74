package reminders_test

import (
	"context"
	"slices"
	"testing"

	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/reminders"
)

// TestScanPagesThroughEveryExpiringCredential: with pages of two, the scan
// still finds every published credential due a reminder — four expiring on
// the same day, so pages split them by id — once each, with its email to
// its own recipient and its audit entry, and a second scan finds nothing.
// Unpublished, revoked and later-expiring credentials get nothing.
func TestScanPagesThroughEveryExpiringCredential(t *testing.T) {
	reminders.SetBatch(t, 2)
	core, d := mustService(t)
	s := reminders.New(core, nil)
	ctx := context.Background()
	o, err := core.Organisation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	today := reminders.Day(core.Time(), o.TimeZone)
	on := func(days int) string { return today.AddDate(0, 0, days).Format(issuance.DateLayout) }
	g := mustGroup(t, core, nil)
	var items []issuance.NewCredential
	for _, e := range []struct {
		name string
		days int
	}{{"a", 5}, {"b", 5}, {"c", 5}, {"d", 5}, {"e", 10}, {"f", 10}, {"later", 40}, {"draft", 5}, {"revoked", 5}} {
		it := item("Learner "+e.name, e.name+"@example.edu")
		it.ExpiresOn = on(e.days)
		items = append(items, it)
	}
	cs := mustCreate(t, core, g.ID, items...)
	var publish []string
	for _, c := range cs {
		if c.Recipient.Email != "draft@example.edu" {
			publish = append(publish, c.ID)
		}
	}
	if _, err := core.Publish(ctx, actor, issuance.Selection{IDs: publish}); err != nil {
		t.Fatal(err)
	}
	if _, err := core.Revoke(ctx, actor, cs[8].ID, "test"); err != nil {
		t.Fatal(err)
	}
	if n, err := s.SendDue(ctx); err != nil || n != 6 {
		t.Fatalf("first scan: %d due, %v; want 6", n, err)
	}
	var rows []struct {
		To   string `db:"to_address"`
		Days int    `db:"days"`
	}
	const q = `SELECT e.to_address, r.days FROM credential_emails e
		JOIN credential_reminders r ON r.credential_id = e.credential_id AND r.expires_on = e.expires_on
		JOIN credentials c ON c.id = e.credential_id AND c.recipient_email = e.to_address
		WHERE e.reason = 'reminder' ORDER BY e.to_address`
	if err := d.SelectContext(ctx, &rows, q); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, r.To+":"+map[int]string{7: "7", 30: "30"}[r.Days])
	}
	want := []string{"a@example.edu:7", "b@example.edu:7", "c@example.edu:7", "d@example.edu:7", "e@example.edu:30", "f@example.edu:30"}
	if !slices.Equal(got, want) {
		t.Fatalf("reminders %v, want %v", got, want)
	}
	// Each audit entry names its credential's own email.
	var audited int
	const aq = `SELECT count(*) FROM audit_log a JOIN credential_emails e
		ON e.id = (a.after->>'email_id')::bigint AND e.credential_id = a.entity_id AND e.to_address = a.after->>'to'
		WHERE a.action = 'remind' AND a.after->>'kind' = 'reminder'`
	if err := d.GetContext(ctx, &audited, aq); err != nil || audited != 6 {
		t.Fatalf("audit entries naming their email %d, %v; want 6", audited, err)
	}
	if n, err := s.SendDue(ctx); err != nil || n != 0 {
		t.Fatalf("second scan: %d due, %v; want none", n, err)
	}
}
