package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/issuance"
)

// organisationBody is GET/PATCH /organisation's body: the settings an
// operator sets by script. The publish email's text and the logo stay on
// /admin/organisation (the logo also on `laurel organisation set --logo`).
type organisationBody struct {
	Name                  string `json:"name"`
	Website               string `json:"website"`
	ContactEmail          string `json:"contact_email"`
	SenderName            string `json:"sender_name"`
	ReplyTo               string `json:"reply_to"`
	Language              string `json:"language"`
	TimeZone              string `json:"time_zone"` // IANA name, e.g. "Europe/Paris"
	InstructorsMayPublish bool   `json:"instructors_may_publish"`
	// LimitedMembersCreateGroups: team members limited to some groups may
	// create groups, each joining their limit.
	LimitedMembersCreateGroups bool `json:"limited_members_create_groups"`
}

// organisationJSON is the answer: the body's fields plus what the server
// decides.
type organisationJSON struct {
	organisationBody
	LogoURL   string `json:"logo_url"` // "" when there is no logo
	Named     bool   `json:"named"`    // false until the first save: nothing is published before
	UpdatedAt string `json:"updated_at"`
}

func organisationOut(o issuance.Organisation) organisationJSON {
	return organisationJSON{organisationBody: organisationBody{Name: o.Name, Website: o.Website, ContactEmail: o.ContactEmail,
		SenderName: o.SenderName, ReplyTo: o.ReplyTo, Language: o.Language, TimeZone: o.TimeZone,
		InstructorsMayPublish: o.InstructorsMayPublish, LimitedMembersCreateGroups: o.LimitedMembersCreateGroups},
		LogoURL: o.LogoURL, Named: o.Named, UpdatedAt: o.UpdatedAt.UTC().Format(time.RFC3339)}
}

// organisationPerm: the settings are the owner's, as on /admin/organisation.
const organisationPerm = auth.ManageStaff

func (a *api) organisation(c *gin.Context) error {
	if err := auth.Current(c).Require(organisationPerm); err != nil {
		return err
	}
	o, err := a.s.Organisation(c.Request.Context())
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, organisationOut(o))
	return nil
}

// patchOrganisation merges the body over the current settings (absent fields
// keep their values) and saves them, with the page's validation: one error
// per field, named. The first save names the organisation.
func (a *api) patchOrganisation(c *gin.Context) error {
	p := auth.Current(c)
	if err := p.Require(organisationPerm); err != nil {
		return err
	}
	ctx := c.Request.Context()
	o, err := a.s.Organisation(ctx)
	if err != nil {
		return err
	}
	b := organisationOut(o).organisationBody
	if err := decode(c, &b); err != nil {
		return err
	}
	o.Name, o.Website, o.ContactEmail, o.SenderName, o.ReplyTo, o.Language, o.InstructorsMayPublish =
		b.Name, b.Website, b.ContactEmail, b.SenderName, b.ReplyTo, b.Language, b.InstructorsMayPublish
	o.LimitedMembersCreateGroups = b.LimitedMembersCreateGroups
	o.TimeZone = b.TimeZone
	out, err := a.s.UpdateOrganisation(ctx, p.Actor(), issuance.OrganisationUpdate{Organisation: o})
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, organisationOut(out))
	return nil
}
