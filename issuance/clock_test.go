package issuance_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/issuance"
)

// Validation decides by the service's injected clock, not the machine's: an
// issue date more than a year after Service.Now is out of range, one within
// the year is accepted, whatever today's date is.
func TestValidationUsesInjectedClock(t *testing.T) {
	s, d := mustService(t)
	ctx := context.Background()
	s.Now = func() time.Time { return time.Date(2020, 1, 15, 12, 0, 0, 0, time.UTC) }
	g := mustGroup(t, s, nil)

	late := item("Late", "late@example.edu")
	late.IssuedOn = "2021-06-30" // 17 months after the clock; long past by the machine's
	before := tableCounts(t, d)
	_, err := s.CreateCredentials(ctx, actor, g.ID, issuance.FromAPI, []issuance.NewCredential{late})
	mustCode(t, err, apperr.Invalid)
	if diff := cmp.Diff([]string{"0:issued_on"}, fieldErrs(err)); diff != "" {
		t.Fatalf("field errors (-want +got):\n%s", diff)
	}
	assertUnchanged(t, d, before)
	if err := issuance.ValidateNew(s, ctx, g, []issuance.NewCredential{late}); cmp.Diff([]string{"0:issued_on"}, fieldErrs(err)) != "" {
		t.Errorf("ValidateNew: %v", err)
	}

	ok := item("On time", "ontime@example.edu")
	ok.IssuedOn = "2020-12-31"
	if _, err := s.CreateCredentials(ctx, actor, g.ID, issuance.FromAPI, []issuance.NewCredential{ok}); err != nil {
		t.Fatalf("issue date within a year of the clock: %v", err)
	}
}
