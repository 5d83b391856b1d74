package issuance

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/internal/mail"
)

//go:embed mailtmpl/*
var mailFS embed.FS

// The email templates are parsed once at start-up; a broken one panics in
// init, so it can never ship.
var (
	mailSubject = texttemplate.Must(texttemplate.ParseFS(mailFS, "mailtmpl/credential.subject.txt"))
	mailText    = texttemplate.Must(texttemplate.ParseFS(mailFS, "mailtmpl/credential.txt"))
	mailHTML    = htmltemplate.Must(htmltemplate.ParseFS(mailFS, "mailtmpl/credential.html"))
)

// DefaultIssuer names the issuing organisation until it is configurable.
const DefaultIssuer = "Laurel"

// emailData is what the credential email templates see.
type emailData struct {
	RecipientName, To, Achievement, CourseName, IssuedOn, URL, CredentialID, Issuer, Reason, Color string
}

// CredentialEmail renders the email for credential c of group g: subject,
// plain text and HTML (escaped by html/template).
func (s *Service) CredentialEmail(c Credential, g Group, d Design, to, reason string) (mail.Message, error) {
	data := emailData{RecipientName: c.Recipient.Name, To: to, Achievement: g.Name, CourseName: g.CourseName,
		IssuedOn: c.IssuedOn.Format("2 January 2006"), URL: s.CredentialURL(c.ID), CredentialID: c.ID,
		Issuer: DefaultIssuer, Reason: reason, Color: d.PrimaryColor}
	if !colorRE.MatchString(data.Color) {
		data.Color = "#1f3a5f"
	}
	var subj, text, html bytes.Buffer
	if err := mailSubject.Execute(&subj, data); err != nil {
		return mail.Message{}, fmt.Errorf("render email subject for %s: %w", c.ID, err)
	}
	if err := mailText.Execute(&text, data); err != nil {
		return mail.Message{}, fmt.Errorf("render email text for %s: %w", c.ID, err)
	}
	if err := mailHTML.Execute(&html, data); err != nil {
		return mail.Message{}, fmt.Errorf("render email html for %s: %w", c.ID, err)
	}
	// A subject is one line: names with line breaks must not add headers.
	subject := strings.Join(strings.Fields(subj.String()), " ")
	return mail.Message{To: to, Subject: subject, Text: text.String(), HTML: html.String()}, nil
}

// CredentialURL is the public page of credential id.
func (s *Service) CredentialURL(id string) string {
	return strings.TrimRight(s.BaseURL, "/") + "/c/" + id
}

// SendEmailJob returns the handler for EmailJob: it sends one credential
// email through sender and, in one transaction, marks the email sent and the
// job done, so a retry never sends it twice. An email whose credential was
// revoked in the meantime is not sent.
func (s *Service) SendEmailJob(sender *mail.Sender, from string) jobs.Handler {
	return func(ctx context.Context, j jobs.Job) error {
		var p emailPayload
		if err := json.Unmarshal(j.Payload, &p); err != nil || p.EmailID == 0 {
			return fmt.Errorf("email job %d: bad payload %s", j.ID, j.Payload)
		}
		q := `SELECT e.state AS email_state, e.to_address, e.reason, ` + prefixed("c.", credCols) + `,
				` + prefixed("g.", groupCols) + `, d.primary_color
			FROM credential_emails e
			JOIN credentials c ON c.id = e.credential_id
			JOIN groups g ON g.id = c.group_id
			JOIN designs d ON d.id = g.design_id
			WHERE e.id = $1`
		row := s.DB.QueryRowxContext(ctx, q, p.EmailID)
		var (
			state, to, reason string
			cr                credRow
			gr                groupRow
			color             string
		)
		err := row.Scan(&state, &to, &reason, &cr.Seq, &cr.ID, &cr.GroupID, &cr.State, &cr.Name, &cr.Email, &cr.IssuedOn,
			&cr.ExpiresOn, &cr.Attributes, &cr.EvidenceURL, &cr.Source, &cr.ExternalRef, &cr.RevocationReason, &cr.CreatedAt,
			&cr.UpdatedAt, &cr.PublishedAt, &cr.RevokedAt, &gr.ID, &gr.Name, &gr.CourseName, &gr.Description, &gr.CourseLink,
			&gr.Language, &gr.DesignID, &gr.Attributes, &gr.ValidityMonths, &gr.AllowDuplicates, &gr.CreatedAt, &gr.UpdatedAt, &color)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // nothing to send; the job is done
		}
		if err != nil {
			return fmt.Errorf("email %d: load: %w", p.EmailID, err)
		}
		if state != "queued" {
			return nil // sent (or cancelled) already: a re-run after a crash
		}
		c := cr.credential()
		if c.State != Published {
			return s.finishEmail(ctx, j, p.EmailID, "failed", "credential is "+string(c.State))
		}
		g, err := gr.group()
		if err != nil {
			return err
		}
		m, err := s.CredentialEmail(c, g, Design{PrimaryColor: color}, to, reason)
		if err != nil {
			return err
		}
		m.From = from
		if err := sender.Send(ctx, m); err != nil {
			st := "queued"
			if j.LastAttempt {
				st = "failed"
			}
			const f = `UPDATE credential_emails SET attempts = attempts + 1, last_error = $2, state = $3 WHERE id = $1`
			if _, uerr := s.DB.ExecContext(ctx, f, p.EmailID, truncate(err.Error(), 1000), st); uerr != nil {
				s.Log.Warn("email: cannot record failure", "email_id", p.EmailID, "err", uerr)
			}
			return err
		}
		return s.finishEmail(ctx, j, p.EmailID, "sent", "")
	}
}

// finishEmail records the email's final state and completes the job in one
// transaction.
func (s *Service) finishEmail(ctx context.Context, j jobs.Job, emailID int64, state, lastError string) error {
	return db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		const q = `UPDATE credential_emails SET state = $2, last_error = $3, attempts = attempts + 1,
				sent_at = CASE WHEN $2 = 'sent' THEN $4::timestamptz END
			WHERE id = $1`
		if _, err := tx.ExecContext(ctx, q, emailID, state, lastError, s.now()); err != nil {
			return fmt.Errorf("email %d: mark %s: %w", emailID, state, err)
		}
		return jobs.MarkDone(ctx, tx, j)
	})
}

func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
