package lti

import (
	"context"
	"fmt"

	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/audit"
)

// ActorNames names the people who acted from an LMS ("lti:<platform>:<sub>")
// in the audit log, as their latest launch called them (audit.Namer).
func (t *Tool) ActorNames(ctx context.Context, actors []string) (map[string]string, error) {
	var platforms []int64
	var subs []string
	for _, a := range actors {
		if kind, platform, sub := audit.ParseActor(a); kind == "lti" && platform != 0 {
			platforms, subs = append(platforms, platform), append(subs, sub)
		}
	}
	out := map[string]string{}
	if len(platforms) == 0 {
		return out, nil
	}
	const q = `SELECT u.platform_id, u.sub, u.name FROM lti_users u
		JOIN unnest($1::bigint[], $2::text[]) AS a (platform_id, sub) ON a.platform_id = u.platform_id AND a.sub = u.sub`
	var rows []struct {
		PlatformID int64  `db:"platform_id"`
		Sub        string `db:"sub"`
		Name       string `db:"name"`
	}
	if err := t.db.SelectContext(ctx, &rows, q, pq.Array(platforms), pq.Array(subs)); err != nil {
		return nil, fmt.Errorf("names of %d lti actors: %w", len(platforms), err)
	}
	type key struct {
		platform int64
		sub      string
	}
	names := make(map[key]string, len(rows))
	for _, r := range rows {
		names[key{r.PlatformID, r.Sub}] = r.Name
	}
	for _, a := range actors {
		if kind, platform, sub := audit.ParseActor(a); kind == "lti" {
			if n, ok := names[key{platform, sub}]; ok {
				out[a] = n
			}
		}
	}
	return out, nil
}
