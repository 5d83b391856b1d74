package reminders_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/reminders"
)

// BenchmarkReminderScan1M: the expiry reminder scan over 1,000,000
// published credentials whose expiry dates spread over ten years (about 274
// a day): the first scan, which finds about 10,000 due (every credential
// expiring within 30 days gets its nearest reminder, every one expired
// within a week its expired email) and queues their emails, jobs and audit
// entries; a scan an hour later that finds nothing; and the next day's
// scan (those crossing 30 or 7 days, or their expiry date). Run with
//
//	CI=true go test -run '^$' -bench ReminderScan1M -benchtime 1x ./issuance/reminders/
func BenchmarkReminderScan1M(b *testing.B) {
	const n = 1_000_000
	core, d := mustService(b)
	s := reminders.New(core, nil)
	ctx := context.Background()
	clock := testenv.NewClock(time.Date(2027, 1, 15, 9, 0, 0, 0, time.UTC))
	core.Now = clock.Now
	o, err := core.Organisation(ctx)
	if err != nil {
		b.Fatal(err)
	}
	o.TimeZone = "UTC"
	if _, err := core.UpdateOrganisation(ctx, actor, issuance.OrganisationUpdate{Organisation: o}); err != nil {
		b.Fatal(err)
	}
	g := mustGroup(b, core, nil)
	start := time.Now()
	// Expiry dates from 5 years ago to 5 years ahead, about 274 a day.
	const load = `INSERT INTO credentials (id, group_id, state, recipient_name, recipient_email, issued_on, expires_on,
			attributes, source, published_at)
		SELECT translate(md5('rem' || i::text), '0189', 'qrst'), $1::bigint, 'published', 'Learner ' || i,
			'learner' || i || '@example.edu', date '2020-01-01', date '2022-01-15' + (i % 3650),
			'{"grade":"A"}', 'api', timestamptz '2021-06-01'
		FROM generate_series(1, $2) AS i`
	if _, err := d.ExecContext(ctx, load, g.ID, n); err != nil {
		b.Fatal(err)
	}
	if _, err := d.ExecContext(ctx, `ANALYZE credentials`); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded %d published credentials in %v", n, time.Since(start).Round(time.Millisecond))
	if testing.Verbose() {
		plan(b, core)
	}

	scan := func(name string) (int, time.Duration) {
		b.Helper()
		t0 := time.Now()
		due, err := s.SendDue(ctx)
		if err != nil {
			b.Fatal(err)
		}
		took := time.Since(t0)
		b.Logf("%s: %d due, %v", name, due, took.Round(time.Microsecond))
		return due, took
	}
	for b.Loop() {
		due, first := scan("first scan")
		if due < 5000 {
			b.Fatalf("only %d due", due)
		}
		b.ReportMetric(float64(first.Milliseconds()), "first-scan-ms")
		b.ReportMetric(float64(due), "due")
		b.ReportMetric(float64(first.Microseconds())/float64(due), "µs/due")
		clock.Advance(time.Hour)
		if idleDue, idle := scan("an hour later"); idleDue != 0 {
			b.Fatalf("%d due again an hour later", idleDue)
		} else {
			b.ReportMetric(float64(idle.Microseconds())/1000, "idle-scan-ms")
		}
		clock.Advance(23 * time.Hour)
		nextDue, next := scan("the next day")
		b.ReportMetric(float64(next.Milliseconds()), "next-day-ms")
		b.ReportMetric(float64(nextDue), "next-day-due")
	}
}

// plan logs the plan of a page of the scan's candidates (the core's
// ExpiringCredentials): it must read the credentials_expiring index in its
// order, not the table or a sort.
func plan(b *testing.B, s *issuance.Service) {
	const q = `EXPLAIN SELECT id, group_id, recipient_email, expires_on, published_at FROM credentials
		WHERE state = 'published' AND expires_on IS NOT NULL
			AND expires_on BETWEEN date '2027-01-20' AND date '2027-02-14' AND (expires_on, id) > (date '2027-01-20', 'k')
		ORDER BY expires_on, id LIMIT 2000`
	var lines []string
	if err := s.DB.Select(&lines, q); err != nil {
		b.Fatal(err)
	}
	b.Logf("plan:\n%s", strings.Join(lines, "\n"))
}
