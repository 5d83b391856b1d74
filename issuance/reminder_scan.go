package issuance

// The expiry reminder scan. Nothing is planned ahead per credential: each run
// finds, in one statement over the published credentials that expire soon
// (index credentials_expiring), the reminders due now that no row of
// credential_reminders records yet, and inserts those rows (ON CONFLICT DO
// NOTHING), their outbox emails and their audit entries together. The key
// (credential, expiry date, kind, days) makes each reminder go out once,
// across restarts, repeated runs and two processes; a changed expiry date
// (amend, bulk edit, renewal) is a new key, so it plans anew by itself, and
// an email queued for the old date is dropped at sending (delivery compares
// the dates).

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	auditlog "github.com/laurel-edu/laurel/internal/audit"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/internal/locale"
)

// ReminderJob is the scheduled job kind that sends the expiry emails due
// (run it with worker.Schedule(ReminderJob, ReminderInterval, s.HandleReminders)).
const ReminderJob = "credential_reminders"

// ReminderInterval is how often the scan runs.
const ReminderInterval = time.Hour

// ReminderHour is the hour of the day, in the organisation's time zone, from
// which a day's reminders go out (not in the night).
const ReminderHour = 8

// ExpiredGrace is how many days after the expiry date the expired email may
// still go out (after a downtime); older expiries are never emailed, so
// turning the feature on does not write to everyone whose credential ever
// expired.
const ExpiredGrace = 7

// reminderBatch bounds the reminders of one transaction.
const reminderBatch = 2000

// reminderActor is who the audit log names for a reminder.
const reminderActor = "system"

// auditReminder records each email of the scan's CTE em (joined with ins).
var auditReminder = auditlog.InsertSelect(auditlog.Columns{At: "$5", Actor: "'" + reminderActor + "'", Action: "'remind'",
	EntityType: "'credential'", EntityID: "em.credential_id",
	After: "jsonb_build_object('email_id', em.id, 'to', em.to_address, 'kind', em.reason, 'days', ins.days, 'expires_on', em.expires_on)"},
	"em JOIN ins ON ins.credential_id = em.credential_id")

// ReminderDay is the day whose reminders are due at now in time zone zone:
// the date there, until ReminderHour, the day before.
func ReminderDay(now time.Time, zone string) time.Time {
	return locale.New("en", zone).Today(now.Add(-ReminderHour * time.Hour))
}

// HandleReminders is ReminderJob's handler: it sends the expiry emails due.
func (s *Service) HandleReminders(ctx context.Context, _ jobs.Job) error {
	n, err := s.SendDueReminders(ctx)
	if n > 0 {
		s.Logger().Info("reminders: expiry emails queued", "count", n)
	}
	return err
}

// SendDueReminders queues every expiry email due now and returns how many.
//
// A credential is due a reminder when it is published (not revoked), has an
// expiry date that is not past, and the date is at most one of its group's
// offsets away: of the offsets that are due it gets only the nearest one
// (published 5 days before expiry with offsets 30 and 7, it gets the 7-day
// reminder, never the 30-day one too), and nothing when a reminder as near
// or nearer went out for the same expiry date. It is due the expired email
// when its expiry date has passed (at most ExpiredGrace days ago), the group
// sends one, and it was published before it expired. Days count in the
// organisation's time zone (ReminderDay).
func (s *Service) SendDueReminders(ctx context.Context) (int, error) {
	o, err := s.Organisation(ctx)
	if err != nil {
		return 0, err
	}
	var maxOffset int
	const mq = `SELECT COALESCE(max(d), 0) FROM reminder_settings, unnest(offsets) AS d`
	if err := s.DB.GetContext(ctx, &maxOffset, mq); err != nil {
		return 0, fmt.Errorf("reminders: largest offset: %w", err)
	}
	today := ReminderDay(s.Time(), o.TimeZone)
	total := 0
	for {
		n, err := s.sendDueRemindersBatch(ctx, today, maxOffset)
		total += n
		if err != nil || n < reminderBatch {
			return total, err
		}
	}
}

func (s *Service) sendDueRemindersBatch(ctx context.Context, today time.Time, maxOffset int) (int, error) {
	q := `WITH due AS (
			SELECT c.id, c.recipient_email, c.expires_on,
				CASE WHEN c.expires_on < $1::date THEN 'expired' ELSE 'reminder' END AS kind,
				CASE WHEN c.expires_on >= $1::date THEN
					(SELECT min(d) FROM unnest(COALESCE(gs.offsets, o.offsets)) AS d WHERE d >= c.expires_on - $1::date)
				WHEN COALESCE(gs.expired_email, o.expired_email) AND c.published_at < (c.expires_on + 1)::timestamp THEN 0
				END AS days
			FROM credentials c
			CROSS JOIN (SELECT offsets, expired_email FROM reminder_settings WHERE group_id IS NULL) o
			LEFT JOIN reminder_settings gs ON gs.group_id = c.group_id
			WHERE c.state = 'published' AND c.expires_on IS NOT NULL
				AND c.expires_on BETWEEN $1::date - $2::int AND $1::date + $3::int
		), pick AS (
			SELECT due.* FROM due
			WHERE due.days IS NOT NULL AND NOT EXISTS (SELECT FROM credential_reminders r
				WHERE r.credential_id = due.id AND r.expires_on = due.expires_on AND r.kind = due.kind AND r.days <= due.days)
			LIMIT $4
		), ins AS (
			INSERT INTO credential_reminders (credential_id, expires_on, kind, days, created_at)
			SELECT id, expires_on, kind, days, $5 FROM pick
			ON CONFLICT DO NOTHING
			RETURNING credential_id, expires_on, kind, days
		), em AS (
			INSERT INTO credential_emails (credential_id, to_address, reason, created_at, expires_on)
			SELECT ins.credential_id, pick.recipient_email, ins.kind, $5, ins.expires_on
			FROM ins JOIN pick ON pick.id = ins.credential_id
			RETURNING id, credential_id, to_address, reason, expires_on
		), aud AS (
			` + auditReminder + `
		)
		SELECT id FROM em`
	var ids []int64
	err := db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		ids = ids[:0]
		if err := tx.SelectContext(ctx, &ids, q, today, ExpiredGrace, maxOffset, reminderBatch, s.Time()); err != nil {
			return fmt.Errorf("reminders due on %s: %w", today.Format(DateLayout), err)
		}
		kind, payloads := emailJobs(ids, false)
		if _, err := jobs.EnqueueMany(ctx, tx, kind, payloads); err != nil {
			return fmt.Errorf("reminders due on %s: %w", today.Format(DateLayout), err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(ids), nil
}
