// Package reminders is the expiry emails of published credentials: the
// organisation's reminder settings and a group's own when it overrides them
// (table reminder_settings), the hourly scan that queues the reminders and
// expired emails due (credential_reminders, scan.go), and recipients'
// requests to renew (renewal_requests, renewal.go). It reads and writes the
// credentials and their outbox only through the core (issuance).
package reminders

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/apperr"
	auditlog "github.com/laurel-edu/laurel/internal/audit"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/secret"
	"github.com/laurel-edu/laurel/issuance"
)

// Service is the expiry emails over the core's credentials.
type Service struct {
	Core *issuance.Service
	// Keys sign the links recipients follow to ask for a renewal; nil: no
	// such links (RenewURL is "", and every link is refused).
	Keys *secret.Keys
}

// New returns the expiry emails of core's credentials, whose renewal links
// keys sign.
func New(core *issuance.Service, keys *secret.Keys) *Service { return &Service{Core: core, Keys: keys} }

func (s *Service) db() *sqlx.DB { return s.Core.DB }

// Settings are the expiry emails of a group or, as defaults, of the
// organisation: reminders some days before a credential's expiry date, an
// email once it has expired, each with its own text, and whether recipients
// may ask to renew.
type Settings struct {
	// Offsets are the days before the expiry date a reminder goes out,
	// largest first; empty sends no reminder.
	Offsets      []int `json:"offsets"`
	ExpiredEmail bool  `json:"expired_email"`
	// The texts, with the publish email's placeholders and {expires_on};
	// "" means the default wording (DefaultReminderSubject...).
	ReminderSubject string `json:"reminder_subject"`
	ReminderBody    string `json:"reminder_body"`
	ExpiredSubject  string `json:"expired_subject"`
	ExpiredBody     string `json:"expired_body"`
	// Renewal lets recipients ask to renew: the emails and the credential
	// page carry an "Ask to renew" link that tells staff.
	Renewal bool `json:"renewal"`
	// Inherited says a group's settings are the organisation's (the group
	// has none of its own). Always false for the organisation's.
	Inherited bool      `json:"inherited"`
	UpdatedAt time.Time `json:"updated_at"`
}

// The expiry emails' wording until an owner writes their own.
const (
	DefaultReminderSubject = "Your credential for {credential_name} expires on {expires_on}"
	DefaultReminderBody    = `Hello {recipient_name},

Your credential for {credential_name}, issued by {issuer_name}, expires on {expires_on}.

You can view it here:
{credential_url}`
	DefaultExpiredSubject = "Your credential for {credential_name} has expired"
	DefaultExpiredBody    = `Hello {recipient_name},

Your credential for {credential_name}, issued by {issuer_name}, expired on {expires_on}. Its page now shows it as expired:
{credential_url}`
)

// Placeholders are the names the expiry emails may use: the publish
// email's and the expiry date.
var Placeholders = append(slices.Clip(issuance.Placeholders), issuance.Placeholder{Name: "expires_on", Means: "the expiry date"})

// Subject is the subject template of kind (issuance.ReminderKind or
// issuance.ExpiredKind).
func (r Settings) Subject(kind string) string {
	if kind == issuance.ExpiredKind {
		return cmp.Or(r.ExpiredSubject, DefaultExpiredSubject)
	}
	return cmp.Or(r.ReminderSubject, DefaultReminderSubject)
}

// Body is the text template of kind (issuance.ReminderKind or
// issuance.ExpiredKind).
func (r Settings) Body(kind string) string {
	if kind == issuance.ExpiredKind {
		return cmp.Or(r.ExpiredBody, DefaultExpiredBody)
	}
	return cmp.Or(r.ReminderBody, DefaultReminderBody)
}

// OffsetsText is the offsets as a form shows them: "30, 7".
func (r Settings) OffsetsText() string {
	parts := make([]string, len(r.Offsets))
	for i, d := range r.Offsets {
		parts[i] = strconv.Itoa(d)
	}
	return strings.Join(parts, ", ")
}

// ParseOffsets reads a list of days such as "30, 7" (commas or spaces);
// anything else is an Invalid error naming the field "offsets".
func ParseOffsets(s string) ([]int, error) {
	var out []int
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' }) {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, apperr.Fields("The reminder settings have problems.", []apperr.FieldError{{Index: -1, Field: "offsets",
				Message: fmt.Sprintf("%q is not a number of days; write whole days separated by commas, e.g. 30, 7.", f)}})
		}
		out = append(out, n)
	}
	if out == nil {
		out = []int{}
	}
	return out, nil
}

const (
	maxReminderOffsets = 10
	maxReminderDays    = 3650
)

// check normalises r (offsets sorted largest first, each once;
// default texts stored as "") and returns its problems, named by field.
func check(r *Settings) []apperr.FieldError {
	var fe []apperr.FieldError
	bad := func(field, msg string) { fe = append(fe, apperr.FieldError{Index: -1, Field: field, Message: msg}) }
	if r.Offsets == nil {
		r.Offsets = []int{}
	}
	for _, d := range r.Offsets {
		if d < 1 || d > maxReminderDays {
			bad("offsets", fmt.Sprintf("%d is not a number of days before the expiry date; each must be between 1 and %d.", d, maxReminderDays))
			break
		}
	}
	slices.Sort(r.Offsets)
	r.Offsets = slices.Compact(r.Offsets)
	slices.Reverse(r.Offsets)
	if len(r.Offsets) > maxReminderOffsets {
		bad("offsets", fmt.Sprintf("At most %d reminders; you entered %d.", maxReminderOffsets, len(r.Offsets)))
	}
	oneLine := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	for _, f := range []struct {
		field string
		v     *string
		def   string
		body  bool
	}{
		{"reminder_subject", &r.ReminderSubject, DefaultReminderSubject, false},
		{"reminder_body", &r.ReminderBody, DefaultReminderBody, true},
		{"expired_subject", &r.ExpiredSubject, DefaultExpiredSubject, false},
		{"expired_body", &r.ExpiredBody, DefaultExpiredBody, true},
	} {
		if f.body {
			*f.v = strings.TrimSpace(strings.ReplaceAll(*f.v, "\r\n", "\n"))
		} else {
			*f.v = oneLine(*f.v)
		}
		if msg := issuance.CheckEmailText(*f.v, f.body, Placeholders); msg != "" {
			bad(f.field, msg)
		}
		// The default text is stored as "", so a later improvement of
		// the default reaches owners who never changed it.
		if *f.v == f.def {
			*f.v = ""
		}
	}
	return fe
}

// Check normalises r as the updates would and returns an apperr.Fields
// error naming each bad field, or nil.
func Check(r *Settings) error {
	if fe := check(r); len(fe) > 0 {
		return apperr.Fields("The reminder settings have problems.", fe)
	}
	return nil
}

type reminderRow struct {
	GroupID         sql.NullInt64 `db:"group_id"`
	Offsets         pq.Int64Array `db:"offsets"`
	ExpiredEmail    bool          `db:"expired_email"`
	ReminderSubject string        `db:"reminder_subject"`
	ReminderBody    string        `db:"reminder_body"`
	ExpiredSubject  string        `db:"expired_subject"`
	ExpiredBody     string        `db:"expired_body"`
	Renewal         bool          `db:"renewal"`
	UpdatedAt       time.Time     `db:"updated_at"`
}

const reminderCols = `group_id, offsets, expired_email, reminder_subject, reminder_body, expired_subject, expired_body, renewal, updated_at`

func (r reminderRow) settings() Settings {
	out := Settings{Offsets: make([]int, len(r.Offsets)), ExpiredEmail: r.ExpiredEmail, ReminderSubject: r.ReminderSubject,
		ReminderBody: r.ReminderBody, ExpiredSubject: r.ExpiredSubject, ExpiredBody: r.ExpiredBody, Renewal: r.Renewal, UpdatedAt: r.UpdatedAt}
	for i, d := range r.Offsets {
		out.Offsets[i] = int(d)
	}
	return out
}

func offsetsArray(ds []int) pq.Int64Array {
	out := make(pq.Int64Array, len(ds))
	for i, d := range ds {
		out[i] = int64(d)
	}
	return out
}

// auditReminders is what the audit log keeps of reminder settings.
func auditReminders(r Settings) map[string]any {
	return map[string]any{"offsets": r.Offsets, "expired_email": r.ExpiredEmail, "reminder_subject": r.ReminderSubject,
		"reminder_body": r.ReminderBody, "expired_subject": r.ExpiredSubject, "expired_body": r.ExpiredBody, "renewal": r.Renewal}
}

// Organisation returns the organisation's reminder settings, the
// default of every group without its own.
func (s *Service) Organisation(ctx context.Context) (Settings, error) {
	const q = `SELECT ` + reminderCols + ` FROM reminder_settings WHERE group_id IS NULL`
	var r reminderRow
	if err := s.db().GetContext(ctx, &r, q); err != nil {
		return Settings{}, fmt.Errorf("load organisation reminder settings: %w", err)
	}
	return r.settings(), nil
}

// Group returns the reminder settings in effect for group gid: its
// own, or the organisation's (Inherited). An unknown group is NotFound.
func (s *Service) Group(ctx context.Context, gid int64) (Settings, error) {
	const q = `SELECT ` + reminderCols + ` FROM reminder_settings
		WHERE group_id IS NULL OR group_id = $1
		ORDER BY group_id NULLS LAST`
	var rows []reminderRow
	if err := s.db().SelectContext(ctx, &rows, q, gid); err != nil {
		return Settings{}, fmt.Errorf("load reminder settings of group %d: %w", gid, err)
	}
	if len(rows) == 2 {
		return rows[0].settings(), nil
	}
	if _, err := s.Core.Group(ctx, gid); err != nil {
		return Settings{}, err
	}
	if len(rows) == 0 {
		return Settings{}, fmt.Errorf("load reminder settings of group %d: the organisation's row is missing", gid)
	}
	out := rows[0].settings()
	out.Inherited = true
	return out, nil
}

// UpdateOrganisation stores the organisation's reminder settings,
// audited as actor's change. Errors: Invalid (an apperr.Fields error naming
// each bad field), with nothing stored.
func (s *Service) UpdateOrganisation(ctx context.Context, actor string, r Settings) (Settings, error) {
	if err := Check(&r); err != nil {
		return Settings{}, err
	}
	var out Settings
	err := db.InTx(ctx, s.db(), func(tx *sqlx.Tx) error {
		var old reminderRow
		if err := tx.GetContext(ctx, &old, `SELECT `+reminderCols+` FROM reminder_settings WHERE group_id IS NULL FOR UPDATE`); err != nil {
			return fmt.Errorf("update organisation reminder settings: %w", err)
		}
		now := s.Core.Time()
		const q = `UPDATE reminder_settings SET offsets = $1, expired_email = $2, reminder_subject = $3, reminder_body = $4,
				expired_subject = $5, expired_body = $6, renewal = $7, updated_at = $8
			WHERE group_id IS NULL RETURNING ` + reminderCols
		var row reminderRow
		if err := tx.GetContext(ctx, &row, q, offsetsArray(r.Offsets), r.ExpiredEmail, r.ReminderSubject, r.ReminderBody,
			r.ExpiredSubject, r.ExpiredBody, r.Renewal, now); err != nil {
			return fmt.Errorf("update organisation reminder settings: %w", err)
		}
		out = row.settings()
		return auditlog.Record(ctx, tx, now, actor, "update_reminders", "organisation", "1", auditReminders(old.settings()), auditReminders(out))
	})
	if err != nil {
		return Settings{}, err
	}
	return out, nil
}

// SetGroup gives group gid its own reminder settings r, or, with r
// nil, makes it use the organisation's again; audited as actor's change of
// the group. Errors: NotFound (no such group), Invalid (an apperr.Fields
// error naming each bad field), with nothing stored.
func (s *Service) SetGroup(ctx context.Context, actor string, gid int64, r *Settings) (Settings, error) {
	if r != nil {
		if err := Check(r); err != nil {
			return Settings{}, err
		}
	}
	noGroup := apperr.Errorf(apperr.NotFound, "There is no group %d.", gid)
	if _, err := s.Core.Group(ctx, gid); err != nil {
		if apperr.Is(err, apperr.NotFound) {
			return Settings{}, noGroup
		}
		return Settings{}, err
	}
	err := db.InTx(ctx, s.db(), func(tx *sqlx.Tx) error {
		var before any
		var old reminderRow
		switch err := tx.GetContext(ctx, &old, `SELECT `+reminderCols+` FROM reminder_settings WHERE group_id = $1 FOR UPDATE`, gid); {
		case err == nil:
			before = auditReminders(old.settings())
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("set reminder settings of group %d: %w", gid, err)
		}
		now := s.Core.Time()
		if r == nil {
			if _, err := tx.ExecContext(ctx, `DELETE FROM reminder_settings WHERE group_id = $1`, gid); err != nil {
				return fmt.Errorf("set reminder settings of group %d: %w", gid, err)
			}
			return auditlog.Record(ctx, tx, now, actor, "update_reminders", "group", strconv.FormatInt(gid, 10), before, map[string]any{"inherited": true})
		}
		const q = `INSERT INTO reminder_settings (group_id, offsets, expired_email, reminder_subject, reminder_body,
				expired_subject, expired_body, renewal, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (group_id) DO UPDATE SET offsets = $2, expired_email = $3, reminder_subject = $4, reminder_body = $5,
				expired_subject = $6, expired_body = $7, renewal = $8, updated_at = $9`
		if _, err := tx.ExecContext(ctx, q, gid, offsetsArray(r.Offsets), r.ExpiredEmail, r.ReminderSubject, r.ReminderBody,
			r.ExpiredSubject, r.ExpiredBody, r.Renewal, now); err != nil {
			var pqe *pq.Error
			if errors.As(err, &pqe) && pqe.Code == "23503" {
				return noGroup // deleted since: the foreign key on groups
			}
			return fmt.Errorf("set reminder settings of group %d: %w", gid, err)
		}
		return auditlog.Record(ctx, tx, now, actor, "update_reminders", "group", strconv.FormatInt(gid, 10), before, auditReminders(*r))
	})
	if err != nil {
		return Settings{}, err
	}
	return s.Group(ctx, gid)
}
