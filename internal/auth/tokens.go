package auth

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/web"
)

// TokenPrefix starts every API token, so a leaked one is recognisable (and
// greppable by secret scanners).
const TokenPrefix = "lrl_"

// CreateToken creates an API token acting with role and returns its
// plaintext, which is shown once: only its MAC is stored. groups, when given,
// limit a team member's token to those groups exactly as user_groups limits
// an account (Principal.Groups). Errors: Invalid (no name, bad role, groups
// for a role other than team_member, an unknown group).
func (a *Auth) CreateToken(ctx context.Context, name string, role Role, groups ...int64) (string, error) {
	name = strings.TrimSpace(name)
	var fields []apperr.FieldError
	if name == "" {
		fields = append(fields, apperr.FieldError{Index: -1, Field: "name", Message: "a token needs a name"})
	}
	if _, err := ParseRole(string(role)); err != nil {
		fields = append(fields, apperr.FieldError{Index: -1, Field: "role", Message: apperr.Message(err)})
	}
	if fe, bad := checkGroupLimit(role, groups); bad {
		fields = append(fields, fe)
	}
	if len(fields) > 0 {
		return "", apperr.Fields(fields[0].Field+": "+fields[0].Message, fields)
	}
	b := make([]byte, 32)
	rand.Read(b)
	plain := TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	err := db.InTx(ctx, a.db, func(tx *sqlx.Tx) error {
		const q = `INSERT INTO api_tokens (name, role, token_hash) VALUES ($1, $2, $3) RETURNING id`
		var id int64
		if err := tx.GetContext(ctx, &id, q, name, string(role), a.keys.MAC([]byte(plain))); err != nil {
			return fmt.Errorf("create token %q: %w", name, err)
		}
		if len(groups) == 0 {
			return nil
		}
		const qg = `INSERT INTO api_token_groups (token_id, group_id) SELECT DISTINCT $1::bigint, g FROM unnest($2::bigint[]) AS g`
		if _, err := tx.ExecContext(ctx, qg, id, pq.Array(groups)); err != nil {
			return groupLimitError(err, groups, fmt.Sprintf("limit token %d", id))
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return plain, nil
}

// TokenPrincipal returns the principal of a live API token. Errors:
// Unauthorized for an unknown or revoked token.
func (a *Auth) TokenPrincipal(ctx context.Context, plain string) (*Principal, error) {
	if !strings.HasPrefix(plain, TokenPrefix) || len(plain) > 200 {
		return nil, apperr.Errorf(apperr.Unauthorized, "The API token is not valid.")
	}
	// One round trip: find the token and, at most once a minute, record its
	// use, so busy scripts do not write a row per request.
	const q = `WITH t AS (
			SELECT id, name, role, last_used_at FROM api_tokens
			WHERE token_hash = $1 AND revoked_at IS NULL),
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
	err := a.db.GetContext(ctx, &row, q, a.keys.MAC([]byte(plain)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.Errorf(apperr.Unauthorized, "The API token is not valid.")
	}
	if err != nil {
		return nil, fmt.Errorf("look up api token: %w", err)
	}
	p := &Principal{TokenID: row.ID, Name: row.Name, Role: Role(row.Role)}
	// The same rule as an account's (User.principal): only a team member is
	// limited, and the limit is enforced wherever p.Groups is checked.
	if p.Role == TeamMember && len(row.Groups) > 0 {
		p.Groups = []int64(row.Groups)
	}
	return p, nil
}

// Bearer authenticates /api/v1 requests by `Authorization: Bearer <token>`
// and sets the principal (auth.Current works), or answers a JSON 401.
func (a *Auth) Bearer() gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.GetHeader("Authorization")
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
			c.Header("WWW-Authenticate", `Bearer realm="laurel"`)
			web.WriteJSONError(c, apperr.Errorf(apperr.Unauthorized, "Send an API token: Authorization: Bearer <token>."))
			return
		}
		p, err := a.TokenPrincipal(c.Request.Context(), strings.TrimSpace(tok))
		if err != nil {
			if apperr.Is(err, apperr.Unauthorized) {
				c.Header("WWW-Authenticate", `Bearer realm="laurel", error="invalid_token"`)
			}
			web.WriteJSONError(c, err)
			return
		}
		c.Set(web.UserKey, p)
		c.Next()
	}
}
