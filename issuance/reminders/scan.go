package reminders

// The expiry reminder scan. Nothing is planned ahead per credential: each run
// pages through the published credentials that expire soon (the core's
// ExpiringCredentials, in the order of the index credentials_expiring) and,
// for each page, in one transaction: records in credential_reminders the
// reminders due now that no row records yet (ON CONFLICT DO NOTHING), has
// the core queue their emails, and audits them. The key (credential, expiry
// date, kind, days) makes each reminder go out once, across restarts,
// repeated runs and two processes; a changed expiry date (amend, bulk edit,
// renewal) is a new key, so it plans anew by itself, and an email queued
// for the old date is dropped at sending (delivery compares the dates).

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	auditlog "github.com/laurel-edu/laurel/internal/audit"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/internal/locale"
	"github.com/laurel-edu/laurel/issuance"
)

// Job is the scheduled job kind that sends the expiry emails due (run it
// with worker.Schedule(Job, Interval, s.Handle)).
const Job = "credential_reminders"

// Interval is how often the scan runs.
const Interval = time.Hour

// Hour is the hour of the day, in the organisation's time zone, from
// which a day's reminders go out (not in the night).
const Hour = 8

// ExpiredGrace is how many days after the expiry date the expired email may
// still go out (after a downtime); older expiries are never emailed, so
// turning the feature on does not write to everyone whose credential ever
// expired.
const ExpiredGrace = 7

// batch bounds the credentials, and so the reminders, of one transaction
// (a variable for the tests of paging).
var batch = 2000

// reminderActor is who the audit log names for a reminder.
const reminderActor = "system"

// auditReminder records each email of a page, given as arrays ($1 to $6)
// at time $7.
var auditReminder = auditlog.InsertSelect(auditlog.Columns{At: "$7", Actor: "'" + reminderActor + "'", Action: "'remind'",
	EntityType: "'credential'", EntityID: "em.credential_id",
	After: "jsonb_build_object('email_id', em.id, 'to', em.to_address, 'kind', em.kind, 'days', em.days, 'expires_on', em.expires_on)"},
	"unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::int[], $6::date[]) AS em(id, credential_id, to_address, kind, days, expires_on)")

// Day is the day whose reminders are due at now in time zone zone: the
// date there, until Hour, the day before.
func Day(now time.Time, zone string) time.Time {
	return locale.New("en", zone).Today(now.Add(-Hour * time.Hour))
}

// Handle is Job's handler: it sends the expiry emails due.
func (s *Service) Handle(ctx context.Context, _ jobs.Job) error {
	n, err := s.SendDue(ctx)
	if n > 0 {
		s.Core.Logger().Info("reminders: expiry emails queued", "count", n)
	}
	return err
}

// SendDue queues every expiry email due now and returns how many.
//
// A credential is due a reminder when it is published (not revoked), has an
// expiry date that is not past, and the date is at most one of its group's
// offsets away: of the offsets that are due it gets only the nearest one
// (published 5 days before expiry with offsets 30 and 7, it gets the 7-day
// reminder, never the 30-day one too), and nothing when a reminder as near
// or nearer went out for the same expiry date. It is due the expired email
// when its expiry date has passed (at most ExpiredGrace days ago), the group
// sends one, and it was published before it expired. Days count in the
// organisation's time zone (Day).
func (s *Service) SendDue(ctx context.Context) (int, error) {
	o, err := s.Core.Organisation(ctx)
	if err != nil {
		return 0, err
	}
	var maxOffset int
	const mq = `SELECT COALESCE(max(d), 0) FROM reminder_settings, unnest(offsets) AS d`
	if err := s.db().GetContext(ctx, &maxOffset, mq); err != nil {
		return 0, fmt.Errorf("reminders: largest offset: %w", err)
	}
	today := Day(s.Core.Time(), o.TimeZone)
	from, to := today.AddDate(0, 0, -ExpiredGrace), today.AddDate(0, 0, maxOffset)
	total := 0
	var after issuance.Expiring // the last credential of the previous page
	for {
		var page []issuance.Expiring
		var n int
		err := db.InTx(ctx, s.db(), func(tx *sqlx.Tx) (err error) {
			if page, err = s.Core.ExpiringCredentials(ctx, tx, from, to, after, batch); err != nil {
				return fmt.Errorf("reminders due on %s: %w", today.Format(issuance.DateLayout), err)
			}
			n, err = s.queueDue(ctx, tx, today, page)
			return err
		})
		if err != nil {
			return total, err
		}
		total += n
		if len(page) < batch {
			return total, nil
		}
		after = page[len(page)-1]
	}
}

// dueSQL records, of the credentials given as arrays ($1 to $5), the
// reminders due on day $6 (at time $7) that no row records yet, and
// returns them with their recipients' addresses.
const dueSQL = `WITH c AS (
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::date[], $5::timestamptz[])
			AS c(id, group_id, recipient_email, expires_on, published_at)
	), due AS (
		SELECT c.id, c.recipient_email, c.expires_on,
			CASE WHEN c.expires_on < $6::date THEN 'expired' ELSE 'reminder' END AS kind,
			CASE WHEN c.expires_on >= $6::date THEN
				(SELECT min(d) FROM unnest(COALESCE(gs.offsets, o.offsets)) AS d WHERE d >= c.expires_on - $6::date)
			WHEN COALESCE(gs.expired_email, o.expired_email) AND c.published_at < (c.expires_on + 1)::timestamp THEN 0
			END AS days
		FROM c
		CROSS JOIN (SELECT offsets, expired_email FROM reminder_settings WHERE group_id IS NULL) o
		LEFT JOIN reminder_settings gs ON gs.group_id = c.group_id
	), pick AS (
		SELECT due.* FROM due
		WHERE due.days IS NOT NULL AND NOT EXISTS (SELECT FROM credential_reminders r
			WHERE r.credential_id = due.id AND r.expires_on = due.expires_on AND r.kind = due.kind AND r.days <= due.days)
	), ins AS (
		INSERT INTO credential_reminders (credential_id, expires_on, kind, days, created_at)
		SELECT id, expires_on, kind, days, $7 FROM pick
		ON CONFLICT DO NOTHING
		RETURNING credential_id, expires_on, kind, days
	)
	SELECT ins.credential_id, pick.recipient_email, ins.kind, ins.days, ins.expires_on
	FROM ins JOIN pick ON pick.id = ins.credential_id
	ORDER BY ins.expires_on, ins.credential_id`

// queueDue records, queues and audits in tx the reminders due on today of
// the credentials page, and returns how many.
func (s *Service) queueDue(ctx context.Context, tx *sqlx.Tx, today time.Time, page []issuance.Expiring) (int, error) {
	if len(page) == 0 {
		return 0, nil
	}
	ids, groups, emails, exps, pubs := make([]string, len(page)), make([]int64, len(page)), make([]string, len(page)), make([]string, len(page)), make([]*time.Time, len(page))
	for i, c := range page {
		ids[i], groups[i], emails[i], exps[i], pubs[i] = c.ID, c.GroupID, c.Email, c.ExpiresOn.Format(issuance.DateLayout), c.PublishedAt
	}
	now := s.Core.Time()
	var due []struct {
		CredentialID string    `db:"credential_id"`
		Email        string    `db:"recipient_email"`
		Kind         string    `db:"kind"`
		Days         int       `db:"days"`
		ExpiresOn    time.Time `db:"expires_on"`
	}
	if err := tx.SelectContext(ctx, &due, dueSQL, pq.Array(ids), pq.Array(groups), pq.Array(emails), pq.Array(exps),
		pq.Array(pubs), today, now); err != nil {
		return 0, fmt.Errorf("reminders due on %s: %w", today.Format(issuance.DateLayout), err)
	}
	if len(due) == 0 {
		return 0, nil
	}
	queue := make([]issuance.ExpiryEmail, len(due))
	for i, d := range due {
		queue[i] = issuance.ExpiryEmail{CredentialID: d.CredentialID, To: d.Email, Kind: d.Kind, ExpiresOn: d.ExpiresOn}
	}
	queued, err := s.Core.QueueExpiryEmails(ctx, tx, queue)
	if err != nil {
		return 0, err
	}
	emailIDs, cids, tos, kinds, days, dueExps := make([]int64, len(due)), make([]string, len(due)), make([]string, len(due)), make([]string, len(due)), make([]int64, len(due)), make([]string, len(due))
	for i, d := range due {
		emailIDs[i], cids[i], tos[i], kinds[i], days[i], dueExps[i] = queued[d.CredentialID], d.CredentialID, d.Email, d.Kind, int64(d.Days), d.ExpiresOn.Format(issuance.DateLayout)
	}
	if _, err := tx.ExecContext(ctx, auditReminder, pq.Array(emailIDs), pq.Array(cids), pq.Array(tos), pq.Array(kinds),
		pq.Array(days), pq.Array(dueExps), now); err != nil {
		return 0, fmt.Errorf("audit %d reminders: %w", len(due), err)
	}
	return len(due), nil
}
