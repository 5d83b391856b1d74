package accounts_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
)

// A team member's token limited to groups carries the same limit as a
// limited account (Principal.Groups), so every check of p.Groups applies to
// it; other roles cannot be limited and unknown groups are refused.
func TestTokenGroupLimit(t *testing.T) {
	e := mustEnv(t, "http://laurel.test")
	ctx := context.Background()
	var design, ga, gb int64
	if err := e.DB.Get(&design, `INSERT INTO designs (name, kind, title) VALUES ('Classic', 'certificate', 'Certificate') RETURNING id`); err != nil {
		t.Fatal(err)
	}
	for _, g := range []*int64{&ga, &gb} {
		if err := e.DB.Get(g, `INSERT INTO groups (name, course_name, design_id) VALUES ('G', 'C', $1) RETURNING id`, design); err != nil {
			t.Fatal(err)
		}
	}

	limited, err := e.Acc.CreateToken(ctx, "registrar", auth.TeamMember, ga)
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.Acc.TokenPrincipal(ctx, limited)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{ga}, p.Groups); diff != "" {
		t.Fatalf("limited token's groups (-want +got):\n%s", diff)
	}
	if !p.CanGroup(auth.CreateCredentials, ga) || p.CanGroup(auth.CreateCredentials, gb) || p.CanGroup(auth.ViewCredentials, gb) {
		t.Errorf("limited token: group A %v, group B %v", p.CanGroup(auth.CreateCredentials, ga), p.CanGroup(auth.ViewCredentials, gb))
	}

	// Without groups a team member's token acts on every group, as before.
	open, err := e.Acc.CreateToken(ctx, "all groups", auth.TeamMember)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := e.Acc.TokenPrincipal(ctx, open); err != nil || p.Groups != nil {
		t.Fatalf("unlimited token: %+v, %v", p, err)
	}

	var before int
	e.DB.Get(&before, `SELECT count(*) FROM api_tokens`)
	for _, tc := range []struct {
		role   auth.Role
		groups []int64
	}{
		{auth.Admin, []int64{ga}},
		{auth.Viewer, []int64{gb}},
		{auth.TeamMember, []int64{ga, 999999}},
	} {
		_, err := e.Acc.CreateToken(ctx, "refused", tc.role, tc.groups...)
		if !apperr.Is(err, apperr.Invalid) || len(apperr.FieldErrors(err)) == 0 || apperr.FieldErrors(err)[0].Field != "groups" {
			t.Errorf("token %s limited to %v: %v, want an invalid groups field", tc.role, tc.groups, err)
		}
	}
	var after, links int
	e.DB.Get(&after, `SELECT count(*) FROM api_tokens`)
	e.DB.Get(&links, `SELECT count(*) FROM api_token_groups`)
	if after != before || links != 1 {
		t.Fatalf("refused tokens left rows: %d tokens (was %d), %d group links (want 1)", after, before, links)
	}
	// A group a token is limited to cannot be deleted from under it (which
	// would silently widen the token to every group).
	if _, err := e.DB.Exec(`DELETE FROM groups WHERE id = $1`, ga); err == nil {
		t.Fatal("deleted a group a token is limited to")
	}
}
