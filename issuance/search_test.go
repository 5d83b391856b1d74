package issuance_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/laurel-edu/laurel/internal/accounts"
	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/issuance"
)

// The lists' search and filters: a substring of the name or email in any
// case, one source, an issue-date range, together and across pages; LIKE's
// wildcards are literal; a bad filter names its field.
func TestCredentialsSearchAndFilter(t *testing.T) {
	s, d := mustService(t)
	ctx := context.Background()
	g := mustGroup(t, s, nil)
	other := mustGroup(t, s, nil)
	with := func(name, email, issued string) issuance.NewCredential {
		it := item(name, email)
		it.IssuedOn = issued
		return it
	}
	mustCreate(t, s, g.ID, with("Ada Lovelace", "ada@math.example", "2026-01-10"), with("Alan Turing", "alan@cs.example", "2026-03-01"),
		with("Grace Hopper", "grace_h@navy.example", "2026-05-20"), with("Ada Byron", "byron@poets.example", "2026-06-30"))
	if _, err := s.CreateCredentials(ctx, actor, g.ID, issuance.FromCSV, []issuance.NewCredential{with("Edsger Dijkstra", "ewd@cs.example", "2026-02-02")}); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, other.ID, with("Ada Other", "ada@other.example", "2026-01-10"))

	names := func(opt issuance.ListOptions) []string {
		t.Helper()
		cs, _, err := s.Credentials(ctx, g.ID, opt)
		if err != nil {
			t.Fatalf("%+v: %v", opt, err)
		}
		var out []string
		for _, c := range cs {
			out = append(out, c.Recipient.Name)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		opt  issuance.ListOptions
		want []string
	}{
		{"name, any case", issuance.ListOptions{Query: "ADA"}, []string{"Ada Byron", "Ada Lovelace"}},
		{"email part", issuance.ListOptions{Query: "cs.example"}, []string{"Edsger Dijkstra", "Alan Turing"}},
		{"surname inside", issuance.ListOptions{Query: "hopp"}, []string{"Grace Hopper"}},
		{"underscore is literal", issuance.ListOptions{Query: "e_h"}, []string{"Grace Hopper"}},
		{"percent is literal", issuance.ListOptions{Query: "a%e"}, nil},
		{"source", issuance.ListOptions{Source: issuance.FromCSV}, []string{"Edsger Dijkstra"}},
		{"source and query", issuance.ListOptions{Source: issuance.FromForm, Query: "cs.example"}, []string{"Alan Turing"}},
		{"from", issuance.ListOptions{IssuedFrom: "2026-05-20"}, []string{"Ada Byron", "Grace Hopper"}},
		{"range", issuance.ListOptions{IssuedFrom: "2026-02-01", IssuedTo: "2026-03-01"}, []string{"Edsger Dijkstra", "Alan Turing"}},
		{"state", issuance.ListOptions{State: issuance.Published, Query: "ada"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, names(tc.opt)); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}

	// Pages keep the filter: two matches, one per page.
	p1, next, err := s.Credentials(ctx, g.ID, issuance.ListOptions{Query: "ada", Limit: 1})
	if err != nil || len(p1) != 1 || next == "" {
		t.Fatalf("page 1: %v %d %q", err, len(p1), next)
	}
	p2, next2, err := s.Credentials(ctx, g.ID, issuance.ListOptions{Query: "ada", Limit: 1, Cursor: next})
	if err != nil || len(p2) != 1 || p2[0].Recipient.Name != "Ada Lovelace" || next2 != "" {
		t.Fatalf("page 2: %v %+v %q", err, p2, next2)
	}

	for _, tc := range []struct {
		opt   issuance.ListOptions
		field string
	}{
		{issuance.ListOptions{Source: "carrier-pigeon"}, "source"},
		{issuance.ListOptions{IssuedFrom: "2026-13-01"}, "issued_from"},
		{issuance.ListOptions{IssuedTo: "yesterday"}, "issued_to"},
		{issuance.ListOptions{IssuedFrom: "2026-06-01", IssuedTo: "2026-05-01"}, "issued_to"},
		{issuance.ListOptions{Query: strings.Repeat("a", 201)}, "q"},
		{issuance.ListOptions{State: "lost"}, "state"},
		{issuance.ListOptions{Query: " ad "}, "q"},
		{issuance.ListOptions{Query: "é"}, "q"}, // one Latin letter, accent or not, would read every credential
	} {
		_, _, err := s.Credentials(ctx, g.ID, tc.opt)
		fe := apperr.FieldErrors(err)
		if !apperr.Is(err, apperr.Invalid) || len(fe) != 1 || fe[0].Field != tc.field {
			t.Errorf("%+v: %v %+v, want a problem with %s", tc.opt, err, fe, tc.field)
		}
	}
	_ = d
}

// Only an unpublished credential can be deleted; the deletion is audited
// with what was deleted, and a refusal changes nothing.
func TestDeleteUnpublished(t *testing.T) {
	s, d := mustService(t)
	ctx := context.Background()
	g := mustGroup(t, s, nil)
	cs := mustCreate(t, s, g.ID, item("Ada Lovelace", "ada@example.edu"), item("Alan Turing", "alan@example.edu"))
	if _, err := s.Publish(ctx, actor, issuance.Selection{IDs: []string{cs[1].ID}}); err != nil {
		t.Fatal(err)
	}
	before := tableCounts(t, d)
	if _, err := s.DeleteUnpublished(ctx, actor, cs[1].ID); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("deleting a published credential: %v, want conflict", err)
	}
	if _, err := s.DeleteUnpublished(ctx, actor, "nosuchcredential"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("deleting an unknown credential: %v", err)
	}
	if diff := cmp.Diff(before, tableCounts(t, d)); diff != "" {
		t.Fatalf("refused deletes changed the database:\n%s", diff)
	}
	got, err := s.DeleteUnpublished(ctx, actor, cs[0].ID)
	if err != nil || got.Recipient.Name != "Ada Lovelace" {
		t.Fatalf("delete: %v %+v", err, got)
	}
	if _, err := s.Credential(ctx, cs[0].ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("deleted credential still there: %v", err)
	}
	h, err := s.History(ctx, cs[0].ID)
	if err != nil || len(h) != 2 || h[1].Action != "delete" || h[1].Actor != actor || h[1].After != nil || len(h[1].Before) == 0 {
		t.Fatalf("history %v %+v", err, h)
	}
	// Its recipient may be given a new credential in the group.
	mustCreate(t, s, g.ID, item("Ada Lovelace", "ada@example.edu"))
}

// History names who acted as they are now: the staff member's name (an
// account renamed since shows its new name), the token's name.
func TestHistoryNamesActors(t *testing.T) {
	s, d := mustService(t)
	s.Actors = accounts.New(d, nil) // the owner of staff and tokens names them
	ctx := context.Background()
	var uid, tid int64
	if err := d.Get(&uid, `INSERT INTO users (email, name, role, password_hash) VALUES ('olive@example.edu', 'Olive', 'owner', 'x') RETURNING id`); err != nil {
		t.Fatal(err)
	}
	if err := d.Get(&tid, `INSERT INTO api_tokens (name, role, token_hash) VALUES ('nightly import', 'admin', '\x01') RETURNING id`); err != nil {
		t.Fatal(err)
	}
	g := mustGroup(t, s, nil)
	it := item("Ada Lovelace", "ada@example.edu")
	cs, err := s.CreateCredentials(ctx, fmt.Sprintf("token:%d:nightly", tid), g.ID, issuance.FromAPI, []issuance.NewCredential{it})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AmendCredential(ctx, fmt.Sprintf("user:%d:olive@example.edu", uid), cs[0].ID, issuance.Amendment{Name: strp("Ada King")}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(`UPDATE users SET name = 'Olive Owner' WHERE id = $1`, uid); err != nil {
		t.Fatal(err)
	}
	h, err := s.History(ctx, cs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	var who []string
	for _, e := range h {
		who = append(who, e.Who)
	}
	if diff := cmp.Diff([]string{"API token “nightly import”", "Olive Owner"}, who); diff != "" {
		t.Errorf("who (-want +got)\n%s", diff)
	}
}

// The JSON API lists with the same search and filters; a bad one is a 422
// naming its field.
func TestAPICredentialSearch(t *testing.T) {
	s, _ := mustService(t)
	g := mustGroup(t, s, nil)
	mustCreate(t, s, g.ID, item("Ada Lovelace", "ada@example.edu"), item("Alan Turing", "alan@example.edu"))
	srv := apiServer(t, s, map[string]*auth.Principal{"viewer": {TokenID: 2, Name: "ro", Role: auth.Viewer}})
	api := apiClient{T: t, URL: srv.URL}
	path := "/groups/" + itoa(int(g.ID)) + "/credentials"
	code, body := api.Do("viewer", "GET", path+"?q=lovelace&source=form&issued_from=2026-06-30", nil)
	if cs, _ := body["credentials"].([]any); code != 200 || len(cs) != 1 || cs[0].(map[string]any)["recipient"].(map[string]any)["name"] != "Ada Lovelace" {
		t.Fatalf("search: %d %v", code, body)
	}
	code, body = api.Do("viewer", "GET", path+"?source=fax", nil)
	if errs, _ := body["errors"].([]any); code != 422 || len(errs) != 1 || errs[0].(map[string]any)["field"] != "source" {
		t.Fatalf("bad source: %d %v", code, body)
	}
}
