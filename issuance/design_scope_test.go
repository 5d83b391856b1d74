package issuance_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/issuance"
)

// UpdateDesign itself refuses a caller limited to some groups a design that
// a group outside them uses (whatever UI or API calls it), and leaves the
// design as it was; a design used only inside the limit can be changed.
func TestUpdateDesignRespectsGroupLimit(t *testing.T) {
	s, d := mustService(t)
	ctx := context.Background()
	def, err := s.DefaultDesign(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a := mustGroup(t, s, nil)                                                // default design
	b := mustGroup(t, s, func(g *issuance.Group) { g.Name = "Other group" }) // default design
	solo, err := s.CreateDesign(ctx, actor, issuance.Design{Name: "Solo", Kind: issuance.Certificate, Title: "Certificate"})
	if err != nil {
		t.Fatal(err)
	}
	a2 := mustGroup(t, s, func(g *issuance.Group) { g.Name = "Second of A's"; g.DesignID = solo.ID })

	used, err := s.DesignsUsedOutside(ctx, []int64{a.ID, a2.ID})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[int64]int{def.ID: 1}, used); diff != "" {
		t.Errorf("designs used outside A, A2 (-want +got):\n%s", diff)
	}
	if used, _ := s.DesignsUsedOutside(ctx, nil); len(used) != 0 {
		t.Errorf("unlimited caller: %v, want no read-only design", used)
	}

	before := tableCounts(t, d)
	changed := def
	changed.Name, changed.Title = "Hijacked", "Changed"
	_, err = s.UpdateDesign(ctx, actor, []int64{a.ID, a2.ID}, changed)
	mustCode(t, err, apperr.Forbidden)
	assertUnchanged(t, d, before)
	if got, _ := s.Design(ctx, def.ID); got.Name != def.Name || got.Title != def.Title || !got.UpdatedAt.Equal(def.UpdatedAt) {
		t.Fatalf("refused update changed the design: %+v", got)
	}
	// Forbidden comes before validation: an invalid change is still 403.
	_, err = s.UpdateDesign(ctx, actor, []int64{a.ID}, issuance.Design{ID: def.ID})
	mustCode(t, err, apperr.Forbidden)

	solo.Name = "Solo v2"
	if _, err := s.UpdateDesign(ctx, actor, []int64{a.ID, a2.ID}, solo); err != nil {
		t.Fatalf("design used only inside the limit: %v", err)
	}
	// Limited to B only, "Solo" (used by A2) is read-only in turn.
	_, err = s.UpdateDesign(ctx, actor, []int64{b.ID}, solo)
	mustCode(t, err, apperr.Forbidden)
	if _, err := s.UpdateDesign(ctx, actor, nil, changed); err != nil {
		t.Fatalf("unlimited caller: %v", err)
	}
}
