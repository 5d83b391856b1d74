package delivery

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	netmail "net/mail"
	"strings"
	"sync/atomic"
	"time"

	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/internal/locale"
	"github.com/laurel-edu/laurel/internal/mail"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/certpdf"
)

// emailData is what the credential email's writer (emailwriter.go) sees: Body is the
// owner's text with its placeholders filled, as paragraphs of lines of
// segments, so the HTML part can link the credential's URL where the text
// names it.
type emailData struct {
	To, Achievement, CourseName, URL, CredentialID, Issuer, Color, Lang string
	ClickURL                                                            string // the button's link: URL, or the counting one
	Text                                                                string
	Paragraphs                                                          [][][]emailSegment
	// Download links the certificate PDF or the baked badge (never attached).
	Download issuance.Link
	// Wallet links the page that adds the credential to a wallet app.
	Wallet issuance.Link
	// Renew links the page where the recipient asks to renew (expiry
	// emails of groups that allow it).
	Renew issuance.Link
	// LogoURL is the organisation's logo on the public logo route, "" when
	// it has none or the site is not served over https (mail clients load
	// remote images over https only).
	LogoURL string
	// Fields are the custom attributes the recipient may see (public and
	// recipient-only ones; never staff-only), labelled, in the group's order.
	Fields []emailField
}

// emailField is one labelled attribute value of the credential.
type emailField struct{ Label, Value string }

// emailSegment is a run of text in the email; Link is set where the text is
// the credential's URL.
type emailSegment struct{ Text, Link string }

// CredentialEmail renders the email for credential c of group g on behalf of
// organisation o: subject, plain text and HTML (escaped as html/template escapes),
// from o's text with its placeholders filled. reason "resend" marks a
// reminder. The caller sets From and Reply-To (see FromFor).
func (s *Service) CredentialEmail(c issuance.Credential, g issuance.Group, d issuance.Design, o issuance.Organisation, to, reason string) mail.Message {
	vals, download, fields := s.credentialValues(c, g, d, o)
	return renderEmail(o, o.Subject(), o.Body(), vals, d.PrimaryColor, emailLinks{Download: download, Wallet: s.walletLink(c)}, fields, to, reason)
}

// credentialValues are the placeholders' values, the download link and the
// visible fields of credential c's emails.
func (s *Service) credentialValues(c issuance.Credential, g issuance.Group, d issuance.Design, o issuance.Organisation) (map[string]string, issuance.Link, []emailField) {
	vals := map[string]string{
		"recipient_name": c.Recipient.Name, "credential_name": g.Name, "course_name": g.CourseName,
		"issued_on": locale.New(o.Language, o.TimeZone).Date(c.IssuedOn), "issuer_name": o.Name, "credential_url": s.Core.CredentialURL(c.ID),
		"credential_id": c.ID,
	}
	if s.CountClicks {
		vals["click_url"] = s.Core.CredentialURL(c.ID) + "?src=email" // not a placeholder: the button's link
	}
	var download issuance.Link
	switch d.Kind {
	case issuance.Certificate:
		// Only a certificate the PDF fonts can draw (the PDF route refuses
		// others; the design's own texts are checked there).
		if certpdf.Covered(c.Recipient.Name + g.Name + g.CourseName) {
			download = issuance.Link{Label: "Download your certificate (PDF)", URL: s.Core.PDFURL(c.ID)}
		}
	case issuance.Badge:
		if s.Signer != nil && s.Signer.Enabled() { // a badge is baked with the signed credential
			download = issuance.Link{Label: "Download your badge image", URL: s.Core.BadgeURL(c.ID)}
		}
	}
	var fields []emailField
	for _, v := range c.VisibleValues(g, issuance.AudienceRecipient) {
		fields = append(fields, emailField{Label: v.Label, Value: v.Display()})
	}
	return vals, download, fields
}

// walletLink is the email's wallet link for c ("" URL when none).
func (s *Service) walletLink(c issuance.Credential) issuance.Link {
	if s.WalletLink == nil || c.State != issuance.Published {
		return issuance.Link{}
	}
	return issuance.Link{Label: "Add it to a digital wallet app on your phone", URL: s.WalletLink(c.ID, c.Recipient.Email)}
}

// PreviewEmail renders o's publish email for an example recipient, so an
// owner sees their text with its placeholders filled before saving it.
func (s *Service) PreviewEmail(o issuance.Organisation) mail.Message {
	vals := map[string]string{
		"recipient_name": "Ada Lovelace", "credential_name": "Introduction to Data Science",
		"course_name": "DS 101: Introduction to Data Science", "issued_on": locale.New(o.Language, o.TimeZone).DayOf(s.now()),
		"issuer_name": o.Name, "credential_url": s.Core.CredentialURL("example0credential0id"), "credential_id": "example0credential0id",
	}
	return renderEmail(o, o.Subject(), o.Body(), vals, "", emailLinks{}, nil, "ada.lovelace@example.edu", "publish")
}

// emailLinks are the links an email offers below its text (each "" URL
// when none).
type emailLinks struct{ Download, Renew, Wallet issuance.Link }

// renderEmail renders an email from the templates subject and body (with
// placeholders) and vals.
func renderEmail(o issuance.Organisation, subjectT, body string, vals map[string]string, color string, links emailLinks, fields []emailField, to, reason string) mail.Message {
	data := newEmailData(o, body, vals, color, links, fields, to)
	subject := issuance.Fill(subjectT, vals)
	if reason == "resend" {
		subject = "Reminder: " + subject
	}
	// A subject is one line: names with line breaks must not add headers.
	subject = strings.Join(strings.Fields(subject), " ")
	return mail.Message{To: to, Subject: subject, Text: writeEmailText(&data), HTML: writeEmailHTML(&data)}
}

// newEmailData is what renderEmail writes: the email's values, with the
// body's placeholders filled and split into paragraphs, lines and segments.
func newEmailData(o issuance.Organisation, body string, vals map[string]string, color string, links emailLinks, fields []emailField, to string) emailData {
	data := emailData{To: to, Achievement: vals["credential_name"], CourseName: vals["course_name"], URL: vals["credential_url"],
		CredentialID: vals["credential_id"], Issuer: o.Name, Color: color, Lang: o.Language, Download: links.Download, Renew: links.Renew,
		Wallet: links.Wallet, Fields: fields, ClickURL: cmp.Or(vals["click_url"], vals["credential_url"])}
	if strings.HasPrefix(o.LogoURL, "https://") {
		data.LogoURL = o.LogoURL
	}
	if !issuance.ValidColor(data.Color) {
		data.Color = "#1f3a5f"
	}
	if data.Lang == "" {
		data.Lang = "en"
	}
	data.Text = issuance.Fill(body, vals)
	for para := range strings.SplitSeq(body, "\n\n") {
		para = strings.Trim(para, "\n")
		if para == "" {
			continue
		}
		var lines [][]emailSegment
		for line := range strings.SplitSeq(para, "\n") {
			var segs []emailSegment
			for i, part := range strings.Split(line, "{credential_url}") {
				if i > 0 {
					segs = append(segs, emailSegment{Text: data.URL, Link: data.URL})
				}
				if part != "" {
					segs = append(segs, emailSegment{Text: issuance.Fill(part, vals)})
				}
			}
			lines = append(lines, segs)
		}
		data.Paragraphs = append(data.Paragraphs, lines)
	}
	return data
}

// FromFor is the publish email's From for organisation o: the address of
// from (LAUREL_MAIL_FROM) with o's sender name as display name (from itself
// when it does not parse, which config validation prevents).
func FromFor(o issuance.Organisation, from string) string {
	a, err := netmail.ParseAddress(from)
	if err != nil {
		return from
	}
	if name := o.Sender(); name != "" {
		a.Name = name
	}
	return a.String()
}

// signBeforeSending signs the credentials of a batch of emails that the
// ChangedJob has not reached yet (waiting for one it is signing), so the
// link a recipient opens shows a signed credential. A failure is logged, not
// fatal: the page signs on demand too.
//
// The credentials of an EmailBulkJob have no sign job of their own (bulk):
// when they cannot be signed here, sign jobs are queued for them, so they
// are signed under the job engine's retries all the same.
func (s *Service) signBeforeSending(ctx context.Context, emails map[int64]issuance.OutboxEmail, bulk bool) {
	if s.Signer == nil || !s.Signer.Enabled() {
		return
	}
	ids := make([]string, 0, len(emails))
	for _, e := range emails {
		if e.State == "queued" && e.Credential.State == issuance.Published {
			ids = append(ids, e.Credential.ID)
		}
	}
	err := s.Signer.Sign(ctx, ids, false)
	if err == nil {
		return
	}
	s.logger().Warn("email: cannot sign credentials before sending", "count", len(ids), "err", err)
	if bulk {
		if err := s.Core.QueueSigning(ctx, ids); err != nil {
			s.logger().Error("email: cannot queue signing of credentials", "count", len(ids), "err", err)
		}
	}
}

// EmailRetry is how credential emails are retried, as a mail transfer agent
// does: exponential back-off with jitter from 30 s, capped at 30 minutes, for
// 5 days; after that the email is failed, where staff see it (/admin/mail)
// and can retry it. Register it with worker.SetPolicy(issuance.EmailJob, ...).
var EmailRetry = jobs.Policy{MaxAge: 5 * 24 * time.Hour, BaseBackoff: 30 * time.Second, MaxBackoff: 30 * time.Minute}

// EmailBulkRetry is EmailRetry for EmailBulkJobs, one job per claim: each
// of the worker's goroutines takes one job and sends its emails over its
// own SMTP connection, so a large publish goes out over several at once.
// Register it with worker.SetPolicy(issuance.EmailBulkJob, ...).
var EmailBulkRetry = jobs.Policy{MaxAge: EmailRetry.MaxAge, BaseBackoff: EmailRetry.BaseBackoff, MaxBackoff: EmailRetry.MaxBackoff, BatchSize: 1}

// SendEmailBatch returns the batch handler for EmailJob: it loads the claimed
// emails in one query and sends them over one SMTP connection, recording each
// email as sent and its job done (one short transaction) as soon as the
// server accepted it and before sending the next. A crash therefore repeats
// at most the message each connection had in flight. Emails whose credential
// is no longer published (revoked meanwhile) are not sent. When the mail
// server answers again after failing, the emails waiting for their back-off
// are retried at once. Register it with worker.HandleBatch(issuance.EmailJob,
// ...) and worker.SetPolicy(issuance.EmailJob, delivery.EmailRetry).
func (s *Service) SendEmailBatch(sender *mail.Sender, from string) jobs.BatchHandler {
	var serverFailing atomic.Bool
	return func(ctx context.Context, js []jobs.Job) []error {
		errs := make([]error, len(js))
		items := make([]outgoing, 0, len(js))
		itemJob := make([]int, 0, len(js)) // index into js of each item
		for i, j := range js {
			var p issuance.EmailPayload
			if err := json.Unmarshal(j.Payload, &p); err != nil || p.EmailID == 0 {
				errs[i] = fmt.Errorf("email job %d: bad payload %s", j.ID, j.Payload)
				continue
			}
			items = append(items, outgoing{job: j, id: p.EmailID, ownJob: true})
			itemJob = append(itemJob, i)
		}
		for k, err := range s.deliver(ctx, sender, from, items, &serverFailing) {
			errs[itemJob[k]] = err
		}
		return errs
	}
}

// SendEmailBulk returns the handler for EmailBulkJob: the job's emails are
// sent as SendEmailBatch sends its jobs' (one query to load them, one SMTP
// connection, credentials signed first), each recorded sent with one
// statement as soon as the server accepted it, before the next goes out; a
// crash therefore repeats at most the message in flight, and the job's
// retry sends only the emails still queued. The job fails (and is retried
// under the same policy) while any of its emails could not be sent yet.
// Register it with worker.Handle(issuance.EmailBulkJob, ...) and
// worker.SetPolicy(issuance.EmailBulkJob, delivery.EmailBulkRetry).
func (s *Service) SendEmailBulk(sender *mail.Sender, from string) jobs.Handler {
	var serverFailing atomic.Bool
	return func(ctx context.Context, j jobs.Job) error {
		var p issuance.EmailBulkPayload
		if err := json.Unmarshal(j.Payload, &p); err != nil || len(p.EmailIDs) == 0 {
			return fmt.Errorf("email job %d: bad payload", j.ID)
		}
		items := make([]outgoing, len(p.EmailIDs))
		for i, id := range p.EmailIDs {
			items[i] = outgoing{job: j, id: id}
		}
		var failed int
		var first error
		for _, err := range s.deliver(ctx, sender, from, items, &serverFailing) {
			if err != nil {
				failed++
				first = cmp.Or(first, err)
			}
		}
		if failed > 0 {
			return fmt.Errorf("%d of %d emails not sent yet: %w", failed, len(items), first)
		}
		return nil
	}
}

// outgoing is one email to send and the job it belongs to; ownJob says the
// job is this email's alone (an EmailJob), completed with its record.
type outgoing struct {
	job    jobs.Job
	id     int64
	ownJob bool
}

// deliver sends items over one SMTP connection and returns one outcome per
// item: nil when it is finished (sent, dropped, or no longer queued), an
// error when it waits for a retry.
func (s *Service) deliver(ctx context.Context, sender *mail.Sender, from string, items []outgoing, serverFailing *atomic.Bool) []error {
	errs := make([]error, len(items))
	if len(items) == 0 {
		return errs
	}
	ids := make([]int64, len(items))
	for i, it := range items {
		ids[i] = it.id
	}
	loaded, err := s.Core.OutboxEmails(ctx, ids)
	var org issuance.Organisation
	if err == nil {
		org, err = s.Core.Organisation(ctx)
	}
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	// An EmailBulkJob's items share its job; an EmailJob's own theirs.
	bulk := !items[0].ownJob
	s.signBeforeSending(ctx, loaded, bulk)
	var (
		msgs     []mail.Message
		msgItem  []int                   // index into items of each message
		dropped  []issuance.DroppedEmail // done with state "failed": not sendable
		droppedI []int
		finished []jobs.Job
	)
	drop := func(i int, reason string) {
		d := issuance.DroppedEmail{ID: ids[i], Reason: reason}
		if items[i].ownJob {
			d.Job = items[i].job
		}
		dropped, droppedI = append(dropped, d), append(droppedI, i)
	}
	fromAddr := FromFor(org, from)
	expiry := expirySettings{s: s}
	for i, id := range ids {
		e, ok := loaded[id]
		switch {
		case !ok || e.State != "queued":
			// Gone, or sent/cancelled already (a re-run after a crash).
			if items[i].ownJob {
				finished = append(finished, items[i].job)
			}
		case e.Credential.State != issuance.Published:
			drop(i, "credential is "+string(e.Credential.State)+", not published")
		case isExpiry(e.Reason) && (e.ExpiresOn == nil || e.Credential.ExpiresOn == nil || !e.ExpiresOn.Equal(*e.Credential.ExpiresOn)):
			// Amended, bulk-edited or renewed since: the scan plans the
			// new date's emails.
			drop(i, "not sent: the expiry date changed before it went out")
		default:
			var m mail.Message
			if isExpiry(e.Reason) {
				rs, err := expiry.of(ctx, e.Group.ID)
				if err != nil {
					errs[i] = err
					continue
				}
				m = s.ExpiryEmail(e.Credential, e.Group, e.Design, org, rs, e.To, e.Reason)
			} else {
				m = s.CredentialEmail(e.Credential, e.Group, e.Design, org, e.To, e.Reason)
			}
			m.From, m.ReplyTo = fromAddr, org.ReplyAddress()
			msgs = append(msgs, m)
			msgItem = append(msgItem, i)
		}
	}
	if len(msgs) > 0 {
		sender.SendEach(ctx, msgs, func(k int, err error) error {
			i := msgItem[k]
			switch {
			case err == nil:
				var rerr error
				if items[i].ownJob {
					rerr = s.Core.MarkEmailSent(ctx, items[i].job, ids[i])
				} else {
					rerr = s.Core.MarkEmailDelivered(ctx, ids[i])
				}
				if rerr != nil {
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
				drop(i, "rejected by the mail server: "+err.Error())
			default:
				if ctx.Err() == nil {
					serverFailing.Store(true)
				}
				errs[i] = err
				s.Core.RecordEmailFailure(ctx, items[i].job, ids[i], err)
			}
			return nil
		})
	}
	if err := s.Core.FinishEmails(ctx, dropped, finished); err != nil {
		s.logger().Error("email: cannot record unsendable emails", "count", len(dropped), "err", err)
		for _, i := range droppedI {
			errs[i] = err
		}
	}
	return errs
}

// retryWaitingEmails makes the email jobs that wait for their back-off due
// now: the mail server is back.
func (s *Service) retryWaitingEmails(ctx context.Context) {
	n, err := jobs.RetryNow(ctx, s.Core.DB, issuance.EmailJob, s.now())
	if err == nil {
		var m int
		m, err = jobs.RetryNow(ctx, s.Core.DB, issuance.EmailBulkJob, s.now())
		n += m
	}
	if err != nil {
		s.logger().Warn("email: mail server is back, but cannot retry waiting emails now; they retry on their own", "err", err)
		return
	}
	if n > 0 {
		s.logger().Info("email: mail server is back; retrying waiting emails now", "count", n)
	}
}
