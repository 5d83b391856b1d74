package issuance_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/laurel-edu/laurel/issuance"
)

// A recipient filter (the people of one LMS course) narrows lists, state
// counts, publish counts and publishes by external reference or email (in
// any case); nil narrows nothing, an empty one keeps nothing; Outside names
// the ids a selection may not touch.
func TestRecipientsNarrowListsCountsAndPublish(t *testing.T) {
	s, _ := mustService(t)
	ctx := context.Background()
	g := mustGroup(t, s, nil)
	other := mustGroup(t, s, nil)
	byRef := item("Ref Person", "ref.home@example.com")
	byRef.ExternalRef = "canvas:1:42"
	cs := mustCreate(t, s, g.ID, item("Ann In", "Ann@Course.example"), byRef, item("Stan Staff", "stan@staff.example"))
	ann, ref, stan := cs[0].ID, cs[1].ID, cs[2].ID
	away := mustCreate(t, s, other.ID, item("Ann In", "ann@course.example"))[0].ID
	people := issuance.NewRecipients([]string{"canvas:1:42", ""}, []string{"ANN@course.example", "nobody@example.edu"})

	list := func(r *issuance.Recipients) string {
		t.Helper()
		got, _, err := s.Credentials(ctx, g.ID, issuance.ListOptions{Recipients: r, State: issuance.Unpublished})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, c := range got {
			names = append(names, c.Recipient.Name)
			if !r.Has(c) {
				t.Fatalf("Has(%s) is false for a listed credential", c.ID)
			}
		}
		return fmt.Sprint(names)
	}
	if got := list(people); got != "[Ref Person Ann In]" {
		t.Fatalf("course list %s", got)
	}
	if got := list(nil); got != "[Stan Staff Ref Person Ann In]" {
		t.Fatalf("staff list %s", got)
	}
	if got := list(issuance.NewRecipients(nil, nil)); got != "[]" {
		t.Fatalf("nobody's list %s", got)
	}
	if n, err := s.CountStates(ctx, g.ID, people); err != nil || n != (issuance.StateCounts{Unpublished: 2}) {
		t.Fatalf("course counts %+v %v", n, err)
	}
	if n, err := s.CountStates(ctx, g.ID, nil); err != nil || n != (issuance.StateCounts{Unpublished: 3}) {
		t.Fatalf("staff counts %+v %v", n, err)
	}
	out, err := s.Outside(ctx, issuance.Selection{GroupID: g.ID, IDs: []string{ann, stan, away, "nope", ref}, Recipients: people})
	if err != nil || fmt.Sprint(out) != fmt.Sprint(sorted(stan, away, "nope")) {
		t.Fatalf("outside %v %v, want %v", out, err, sorted(stan, away, "nope"))
	}
	all := issuance.Selection{GroupID: g.ID, AllUnpublished: true, Recipients: people}
	if n, err := s.CountPublishable(ctx, all); err != nil || n != 2 {
		t.Fatalf("publishable %d %v", n, err)
	}
	if res, err := s.Publish(ctx, actor, issuance.Selection{GroupID: g.ID, IDs: []string{stan}, Recipients: people}); err != nil || res.Published != 0 {
		t.Fatalf("publish outside the recipients: %+v %v", res, err)
	}
	if res, err := s.Publish(ctx, actor, all); err != nil || res.Published != 2 {
		t.Fatalf("publish the recipients': %+v %v", res, err)
	}
	if n, err := s.CountStates(ctx, g.ID, nil); err != nil || n != (issuance.StateCounts{Unpublished: 1, Published: 2}) {
		t.Fatalf("staff counts after publishing %+v %v", n, err)
	}
}

func sorted(ids ...string) []string {
	slices.Sort(ids)
	return ids
}
