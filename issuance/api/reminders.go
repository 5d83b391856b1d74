package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/internal/staffui"
	"github.com/laurel-edu/laurel/issuance/reminders"
)

// remindersBody is GET/PATCH /organisation/reminders' and
// /groups/:id/reminders' body: the expiry emails (docs/reminders.md). The
// texts are those in effect (the defaults when none was written); sending
// the default text back stores "the default".
type remindersBody struct {
	Offsets         []int  `json:"offsets"`
	ExpiredEmail    bool   `json:"expired_email"`
	ReminderSubject string `json:"reminder_subject"`
	ReminderBody    string `json:"reminder_body"`
	ExpiredSubject  string `json:"expired_subject"`
	ExpiredBody     string `json:"expired_body"`
	Renewal         bool   `json:"renewal"`
	// Inherited (groups only): the group uses the organisation's settings.
	// PATCH with true drops the group's own; any other PATCH gives the
	// group its own settings.
	Inherited bool `json:"inherited"`
}

type remindersJSON struct {
	remindersBody
	UpdatedAt string `json:"updated_at"`
}

func remindersOut(rs reminders.Settings) remindersJSON {
	return remindersJSON{remindersBody: remindersBody{Offsets: rs.Offsets, ExpiredEmail: rs.ExpiredEmail,
		ReminderSubject: rs.Subject(issuance.ReminderKind), ReminderBody: rs.Body(issuance.ReminderKind),
		ExpiredSubject: rs.Subject(issuance.ExpiredKind), ExpiredBody: rs.Body(issuance.ExpiredKind),
		Renewal: rs.Renewal, Inherited: rs.Inherited}, UpdatedAt: rs.UpdatedAt.UTC().Format(time.RFC3339)}
}

func (b remindersBody) settings() reminders.Settings {
	return reminders.Settings{Offsets: b.Offsets, ExpiredEmail: b.ExpiredEmail, ReminderSubject: b.ReminderSubject,
		ReminderBody: b.ReminderBody, ExpiredSubject: b.ExpiredSubject, ExpiredBody: b.ExpiredBody, Renewal: b.Renewal}
}

func (a *api) orgReminders(c *gin.Context) error {
	if err := auth.Current(c).Require(organisationPerm); err != nil {
		return err
	}
	rs, err := a.reminders.Organisation(c.Request.Context())
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, remindersOut(rs))
	return nil
}

// patchOrgReminders merges the body over the organisation's settings and
// saves them; each bad field is named.
func (a *api) patchOrgReminders(c *gin.Context) error {
	p := auth.Current(c)
	if err := p.Require(organisationPerm); err != nil {
		return err
	}
	ctx := c.Request.Context()
	rs, err := a.reminders.Organisation(ctx)
	if err != nil {
		return err
	}
	b := remindersOut(rs).remindersBody
	if err := decode(c, &b); err != nil {
		return err
	}
	out, err := a.reminders.UpdateOrganisation(ctx, p.Actor(), b.settings())
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, remindersOut(out))
	return nil
}

func (a *api) groupReminders(c *gin.Context) error {
	id, err := staffui.APIGroupParam(c, auth.ViewCredentials)
	if err != nil {
		return err
	}
	rs, err := a.reminders.Group(c.Request.Context(), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, remindersOut(rs))
	return nil
}

// patchGroupReminders merges the body over the group's settings in effect:
// "inherited": true returns the group to the organisation's, anything else
// stores the result as the group's own.
func (a *api) patchGroupReminders(c *gin.Context) error {
	id, err := staffui.APIGroupParam(c, auth.ManageGroups)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	rs, err := a.reminders.Group(ctx, id)
	if err != nil {
		return err
	}
	b := remindersOut(rs).remindersBody
	b.Inherited = false
	if err := decode(c, &b); err != nil {
		return err
	}
	var own *reminders.Settings
	if !b.Inherited {
		s := b.settings()
		own = &s
	}
	out, err := a.reminders.SetGroup(ctx, auth.Current(c).Actor(), id, own)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, remindersOut(out))
	return nil
}

// renewalJSON is one open renewal request.
type renewalJSON struct {
	ID           int64  `json:"id"`
	CredentialID string `json:"credential_id"`
	Recipient    string `json:"recipient_name"`
	Email        string `json:"recipient_email"`
	ExpiresOn    string `json:"expires_on"`
	CreatedAt    string `json:"created_at"`
}

// renewalRequests lists the group's open renewal requests, newest first.
func (a *api) renewalRequests(c *gin.Context) error {
	id, err := staffui.APIGroupParam(c, auth.ViewCredentials)
	if err != nil {
		return err
	}
	rs, err := a.reminders.RenewalRequests(c.Request.Context(), id)
	if err != nil {
		return err
	}
	out := make([]renewalJSON, len(rs))
	for i, r := range rs {
		out[i] = renewalJSON{ID: r.ID, CredentialID: r.CredentialID, Recipient: r.RecipientName, Email: r.Email,
			ExpiresOn: r.ExpiresOn.Format(issuance.DateLayout), CreatedAt: r.CreatedAt.UTC().Format(time.RFC3339)}
	}
	c.JSON(http.StatusOK, gin.H{"renewal_requests": out})
	return nil
}
