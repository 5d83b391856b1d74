package insight

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// Row is one day's figures (or a range's totals) for the groups asked for.
type Row struct {
	Day                   time.Time // a date value (UTC midnight); zero in totals
	Issued, Published     int64
	Views, Shares         int64
	LinkedIn, Downloads   int64 // Downloads: certificate PDFs and badge images
	Verifications, Emails int64 // Emails: clicks on the email's button
}

// add adds n of kind k to r.
func (r *Row) add(k Kind, n int64) {
	switch k {
	case View:
		r.Views += n
	case PDF, Badge:
		r.Downloads += n
	case Verify:
		r.Verifications += n
	case LinkedIn:
		r.LinkedIn += n
	case Share:
		r.Shares += n
	case Email:
		r.Emails += n
	}
}

func (r *Row) plus(o Row) {
	r.Issued += o.Issued
	r.Published += o.Published
	r.Views += o.Views
	r.Shares += o.Shares
	r.LinkedIn += o.LinkedIn
	r.Downloads += o.Downloads
	r.Verifications += o.Verifications
	r.Emails += o.Emails
}

// Report is the figures of every day from From to To (dates, inclusive),
// days without activity included, and their totals.
type Report struct {
	From, To time.Time
	Days     []Row
	Total    Row
}

// maxDays is the longest range a report covers.
const maxDays = 366

// Report gathers the figures of groups (nil: every group; empty: none)
// from from to to, dates in the organisation's time zone.
func (s *Service) Report(ctx context.Context, groups []int64, from, to time.Time) (Report, error) {
	return s.report(ctx, groups, from, to, true)
}

// report is Report; without credentials, Issued and Published stay 0 (the
// group panel shows the group's own counts of those, and the query over
// credentials is the costly part).
func (s *Service) report(ctx context.Context, groups []int64, from, to time.Time, credentials bool) (Report, error) {
	from, to = dateOf(from), dateOf(to)
	rep := Report{From: from, To: to}
	if to.Before(from) || to.Sub(from) > maxDays*24*time.Hour {
		return rep, fmt.Errorf("report %s to %s: not a range of 1 to %d days", from.Format(time.DateOnly), to.Format(time.DateOnly), maxDays)
	}
	index := map[string]int{}
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		index[d.Format(time.DateOnly)] = len(rep.Days)
		rep.Days = append(rep.Days, Row{Day: d})
	}
	if groups != nil && len(groups) == 0 {
		return rep, nil
	}
	var scope any
	if groups != nil {
		scope = pq.Array(groups)
	}
	const q = `SELECT day, kind, sum(n) AS n FROM insight_daily
		WHERE day BETWEEN $1 AND $2 AND ($3::bigint[] IS NULL OR group_id = ANY($3))
		GROUP BY day, kind`
	var rows []struct {
		Day  time.Time `db:"day"`
		Kind Kind      `db:"kind"`
		N    int64     `db:"n"`
	}
	if err := s.DB.SelectContext(ctx, &rows, q, from.Format(time.DateOnly), to.Format(time.DateOnly), scope); err != nil {
		return rep, fmt.Errorf("report %s to %s: %w", from.Format(time.DateOnly), to.Format(time.DateOnly), err)
	}
	for _, r := range rows {
		if i, ok := index[r.Day.Format(time.DateOnly)]; ok {
			rep.Days[i].add(r.Kind, r.N)
		}
	}
	if credentials {
		dc, err := s.Core.DailyCredentials(ctx, groups, from, to, s.location(ctx))
		if err != nil {
			return rep, fmt.Errorf("report %s to %s: %w", from.Format(time.DateOnly), to.Format(time.DateOnly), err)
		}
		for _, d := range dc {
			if i, ok := index[d.Day.Format(time.DateOnly)]; ok {
				rep.Days[i].Issued, rep.Days[i].Published = int64(d.Issued), int64(d.Published)
			}
		}
	}
	for _, d := range rep.Days {
		rep.Total.plus(d)
	}
	return rep, nil
}

// CredentialTotals is every count of credential id, all time.
func (s *Service) CredentialTotals(ctx context.Context, id string) (Row, error) {
	const q = `SELECT kind, n FROM insight_totals WHERE credential_id = $1`
	var rows []struct {
		Kind Kind  `db:"kind"`
		N    int64 `db:"n"`
	}
	if err := s.DB.SelectContext(ctx, &rows, q, id); err != nil {
		return Row{}, fmt.Errorf("counts of credential %s: %w", id, err)
	}
	var out Row
	for _, r := range rows {
		out.add(r.Kind, r.N)
	}
	return out, nil
}

// dateOf is t's calendar date as a date value (UTC midnight).
func dateOf(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}
