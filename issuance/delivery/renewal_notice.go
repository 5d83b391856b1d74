package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/internal/locale"
	"github.com/laurel-edu/laurel/internal/mail"
	"github.com/laurel-edu/laurel/issuance/reminders"
)

// Staff names the people who hear of a group's renewal requests; the app
// wires the staff accounts.
type Staff interface {
	// GroupStaffEmails are the addresses of the active staff who manage
	// group id.
	GroupStaffEmails(ctx context.Context, groupID int64) ([]string, error)
}

// SendRenewalNotice returns the handler of reminders.RenewalNoticeJob: it
// emails the group's staff (Staff; the organisation's contact address too,
// or alone when Staff finds nobody) that a recipient asks to renew, with the
// links to act on it. Register it with worker.Handle(reminders.RenewalNoticeJob,
// ...) and worker.SetPolicy(reminders.RenewalNoticeJob, delivery.EmailRetry).
func (s *Service) SendRenewalNotice(sender *mail.Sender, from string) jobs.Handler {
	return func(ctx context.Context, j jobs.Job) error {
		var p reminders.RenewalNoticePayload
		if err := json.Unmarshal(j.Payload, &p); err != nil || p.RequestID == 0 {
			return fmt.Errorf("renewal notice job %d: bad payload %s", j.ID, j.Payload)
		}
		r, err := s.Reminders.Renewal(ctx, p.RequestID)
		if err != nil {
			return err
		}
		g, err := s.Core.Group(ctx, r.GroupID)
		if err != nil {
			return err
		}
		o, err := s.Core.Organisation(ctx)
		if err != nil {
			return err
		}
		var to []string
		if s.Staff != nil {
			if to, err = s.Staff.GroupStaffEmails(ctx, r.GroupID); err != nil {
				return err
			}
		}
		if o.ContactEmail != "" && !slices.ContainsFunc(to, func(a string) bool { return strings.EqualFold(a, o.ContactEmail) }) {
			to = append(to, o.ContactEmail)
		}
		if len(to) == 0 {
			s.logger().Warn("renewal request: nobody to tell; it is listed on the group page", "group_id", r.GroupID, "request_id", r.ID)
			return nil
		}
		l := locale.New(o.Language, o.TimeZone)
		base := strings.TrimRight(s.Core.BaseURL, "/")
		subject := strings.Join(strings.Fields("Renewal requested: "+r.RecipientName+", "+g.Name), " ")
		text := fmt.Sprintf(`%s (%s) asks to renew their credential for %s, which expires on %s.

To renew it, give it a new expiry date on its page:
%s/credentials/%s

All open requests of the group:
%s/groups/%s#renewal-requests

Laurel sends this email because the group lets recipients ask to renew.
`, r.RecipientName, r.Email, g.Name, l.Date(r.ExpiresOn), base, r.CredentialID, base, strconv.FormatInt(g.ID, 10))
		msgs := make([]mail.Message, len(to))
		for i, a := range to {
			msgs[i] = mail.Message{From: FromFor(o, from), To: a, Subject: subject, Text: text}
		}
		var first error
		sender.SendEach(ctx, msgs, func(_ int, err error) error {
			if err != nil && !mail.Permanent(err) && first == nil {
				first = err
			}
			return nil
		})
		return first
	}
}
