package issuance

import (
	"context"
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
func (s *Service) History(ctx context.Context, credentialID string) ([]auditlog.Entry, error) {
	return auditlog.History(ctx, s.DB, s.Actors, "credential", credentialID)
}
