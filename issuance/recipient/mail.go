package recipient

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

	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/internal/mail"
	"github.com/laurel-edu/laurel/internal/text"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/delivery"
)

// EmailJob is the job kind that sends one of this room's emails (a row of
// recipient_mails), queued in the transaction that makes it necessary, so
// an SMTP outage delays the email and loses nothing; register SendEmail.
const EmailJob = "recipient_email"

type emailPayload struct {
	MailID int64 `json:"mail_id"`
}

// Kinds of email (recipient_mails.kind).
const (
	mailLink     = "link"
	mailApproved = "correction_approved"
	mailRefused  = "correction_refused"
	mailOld      = "address_old"
	mailNew      = "address_new"
)

//go:embed mailtmpl/*.txt
var mailFS embed.FS

// Parsed at start-up: a broken template panics in init and never ships.
var mailTemplates = func() map[string]*template.Template {
	m := map[string]*template.Template{}
	for _, k := range []string{mailLink, mailApproved, mailRefused, mailOld, mailNew} {
		m[k] = template.Must(template.ParseFS(mailFS, "mailtmpl/"+k+".txt"))
	}
	return m
}()

func mailSubject(kind, achievement string) string {
	switch kind {
	case mailLink:
		return "Your link to manage your credential " + achievement
	case mailApproved:
		return "Your name was corrected on " + achievement
	case mailRefused:
		return "Your name correction on " + achievement
	}
	return "The email address of your credential " + achievement + " changed"
}

type mailRefs struct{ Link, Correction int64 }

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// queueMail adds an email of kind about credential id to the outbox and
// its job, in tx.
func (s *Service) queueMail(ctx context.Context, tx *sqlx.Tx, id, kind, to string, refs mailRefs) error {
	const q = `INSERT INTO recipient_mails (credential_id, kind, to_address, link_id, correction_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`
	var mid int64
	if err := tx.GetContext(ctx, &mid, q, id, kind, to, nullID(refs.Link), nullID(refs.Correction), s.now()); err != nil {
		return fmt.Errorf("queue %s email for credential %s: %w", kind, id, err)
	}
	if _, err := jobs.Enqueue(ctx, tx, EmailJob, emailPayload{MailID: mid}); err != nil {
		return fmt.Errorf("queue %s email for credential %s: %w", kind, id, err)
	}
	return nil
}

// AddressChanged queues the notices of a published credential's new email
// address: one to the old address, one to the new, in the amendment's
// transaction (issuance.Service.AddressChanged).
func (s *Service) AddressChanged(ctx context.Context, tx *sqlx.Tx, c issuance.Credential, old string) error {
	if err := s.queueMail(ctx, tx, c.ID, mailOld, old, mailRefs{}); err != nil {
		return err
	}
	return s.queueMail(ctx, tx, c.ID, mailNew, c.Recipient.Email, mailRefs{})
}

type mailRow struct {
	ID           int64      `db:"id"`
	CredentialID string     `db:"credential_id"`
	Kind         string     `db:"kind"`
	To           string     `db:"to_address"`
	LinkID       *int64     `db:"link_id"`
	CorrectionID *int64     `db:"correction_id"`
	State        string     `db:"state"`
	CreatedAt    time.Time  `db:"created_at"`
	SentAt       *time.Time `db:"sent_at"`
}

const mailCols = `id, credential_id, kind, to_address, link_id, correction_id, state, created_at, sent_at`

// mailData is what an email's template reads.
type mailData struct {
	Name, To, Achievement, Org, URL, CredentialURL, Expires, Requested, Reason string
}

// SendEmail returns the handler for EmailJob; links start with baseURL
// (LAUREL_BASE_URL) and mail goes out from from (LAUREL_MAIL_FROM, with the
// organisation's sender name). A link used, replaced or expired before its
// email went out is not sent. A sent email clears the link's sealed token in
// the transaction that completes the job, so a retry never sends it twice; a
// refused address is recorded on the email.
func (s *Service) SendEmail(sender *mail.Sender, from, baseURL string) jobs.Handler {
	baseURL = strings.TrimRight(baseURL, "/")
	return func(ctx context.Context, j jobs.Job) error {
		var p emailPayload
		if err := json.Unmarshal(j.Payload, &p); err != nil || p.MailID == 0 {
			return fmt.Errorf("recipient email job %d: bad payload %s", j.ID, j.Payload)
		}
		var m mailRow
		err := s.DB.GetContext(ctx, &m, `SELECT `+mailCols+` FROM recipient_mails WHERE id = $1`, p.MailID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // its credential was deleted
		}
		if err != nil {
			return fmt.Errorf("load recipient email %d: %w", p.MailID, err)
		}
		if m.State != "queued" {
			return nil
		}
		msg, skip, err := s.compose(ctx, m, baseURL)
		if err != nil {
			return err
		}
		if skip != "" {
			return s.markMail(ctx, j, m, "failed", skip)
		}
		org, err := s.Core.Organisation(ctx)
		if err != nil {
			return err
		}
		msg.From, msg.ReplyTo = delivery.FromFor(org, from), org.ReplyAddress()
		if err := sender.Send(ctx, msg); err != nil {
			if !mail.Permanent(err) && !j.LastAttempt {
				return fmt.Errorf("send recipient email %d: %w", m.ID, err)
			}
			return s.markMail(ctx, j, m, "failed", text.Truncate(err.Error(), 1000))
		}
		return s.markMail(ctx, j, m, "sent", "")
	}
}

// markMail records an email's outcome and completes its job, in one
// transaction; a link's sealed token is cleared either way.
func (s *Service) markMail(ctx context.Context, j jobs.Job, m mailRow, state, why string) error {
	return db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		// The link first, then its email: the order in which a new link
		// request deletes them (the link, its email by cascade), so the two
		// never wait on each other.
		if m.LinkID != nil {
			const ql = `UPDATE recipient_links SET mail_token = NULL WHERE id = $1`
			if _, err := tx.ExecContext(ctx, ql, *m.LinkID); err != nil {
				return fmt.Errorf("clear link %d: %w", *m.LinkID, err)
			}
		}
		const q = `UPDATE recipient_mails SET state = $2, last_error = $3,
			sent_at = CASE WHEN $2 = 'sent' THEN $4::timestamptz END WHERE id = $1`
		if _, err := tx.ExecContext(ctx, q, m.ID, state, why, s.now()); err != nil {
			return fmt.Errorf("record recipient email %d: %w", m.ID, err)
		}
		return jobs.MarkDone(ctx, tx, j)
	})
}

// compose renders email m; skip says why it must not be sent ("" to send).
func (s *Service) compose(ctx context.Context, m mailRow, baseURL string) (mail.Message, string, error) {
	cr, err := s.Core.Credential(ctx, m.CredentialID)
	if err != nil {
		return mail.Message{}, "", err
	}
	g, err := s.Core.Group(ctx, cr.GroupID)
	if err != nil {
		return mail.Message{}, "", err
	}
	org, err := s.Core.Organisation(ctx)
	if err != nil {
		return mail.Message{}, "", err
	}
	d := mailData{Name: cr.Recipient.Name, To: m.To, Achievement: g.Name, Org: org.Name, CredentialURL: s.Core.CredentialURL(cr.ID)}
	if d.Org == "" {
		d.Org = "Your institution"
	}
	switch m.Kind {
	case mailLink:
		if m.LinkID == nil {
			return mail.Message{}, "no link", nil
		}
		var l struct {
			Token     []byte     `db:"mail_token"`
			ExpiresAt time.Time  `db:"expires_at"`
			UsedAt    *time.Time `db:"used_at"`
		}
		err := s.DB.GetContext(ctx, &l, `SELECT mail_token, expires_at, used_at FROM recipient_links WHERE id = $1`, *m.LinkID)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && (l.Token == nil || l.UsedAt != nil || !s.now().Before(l.ExpiresAt))) {
			return mail.Message{}, "The link was replaced, used or expired before it could be sent.", nil
		}
		if err != nil {
			return mail.Message{}, "", fmt.Errorf("load link %d: %w", *m.LinkID, err)
		}
		plain, err := s.Keys.Open(l.Token, sealAD(*m.LinkID))
		if err != nil {
			return mail.Message{}, "", fmt.Errorf("link %d: %w", *m.LinkID, err)
		}
		loc := s.Core.Locale(ctx)
		d.URL = baseURL + "/recipient/link?token=" + url.QueryEscape(string(plain))
		d.Expires = loc.DateTime(l.ExpiresAt) + " (" + loc.ZoneName() + " time)"
	case mailApproved, mailRefused:
		if m.CorrectionID == nil {
			return mail.Message{}, "no correction", nil
		}
		var c correctionRow
		if err := s.DB.GetContext(ctx, &c, `SELECT `+correctionCols+` FROM name_corrections WHERE id = $1`, *m.CorrectionID); err != nil {
			return mail.Message{}, "", fmt.Errorf("load name correction %d: %w", *m.CorrectionID, err)
		}
		d.Requested, d.Reason = c.RequestedName, c.Reason
	}
	var body bytes.Buffer
	if err := mailTemplates[m.Kind].Execute(&body, d); err != nil {
		return mail.Message{}, "", fmt.Errorf("render %s email %d: %w", m.Kind, m.ID, err)
	}
	// A subject is one line: names with line breaks must not add headers.
	subject := strings.Join(strings.Fields(mailSubject(m.Kind, "“"+g.Name+"”")), " ")
	return mail.Message{To: m.To, Subject: subject, Text: body.String()}, "", nil
}

// mailLabels name each kind of email for staff.
var mailLabels = map[string]string{
	mailLink:     "Link to manage the credential",
	mailApproved: "Name correction approved",
	mailRefused:  "Name correction refused",
	mailOld:      "Notice of the changed email address (old address)",
	mailNew:      "Notice of the changed email address (new address)",
}

// EmailLines tells credential id's self-service emails as sentences for
// its staff page, newest first: "Notice of the changed email address (old
// address) to a@example.edu: sent on 7 Dec 2026, 14:30".
func (s *Service) EmailLines(ctx context.Context, id string) ([]string, error) {
	var rows []mailRow
	if err := s.DB.SelectContext(ctx, &rows, `SELECT `+mailCols+` FROM recipient_mails WHERE credential_id = $1 ORDER BY id DESC LIMIT 50`, id); err != nil {
		return nil, fmt.Errorf("recipient emails of %s: %w", id, err)
	}
	loc := s.Core.Locale(ctx)
	out := make([]string, len(rows))
	for i, r := range rows {
		state := "waiting to be sent (queued on " + loc.DateTime(r.CreatedAt) + ")"
		switch {
		case r.State == "sent" && r.SentAt != nil:
			state = "sent on " + loc.DateTime(*r.SentAt)
		case r.State == "failed":
			state = "not sent (queued on " + loc.DateTime(r.CreatedAt) + ")"
		}
		out[i] = mailLabels[r.Kind] + " to " + r.To + ": " + state
	}
	return out, nil
}
