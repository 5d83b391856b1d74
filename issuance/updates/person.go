package updates

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

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

// PersonRow is one row of an update by spreadsheet about one of a
// person's credentials, for their export (internal/people): the file it
// came from and the values it carried.
type PersonRow struct {
	UpdateID     int64      `json:"update_id"`
	FileName     string     `json:"file_name"`
	Row          int        `json:"row"`
	CredentialID string     `json:"credential_id"`
	Name         string     `json:"recipient_name"`
	Changes      []Change   `json:"changes"`
	Problems     []Problem  `json:"problems"`
	UploadedAt   time.Time  `json:"uploaded_at"`
	AppliedAt    *time.Time `json:"applied_at,omitempty"`
}

// PersonRows returns the rows of every update about the credentials ids
// (one person's), oldest update first: what ErasePerson deletes.
func (s *Service) PersonRows(ctx context.Context, ids []string) ([]PersonRow, error) {
	out := []PersonRow{}
	if len(ids) == 0 {
		return out, nil
	}
	const q = `SELECT r.update_id, u.file_name, r.row_number, r.credential_id, r.name, r.changes, r.problems, u.created_at, u.applied_at
		FROM credential_update_rows r JOIN credential_updates u ON u.id = r.update_id
		WHERE r.credential_id = ANY($1) ORDER BY r.update_id, r.row_number`
	rs, err := s.DB.QueryxContext(ctx, q, pq.Array(ids))
	if err != nil {
		return nil, fmt.Errorf("update rows of a person (%d credentials): %w", len(ids), err)
	}
	defer rs.Close()
	for rs.Next() {
		var r PersonRow
		var c, p []byte
		if err := rs.Scan(&r.UpdateID, &r.FileName, &r.Row, &r.CredentialID, &r.Name, &c, &p, &r.UploadedAt, &r.AppliedAt); err != nil {
			return nil, fmt.Errorf("update rows of a person: %w", err)
		}
		r.Changes, r.Problems = []Change{}, []Problem{}
		if err := json.Unmarshal(c, &r.Changes); err != nil {
			return nil, fmt.Errorf("update %d row %d: changes: %w", r.UpdateID, r.Row, err)
		}
		if err := json.Unmarshal(p, &r.Problems); err != nil {
			return nil, fmt.Errorf("update %d row %d: problems: %w", r.UpdateID, r.Row, err)
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("update rows of a person: %w", err)
	}
	return out, nil
}
