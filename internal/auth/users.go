package auth

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
	"github.com/laurel-edu/laurel/internal/db"
)

// User is a staff account.
type User struct {
	ID       int64
	Email    string
	Name     string
	Role     Role
	Groups   []int64 // a team member's group limit; empty means every group
	Disabled bool
	Created  time.Time
}

// MinPasswordLen is the shortest password CreateUser accepts.
const MinPasswordLen = 10

type userRow struct {
	ID           int64         `db:"id"`
	Email        string        `db:"email"`
	Name         string        `db:"name"`
	Role         string        `db:"role"`
	PasswordHash string        `db:"password_hash"`
	Disabled     bool          `db:"disabled"`
	CreatedAt    time.Time     `db:"created_at"`
	Groups       pq.Int64Array `db:"groups"`
}

func (r userRow) user() User {
	u := User{ID: r.ID, Email: r.Email, Name: r.Name, Role: Role(r.Role), Disabled: r.Disabled, Created: r.CreatedAt}
	if len(r.Groups) > 0 {
		u.Groups = []int64(r.Groups)
	}
	return u
}

// principal turns the user into the principal its requests act as.
func (u User) principal() *Principal {
	p := &Principal{UserID: u.ID, Name: u.Name, Email: u.Email, Role: u.Role}
	// Only team members are limited to groups; other roles see everything
	// whatever rows user_groups holds.
	if u.Role == TeamMember && len(u.Groups) > 0 {
		p.Groups = u.Groups
	}
	return p
}

// checkGroupLimit is the rule for limiting an account or a token to groups:
// only a team member can be limited.
func checkGroupLimit(role Role, groups []int64) (apperr.FieldError, bool) {
	if len(groups) > 0 && role != TeamMember {
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

// CreateUser creates a staff account. With an empty password it generates
// one and returns it (shown once); otherwise the second result is "". groups
// limits a team member to those groups. Errors: Invalid (bad email, name,
// role, short password, unknown group), Conflict (email taken).
func (a *Auth) CreateUser(ctx context.Context, email, name string, role Role, groups []int64, password string) (User, string, error) {
	email = strings.TrimSpace(email)
	name = strings.TrimSpace(name)
	var fields []apperr.FieldError
	if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email {
		fields = append(fields, apperr.FieldError{Index: -1, Field: "email", Message: fmt.Sprintf("%q is not an email address", email)})
	}
	if name == "" {
		fields = append(fields, apperr.FieldError{Index: -1, Field: "name", Message: "name is required"})
	}
	if _, err := ParseRole(string(role)); err != nil {
		fields = append(fields, apperr.FieldError{Index: -1, Field: "role", Message: apperr.Message(err)})
	}
	if fe, bad := checkGroupLimit(role, groups); bad {
		fields = append(fields, fe)
	}
	generated := ""
	if password == "" {
		generated = generatePassword()
		password = generated
	} else if len([]rune(password)) < MinPasswordLen {
		fields = append(fields, apperr.FieldError{Index: -1, Field: "password", Message: fmt.Sprintf("password must be at least %d characters", MinPasswordLen)})
	}
	if len(fields) > 0 {
		return User{}, "", apperr.Fields(fields[0].Field+": "+fields[0].Message, fields)
	}
	hash := hashPassword(password)
	var u User
	err := db.InTx(ctx, a.db, func(tx *sqlx.Tx) error {
		const q = `INSERT INTO users (email, name, role, password_hash) VALUES ($1, $2, $3, $4)
			RETURNING id, email, name, role, password_hash, disabled, created_at, '{}'::bigint[] AS groups`
		var r userRow
		if err := tx.GetContext(ctx, &r, q, email, name, string(role), hash); err != nil {
			if _, ok := db.IsUniqueViolation(err); ok {
				return apperr.Errorf(apperr.Conflict, "A user with email %s already exists.", email)
			}
			return fmt.Errorf("create user %s: %w", email, err)
		}
		const qg = `INSERT INTO user_groups (user_id, group_id) SELECT $1, g FROM unnest($2::bigint[]) AS g`
		if len(groups) > 0 {
			if _, err := tx.ExecContext(ctx, qg, r.ID, pq.Array(groups)); err != nil {
				return groupLimitError(err, groups, fmt.Sprintf("limit user %d", r.ID))
			}
			r.Groups = groups
		}
		u = r.user()
		return nil
	})
	if err != nil {
		return User{}, "", err
	}
	return u, generated, nil
}

const userColumns = `u.id, u.email, u.name, u.role, u.password_hash, u.disabled, u.created_at,
	COALESCE((SELECT array_agg(g.group_id ORDER BY g.group_id) FROM user_groups g WHERE g.user_id = u.id), '{}') AS groups`

// Authenticate checks an email and password. A wrong email, a wrong password
// and a disabled account all return the same Unauthorized error, so the
// answer reveals nothing about which accounts exist.
func (a *Auth) Authenticate(ctx context.Context, email, password string) (User, error) {
	const q = `SELECT ` + userColumns + ` FROM users u WHERE lower(u.email) = lower($1)`
	var r userRow
	err := a.db.GetContext(ctx, &r, q, strings.TrimSpace(email))
	wrong := apperr.Errorf(apperr.Unauthorized, "The email or password is wrong.")
	if errors.Is(err, sql.ErrNoRows) {
		_, _ = checkPassword(dummyHash, password)
		return User{}, wrong
	}
	if err != nil {
		return User{}, fmt.Errorf("authenticate %s: %w", email, err)
	}
	ok, err := checkPassword(r.PasswordHash, password)
	if err != nil {
		return User{}, fmt.Errorf("authenticate user %d: %w", r.ID, err)
	}
	if !ok || r.Disabled {
		return User{}, wrong
	}
	return r.user(), nil
}

// User loads a user by id. Errors: NotFound.
func (a *Auth) User(ctx context.Context, id int64) (User, error) {
	const q = `SELECT ` + userColumns + ` FROM users u WHERE u.id = $1`
	var r userRow
	err := a.db.GetContext(ctx, &r, q, id)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, apperr.Errorf(apperr.NotFound, "No user %d.", id)
	}
	if err != nil {
		return User{}, fmt.Errorf("load user %d: %w", id, err)
	}
	return r.user(), nil
}

// Principal loads the principal of an enabled user. Errors: NotFound for an
// unknown user, Unauthorized for a disabled one.
func (a *Auth) Principal(ctx context.Context, userID int64) (*Principal, error) {
	u, err := a.User(ctx, userID)
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, apperr.Errorf(apperr.Unauthorized, "Your account is disabled.")
	}
	return u.principal(), nil
}

// Users lists every staff account by email.
func (a *Auth) Users(ctx context.Context) ([]User, error) {
	const q = `SELECT ` + userColumns + ` FROM users u ORDER BY lower(u.email)`
	var rows []userRow
	if err := a.db.SelectContext(ctx, &rows, q); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	out := make([]User, len(rows))
	for i, r := range rows {
		out[i] = r.user()
	}
	return out, nil
}

// SetDisabled disables or re-enables an account; a disabled user's sessions
// stop working on their next request. Errors: NotFound.
func (a *Auth) SetDisabled(ctx context.Context, id int64, disabled bool) error {
	const q = `UPDATE users SET disabled = $2, updated_at = now() WHERE id = $1`
	res, err := a.db.ExecContext(ctx, q, id, disabled)
	if err != nil {
		return fmt.Errorf("set user %d disabled=%t: %w", id, disabled, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return apperr.Errorf(apperr.NotFound, "No user %d.", id)
	}
	return nil
}
