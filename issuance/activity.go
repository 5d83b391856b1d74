package issuance

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// What the engagement figures (issuance/insight) need from the core: which
// group each credential belongs to, and how many credentials were issued and
// published each day.

// CredentialGroups maps each of ids that exists to its group; unknown ids
// are left out.
func (s *Service) CredentialGroups(ctx context.Context, ids []string) (map[string]int64, error) {
	const q = `SELECT id, group_id FROM credentials WHERE id = ANY($1)`
	var rows []struct {
		ID      string `db:"id"`
		GroupID int64  `db:"group_id"`
	}
	if err := s.DB.SelectContext(ctx, &rows, q, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("groups of %d credentials: %w", len(ids), err)
	}
	out := make(map[string]int64, len(rows))
	for _, r := range rows {
		out[r.ID] = r.GroupID
	}
	return out, nil
}

// DayCount is how many credentials were issued and published on Day (a
// date value, UTC midnight).
type DayCount struct {
	Day       time.Time `db:"day"`
	Issued    int       `db:"issued"`
	Published int       `db:"published"`
}

// DailyCredentials counts, for each day from from to to (dates, inclusive)
// on which any happened, the credentials of groups (nil: every group) whose
// issue date is that day (whatever their state now) and those published
// that day in zone (published or revoked since). Days without any are left
// out.
func (s *Service) DailyCredentials(ctx context.Context, groups []int64, from, to time.Time, zone *time.Location) ([]DayCount, error) {
	const q = `
		WITH issued AS (
			SELECT issued_on AS day, count(*) AS n FROM credentials
			WHERE issued_on BETWEEN $1 AND $2 AND ($3::bigint[] IS NULL OR group_id = ANY($3))
			GROUP BY issued_on),
		published AS (
			SELECT (published_at AT TIME ZONE $4)::date AS day, count(*) AS n FROM credentials
			WHERE published_at >= $5 AND published_at < $6 AND ($3::bigint[] IS NULL OR group_id = ANY($3))
			GROUP BY 1)
		SELECT coalesce(i.day, p.day) AS day, coalesce(i.n, 0) AS issued, coalesce(p.n, 0) AS published
		FROM issued i FULL JOIN published p ON p.day = i.day
		ORDER BY 1`
	var scope any
	if groups != nil {
		scope = pq.Array(groups)
	}
	start := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, zone)
	end := time.Date(to.Year(), to.Month(), to.Day()+1, 0, 0, 0, 0, zone)
	var out []DayCount
	if err := s.DB.SelectContext(ctx, &out, q, from.Format(time.DateOnly), to.Format(time.DateOnly), scope,
		zone.String(), start, end); err != nil {
		return nil, fmt.Errorf("daily credentials %s to %s: %w", from.Format(time.DateOnly), to.Format(time.DateOnly), err)
	}
	for i := range out {
		d := out[i].Day
		out[i].Day = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
	}
	return out, nil
}
