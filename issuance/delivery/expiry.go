package delivery

import (
	"context"

	"github.com/laurel-edu/laurel/internal/locale"
	"github.com/laurel-edu/laurel/internal/mail"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/reminders"
)

// renewLabel is the text of the link to ask for a renewal.
const renewLabel = "Ask to renew your credential"

// ExpiryEmail renders the expiry email of kind (issuance.ReminderKind or
// issuance.ExpiredKind) for credential c of group g, from the group's
// reminder settings rs: the publish email's layout and placeholders, plus
// {expires_on}, and the "Ask to renew" link where rs allows renewal.
func (s *Service) ExpiryEmail(c issuance.Credential, g issuance.Group, d issuance.Design, o issuance.Organisation, rs reminders.Settings, to, kind string) mail.Message {
	vals, download, fields := s.credentialValues(c, g, d, o)
	vals["expires_on"] = locale.New(o.Language, o.TimeZone).Date(c.ExpiresOn)
	var renew issuance.Link
	if rs.Renewal {
		if u := s.Reminders.RenewURL(c); u != "" {
			renew = issuance.Link{Label: renewLabel, URL: u}
		}
	}
	return renderEmail(o, rs.Subject(kind), rs.Body(kind), vals, d.PrimaryColor, emailLinks{Download: download, Renew: renew}, fields, to, kind)
}

// PreviewExpiryEmail renders o's expiry email of kind under settings rs for
// an example recipient whose credential expires 30 days from now, so an
// owner sees their text with its placeholders filled before saving it.
func (s *Service) PreviewExpiryEmail(o issuance.Organisation, rs reminders.Settings, kind string) mail.Message {
	l := locale.New(o.Language, o.TimeZone)
	exp := l.Today(s.now()).AddDate(0, 0, 30)
	if kind == issuance.ExpiredKind {
		exp = l.Today(s.now()).AddDate(0, 0, -1)
	}
	vals := map[string]string{
		"recipient_name": "Ada Lovelace", "credential_name": "Introduction to Data Science",
		"course_name": "DS 101: Introduction to Data Science", "issued_on": l.Date(exp.AddDate(-1, 0, 0)), "expires_on": l.Date(exp),
		"issuer_name": o.Name, "credential_url": s.Core.CredentialURL("example0credential0id"), "credential_id": "example0credential0id",
	}
	var renew issuance.Link
	if rs.Renewal {
		renew = issuance.Link{Label: renewLabel, URL: s.Core.CredentialURL("example0credential0id") + "/renew"}
	}
	return renderEmail(o, rs.Subject(kind), rs.Body(kind), vals, "", emailLinks{Renew: renew}, nil, "ada.lovelace@example.edu", kind)
}

// expirySettings loads the reminder settings of groups on demand, once per
// batch of emails.
type expirySettings struct {
	s    *Service
	byID map[int64]reminders.Settings
}

func (e *expirySettings) of(ctx context.Context, gid int64) (reminders.Settings, error) {
	if rs, ok := e.byID[gid]; ok {
		return rs, nil
	}
	rs, err := e.s.Reminders.Group(ctx, gid)
	if err != nil {
		return rs, err
	}
	if e.byID == nil {
		e.byID = map[int64]reminders.Settings{}
	}
	e.byID[gid] = rs
	return rs, nil
}

// isExpiry reports whether an outbox reason is an expiry email's.
func isExpiry(reason string) bool {
	return reason == issuance.ReminderKind || reason == issuance.ExpiredKind
}
