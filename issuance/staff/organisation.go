package staff

import (
	"time"

	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/mail"
	"github.com/laurel-edu/laurel/issuance"
)

// organisationPage is /admin/organisation: the issuer's identity and the
// publish email's text, with a preview of that email.
type organisationPage struct {
	Title       string
	Org         issuance.Organisation
	HasLogo     bool
	Errors      formErrors
	OtherErrors []string
	Preview     *mail.Message
	// PreviewSender and PreviewReplyTo are the preview's From display name
	// and Reply-To.
	PreviewSender, PreviewReplyTo string
	Placeholders                  []issuance.Placeholder
	Languages                     []languageOption
	TimeZones                     []string
	DefaultBody                   string
	Now                           time.Time // for the time zone's example
}

// timeZones are the suggestions of the time-zone field; any IANA name is
// accepted.
var timeZones = []string{"UTC", "Europe/London", "Europe/Dublin", "Europe/Paris", "Europe/Berlin", "Europe/Madrid",
	"Europe/Rome", "Europe/Amsterdam", "Europe/Warsaw", "Europe/Helsinki", "America/New_York", "America/Chicago",
	"America/Denver", "America/Los_Angeles", "America/Sao_Paulo", "Asia/Tokyo", "Asia/Shanghai", "Asia/Seoul",
	"Asia/Kolkata", "Australia/Sydney", "Pacific/Auckland"}

// Organisation settings are the owner's, like staff accounts and platforms
// (docs/roles.md).
const organisationPerm = auth.ManageStaff

func (u *ui) newOrganisationPage(o issuance.Organisation) *organisationPage {
	page := &organisationPage{Title: "Organisation", Org: o, HasLogo: o.LogoType != "", Errors: formErrors{},
		Placeholders: issuance.Placeholders, Languages: groupLanguages, TimeZones: timeZones, DefaultBody: issuance.DefaultEmailBody,
		Now: u.s.now()}
	if page.Org.EmailSubject == "" {
		page.Org.EmailSubject = issuance.DefaultEmailSubject
	}
	if page.Org.EmailBody == "" {
		page.Org.EmailBody = issuance.DefaultEmailBody
	}
	return page
}

// preview fills the page's email preview from o (already checked).
func (u *ui) preview(page *organisationPage, o issuance.Organisation) {
	m := u.s.Delivery.PreviewEmail(o)
	page.Preview = &m
	page.PreviewSender, page.PreviewReplyTo = o.Sender(), o.ReplyAddress()
}

func (u *ui) organisation(c *gin.Context) error {
	if _, err := require(c, organisationPerm); err != nil {
		return err
	}
	o, err := u.s.Core.Organisation(c.Request.Context())
	if err != nil {
		return err
	}
	page := u.newOrganisationPage(o)
	u.preview(page, o)
	return u.rd.Render(c, http.StatusOK, "staff_organisation.html", page)
}

// organisationSave stores the settings; a bad field re-renders the form
// with its message and stores nothing.
func (u *ui) organisationSave(c *gin.Context) error {
	p, err := require(c, organisationPerm)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	old, err := u.s.Core.Organisation(ctx)
	if err != nil {
		return err
	}
	upd, page := u.parseOrganisationForm(c, old)
	if len(page.Errors) == 0 {
		_, err := u.s.Core.UpdateOrganisation(ctx, p.Actor(), upd)
		if err == nil {
			auth.SetFlash(c, "Organisation settings saved.")
			return seeOther(c, "/admin/organisation")
		}
		if !apperr.Is(err, apperr.Invalid) {
			return err
		}
		page.absorb(err)
	}
	return u.rd.Render(c, http.StatusUnprocessableEntity, "staff_organisation.html", page)
}

// organisationPreview renders the posted email text for an example
// recipient without storing anything.
func (u *ui) organisationPreview(c *gin.Context) error {
	if _, err := require(c, organisationPerm); err != nil {
		return err
	}
	old, err := u.s.Core.Organisation(c.Request.Context())
	if err != nil {
		return err
	}
	upd, page := u.parseOrganisationForm(c, old)
	delete(page.Errors, "logo") // the preview does not use the upload
	o := upd.Organisation
	if err := issuance.CheckOrganisation(&o); err != nil {
		page.absorb(err)
	}
	if len(page.Errors) > 0 || len(page.OtherErrors) > 0 {
		return u.rd.Render(c, http.StatusUnprocessableEntity, "staff_organisation.html", page)
	}
	u.preview(page, o)
	return u.rd.Render(c, http.StatusOK, "staff_organisation.html", page)
}

// parseOrganisationForm reads the multipart form over old; an empty logo
// upload keeps the stored logo.
func (u *ui) parseOrganisationForm(c *gin.Context, old issuance.Organisation) (issuance.OrganisationUpdate, *organisationPage) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, 3*issuance.MaxImageBytes)
	o := old
	o.Name = trimmed(c, "name")
	o.Website = trimmed(c, "website")
	o.ContactEmail = trimmed(c, "contact_email")
	o.SenderName = trimmed(c, "sender_name")
	o.ReplyTo = trimmed(c, "reply_to")
	o.Language = trimmed(c, "language")
	o.TimeZone = trimmed(c, "time_zone")
	o.EmailSubject = trimmed(c, "email_subject")
	o.EmailBody = c.PostForm("email_body")
	o.InstructorsMayPublish = c.PostForm("instructors_may_publish") != ""
	o.LimitedMembersCreateGroups = c.PostForm("limited_members_create_groups") != ""
	upd := issuance.OrganisationUpdate{Organisation: o, RemoveLogo: c.PostForm("remove_logo") != ""}
	page := u.newOrganisationPage(o)
	if logo, _, present, msg := upload(c, "logo"); msg != "" {
		page.Errors.Add("logo", msg)
	} else if present {
		upd.Logo = logo
	}
	return upd, page
}

func (page *organisationPage) absorb(err error) {
	fields := apperr.FieldErrors(err)
	if len(fields) == 0 {
		page.OtherErrors = append(page.OtherErrors, apperr.Message(err))
	}
	for _, f := range fields {
		switch f.Field {
		case "name", "website", "contact_email", "logo", "sender_name", "reply_to", "language", "email_subject", "email_body":
			page.Errors.Add(f.Field, f.Message)
		default:
			page.OtherErrors = append(page.OtherErrors, f.Field+": "+f.Message)
		}
	}
}
