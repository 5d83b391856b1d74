package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/audit"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/secret"
)

// TokenPrefix starts every API token, so a leaked one is recognisable (and
// greppable by secret scanners).
const TokenPrefix = "lrl_"

// CreateToken creates an API token acting with role and returns its
// plaintext, which is shown once: only its MAC is stored. groups, when given,
// limit a team member's token to those groups exactly as user_groups limits
// an account (auth.Principal.Groups). The creation is audited as done by
// "system" (the command line), and the token belongs to no account. Errors:
// Invalid (no name, bad role, groups for a role other than team_member, an
// unknown group).
func (s *Service) CreateToken(ctx context.Context, name string, role auth.Role, groups ...int64) (string, error) {
	_, plain, err := s.createTokenBy(ctx, nil, name, role, groups)
	return plain, err
}

// Token is an API token as the tokens page lists it (never its secret).
type Token struct {
	ID         int64
	Name       string
	Role       auth.Role
	Groups     []int64 // a team member token's group limit; empty: every group
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
	// CreatedBy is the account that created the token (nil: the command
	// line, or a token older than the column); the token works only while
	// that account is enabled. CreatorName and CreatorEmail describe it.
	CreatedBy       *int64
	CreatorName     string
	CreatorEmail    string
	CreatorDisabled bool
}

// maxTokenName bounds a token's name.
const maxTokenName = 200

// createTokenBy is CreateToken on behalf of by (audited as "create" on
// entity "api_token"; nil is "system"); the token belongs to by's account,
// when by is a signed-in account, and stops when that account is disabled
// or deleted. It also returns the stored token.
func (s *Service) createTokenBy(ctx context.Context, by *auth.Principal, name string, role auth.Role, groups []int64) (Token, string, error) {
	actor := by.Actor()
	name = strings.TrimSpace(name)
	var fields []apperr.FieldError
	if name == "" {
		fields = append(fields, apperr.FieldError{Index: -1, Field: "name", Message: "a token needs a name"})
	} else if len([]rune(name)) > maxTokenName {
		fields = append(fields, apperr.FieldError{Index: -1, Field: "name", Message: fmt.Sprintf("a token's name must be at most %d characters", maxTokenName)})
	}
	if _, err := auth.ParseRole(string(role)); err != nil {
		fields = append(fields, apperr.FieldError{Index: -1, Field: "role", Message: apperr.Message(err)})
	}
	if fe, bad := checkGroupLimit(role, groups); bad {
		fields = append(fields, fe)
	}
	if len(fields) > 0 {
		return Token{}, "", apperr.Fields(fields[0].Field+": "+fields[0].Message, fields)
	}
	groups = uniqueSorted(groups)
	plain := TokenPrefix + secret.Token(32)
	t := Token{Name: name, Role: role, CreatedAt: s.now()}
	if len(groups) > 0 {
		t.Groups = groups
	}
	if by != nil && by.UserID != 0 {
		t.CreatedBy, t.CreatorName, t.CreatorEmail = &by.UserID, by.Name, by.Email
	}
	err := db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		const q = `INSERT INTO api_tokens (name, role, token_hash, created_at, created_by) VALUES ($1, $2, $3, $4, $5) RETURNING id`
		if err := tx.GetContext(ctx, &t.ID, q, name, string(role), s.keys.MAC([]byte(plain)), t.CreatedAt, t.CreatedBy); err != nil {
			return fmt.Errorf("create token %q: %w", name, err)
		}
		if len(groups) > 0 {
			const qg = `INSERT INTO api_token_groups (token_id, group_id) SELECT $1::bigint, g FROM unnest($2::bigint[]) AS g`
			if _, err := tx.ExecContext(ctx, qg, t.ID, pq.Array(groups)); err != nil {
				return groupLimitError(err, groups, fmt.Sprintf("limit token %d", t.ID))
			}
		}
		return audit.Record(ctx, tx, t.CreatedAt, actor, "create", "api_token", fmt.Sprint(t.ID), nil,
			map[string]any{"name": name, "role": role, "groups": orEmpty(t.Groups)})
	})
	if err != nil {
		return Token{}, "", err
	}
	return t, plain, nil
}

// tokens lists every API token, live ones first, newest first.
func (s *Service) tokens(ctx context.Context) ([]Token, error) {
	const q = `SELECT t.id, t.name, t.role, t.created_at, t.last_used_at, t.revoked_at, t.created_by,
			COALESCE(u.name, '') AS creator_name, COALESCE(u.email, '') AS creator_email, COALESCE(u.disabled, false) AS creator_disabled,
			COALESCE((SELECT array_agg(g.group_id ORDER BY g.group_id) FROM api_token_groups g WHERE g.token_id = t.id), '{}') AS groups
		FROM api_tokens t LEFT JOIN users u ON u.id = t.created_by
		ORDER BY t.revoked_at IS NOT NULL, t.id DESC`
	var rows []struct {
		ID           int64         `db:"id"`
		Name         string        `db:"name"`
		Role         string        `db:"role"`
		CreatedAt    time.Time     `db:"created_at"`
		LastUsedAt   *time.Time    `db:"last_used_at"`
		RevokedAt    *time.Time    `db:"revoked_at"`
		CreatedBy    *int64        `db:"created_by"`
		CreatorName  string        `db:"creator_name"`
		CreatorEmail string        `db:"creator_email"`
		CreatorOff   bool          `db:"creator_disabled"`
		Groups       pq.Int64Array `db:"groups"`
	}
	if err := s.db.SelectContext(ctx, &rows, q); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	out := make([]Token, len(rows))
	for i, r := range rows {
		out[i] = Token{ID: r.ID, Name: r.Name, Role: auth.Role(r.Role), CreatedAt: r.CreatedAt, LastUsedAt: r.LastUsedAt, RevokedAt: r.RevokedAt,
			CreatedBy: r.CreatedBy, CreatorName: r.CreatorName, CreatorEmail: r.CreatorEmail, CreatorDisabled: r.CreatorOff}
		if len(r.Groups) > 0 {
			out[i].Groups = []int64(r.Groups)
		}
	}
	return out, nil
}

// revokeToken stops token id from working, at once and for good. Errors:
// NotFound, Conflict (already revoked).
func (s *Service) revokeToken(ctx context.Context, actor string, id int64) (Token, error) {
	var t Token
	err := db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		const q = `SELECT name, revoked_at FROM api_tokens WHERE id = $1 FOR UPDATE`
		var r struct {
			Name      string     `db:"name"`
			RevokedAt *time.Time `db:"revoked_at"`
		}
		err := tx.GetContext(ctx, &r, q, id)
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.Errorf(apperr.NotFound, "There is no API token %d.", id)
		}
		if err != nil {
			return fmt.Errorf("load token %d: %w", id, err)
		}
		if r.RevokedAt != nil {
			return apperr.Errorf(apperr.Conflict, "The API token %q was already revoked on %s.", r.Name, s.locale(ctx).DateTime(*r.RevokedAt))
		}
		now := s.now()
		const qu = `UPDATE api_tokens SET revoked_at = $2 WHERE id = $1`
		if _, err := tx.ExecContext(ctx, qu, id, now); err != nil {
			return fmt.Errorf("revoke token %d: %w", id, err)
		}
		t = Token{ID: id, Name: r.Name, RevokedAt: &now}
		return audit.Record(ctx, tx, now, actor, "revoke", "api_token", fmt.Sprint(id), map[string]any{"revoked": false}, map[string]any{"revoked": true})
	})
	return t, err
}

// TokenPrincipal returns the principal of a live API token: not revoked,
// and created by no account or by one that is not disabled (a deleted
// account's tokens are gone with it). Errors: Unauthorized for any other
// token.
func (s *Service) TokenPrincipal(ctx context.Context, plain string) (*auth.Principal, error) {
	if !strings.HasPrefix(plain, TokenPrefix) || len(plain) > 200 {
		return nil, apperr.Errorf(apperr.Unauthorized, "The API token is not valid.")
	}
	// One round trip: find the token and, at most once a minute, record its
	// use, so busy scripts do not write a row per request.
	const q = `WITH t AS (
			SELECT id, name, role, last_used_at FROM api_tokens
			WHERE token_hash = $1 AND revoked_at IS NULL
				AND (created_by IS NULL OR EXISTS (SELECT 1 FROM users WHERE users.id = created_by AND NOT users.disabled))),
		u AS (
			UPDATE api_tokens SET last_used_at = now() FROM t
			WHERE api_tokens.id = t.id AND (t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute'))
		SELECT id, name, role,
			COALESCE((SELECT array_agg(g.group_id ORDER BY g.group_id) FROM api_token_groups g WHERE g.token_id = t.id), '{}') AS groups
		FROM t`
	var row struct {
		ID     int64         `db:"id"`
		Name   string        `db:"name"`
		Role   string        `db:"role"`
		Groups pq.Int64Array `db:"groups"`
	}
	err := s.db.GetContext(ctx, &row, q, s.keys.MAC([]byte(plain)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.Errorf(apperr.Unauthorized, "The API token is not valid.")
	}
	if err != nil {
		return nil, fmt.Errorf("look up api token: %w", err)
	}
	p := &auth.Principal{TokenID: row.ID, Name: row.Name, Role: auth.Role(row.Role)}
	// The same rule as an account's (User.principal): only a team member is
	// limited, and the limit is enforced wherever p.Groups is checked.
	if p.Role == auth.TeamMember && len(row.Groups) > 0 {
		p.Groups = []int64(row.Groups)
	}
	return p, nil
}
