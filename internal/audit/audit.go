// Package audit writes and reads the audit log: who changed what, with the
// state before and after. Every feature records its changes here, in the
// transaction that makes them, so the log never disagrees with the data.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// Entry is one change in the audit log.
type Entry struct {
	ID            int64
	At            time.Time
	Actor, Action string
	Before, After json.RawMessage
	// Who is the actor as people read it: the staff member's or launching
	// person's name as it is now, the API token's name, or what an
	// automatic actor does (see Who).
	Who string
}

// Record adds one entry through ext, which must be the transaction making
// the change. before and after are marshalled to JSON (nil stays NULL); they
// must never hold a password or a token.
func Record(ctx context.Context, ext sqlx.ExecerContext, at time.Time, actor, action, entityType, entityID string, before, after any) error {
	var b, a []byte
	var err error
	if before != nil {
		if b, err = json.Marshal(before); err != nil {
			return fmt.Errorf("audit %s %s %s: %w", action, entityType, entityID, err)
		}
	}
	if after != nil {
		if a, err = json.Marshal(after); err != nil {
			return fmt.Errorf("audit %s %s %s: %w", action, entityType, entityID, err)
		}
	}
	const q = `INSERT INTO audit_log (at, actor, action, entity_type, entity_id, before, after)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`
	if _, err := ext.ExecContext(ctx, q, at, actor, action, entityType, entityID, nullJSON(b), nullJSON(a)); err != nil {
		return fmt.Errorf("audit %s %s %s: %w", action, entityType, entityID, err)
	}
	return nil
}

func nullJSON(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

// History returns the entries of one entity, oldest first, each with Who.
func History(ctx context.Context, q sqlx.QueryerContext, entityType, entityID string) ([]Entry, error) {
	// Actors are "user:<id>:<email>", "token:<id>:<name>",
	// "lti:<platform>:<sub>" or a fixed name; the joins look up who they are
	// now (a renamed person shows their new name).
	const sq = `WITH a AS (
			SELECT id, at, actor, action, before, after,
				split_part(actor, ':', 1) AS kind,
				CASE WHEN split_part(actor, ':', 2) ~ '^[0-9]{1,18}$' THEN split_part(actor, ':', 2)::bigint END AS num,
				substr(actor, length(split_part(actor, ':', 1)) + length(split_part(actor, ':', 2)) + 3) AS rest
			FROM audit_log WHERE entity_type = $1 AND entity_id = $2)
		SELECT a.id, a.at, a.actor, a.action, a.before, a.after,
			COALESCE(u.name, t.name, l.name, '') AS name
		FROM a
		LEFT JOIN users u ON a.kind = 'user' AND u.id = a.num
		LEFT JOIN api_tokens t ON a.kind = 'token' AND t.id = a.num
		LEFT JOIN lti_users l ON a.kind = 'lti' AND l.platform_id = a.num AND l.sub = a.rest
		ORDER BY a.id`
	rows, err := q.QueryxContext(ctx, sq, entityType, entityID)
	if err != nil {
		return nil, fmt.Errorf("history of %s %s: %w", entityType, entityID, err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		var b, a []byte
		var name string
		if err := rows.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &b, &a, &name); err != nil {
			return nil, fmt.Errorf("history of %s %s: %w", entityType, entityID, err)
		}
		if b != nil {
			e.Before = json.RawMessage(b)
		}
		if a != nil {
			e.After = json.RawMessage(a)
		}
		e.Who = Who(e.Actor, name)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("history of %s %s: %w", entityType, entityID, err)
	}
	return out, nil
}

// Who describes actor for people, given the name its account has now (""
// when none was found): a staff member by name (their email when the
// account is gone or unnamed), an API token by its name, a person who
// launched from an LMS by name, and Laurel's automatic actors by what they do.
func Who(actor, name string) string {
	kind, rest, _ := strings.Cut(actor, ":")
	_, detail, _ := strings.Cut(rest, ":")
	switch kind {
	case "user":
		if name != "" {
			return name
		}
		if detail != "" {
			return detail
		}
		return "A removed staff account"
	case "token":
		if name == "" {
			name = detail
		}
		return "API token “" + name + "”"
	case "lti":
		if name != "" {
			return name + " (from the LMS)"
		}
		return "An LMS user"
	}
	switch actor {
	case "canvas:live-events":
		return "Canvas course completion"
	case "canvas:reconciliation":
		return "Canvas completion check"
	case "system", "":
		return "Laurel (automatic)"
	}
	return actor
}
