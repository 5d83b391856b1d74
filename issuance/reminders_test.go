package issuance_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/issuance"
)

// Reminder settings are checked naming each bad field, normalised (days
// largest first, each once; the default text kept as "the default"), and a
// refused change stores nothing.
func TestReminderSettingsValidation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		in     issuance.ReminderSettings
		fields string // the fields named, in order; "" for none
	}{
		{"defaults", issuance.ReminderSettings{Offsets: []int{30, 7}}, ""},
		{"none", issuance.ReminderSettings{}, ""},
		{"zero days", issuance.ReminderSettings{Offsets: []int{30, 0}}, "offsets"},
		{"negative days", issuance.ReminderSettings{Offsets: []int{-7}}, "offsets"},
		{"too far", issuance.ReminderSettings{Offsets: []int{3651}}, "offsets"},
		{"too many", issuance.ReminderSettings{Offsets: []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}}, "offsets"},
		{"unknown placeholder", issuance.ReminderSettings{ReminderSubject: "Expires {when}"}, "reminder_subject"},
		{"no link", issuance.ReminderSettings{ExpiredBody: "It expired on {expires_on}."}, "expired_body"},
		{"both texts", issuance.ReminderSettings{ReminderBody: "{name} {credential_url}", ExpiredSubject: "{x}"}, "reminder_body expired_subject"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			err := issuance.CheckReminders(&in)
			var got []string
			for _, f := range apperr.FieldErrors(err) {
				got = append(got, f.Field)
			}
			if s := fmt.Sprint(got); s != fmt.Sprint(strings.Fields(tc.fields)) {
				t.Fatalf("fields %v, want %q (%v)", got, tc.fields, err)
			}
		})
	}
	rs := issuance.ReminderSettings{Offsets: []int{7, 30, 7, 60}, ReminderSubject: issuance.DefaultReminderSubject}
	if err := issuance.CheckReminders(&rs); err != nil || fmt.Sprint(rs.Offsets) != "[60 30 7]" || rs.ReminderSubject != "" {
		t.Fatalf("normalised %+v, %v", rs, err)
	}
	if d, err := issuance.ParseOffsets("30, 7;1 2"); err != nil || fmt.Sprint(d) != "[30 7 1 2]" {
		t.Fatalf("parse: %v, %v", d, err)
	}
	if _, err := issuance.ParseOffsets("30 days"); apperr.Code(err) != apperr.Invalid || apperr.FieldErrors(err)[0].Field != "offsets" {
		t.Fatalf("parse words: %v", err)
	}

	s, d := mustService(t)
	ctx := context.Background()
	g := mustGroup(t, s, nil)
	before := tableCounts(t, d)
	if _, err := s.UpdateOrganisationReminders(ctx, actor, issuance.ReminderSettings{Offsets: []int{0}}); apperr.Code(err) != apperr.Invalid {
		t.Fatalf("organisation: %v", err)
	}
	if _, err := s.SetGroupReminders(ctx, actor, g.ID, &issuance.ReminderSettings{ExpiredBody: "no link"}); apperr.Code(err) != apperr.Invalid {
		t.Fatalf("group: %v", err)
	}
	assertUnchanged(t, d, before)
	if rs, err := s.GroupReminders(ctx, g.ID); err != nil || !rs.Inherited || fmt.Sprint(rs.Offsets) != "[30 7]" || !rs.ExpiredEmail {
		t.Fatalf("group after refused changes: %+v, %v", rs, err)
	}
	if _, err := s.SetGroupReminders(ctx, actor, 999999, nil); apperr.Code(err) != apperr.NotFound {
		t.Fatalf("unknown group: %v", err)
	}
	if _, err := s.GroupReminders(ctx, 999999); apperr.Code(err) != apperr.NotFound {
		t.Fatalf("unknown group: %v", err)
	}
}
