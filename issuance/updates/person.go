package updates

import (
	"context"
	"fmt"

	"github.com/lib/pq"
)

// ErasePerson deletes the rows of every update about the credentials ids
// (one person's, for an erasure request): their names, emails and values,
// old and new. It returns how many rows it deleted; running it again
// deletes none.
func (s *Service) ErasePerson(ctx context.Context, ids []string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	const q = `DELETE FROM credential_update_rows WHERE credential_id = ANY($1)`
	res, err := s.DB.ExecContext(ctx, q, pq.Array(ids))
	if err != nil {
		return 0, fmt.Errorf("erase a person from updates (%d credentials): %w", len(ids), err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
