// Package audit writes and reads the audit log: who changed what, with the
// state before and after. Every feature records its changes here, in the
// transaction that makes them, so the log never disagrees with the data.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Entry is one change in the audit log.
type Entry struct {
	ID            int64
	At            time.Time
	Actor, Action string
	Before, After json.RawMessage
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

// History returns the entries of one entity, oldest first.
func History(ctx context.Context, q sqlx.QueryerContext, entityType, entityID string) ([]Entry, error) {
	const sq = `SELECT id, at, actor, action, before, after FROM audit_log
		WHERE entity_type = $1 AND entity_id = $2 ORDER BY id`
	rows, err := q.QueryxContext(ctx, sq, entityType, entityID)
	if err != nil {
		return nil, fmt.Errorf("history of %s %s: %w", entityType, entityID, err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		var b, a []byte
		if err := rows.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &b, &a); err != nil {
			return nil, fmt.Errorf("history of %s %s: %w", entityType, entityID, err)
		}
		if b != nil {
			e.Before = json.RawMessage(b)
		}
		if a != nil {
			e.After = json.RawMessage(a)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("history of %s %s: %w", entityType, entityID, err)
	}
	return out, nil
}
