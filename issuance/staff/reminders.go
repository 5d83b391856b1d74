package staff

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/mail"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/reminders"
)

// remindersPage is the expiry reminder settings: the organisation's
// defaults (/admin/organisation/reminders) or one group's
// (/groups/:id/reminders), with a preview of either email.
type remindersPage struct {
	Title string
	// Nav is the group's header; nil on the organisation's page.
	Nav *nav
	// Action is the form's address; OrgDefaults describes the defaults a
	// group falls back on.
	Action string
	// Own: the group has settings of its own (the form's choice).
	Own         bool
	Settings    reminders.Settings
	Offsets     string
	Errors      formErrors
	OtherErrors []string
	Preview     *mail.Message
	// PreviewKind names the previewed email.
	PreviewKind  string
	Placeholders []issuance.Placeholder
	Hour         int
	Grace        int
}

func (u *ui) newRemindersPage(title, action string, rs reminders.Settings) *remindersPage {
	return &remindersPage{Title: title, Action: action, Settings: inEffect(rs), Offsets: rs.OffsetsText(), Errors: formErrors{},
		Placeholders: reminders.Placeholders, Hour: reminders.Hour, Grace: reminders.ExpiredGrace, Own: !rs.Inherited}
}

// inEffect is rs with the texts in effect, defaults written out: what the
// form shows.
func inEffect(rs reminders.Settings) reminders.Settings {
	rs.ReminderSubject, rs.ReminderBody = rs.Subject(issuance.ReminderKind), rs.Body(issuance.ReminderKind)
	rs.ExpiredSubject, rs.ExpiredBody = rs.Subject(issuance.ExpiredKind), rs.Body(issuance.ExpiredKind)
	return rs
}

// parseRemindersForm reads the posted settings into page; a bad list of
// days is a field error.
func (u *ui) parseRemindersForm(c *gin.Context, page *remindersPage) reminders.Settings {
	page.Offsets = trimmed(c, "offsets")
	rs := reminders.Settings{
		ExpiredEmail:    c.PostForm("expired_email") == "1",
		Renewal:         c.PostForm("renewal") == "1",
		ReminderSubject: trimmed(c, "reminder_subject"), ReminderBody: c.PostForm("reminder_body"),
		ExpiredSubject: trimmed(c, "expired_subject"), ExpiredBody: c.PostForm("expired_body"),
	}
	page.Own = c.PostForm("own") != "0"
	offsets, err := reminders.ParseOffsets(page.Offsets)
	if err != nil {
		page.absorb(err)
	}
	rs.Offsets = offsets
	page.Settings = inEffect(rs)
	return rs
}

func (page *remindersPage) absorb(err error) {
	fields := apperr.FieldErrors(err)
	if len(fields) == 0 {
		page.OtherErrors = append(page.OtherErrors, apperr.Message(err))
	}
	for _, f := range fields {
		switch f.Field {
		case "offsets", "reminder_subject", "reminder_body", "expired_subject", "expired_body":
			if page.Errors[f.Field] == "" {
				page.Errors.Add(f.Field, f.Message)
			}
		default:
			page.OtherErrors = append(page.OtherErrors, f.Message)
		}
	}
}

// previewReminder fills the page's preview of the posted kind.
func (u *ui) previewReminder(c *gin.Context, page *remindersPage, rs reminders.Settings) error {
	o, err := u.s.Core.Organisation(c.Request.Context())
	if err != nil {
		return err
	}
	kind := c.PostForm("preview")
	if kind != issuance.ExpiredKind {
		kind = issuance.ReminderKind
	}
	m := u.s.Delivery.PreviewExpiryEmail(o, rs, kind)
	page.Preview = &m
	page.PreviewKind = map[string]string{issuance.ReminderKind: "the reminder before the expiry date", issuance.ExpiredKind: "the email after the expiry date"}[kind]
	return nil
}

// orgReminders is /admin/organisation/reminders: the owner's defaults.
func (u *ui) orgReminders(c *gin.Context) error {
	if _, err := require(c, organisationPerm); err != nil {
		return err
	}
	rs, err := u.s.Reminders.Organisation(c.Request.Context())
	if err != nil {
		return err
	}
	return u.rd.Render(c, http.StatusOK, "staff_reminders.html", u.newRemindersPage("Expiry reminders", "/admin/organisation/reminders", rs))
}

// orgRemindersSave stores the defaults, or, with the preview button,
// previews the posted text without storing it.
func (u *ui) orgRemindersSave(c *gin.Context) error {
	p, err := require(c, organisationPerm)
	if err != nil {
		return err
	}
	page := u.newRemindersPage("Expiry reminders", "/admin/organisation/reminders", reminders.Settings{})
	rs := u.parseRemindersForm(c, page)
	if len(page.Errors) == 0 {
		if c.PostForm("preview") != "" {
			if err := reminders.Check(&rs); err != nil {
				page.absorb(err)
			} else if err := u.previewReminder(c, page, rs); err != nil {
				return err
			} else {
				return u.rd.Render(c, http.StatusOK, "staff_reminders.html", page)
			}
		} else {
			_, err := u.s.Reminders.UpdateOrganisation(c.Request.Context(), p.Actor(), rs)
			if err == nil {
				auth.SetFlash(c, "Expiry reminder settings saved.")
				return seeOther(c, "/admin/organisation/reminders")
			}
			if !apperr.Is(err, apperr.Invalid) {
				return err
			}
			page.absorb(err)
		}
	}
	return u.rd.Render(c, http.StatusUnprocessableEntity, "staff_reminders.html", page)
}

// groupReminders is /groups/:id/reminders: the group's own settings or the
// organisation's.
func (u *ui) groupReminders(c *gin.Context) error {
	g, p, err := u.groupFor(c, auth.ManageGroups)
	if err != nil {
		return err
	}
	rs, err := u.s.Reminders.Group(c.Request.Context(), g.ID)
	if err != nil {
		return err
	}
	page := u.newRemindersPage("Expiry reminders", "/groups/"+strconv.FormatInt(g.ID, 10)+"/reminders", rs)
	n := newNav(g, p, "overview")
	page.Nav = &n
	return u.rd.Render(c, http.StatusOK, "staff_reminders.html", page)
}

// groupRemindersSave stores the group's settings (or its return to the
// organisation's), or previews the posted text.
func (u *ui) groupRemindersSave(c *gin.Context) error {
	g, p, err := u.groupFor(c, auth.ManageGroups)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	action := "/groups/" + strconv.FormatInt(g.ID, 10) + "/reminders"
	page := u.newRemindersPage("Expiry reminders", action, reminders.Settings{})
	n := newNav(g, p, "overview")
	page.Nav = &n
	rs := u.parseRemindersForm(c, page)
	if !page.Own && c.PostForm("preview") == "" {
		if _, err := u.s.Reminders.SetGroup(ctx, p.Actor(), g.ID, nil); err != nil {
			return err
		}
		auth.SetFlash(c, "The group now uses the organisation's expiry reminders.")
		return seeOther(c, action)
	}
	if len(page.Errors) == 0 {
		if c.PostForm("preview") != "" {
			if err := reminders.Check(&rs); err != nil {
				page.absorb(err)
			} else if err := u.previewReminder(c, page, rs); err != nil {
				return err
			} else {
				return u.rd.Render(c, http.StatusOK, "staff_reminders.html", page)
			}
		} else {
			_, err := u.s.Reminders.SetGroup(ctx, p.Actor(), g.ID, &rs)
			if err == nil {
				auth.SetFlash(c, "Expiry reminder settings of the group saved.")
				return seeOther(c, action)
			}
			if !apperr.Is(err, apperr.Invalid) {
				return err
			}
			page.absorb(err)
		}
	}
	return u.rd.Render(c, http.StatusUnprocessableEntity, "staff_reminders.html", page)
}

// reminderSummary says in a sentence what a group's settings do.
func reminderSummary(rs reminders.Settings) string {
	var s string
	switch len(rs.Offsets) {
	case 0:
		s = "No reminder before the expiry date"
	default:
		s = "Reminders " + joinDays(rs.Offsets) + " before the expiry date"
	}
	if rs.ExpiredEmail {
		s += "; an email once it has expired"
	} else {
		s += "; no email once it has expired"
	}
	if rs.Renewal {
		s += "; recipients may ask to renew"
	}
	return s + "."
}

// joinDays writes offsets as "30 and 7 days" or "60, 30 and 7 days".
func joinDays(ds []int) string {
	out := ""
	for i, d := range ds {
		switch {
		case i == 0:
		case i == len(ds)-1:
			out += " and "
		default:
			out += ", "
		}
		out += strconv.Itoa(d)
	}
	if len(ds) == 1 && ds[0] == 1 {
		return out + " day"
	}
	return out + " days"
}
