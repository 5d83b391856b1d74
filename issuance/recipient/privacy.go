package recipient

import (
	"context"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/audit"
	"github.com/laurel-edu/laurel/internal/db"
)

// Hidden reports whether credential id's recipient hid it from the public.
func (s *Service) Hidden(ctx context.Context, id string) (bool, error) {
	const q = `SELECT EXISTS (SELECT 1 FROM recipient_hidden WHERE credential_id = $1)`
	var h bool
	if err := s.DB.GetContext(ctx, &h, q, strings.ToLower(id)); err != nil {
		return false, fmt.Errorf("hidden credential %s: %w", id, err)
	}
	return h, nil
}

// HiddenAmong returns which of ids are hidden, for a list.
func (s *Service) HiddenAmong(ctx context.Context, ids []string) (map[string]bool, error) {
	const q = `SELECT credential_id FROM recipient_hidden WHERE credential_id = ANY($1)`
	var hidden []string
	if err := s.DB.SelectContext(ctx, &hidden, q, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("hidden among %d credentials: %w", len(ids), err)
	}
	out := make(map[string]bool, len(hidden))
	for _, id := range hidden {
		out[id] = true
	}
	return out, nil
}

// SetHidden hides credential id from the public (hide) or shows it again,
// as its recipient asked; the change is audited on the credential ("hide",
// "unhide") by the recipient. Asking for the state it is in changes nothing.
func (s *Service) SetHidden(ctx context.Context, id string, hide bool) error {
	cr, err := s.manageable(ctx, id)
	if err != nil {
		return err
	}
	return db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		q, action := `DELETE FROM recipient_hidden WHERE credential_id = $1`, "unhide"
		args := []any{cr.ID}
		if hide {
			q, action = `INSERT INTO recipient_hidden (credential_id, hidden_at) VALUES ($1, $2) ON CONFLICT DO NOTHING`, "hide"
			args = append(args, s.now())
		}
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("%s credential %s: %w", action, cr.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		return audit.Record(ctx, tx, s.now(), actor(cr.ID), action, "credential", cr.ID, nil, nil)
	})
}
