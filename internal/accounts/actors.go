package accounts

import (
	"context"
	"fmt"

	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/audit"
)

// ActorNames names the staff ("user:<id>:…") and API token
// ("token:<id>:…") actors of the audit log as they are now (audit.Namer).
func (s *Service) ActorNames(ctx context.Context, actors []string) (map[string]string, error) {
	ids := map[string][]int64{}
	for _, a := range actors {
		if kind, id, _ := audit.ParseActor(a); id != 0 && (kind == "user" || kind == "token") {
			ids[kind] = append(ids[kind], id)
		}
	}
	const qu = `SELECT id, name FROM users WHERE id = ANY($1)`
	const qt = `SELECT id, name FROM api_tokens WHERE id = ANY($1)`
	queries := map[string]string{"user": qu, "token": qt}
	names := map[string]map[int64]string{}
	for kind, list := range ids {
		var rows []struct {
			ID   int64  `db:"id"`
			Name string `db:"name"`
		}
		if err := s.db.SelectContext(ctx, &rows, queries[kind], pq.Array(list)); err != nil {
			return nil, fmt.Errorf("names of %s actors %v: %w", kind, list, err)
		}
		names[kind] = map[int64]string{}
		for _, r := range rows {
			names[kind][r.ID] = r.Name
		}
	}
	out := map[string]string{}
	for _, a := range actors {
		kind, id, _ := audit.ParseActor(a)
		if n, ok := names[kind][id]; ok {
			out[a] = n
		}
	}
	return out, nil
}
