package issuance

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// audit records one change in the audit log through ext, which must be the
// transaction making the change, so the log never disagrees with the data.
func audit(ctx context.Context, ext sqlx.ExecerContext, at time.Time, actor, action, entityType, entityID string, before, after any) error {
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

// History returns the audit entries of a credential, oldest first.
func (s *Service) History(ctx context.Context, credentialID string) ([]AuditEntry, error) {
	return s.history(ctx, "credential", credentialID)
}

// GroupHistory returns the audit entries of a group, oldest first.
func (s *Service) GroupHistory(ctx context.Context, groupID int64) ([]AuditEntry, error) {
	return s.history(ctx, "group", fmt.Sprint(groupID))
}

func (s *Service) history(ctx context.Context, entityType, id string) ([]AuditEntry, error) {
	const q = `SELECT id, at, actor, action, before, after FROM audit_log
		WHERE entity_type = $1 AND entity_id = $2 ORDER BY id`
	rows, err := s.DB.QueryxContext(ctx, q, entityType, id)
	if err != nil {
		return nil, fmt.Errorf("history of %s %s: %w", entityType, id, err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var b, a []byte
		if err := rows.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &b, &a); err != nil {
			return nil, fmt.Errorf("history of %s %s: %w", entityType, id, err)
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
		return nil, fmt.Errorf("history of %s %s: %w", entityType, id, err)
	}
	return out, nil
}
