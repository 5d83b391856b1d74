package reminders_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/issuance/internal/issuancetest"
	"github.com/laurel-edu/laurel/issuance/reminders"
)

// The shared helpers under the names the tests use.
const actor = issuancetest.Actor

var (
	mustService     = issuancetest.MustService
	mustGroup       = issuancetest.MustGroup
	mustCreate      = issuancetest.MustCreate
	item            = issuancetest.Item
	tableCounts     = issuancetest.TableCounts
	assertUnchanged = issuancetest.AssertUnchanged
)

// Reminder settings are checked naming each bad field, normalised (days
// largest first, each once; the default text kept as "the default"), and a
// refused change stores nothing.
func TestReminderSettingsValidation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		in     reminders.Settings
		fields string // the fields named, in order; "" for none
	}{
		{"defaults", reminders.Settings{Offsets: []int{30, 7}}, ""},
		{"none", reminders.Settings{}, ""},
		{"zero days", reminders.Settings{Offsets: []int{30, 0}}, "offsets"},
		{"negative days", reminders.Settings{Offsets: []int{-7}}, "offsets"},
		{"too far", reminders.Settings{Offsets: []int{3651}}, "offsets"},
		{"too many", reminders.Settings{Offsets: []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}}, "offsets"},
		{"unknown placeholder", reminders.Settings{ReminderSubject: "Expires {when}"}, "reminder_subject"},
		{"no link", reminders.Settings{ExpiredBody: "It expired on {expires_on}."}, "expired_body"},
		{"both texts", reminders.Settings{ReminderBody: "{name} {credential_url}", ExpiredSubject: "{x}"}, "reminder_body expired_subject"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			err := reminders.Check(&in)
			var got []string
			for _, f := range apperr.FieldErrors(err) {
				got = append(got, f.Field)
			}
			if s := fmt.Sprint(got); s != fmt.Sprint(strings.Fields(tc.fields)) {
				t.Fatalf("fields %v, want %q (%v)", got, tc.fields, err)
			}
		})
	}
	rs := reminders.Settings{Offsets: []int{7, 30, 7, 60}, ReminderSubject: reminders.DefaultReminderSubject}
	if err := reminders.Check(&rs); err != nil || fmt.Sprint(rs.Offsets) != "[60 30 7]" || rs.ReminderSubject != "" {
		t.Fatalf("normalised %+v, %v", rs, err)
	}
	if d, err := reminders.ParseOffsets("30, 7;1 2"); err != nil || fmt.Sprint(d) != "[30 7 1 2]" {
		t.Fatalf("parse: %v, %v", d, err)
	}
	if _, err := reminders.ParseOffsets("30 days"); apperr.Code(err) != apperr.Invalid || apperr.FieldErrors(err)[0].Field != "offsets" {
		t.Fatalf("parse words: %v", err)
	}

	core, d := mustService(t)
	s := reminders.New(core, nil)
	ctx := context.Background()
	g := mustGroup(t, core, nil)
	before := tableCounts(t, d)
	if _, err := s.UpdateOrganisation(ctx, actor, reminders.Settings{Offsets: []int{0}}); apperr.Code(err) != apperr.Invalid {
		t.Fatalf("organisation: %v", err)
	}
	if _, err := s.SetGroup(ctx, actor, g.ID, &reminders.Settings{ExpiredBody: "no link"}); apperr.Code(err) != apperr.Invalid {
		t.Fatalf("group: %v", err)
	}
	assertUnchanged(t, d, before)
	if rs, err := s.Group(ctx, g.ID); err != nil || !rs.Inherited || fmt.Sprint(rs.Offsets) != "[30 7]" || !rs.ExpiredEmail {
		t.Fatalf("group after refused changes: %+v, %v", rs, err)
	}
	if _, err := s.SetGroup(ctx, actor, 999999, nil); apperr.Code(err) != apperr.NotFound {
		t.Fatalf("unknown group: %v", err)
	}
	if _, err := s.Group(ctx, 999999); apperr.Code(err) != apperr.NotFound {
		t.Fatalf("unknown group: %v", err)
	}
}
