package issuance

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	auditlog "github.com/laurel-edu/laurel/internal/audit"
)

// audit records one change in the audit log through ext, which must be the
// transaction making the change, so the log never disagrees with the data.
func audit(ctx context.Context, ext sqlx.ExecerContext, at time.Time, actor, action, entityType, entityID string, before, after any) error {
	return auditlog.Record(ctx, ext, at, actor, action, entityType, entityID, before, after)
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
	es, err := auditlog.History(ctx, s.DB, s.Actors, entityType, id)
	if err != nil {
		return nil, err
	}
	var out []AuditEntry
	for _, e := range es {
		out = append(out, AuditEntry{ID: e.ID, At: e.At, Actor: e.Actor, Action: e.Action, Before: e.Before, After: e.After, Who: e.Who})
	}
	return out, nil
}
