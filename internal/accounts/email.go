package accounts

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"text/template"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/internal/mail"
	"github.com/laurel-edu/laurel/internal/text"
)

// AccountEmailJob is the job kind that emails a one-time link (invitation
// or password reset). It is queued in the transaction that creates the
// link, so an SMTP outage delays the email and loses nothing; register
// SendAccountEmail for it.
const AccountEmailJob = "account_email"

type accountEmailPayload struct {
	LinkID int64 `json:"link_id"`
}

//go:embed mailtmpl/*.txt
var mailFS embed.FS

// Parsed at start-up: a broken template panics in init and never ships.
var accountMail = map[string]*template.Template{
	linkInvite: template.Must(template.ParseFS(mailFS, "mailtmpl/invite.txt")),
	linkReset:  template.Must(template.ParseFS(mailFS, "mailtmpl/reset.txt")),
}

// accountSubject is an account email's subject, naming the organisation
// (org) when it has one.
func accountSubject(purpose, org string) string {
	switch {
	case purpose == linkInvite && org != "":
		return "You are invited to " + org + "'s credential issuer"
	case purpose == linkInvite:
		return "You are invited to your institution's credential issuer"
	case org != "":
		return "Choose a new password for " + org + "'s credential issuer"
	}
	return "Choose a new password for your institution's credential issuer"
}

// accountMailData is an account email's fields; Org is the organisation's
// name, "" before an owner has named it.
type accountMailData struct {
	Name, Email, Role, URL, Expires, Org string
	// Requested: the reset was asked for with "Forgot your password?",
	// not sent by an owner.
	Requested bool
}

// SendAccountEmail returns the handler for AccountEmailJob; links in the
// emails start with baseURL (LAUREL_BASE_URL). A link that was
// used, replaced or expired meanwhile is not emailed. A sent email clears
// the link's encrypted token in the transaction that completes the job, so
// a retry never sends it twice; a refused address (a bounce) is recorded on
// the link, where the staff list shows it.
func (s *Service) SendAccountEmail(sender *mail.Sender, from, baseURL string) jobs.Handler {
	baseURL = strings.TrimRight(baseURL, "/")
	return func(ctx context.Context, j jobs.Job) error {
		var p accountEmailPayload
		if err := json.Unmarshal(j.Payload, &p); err != nil || p.LinkID == 0 {
			return fmt.Errorf("account email job %d: bad payload %s", j.ID, j.Payload)
		}
		const q = `SELECT l.purpose, l.mail_token, l.mail_state, l.expires_at, l.used_at, u.email, u.name, u.role, u.disabled,
				l.created_by = 'user:' || u.id || ':' || u.email AS requested
			FROM account_links l JOIN users u ON u.id = l.user_id WHERE l.id = $1`
		var r struct {
			Purpose   string     `db:"purpose"`
			Token     []byte     `db:"mail_token"`
			State     string     `db:"mail_state"`
			ExpiresAt time.Time  `db:"expires_at"`
			UsedAt    *time.Time `db:"used_at"`
			Email     string     `db:"email"`
			Name      string     `db:"name"`
			Role      string     `db:"role"`
			Disabled  bool       `db:"disabled"`
			Requested bool       `db:"requested"` // asked for on the sign-in page
		}
		err := s.db.GetContext(ctx, &r, q, p.LinkID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // replaced by a newer link: nothing to send
		}
		if err != nil {
			return fmt.Errorf("load account link %d: %w", p.LinkID, err)
		}
		if r.State != "queued" || r.Token == nil || r.UsedAt != nil || r.Disabled || !s.now().Before(r.ExpiresAt) {
			return nil
		}
		plain, err := s.keys.Open(r.Token, sealAD(p.LinkID))
		if err != nil {
			return fmt.Errorf("account link %d: %w", p.LinkID, err)
		}
		link := baseURL + linkPath(r.Purpose) + "?token=" + url.QueryEscape(string(plain))
		org, err := s.orgName(ctx)
		if err != nil {
			return fmt.Errorf("%s email for link %d: %w", r.Purpose, p.LinkID, err)
		}
		var body bytes.Buffer
		data := accountMailData{Name: r.Name, Email: r.Email, Role: auth.Role(r.Role).Label(), URL: link,
			Expires: s.locale(ctx).DateTime(r.ExpiresAt) + " (" + s.locale(ctx).ZoneName() + " time)", Org: org, Requested: r.Requested}
		if err := accountMail[r.Purpose].Execute(&body, data); err != nil {
			return fmt.Errorf("render %s email for link %d: %w", r.Purpose, p.LinkID, err)
		}
		m := mail.Message{From: from, To: r.Email, Subject: accountSubject(r.Purpose, org), Text: body.String()}
		if err := sender.Send(ctx, m); err != nil {
			if !mail.Permanent(err) && !j.LastAttempt {
				return fmt.Errorf("send %s email for link %d: %w", r.Purpose, p.LinkID, err)
			}
			const qf = `UPDATE account_links SET mail_state = 'failed', mail_error = $2, mail_token = NULL WHERE id = $1`
			if _, uerr := s.db.ExecContext(ctx, qf, p.LinkID, text.Truncate(err.Error(), 1000)); uerr != nil {
				return fmt.Errorf("record failed email for link %d: %w", p.LinkID, uerr)
			}
			return nil
		}
		return db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
			const qs = `UPDATE account_links SET mail_state = 'sent', mail_error = '', mail_token = NULL WHERE id = $1`
			if _, err := tx.ExecContext(ctx, qs, p.LinkID); err != nil {
				return fmt.Errorf("record sent email for link %d: %w", p.LinkID, err)
			}
			return jobs.MarkDone(ctx, tx, j)
		})
	}
}
