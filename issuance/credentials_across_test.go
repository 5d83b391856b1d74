package issuance_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/issuance"
)

// The list across groups: only the groups in scope, every filter, each
// order page by page (no credential twice or missing), and the export
// walking the same rows in batches.
func TestCredentialsAcross(t *testing.T) {
	s, _ := mustService(t)
	ctx := context.Background()
	a, b, hidden := mustGroup(t, s, nil), mustGroup(t, s, nil), mustGroup(t, s, nil)
	with := func(name, email, issued, expires string) issuance.NewCredential {
		it := item(name, email)
		it.IssuedOn, it.ExpiresOn = issued, expires
		return it
	}
	ca := mustCreate(t, s, a.ID, with("Zofia Wiśniewska", "zofia@example.pl", "2026-01-10", "2027-01-10"),
		with("ada Lovelace", "ada@example.edu", "2026-03-01", ""))
	cb := mustCreate(t, s, b.ID, with("Dmitri Соколов", "dmitri@example.ru", "2026-02-01", "2026-12-31"),
		with("Émile Zola", "emile@example.fr", "2026-05-05", "2028-05-05"))
	mustCreate(t, s, hidden.ID, with("Hidden Person", "hidden@example.edu", "2026-01-01", ""))
	if _, err := s.Publish(ctx, actor, issuance.Selection{IDs: []string{cb[1].ID}}); err != nil {
		t.Fatal(err)
	}
	scope := []int64{a.ID, b.ID}

	names := func(opt issuance.AcrossOptions) []string {
		t.Helper()
		var out []string
		for {
			cs, next, err := s.CredentialsAcross(ctx, opt)
			if err != nil {
				t.Fatalf("%+v: %v", opt, err)
			}
			for _, c := range cs {
				out = append(out, c.Recipient.Name)
			}
			if next == "" {
				return out
			}
			opt.Cursor = next
		}
	}
	all := []string{"Émile Zola", "Dmitri Соколов", "ada Lovelace", "Zofia Wiśniewska"}
	for _, tc := range []struct {
		name string
		opt  issuance.AcrossOptions
		want []string
	}{
		{"scope, newest first", issuance.AcrossOptions{Groups: scope}, all},
		{"no scope is every group", issuance.AcrossOptions{}, append([]string{"Hidden Person"}, all...)},
		{"empty scope is nothing", issuance.AcrossOptions{Groups: []int64{}}, nil},
		{"oldest", issuance.AcrossOptions{Groups: scope, Sort: issuance.SortOldest}, []string{"Zofia Wiśniewska", "ada Lovelace", "Dmitri Соколов", "Émile Zola"}},
		{"name, case and accents ignored", issuance.AcrossOptions{Groups: scope, Sort: issuance.SortName}, []string{"ada Lovelace", "Dmitri Соколов", "Émile Zola", "Zofia Wiśniewska"}},
		{"name descending", issuance.AcrossOptions{Groups: scope, Sort: issuance.SortNameDesc}, []string{"Zofia Wiśniewska", "Émile Zola", "Dmitri Соколов", "ada Lovelace"}},
		{"issued", issuance.AcrossOptions{Groups: scope, Sort: issuance.SortIssued}, []string{"Zofia Wiśniewska", "Dmitri Соколов", "ada Lovelace", "Émile Zola"}},
		{"issued descending", issuance.AcrossOptions{Groups: scope, Sort: issuance.SortIssuedDesc}, []string{"Émile Zola", "ada Lovelace", "Dmitri Соколов", "Zofia Wiśniewska"}},
		{"one group", issuance.AcrossOptions{Groups: scope, GroupID: b.ID}, []string{"Émile Zola", "Dmitri Соколов"}},
		{"a group out of scope", issuance.AcrossOptions{Groups: scope, GroupID: hidden.ID}, nil},
		{"state", issuance.AcrossOptions{Groups: scope, ListOptions: issuance.ListOptions{State: issuance.Published}}, []string{"Émile Zola"}},
		{"search", issuance.AcrossOptions{Groups: scope, ListOptions: issuance.ListOptions{Query: "wisniewska"}}, []string{"Zofia Wiśniewska"}},
		{"search by ID", issuance.AcrossOptions{Groups: scope, ListOptions: issuance.ListOptions{Query: ca[1].ID}}, []string{"ada Lovelace"}},
		{"issued range", issuance.AcrossOptions{Groups: scope, ListOptions: issuance.ListOptions{IssuedFrom: "2026-02-01", IssuedTo: "2026-03-01"}}, []string{"Dmitri Соколов", "ada Lovelace"}},
		{"expiry range", issuance.AcrossOptions{Groups: scope, ExpiresFrom: "2026-12-01", ExpiresTo: "2027-06-30"}, []string{"Dmitri Соколов", "Zofia Wiśniewska"}},
		{"expires from", issuance.AcrossOptions{Groups: scope, ExpiresFrom: "2028-01-01"}, []string{"Émile Zola"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, limit := range []int{0, 1, 3} { // one page, page by page, and pages of 3
				opt := tc.opt
				opt.Limit = limit
				if diff := cmp.Diff(tc.want, names(opt)); diff != "" {
					t.Errorf("limit %d (-want +got)\n%s", limit, diff)
				}
			}
			var each []string
			if err := s.EachCredentialAcross(ctx, tc.opt, func(c issuance.Credential) error {
				each = append(each, c.Recipient.Name)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, each); diff != "" {
				t.Errorf("export (-want +got)\n%s", diff)
			}
		})
	}

	// The export stops at the writer's error and returns it.
	stop := errors.New("client went away")
	n := 0
	if err := s.EachCredentialAcross(ctx, issuance.AcrossOptions{Groups: scope}, func(issuance.Credential) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Fatalf("export error: %v after %d", err, n)
	}

	// A bad filter names its field; a cursor of another order is refused.
	for _, tc := range []struct {
		opt   issuance.AcrossOptions
		field string
	}{
		{issuance.AcrossOptions{Sort: "cheapest"}, "sort"},
		{issuance.AcrossOptions{ExpiresFrom: "soon"}, "expires_from"},
		{issuance.AcrossOptions{ExpiresFrom: "2027-01-01", ExpiresTo: "2026-01-01"}, "expires_to"},
		{issuance.AcrossOptions{ListOptions: issuance.ListOptions{Source: "fax"}}, "source"},
		{issuance.AcrossOptions{ListOptions: issuance.ListOptions{Query: "ab"}}, "q"},
	} {
		_, _, err := s.CredentialsAcross(ctx, tc.opt)
		if fe := apperr.FieldErrors(err); !apperr.Is(err, apperr.Invalid) || len(fe) != 1 || fe[0].Field != tc.field {
			t.Errorf("%+v: %v %+v, want a problem with %s", tc.opt, err, fe, tc.field)
		}
	}
	_, next, err := s.CredentialsAcross(ctx, issuance.AcrossOptions{Groups: scope, Sort: issuance.SortName, ListOptions: issuance.ListOptions{Limit: 1}})
	if err != nil || next == "" {
		t.Fatal(err, next)
	}
	_, _, err = s.CredentialsAcross(ctx, issuance.AcrossOptions{Groups: scope, Sort: issuance.SortIssued, ListOptions: issuance.ListOptions{Cursor: next}})
	if fe := apperr.FieldErrors(err); len(fe) != 1 || fe[0].Field != "cursor" {
		t.Errorf("cursor of another order: %v", err)
	}
}
