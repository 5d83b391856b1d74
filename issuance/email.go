package issuance

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/internal/mail"
	"github.com/laurel-edu/laurel/internal/safetext"
	"github.com/laurel-edu/laurel/issuance/certpdf"
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
	// Download links the certificate PDF or the baked badge (never attached).
	Download Link
}

// CredentialEmail renders the email for credential c of group g: subject,
// plain text and HTML (escaped by html/template).
func (s *Service) CredentialEmail(c Credential, g Group, d Design, to, reason string) (mail.Message, error) {
	data := emailData{RecipientName: c.Recipient.Name, To: to, Achievement: g.Name, CourseName: g.CourseName,
		IssuedOn: c.IssuedOn.Format("2 January 2006"), URL: s.CredentialURL(c.ID), CredentialID: c.ID,
		Issuer: DefaultIssuer, Reason: reason, Color: d.PrimaryColor}
	switch d.Kind {
	case Certificate:
		// Only a certificate the PDF fonts can draw (the PDF route refuses
		// others; the design's own texts are checked there).
		if certpdf.Covered(c.Recipient.Name + g.Name + g.CourseName) {
			data.Download = Link{"Download your certificate (PDF)", s.PDFURL(c.ID)}
		}
	case Badge:
		if s.Keys != nil { // a badge is baked with the signed credential
			data.Download = Link{"Download your badge image", s.BadgeURL(c.ID)}
		}
	}
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

// SendEmailJob returns the handler for one EmailJob; see SendEmailBatch,
// which workers should prefer for throughput.
func (s *Service) SendEmailJob(sender *mail.Sender, from string) jobs.Handler {
	batch := s.SendEmailBatch(sender, from)
	return func(ctx context.Context, j jobs.Job) error { return batch(ctx, []jobs.Job{j})[0] }
}

// SendEmailBatch returns the batch handler for EmailJob: it loads the claimed
// emails in one query, sends them over one SMTP connection and then, in one
// transaction, marks the sent ones sent and their jobs done, so a retry never
// sends an email twice. Emails whose credential is no longer published
// (revoked meanwhile) are not sent. Register it with
// worker.HandleBatch(issuance.EmailJob, ...).
func (s *Service) SendEmailBatch(sender *mail.Sender, from string) jobs.BatchHandler {
	return func(ctx context.Context, js []jobs.Job) []error {
		errs := make([]error, len(js))
		ids := make([]int64, len(js))
		for i, j := range js {
			var p emailPayload
			if err := json.Unmarshal(j.Payload, &p); err != nil || p.EmailID == 0 {
				errs[i] = fmt.Errorf("email job %d: bad payload %s", j.ID, j.Payload)
			}
			ids[i] = p.EmailID
		}
		loaded, err := s.loadEmails(ctx, ids)
		if err != nil {
			for i := range errs {
				errs[i] = err
			}
			return errs
		}
		s.signBeforeSending(ctx, loaded)
		var (
			msgs     []mail.Message
			msgJob   []int      // index into js of each message
			sent     []int      // indexes into js done with state "sent"
			dropped  []dropping // done with state "failed": not sendable, or refused for good
			finished []jobs.Job
		)
		for i, id := range ids {
			if errs[i] != nil {
				continue
			}
			e, ok := loaded[id]
			switch {
			case !ok || e.state != "queued":
				// Gone, or sent/cancelled already (a re-run after a crash).
				finished = append(finished, js[i])
			case e.cred.State != Published:
				dropped = append(dropped, dropping{i, "credential is " + string(e.cred.State) + ", not published"})
			default:
				m, err := s.CredentialEmail(e.cred, e.group, Design{PrimaryColor: e.color, Kind: e.kind}, e.to, e.reason)
				if err != nil {
					errs[i] = err
					continue
				}
				m.From = from
				msgs = append(msgs, m)
				msgJob = append(msgJob, i)
			}
		}
		if len(msgs) > 0 {
			serrs := sender.SendMany(ctx, msgs)
			for k, err := range serrs {
				i := msgJob[k]
				switch {
				case err != nil && mail.Permanent(err):
					// A bounce (unknown mailbox...): retrying cannot help;
					// staff see the reason on the credential's page.
					dropped = append(dropped, dropping{i, "rejected by the mail server: " + err.Error()})
				case err != nil:
					errs[i] = err
					s.recordFailure(ctx, js[i], ids[i], err)
				default:
					sent = append(sent, i)
				}
			}
		}
		if err := s.finishEmails(ctx, js, ids, sent, dropped, finished); err != nil {
			// The emails went out but the database did not take the record
			// (even after the worker's retries of its own bookkeeping): the
			// jobs run again after their lease, which resends these — the one
			// double-send case, and only when the database fails mid-batch.
			s.logger().Error("email: cannot record sent emails", "count", len(sent), "err", err)
			for _, i := range sent {
				errs[i] = err
			}
			for _, d := range dropped {
				errs[d.index] = err
			}
		}
		return errs
	}
}

// dropping is an email that will not be sent, and why.
type dropping struct {
	index  int
	reason string
}

// loadedEmail is one queued email with what its message needs.
type loadedEmail struct {
	state, to, reason, color string
	kind                     DesignKind
	cred                     Credential
	group                    Group
}

func (s *Service) loadEmails(ctx context.Context, ids []int64) (map[int64]loadedEmail, error) {
	// Columns are scanned by name: the credential's as "c.<column>" and the
	// group's as "g.<column>" into the nested rows, so adding a column to
	// either row type needs no change here.
	q := `SELECT e.id AS email_id, e.state AS email_state, e.to_address, e.reason, ` + prefixed("c", credCols) + `,
			` + prefixed("g", groupCols) + `, d.primary_color, d.kind
		FROM credential_emails e
		JOIN credentials c ON c.id = e.credential_id
		JOIN groups g ON g.id = c.group_id
		JOIN designs d ON d.id = g.design_id
		WHERE e.id = ANY($1)`
	var rows []struct {
		ID     int64    `db:"email_id"`
		State  string   `db:"email_state"`
		To     string   `db:"to_address"`
		Reason string   `db:"reason"`
		Color  string   `db:"primary_color"`
		Kind   string   `db:"kind"`
		Cred   credRow  `db:"c"`
		Group  groupRow `db:"g"`
	}
	if err := s.DB.SelectContext(ctx, &rows, q, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("load %d emails: %w", len(ids), err)
	}
	out := make(map[int64]loadedEmail, len(rows))
	for _, r := range rows {
		g, err := r.Group.group()
		if err != nil {
			return nil, err
		}
		out[r.ID] = loadedEmail{state: r.State, to: r.To, reason: r.Reason, color: r.Color, kind: DesignKind(r.Kind), cred: r.Cred.credential(), group: g}
	}
	return out, nil
}

// recordFailure notes a failed attempt where staff see it; after the last
// attempt the email is marked failed.
func (s *Service) recordFailure(ctx context.Context, j jobs.Job, emailID int64, err error) {
	st := "queued"
	if j.LastAttempt {
		st = "failed"
	}
	const q = `UPDATE credential_emails SET attempts = attempts + 1, last_error = $2, state = $3 WHERE id = $1 AND state = 'queued'`
	if _, uerr := s.DB.ExecContext(ctx, q, emailID, safetext.Truncate(err.Error(), 1000), st); uerr != nil {
		s.logger().Warn("email: cannot record failure", "email_id", emailID, "err", uerr)
	}
}

// finishEmails records sent and dropped emails and completes their jobs (and
// the already-finished ones) in one transaction.
func (s *Service) finishEmails(ctx context.Context, js []jobs.Job, ids []int64, sent []int, dropped []dropping, finished []jobs.Job) error {
	if len(sent)+len(dropped)+len(finished) == 0 {
		return nil
	}
	pick := func(idx []int) ([]int64, []jobs.Job) {
		var es []int64
		var jj []jobs.Job
		for _, i := range idx {
			es = append(es, ids[i])
			jj = append(jj, js[i])
		}
		return es, jj
	}
	sentIDs, sentJobs := pick(sent)
	var dropIDs []int64
	var dropReasons []string
	var dropJobs []jobs.Job
	for _, d := range dropped {
		dropIDs = append(dropIDs, ids[d.index])
		dropReasons = append(dropReasons, safetext.Truncate(d.reason, 1000))
		dropJobs = append(dropJobs, js[d.index])
	}
	return db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		if len(sentIDs) > 0 {
			const q = `UPDATE credential_emails SET state = 'sent', last_error = '', attempts = attempts + 1, sent_at = $2
				WHERE id = ANY($1)`
			if _, err := tx.ExecContext(ctx, q, pq.Array(sentIDs), s.now()); err != nil {
				return fmt.Errorf("mark %d emails sent: %w", len(sentIDs), err)
			}
		}
		if len(dropIDs) > 0 {
			const q = `UPDATE credential_emails SET state = 'failed', last_error = u.reason, attempts = attempts + 1
				FROM unnest($1::bigint[], $2::text[]) AS u(id, reason)
				WHERE credential_emails.id = u.id AND credential_emails.state = 'queued'`
			if _, err := tx.ExecContext(ctx, q, pq.Array(dropIDs), pq.Array(dropReasons)); err != nil {
				return fmt.Errorf("drop %d emails: %w", len(dropIDs), err)
			}
		}
		all := append(append(append([]jobs.Job{}, sentJobs...), dropJobs...), finished...)
		return jobs.MarkDoneMany(ctx, tx, all)
	})
}

// prefixed qualifies each of cols (a comma-separated column list) with table
// alias p and names it "p.column", the name sqlx maps to a nested struct
// field tagged db:"p".
func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		c = strings.TrimSpace(c)
		parts[i] = p + "." + c + ` AS "` + p + "." + c + `"`
	}
	return strings.Join(parts, ", ")
}
