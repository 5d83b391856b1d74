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

// ErasePerson deletes what self-service keeps of a person being erased
// (internal/people): the name corrections and emails of their credentials
// (credentialIDs), and every email sent to email (an address staff changed
// away from included). It returns how many rows it deleted; running it again
// deletes nothing more.
func (s *Service) ErasePerson(ctx context.Context, email string, credentialIDs []string) (int, error) {
	var n int64
	err := db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		ids := pq.Array(credentialIDs)
		for _, st := range []struct {
			q    string
			args []any
		}{
			{`DELETE FROM recipient_mails WHERE credential_id = ANY($1) OR lower(to_address) = lower($2)`, []any{ids, strings.TrimSpace(email)}},
			{`DELETE FROM name_corrections WHERE credential_id = ANY($1)`, []any{ids}},
			{`DELETE FROM recipient_links WHERE credential_id = ANY($1)`, []any{ids}},
		} {
			res, err := tx.ExecContext(ctx, st.q, st.args...)
			if err != nil {
				return fmt.Errorf("erase a person: self-service records: %w", err)
			}
			k, _ := res.RowsAffected()
			n += k
		}
		return nil
	})
	return int(n), err
}
