package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/audit"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/db"
)

// User is a staff account.
type User struct {
	ID       int64
	Email    string
	Name     string
	Role     auth.Role
	Groups   []int64 // a team member's group limit; empty means every group
	Disabled bool
	// InvitationPending is true from an invitation until its link is used:
	// the account has no usable password yet.
	InvitationPending bool
	Created           time.Time
	// epoch is the session epoch: a session signed in under another one
	// has ended (see auth.Auth.Load).
	epoch int
}

// minPasswordLen is the shortest password CreateUser accepts.
const minPasswordLen = 10

type userRow struct {
	ID           int64         `db:"id"`
	Email        string        `db:"email"`
	Name         string        `db:"name"`
	Role         string        `db:"role"`
	PasswordHash string        `db:"password_hash"`
	Disabled     bool          `db:"disabled"`
	CreatedAt    time.Time     `db:"created_at"`
	Groups       pq.Int64Array `db:"groups"`
	Pending      bool          `db:"invitation_pending"`
	Epoch        int           `db:"session_epoch"`
}

func (r userRow) user() User {
	u := User{ID: r.ID, Email: r.Email, Name: r.Name, Role: auth.Role(r.Role), Disabled: r.Disabled,
		InvitationPending: r.Pending, Created: r.CreatedAt, epoch: r.Epoch}
	if len(r.Groups) > 0 {
		u.Groups = []int64(r.Groups)
	}
	return u
}

// principal turns the user into the principal its requests act as.
func (u User) principal() *auth.Principal {
	p := &auth.Principal{UserID: u.ID, Name: u.Name, Email: u.Email, Role: u.Role}
	// Only team members are limited to groups; other roles see everything
	// whatever rows user_groups holds.
	if u.Role == auth.TeamMember && len(u.Groups) > 0 {
		p.Groups = u.Groups
	}
	return p
}

// checkGroupLimit is the rule for limiting an account or a token to groups:
// only a team member can be limited.
func checkGroupLimit(role auth.Role, groups []int64) (apperr.FieldError, bool) {
	if len(groups) > 0 && role != auth.TeamMember {
		return apperr.FieldError{Index: -1, Field: "groups", Message: "only a team member can be limited to groups"}, true
	}
	return apperr.FieldError{}, false
}

// groupLimitError maps a failed insert of a group limit: an unknown group
// (23503) is the caller's mistake, anything else is internal.
func groupLimitError(err error, groups []int64, what string) error {
	var pqe *pq.Error
	if errors.As(err, &pqe) && pqe.Code == "23503" {
		msg := fmt.Sprintf("one of the groups %v does not exist", groups)
		return apperr.Fields("groups: "+msg, []apperr.FieldError{{Index: -1, Field: "groups", Message: msg}})
	}
	return fmt.Errorf("%s to groups %v: %w", what, groups, err)
}

// limitUser limits account id to groups (sorted, without repeats), in tx.
// Errors: Invalid naming "groups" when one does not exist.
func limitUser(ctx context.Context, tx *sqlx.Tx, id int64, groups []int64) error {
	const q = `INSERT INTO user_groups (user_id, group_id) SELECT $1::bigint, g FROM unnest($2::bigint[]) AS g`
	if _, err := tx.ExecContext(ctx, q, id, pq.Array(groups)); err != nil {
		return groupLimitError(err, groups, fmt.Sprintf("limit user %d", id))
	}
	return nil
}

// CreateUser creates a staff account. With an empty password it generates
// one and returns it (shown once); otherwise the second result is "". groups
// limits a team member to those groups. The creation is audited as done by
// "system" (the command line, `laurel dev`). Errors: Invalid (bad email,
// name, role, short password, unknown group), Conflict (email taken).
func (s *Service) CreateUser(ctx context.Context, email, name string, role auth.Role, groups []int64, password string) (User, string, error) {
	email, name = strings.TrimSpace(email), strings.TrimSpace(name)
	fields := checkNewUser(email, name, role, groups)
	generated := ""
	if password == "" {
		generated = auth.GeneratePassword()
		password = generated
	} else if fe, bad := checkNewPassword("password", password); bad {
		fields = append(fields, fe)
	}
	if len(fields) > 0 {
		return User{}, "", apperr.Fields(fields[0].Field+": "+fields[0].Message, fields)
	}
	hash := auth.HashPassword(password)
	var u User
	err := db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		var err error
		if u, err = insertUser(ctx, tx, email, name, role, groups, hash, false); err != nil {
			return err
		}
		return audit.Record(ctx, tx, s.now(), "system", "create", "user", fmt.Sprint(u.ID), nil, auditUser(u))
	})
	if err != nil {
		return User{}, "", err
	}
	s.staffEmails.Invalidate()
	return u, generated, nil
}

// checkNewUser validates a new account's fields.
func checkNewUser(email, name string, role auth.Role, groups []int64) []apperr.FieldError {
	var fields []apperr.FieldError
	if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email {
		fields = append(fields, apperr.FieldError{Index: -1, Field: "email", Message: fmt.Sprintf("%q is not an email address", email)})
	}
	if name == "" {
		fields = append(fields, apperr.FieldError{Index: -1, Field: "name", Message: "name is required"})
	} else if len([]rune(name)) > 200 {
		fields = append(fields, apperr.FieldError{Index: -1, Field: "name", Message: "name must be at most 200 characters"})
	}
	if _, err := auth.ParseRole(string(role)); err != nil {
		fields = append(fields, apperr.FieldError{Index: -1, Field: "role", Message: apperr.Message(err)})
	}
	if fe, bad := checkGroupLimit(role, groups); bad {
		fields = append(fields, fe)
	}
	return fields
}

// maxPasswordLen bounds a password, so hashing one costs a bounded time.
const maxPasswordLen = 1000

// checkNewPassword is the rule for a password someone chooses: at least
// MinPasswordLen characters, at most MaxPasswordLen, and not on the list of
// the most common passwords (common_passwords.go).
func checkNewPassword(field, password string) (apperr.FieldError, bool) {
	switch n := len([]rune(password)); {
	case n < minPasswordLen:
		return apperr.FieldError{Index: -1, Field: field, Message: fmt.Sprintf("password must be at least %d characters", minPasswordLen)}, true
	case n > maxPasswordLen:
		return apperr.FieldError{Index: -1, Field: field, Message: fmt.Sprintf("password must be at most %d characters", maxPasswordLen)}, true
	case isCommonPassword(password):
		return apperr.FieldError{Index: -1, Field: field, Message: "password is one of the 100,000 most common passwords of leaked password lists, which attackers try first; choose one that is not, e.g. a few unrelated words"}, true
	}
	return apperr.FieldError{}, false
}

// insertUser adds an account and its group limit in tx.
func insertUser(ctx context.Context, tx *sqlx.Tx, email, name string, role auth.Role, groups []int64, hash string, pending bool) (User, error) {
	const q = `INSERT INTO users (email, name, role, password_hash, invitation_pending) VALUES ($1, $2, $3, $4, $5)
		RETURNING id, email, name, role, password_hash, disabled, created_at, '{}'::bigint[] AS groups, invitation_pending, session_epoch`
	var r userRow
	if err := tx.GetContext(ctx, &r, q, email, name, string(role), hash, pending); err != nil {
		if _, ok := db.IsUniqueViolation(err); ok {
			return User{}, &apperr.Error{Code: apperr.Conflict, Message: fmt.Sprintf("A user with email %s already exists.", email),
				Fields: []apperr.FieldError{{Index: -1, Field: "email", Message: fmt.Sprintf("a user with email %s already exists", email)}}}
		}
		return User{}, fmt.Errorf("create user %s: %w", email, err)
	}
	if len(groups) > 0 {
		r.Groups = uniqueSorted(groups)
		if err := limitUser(ctx, tx, r.ID, r.Groups); err != nil {
			return User{}, err
		}
	}
	return r.user(), nil
}

// auditUser is what the audit log keeps of an account: never its password.
func auditUser(u User) map[string]any {
	groups := u.Groups
	if groups == nil {
		groups = []int64{}
	}
	return map[string]any{"email": u.Email, "name": u.Name, "role": u.Role, "groups": groups, "disabled": u.Disabled}
}

const userColumns = `u.id, u.email, u.name, u.role, u.password_hash, u.disabled, u.created_at, u.invitation_pending, u.session_epoch,
	COALESCE((SELECT array_agg(g.group_id ORDER BY g.group_id) FROM user_groups g WHERE g.user_id = u.id), '{}') AS groups`

// dummyHash is verified against when no account matches an email, so a
// wrong email takes as long as a wrong password and does not reveal which
// accounts exist.
var dummyHash = auth.HashPassword("laurel-no-such-user")

// Authenticate checks an email and password for sign-in (auth.Users). A
// wrong email, a wrong password, a disabled account and a pending
// invitation all return the same Unauthorized error, so the answer reveals
// nothing about which accounts exist.
func (s *Service) Authenticate(ctx context.Context, email, password string) (auth.Account, error) {
	const q = `SELECT ` + userColumns + ` FROM users u WHERE lower(u.email) = lower($1)`
	var r userRow
	err := s.db.GetContext(ctx, &r, q, strings.TrimSpace(email))
	wrong := apperr.Errorf(apperr.Unauthorized, "The email or password is wrong.")
	if errors.Is(err, sql.ErrNoRows) {
		_, _ = auth.CheckPassword(dummyHash, password)
		return auth.Account{}, wrong
	}
	if err != nil {
		return auth.Account{}, fmt.Errorf("authenticate %s: %w", email, err)
	}
	ok, err := auth.CheckPassword(r.PasswordHash, password)
	if err != nil {
		return auth.Account{}, fmt.Errorf("authenticate user %d: %w", r.ID, err)
	}
	if !ok || r.Disabled || r.Pending {
		return auth.Account{}, wrong
	}
	return auth.Account{UserID: r.ID, Epoch: r.Epoch}, nil
}

// user loads a user by id. Errors: NotFound.
func (s *Service) user(ctx context.Context, id int64) (User, error) {
	const q = `SELECT ` + userColumns + ` FROM users u WHERE u.id = $1`
	var r userRow
	err := s.db.GetContext(ctx, &r, q, id)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, apperr.Errorf(apperr.NotFound, "No user %d.", id)
	}
	if err != nil {
		return User{}, fmt.Errorf("load user %d: %w", id, err)
	}
	return r.user(), nil
}

// Principal loads the principal of an enabled user. Errors: NotFound for an
// unknown user, Unauthorized for a disabled one or one whose invitation is
// pending.
func (s *Service) Principal(ctx context.Context, userID int64) (*auth.Principal, error) {
	u, err := s.user(ctx, userID)
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, apperr.Errorf(apperr.Unauthorized, "Your account is disabled.")
	}
	if u.InvitationPending {
		return nil, apperr.Errorf(apperr.Unauthorized, "Your account is not activated yet: use the link in your invitation.")
	}
	return u.principal(), nil
}

// SessionPrincipal is Principal for a session signed in under epoch: a
// session from an older epoch (the account was disabled, or its password
// reset or changed, since) is Unauthorized like a disabled account.
// Errors: NotFound for an unknown user.
func (s *Service) SessionPrincipal(ctx context.Context, userID int64, epoch int) (*auth.Principal, error) {
	u, err := s.user(ctx, userID)
	if err != nil {
		return nil, err
	}
	if u.Disabled || u.InvitationPending || u.epoch != epoch {
		return nil, apperr.Errorf(apperr.Unauthorized, "Your session has ended; please sign in again.")
	}
	return u.principal(), nil
}

// Users lists every staff account by email.
func (s *Service) Users(ctx context.Context) ([]User, error) {
	const q = `SELECT ` + userColumns + ` FROM users u ORDER BY lower(u.email)`
	var rows []userRow
	if err := s.db.SelectContext(ctx, &rows, q); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	out := make([]User, len(rows))
	for i, r := range rows {
		out[i] = r.user()
	}
	return out, nil
}

// SetDisabled disables or re-enables an account as "system"; see
// setUserDisabled.
func (s *Service) SetDisabled(ctx context.Context, id int64, disabled bool) error {
	_, err := s.setUserDisabled(ctx, "system", id, disabled)
	return err
}
