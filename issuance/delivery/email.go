package issuance

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	htmltemplate "html/template"
	netmail "net/mail"
	"strings"
	"sync/atomic"
	texttemplate "text/template"
	"time"

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
	mailText = texttemplate.Must(texttemplate.ParseFS(mailFS, "mailtmpl/credential.txt"))
	mailHTML = htmltemplate.Must(htmltemplate.ParseFS(mailFS, "mailtmpl/credential.html"))
)

// emailData is what the credential email templates see: Body is the
// owner's text with its placeholders filled, as paragraphs of lines of
// segments, so the HTML part can link the credential's URL where the text
// names it.
type emailData struct {
	To, Achievement, CourseName, URL, CredentialID, Issuer, Color, Lang string
	Text                                                                string
	Paragraphs                                                          [][][]emailSegment
	// Download links the certificate PDF or the baked badge (never attached).
	Download Link
}

// emailSegment is a run of text in the email; Link is set where the text is
// the credential's URL.
type emailSegment struct{ Text, Link string }

// CredentialEmail renders the email for credential c of group g on behalf of
// organisation o: subject, plain text and HTML (escaped by html/template),
// from o's text with its placeholders filled. reason "resend" marks a
// reminder. The caller sets From and Reply-To (see FromFor).
func (s *Service) CredentialEmail(c Credential, g Group, d Design, o Organisation, to, reason string) (mail.Message, error) {
	vals := map[string]string{
		"recipient_name": c.Recipient.Name, "credential_name": g.Name, "course_name": g.CourseName,
		"issued_on": c.IssuedOn.Format(issuance.HumanDate), "issuer_name": o.Name, "credential_url": s.CredentialURL(c.ID),
		"credential_id": c.ID,
	}
	var download Link
	switch d.Kind {
	case Certificate:
		// Only a certificate the PDF fonts can draw (the PDF route refuses
		// others; the design's own texts are checked there).
		if certpdf.Covered(c.Recipient.Name + g.Name + g.CourseName) {
			download = Link{"Download your certificate (PDF)", s.PDFURL(c.ID)}
		}
	case Badge:
		if s.Keys != nil { // a badge is baked with the signed credential
			download = Link{"Download your badge image", s.BadgeURL(c.ID)}
		}
	}
	return renderEmail(o, vals, d.PrimaryColor, download, to, reason)
}

// PreviewEmail renders o's publish email for an example recipient, so an
// owner sees their text with its placeholders filled before saving it.
func (s *Service) PreviewEmail(o Organisation) (mail.Message, error) {
	vals := map[string]string{
		"recipient_name": "Ada Lovelace", "credential_name": "Introduction to Data Science",
		"course_name": "DS 101: Introduction to Data Science", "issued_on": s.now().Format(issuance.HumanDate),
		"issuer_name": o.Name, "credential_url": s.CredentialURL("example0credential0id"), "credential_id": "example0credential0id",
	}
	return renderEmail(o, vals, "", Link{}, "ada.lovelace@example.edu", "publish")
}

func renderEmail(o Organisation, vals map[string]string, color string, download Link, to, reason string) (mail.Message, error) {
	data := emailData{To: to, Achievement: vals["credential_name"], CourseName: vals["course_name"], URL: vals["credential_url"],
		CredentialID: vals["credential_id"], Issuer: o.Name, Color: color, Lang: o.Language, Download: download}
	if !colorRE.MatchString(data.Color) {
		data.Color = "#1f3a5f"
	}
	if data.Lang == "" {
		data.Lang = "en"
	}
	body := o.Body()
	data.Text = fill(body, vals)
	for _, para := range strings.Split(body, "\n\n") {
		para = strings.Trim(para, "\n")
		if para == "" {
			continue
		}
		var lines [][]emailSegment
		for _, line := range strings.Split(para, "\n") {
			var segs []emailSegment
			for i, part := range strings.Split(line, "{credential_url}") {
				if i > 0 {
					segs = append(segs, emailSegment{Text: data.URL, Link: data.URL})
				}
				if part != "" {
					segs = append(segs, emailSegment{Text: fill(part, vals)})
				}
			}
			lines = append(lines, segs)
		}
		data.Paragraphs = append(data.Paragraphs, lines)
	}
	var text, html bytes.Buffer
	if err := mailText.Execute(&text, data); err != nil {
		return mail.Message{}, fmt.Errorf("render email text for %s: %w", data.CredentialID, err)
	}
	if err := mailHTML.Execute(&html, data); err != nil {
		return mail.Message{}, fmt.Errorf("render email html for %s: %w", data.CredentialID, err)
	}
	subject := fill(o.Subject(), vals)
	if reason == "resend" {
		subject = "Reminder: " + subject
	}
	// A subject is one line: names with line breaks must not add headers.
	subject = strings.Join(strings.Fields(subject), " ")
	return mail.Message{To: to, Subject: subject, Text: text.String(), HTML: html.String()}, nil
}

// FromFor is the publish email's From for organisation o: the address of
// from (LAUREL_MAIL_FROM) with o's sender name as display name (from itself
// when it does not parse, which config validation prevents).
func FromFor(o Organisation, from string) string {
	a, err := netmail.ParseAddress(from)
	if err != nil {
		return from
	}
	if name := o.Sender(); name != "" {
		a.Name = name
	}
	return a.String()
}

// CredentialURL is the public page of credential id.
func (s *Service) CredentialURL(id string) string {
	return strings.TrimRight(s.BaseURL, "/") + "/c/" + id
}

// EmailRetry is how credential emails are retried, as a mail transfer agent
// does: exponential back-off with jitter from 30 s, capped at 30 minutes, for
// 5 days; after that the email is failed, where staff see it (/admin/mail)
// and can retry it. Register it with worker.SetPolicy(issuance.EmailJob, ...).
var EmailRetry = jobs.Policy{MaxAge: 5 * 24 * time.Hour, BaseBackoff: 30 * time.Second, MaxBackoff: 30 * time.Minute}

// SendEmailJob returns the handler for one EmailJob; see SendEmailBatch,
// which workers should prefer for throughput.
func (s *Service) SendEmailJob(sender *mail.Sender, from string) jobs.Handler {
	batch := s.SendEmailBatch(sender, from)
	return func(ctx context.Context, j jobs.Job) error { return batch(ctx, []jobs.Job{j})[0] }
}

// SendEmailBatch returns the batch handler for EmailJob: it loads the claimed
// emails in one query and sends them over one SMTP connection, recording each
// email as sent and its job done (one short transaction) as soon as the
// server accepted it and before sending the next. A crash therefore repeats
// at most the message each connection had in flight. Emails whose credential
// is no longer published (revoked meanwhile) are not sent. When the mail
// server answers again after failing, the emails waiting for their back-off
// are retried at once. Register it with worker.HandleBatch(issuance.EmailJob,
// ...) and worker.SetPolicy(issuance.EmailJob, issuance.EmailRetry).
func (s *Service) SendEmailBatch(sender *mail.Sender, from string) jobs.BatchHandler {
	var serverFailing atomic.Bool
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
		var org Organisation
		if err == nil {
			org, err = s.Organisation(ctx)
		}
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
			dropped  []dropping // done with state "failed": not sendable
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
				m, err := s.CredentialEmail(e.cred, e.group, Design{PrimaryColor: e.color, Kind: e.kind}, org, e.to, e.reason)
				if err != nil {
					errs[i] = err
					continue
				}
				m.From, m.ReplyTo = FromFor(org, from), org.ReplyAddress()
				msgs = append(msgs, m)
				msgJob = append(msgJob, i)
			}
		}
		if len(msgs) > 0 {
			sender.SendEach(ctx, msgs, func(k int, err error) error {
				i := msgJob[k]
				switch {
				case err == nil:
					if rerr := s.markSent(ctx, js[i], ids[i]); rerr != nil {
						// The email went out but is not recorded: its job
						// runs again and resends it. Stop here so that this
						// is the only one.
						errs[i] = rerr
						s.logger().Error("email: cannot record a sent email; it will be sent again", "email_id", ids[i], "err", rerr)
						return rerr
					}
					if serverFailing.CompareAndSwap(true, false) {
						s.retryWaitingEmails(ctx)
					}
				case errors.Is(err, mail.ErrStopped):
					errs[i] = err
				case mail.Permanent(err):
					// A bounce (unknown mailbox...): retrying cannot help;
					// staff see the reason on the credential's page.
					dropped = append(dropped, dropping{i, "rejected by the mail server: " + err.Error()})
				default:
					if ctx.Err() == nil {
						serverFailing.Store(true)
					}
					errs[i] = err
					s.recordFailure(ctx, js[i], ids[i], err)
				}
				return nil
			})
		}
		if err := s.finishEmails(ctx, js, ids, dropped, finished); err != nil {
			s.logger().Error("email: cannot record unsendable emails", "count", len(dropped), "err", err)
			for _, d := range dropped {
				errs[d.index] = err
			}
		}
		return errs
	}
}

// markSent records email id as sent and completes its job j, in one short
// transaction of its own.
func (s *Service) markSent(ctx context.Context, j jobs.Job, id int64) error {
	// Recording must not be cut short by the handler's deadline: the email
	// is out.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		const q = `UPDATE credential_emails SET state = 'sent', last_error = '', attempts = attempts + 1,
				sent_at = $2, last_attempt_at = $2
			WHERE id = $1 AND state = 'queued'`
		if _, err := tx.ExecContext(ctx, q, id, s.now()); err != nil {
			return fmt.Errorf("mark email %d sent: %w", id, err)
		}
		return jobs.MarkDone(ctx, tx, j)
	})
}

// retryWaitingEmails makes the email jobs that wait for their back-off due
// now: the mail server is back.
func (s *Service) retryWaitingEmails(ctx context.Context) {
	n, err := jobs.RetryNow(ctx, s.DB, EmailJob, s.now())
	if err != nil {
		s.logger().Warn("email: mail server is back, but cannot retry waiting emails now; they retry on their own", "err", err)
		return
	}
	if n > 0 {
		s.logger().Info("email: mail server is back; retrying waiting emails now", "count", n)
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
// attempt (EmailRetry's 5 days) the email is marked failed.
func (s *Service) recordFailure(ctx context.Context, j jobs.Job, emailID int64, err error) {
	st, msg := "queued", err.Error()
	if j.LastAttempt {
		st = "failed"
		msg = fmt.Sprintf("gave up after %d attempts since %s: %s", j.Attempts, j.CreatedAt.UTC().Format("2 Jan 2006 15:04 UTC"), msg)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	const q = `UPDATE credential_emails SET attempts = attempts + 1, last_error = $2, state = $3, last_attempt_at = $4
		WHERE id = $1 AND state = 'queued'`
	if _, uerr := s.DB.ExecContext(ctx, q, emailID, safetext.Truncate(msg, 1000), st, s.now()); uerr != nil {
		s.logger().Warn("email: cannot record failure", "email_id", emailID, "err", uerr)
	}
}

// finishEmails records the emails that will not be sent (dropped) and
// completes their jobs and the already-finished ones, in one transaction.
// (Sent emails are recorded one by one, by markSent.)
func (s *Service) finishEmails(ctx context.Context, js []jobs.Job, ids []int64, dropped []dropping, finished []jobs.Job) error {
	if len(dropped)+len(finished) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var dropIDs []int64
	var dropReasons []string
	done := append([]jobs.Job{}, finished...)
	for _, d := range dropped {
		dropIDs = append(dropIDs, ids[d.index])
		dropReasons = append(dropReasons, safetext.Truncate(d.reason, 1000))
		done = append(done, js[d.index])
	}
	return db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		if len(dropIDs) > 0 {
			const q = `UPDATE credential_emails SET state = 'failed', last_error = u.reason, attempts = attempts + 1,
					last_attempt_at = $3
				FROM unnest($1::bigint[], $2::text[]) AS u(id, reason)
				WHERE credential_emails.id = u.id AND credential_emails.state = 'queued'`
			if _, err := tx.ExecContext(ctx, q, pq.Array(dropIDs), pq.Array(dropReasons), s.now()); err != nil {
				return fmt.Errorf("drop %d emails: %w", len(dropIDs), err)
			}
		}
		return jobs.MarkDoneMany(ctx, tx, done)
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
