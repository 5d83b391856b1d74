package accounts_test

import (
	"context"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/accounts"
	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
)

func TestCreateUser(t *testing.T) {
	e := mustEnv(t, "http://laurel.test")
	ctx := context.Background()
	u, pw, err := e.Acc.CreateUser(ctx, "grace@example.edu", "Grace", auth.TeamMember, nil, "")
	if err != nil || len(pw) < 16 || u.ID == 0 {
		t.Fatalf("generated password: %v %q", err, pw)
	}
	if _, err := e.Acc.Authenticate(ctx, "grace@example.edu", pw); err != nil {
		t.Fatalf("generated password does not work: %v", err)
	}
	var hash string
	if err := e.DB.Get(&hash, `SELECT password_hash FROM users WHERE id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(hash, pw) {
		t.Errorf("stored hash %q is not an argon2id PHC string", hash)
	}
	if _, err := e.Acc.Authenticate(ctx, "grace@example.edu", pw+"x"); !apperr.Is(err, apperr.Unauthorized) {
		t.Errorf("wrong password: %v", err)
	}
	if _, _, err := e.Acc.CreateUser(ctx, "Grace@Example.edu", "G2", auth.Viewer, nil, ""); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("duplicate email: %v", err)
	}
	for name, tc := range map[string]struct {
		email, name string
		role        auth.Role
		groups      []int64
		pw          string
		field       string
	}{
		"bad email":     {"not-an-email", "X", auth.Viewer, nil, "", "email"},
		"no name":       {"x@example.edu", " ", auth.Viewer, nil, "", "name"},
		"bad role":      {"x@example.edu", "X", "boss", nil, "", "role"},
		"short pw":      {"x@example.edu", "X", auth.Viewer, nil, "short", "password"},
		"common pw":     {"x@example.edu", "X", auth.Viewer, nil, "QwertyUIOP", "password"},
		"groups admin":  {"x@example.edu", "X", auth.Admin, []int64{1}, "", "groups"},
		"unknown group": {"x@example.edu", "X", auth.TeamMember, []int64{999}, "", "groups"},
	} {
		_, _, err := e.Acc.CreateUser(ctx, tc.email, tc.name, tc.role, tc.groups, tc.pw)
		fe := apperr.FieldErrors(err)
		if !apperr.Is(err, apperr.Invalid) || len(fe) == 0 || fe[0].Field != tc.field {
			t.Errorf("%s: %v %+v", name, err, fe)
		}
	}
	users, err := e.Acc.Users(ctx)
	if err != nil || len(users) != 1 {
		t.Fatalf("users after failures: %v %+v", err, users)
	}
}

// The shipped list is the whole top 100,000, looked up ignoring case; a
// long password off the list passes.
func TestCommonPasswordList(t *testing.T) {
	e := mustEnv(t, "http://laurel.test")
	ctx := context.Background()
	if n := strings.Count(strings.TrimSpace(accounts.CommonPasswordsText()), "\n") + 1; n != accounts.CommonPasswordCount || n < 10000 {
		t.Fatalf("list has %d lines, want %d (at least 10,000)", n, accounts.CommonPasswordCount)
	}
	for _, pw := range []string{"password123", "PASSWORD123", "1234567890", "qwertyuiop", "iloveyou12"} {
		_, _, err := e.Acc.CreateUser(ctx, "c@example.edu", "C", auth.Viewer, nil, pw)
		if fe := apperr.FieldErrors(err); len(fe) == 0 || !strings.Contains(fe[0].Message, "most common passwords") {
			t.Errorf("%q: %v, want refused as common", pw, err)
		}
	}
	if _, _, err := e.Acc.CreateUser(ctx, "c@example.edu", "C", auth.Viewer, nil, "heron lantern quietly"); err != nil {
		t.Errorf("uncommon password refused: %v", err)
	}
}

// A launch links the staff account whose email it carries: at once after
// the account is made (the cached set of staff emails is cleared), never a
// disabled one, and no account for an email nobody has.
func TestStaffIDByEmail(t *testing.T) {
	e := mustEnv(t, "http://laurel.test")
	ctx := context.Background()
	id := func(email string) int64 {
		t.Helper()
		n, err := e.Acc.StaffIDByEmail(ctx, email)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if got := id("ada@example.edu"); got != 0 {
		t.Fatalf("before the account exists: %d", got)
	}
	u, _, err := e.Acc.CreateUser(ctx, "ada@example.edu", "Ada", auth.TeamMember, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := id("ADA@Example.edu"); got != u.ID {
		t.Fatalf("right after it is made: %d, want %d", got, u.ID)
	}
	if _, err := e.Acc.SetUserDisabled(ctx, "system", u.ID, true); err != nil {
		t.Fatal(err)
	}
	if got := id("ada@example.edu"); got != 0 {
		t.Fatalf("disabled account linked: %d", got)
	}
	if _, err := e.Acc.SetUserDisabled(ctx, "system", u.ID, false); err != nil {
		t.Fatal(err)
	}
	if got := id("ada@example.edu"); got != u.ID {
		t.Fatalf("enabled again: %d, want %d", got, u.ID)
	}
	if got := id("nobody@example.edu"); got != 0 {
		t.Fatalf("unknown email: %d", got)
	}
}
