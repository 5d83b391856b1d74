package staff

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/public"
)

// amendForm is the credential's edit form.
type amendForm struct {
	Name, Email, IssuedOn, ExpiresOn string
	Attrs                            []attrCell
	Errors                           formErrors
	Other                            []string
}

// credentialPage is /credentials/:id: the recipient's view, the amend form,
// publish/revoke/resend, email delivery and the audit history.
type credentialPage struct {
	Title        string
	Nav          nav
	Cred         issuance.Credential
	View         public.CredentialView // the recipient's view, for the preview
	PublicURL    string
	Form         amendForm
	RevokeReason string
	RevokeError  string
	Emails       []issuance.Email
	History      []string // sentences, newest first (historyLines)
}

// credentialFor loads the :id credential and checks perm for its group.
func (u *ui) credentialFor(c *gin.Context, perm auth.Permission) (issuance.Credential, issuance.Group, *auth.Principal, error) {
	p, err := require(c, perm)
	if err != nil {
		return issuance.Credential{}, issuance.Group{}, nil, err
	}
	ctx := c.Request.Context()
	cr, err := u.s.Core.Credential(ctx, c.Param("id"))
	if err != nil {
		return issuance.Credential{}, issuance.Group{}, nil, err
	}
	if err := p.RequireGroup(perm, cr.GroupID); err != nil {
		return issuance.Credential{}, issuance.Group{}, nil, err
	}
	g, err := u.s.Core.Group(ctx, cr.GroupID)
	if err != nil {
		return issuance.Credential{}, issuance.Group{}, nil, err
	}
	return cr, g, p, nil
}

func formFromCredential(cr issuance.Credential, g issuance.Group) amendForm {
	f := amendForm{Name: cr.Recipient.Name, Email: cr.Recipient.Email, IssuedOn: cr.IssuedOn.Format(issuance.DateLayout), Errors: formErrors{}}
	if cr.ExpiresOn != nil {
		f.ExpiresOn = cr.ExpiresOn.Format(issuance.DateLayout)
	}
	for _, a := range g.ValueAttributes() {
		f.Attrs = append(f.Attrs, attrCell{Key: a.Key, Label: a.Label, Type: a.Type, Required: a.Required, Value: cr.Attributes[a.Key], Visibility: a.Visibility})
	}
	return f
}

func (u *ui) credentialPage(c *gin.Context, cr issuance.Credential, g issuance.Group, p *auth.Principal) (credentialPage, error) {
	ctx := c.Request.Context()
	page := credentialPage{
		Title:     cr.Recipient.Name + " · " + g.Name,
		Nav:       newNav(g, p, ""),
		Cred:      cr,
		PublicURL: u.s.Core.CredentialURL(cr.ID),
		Form:      formFromCredential(cr, g),
	}
	var err error
	if page.View, err = u.s.Public.View(ctx, cr, true); err != nil {
		return page, err
	}
	if page.Emails, err = u.s.Core.Emails(ctx, cr.ID); err != nil {
		return page, err
	}
	entries, err := u.s.Core.History(ctx, cr.ID)
	if err != nil {
		return page, err
	}
	page.History = historyLines(u.s.Core.Locale(ctx), g, entries)
	return page, nil
}

func (u *ui) credential(c *gin.Context) error {
	cr, g, p, err := u.credentialFor(c, auth.ViewCredentials)
	if err != nil {
		return err
	}
	page, err := u.credentialPage(c, cr, g, p)
	if err != nil {
		return err
	}
	return u.rd.Render(c, http.StatusOK, "staff_credential.html", page)
}

// credentialPreview shows the credential exactly as the public page will,
// through the public page's own template, marked as a preview.
func (u *ui) credentialPreview(c *gin.Context) error {
	cr, _, _, err := u.credentialFor(c, auth.ViewCredentials)
	if err != nil {
		return err
	}
	v, err := u.s.Public.View(c.Request.Context(), cr, true)
	if err != nil {
		return err
	}
	return u.rd.Render(c, http.StatusOK, "public_credential.html", v)
}

func (u *ui) credentialAmend(c *gin.Context) error {
	cr, g, p, err := u.credentialFor(c, auth.PublishCredentials)
	if err != nil {
		return err
	}
	cur := formFromCredential(cr, g)
	f := amendForm{
		Name: trimmed(c, "name"), Email: trimmed(c, "email"),
		IssuedOn: trimmed(c, "issued_on"), ExpiresOn: trimmed(c, "expires_on"),
		Errors: formErrors{},
	}
	for _, at := range cur.Attrs {
		at.Value = trimmed(c, "attr_"+at.Key)
		f.Attrs = append(f.Attrs, at)
	}
	a, changed := issuance.FormAmendment(cr, g, func(field string) string { return trimmed(c, field) })
	if !changed {
		auth.SetFlash(c, "Nothing changed.")
		return seeOther(c, "/credentials/"+cr.ID)
	}
	_, err = u.s.Core.AmendCredential(c.Request.Context(), p.Actor(), cr.ID, a)
	if err == nil {
		auth.SetFlash(c, "Credential amended.")
		return seeOther(c, "/credentials/"+cr.ID)
	}
	if !apperr.Is(err, apperr.Invalid) && !apperr.Is(err, apperr.Conflict) {
		return err
	}
	fields := apperr.FieldErrors(err)
	switch {
	case len(fields) == 0 && apperr.Is(err, apperr.Conflict) && a.Email != nil && cr.State != issuance.Revoked:
		// The one clash an amendment of a live credential can cause: the
		// new email already holds a credential in the group.
		f.Errors.Add("email", apperr.Message(err))
	case len(fields) == 0:
		f.Other = append(f.Other, apperr.Message(err))
	}
	for _, fe := range fields {
		f.place(fe.Field, fe.Message)
	}
	page, perr := u.credentialPage(c, cr, g, p)
	if perr != nil {
		return perr
	}
	page.Form = f
	return u.rd.Render(c, http.StatusUnprocessableEntity, "staff_credential.html", page)
}

func (f *amendForm) place(field, msg string) {
	switch field {
	case "recipient.name", "name":
		f.Errors.Add("name", msg)
	case "recipient.email", "email":
		f.Errors.Add("email", msg)
	case "issued_on", "expires_on":
		f.Errors.Add(field, msg)
	default:
		if key, ok := strings.CutPrefix(field, "attributes."); ok {
			for i := range f.Attrs {
				if f.Attrs[i].Key == key && f.Attrs[i].Error == "" {
					f.Attrs[i].Error = msg
					return
				}
			}
		}
		f.Other = append(f.Other, msg)
	}
}

func (u *ui) credentialRevoke(c *gin.Context) error {
	cr, g, p, err := u.credentialFor(c, auth.PublishCredentials)
	if err != nil {
		return err
	}
	reason := trimmed(c, "reason")
	var msg string
	if reason == "" {
		msg = "Enter the reason for revoking; the credential's public page shows it."
	} else if c.PostForm("confirm") != "1" {
		if cr.State == issuance.Revoked {
			auth.SetFlash(c, "Credential "+cr.ID+" is already revoked.")
			return seeOther(c, "/credentials/"+cr.ID)
		}
		// Ask first: revoking cannot be undone.
		return u.rd.Render(c, http.StatusOK, "staff_credential_confirm.html", credentialConfirmPage{
			Title: "Revoke credential · " + cr.Recipient.Name, Nav: newNav(g, p, ""), Cred: cr, Action: "revoke", Reason: reason,
		})
	} else {
		_, err := u.s.Core.Revoke(c.Request.Context(), p.Actor(), cr.ID, reason)
		if err == nil {
			auth.SetFlash(c, "Credential revoked.")
			return seeOther(c, "/credentials/"+cr.ID)
		}
		if !apperr.Is(err, apperr.Invalid) && !apperr.Is(err, apperr.Conflict) {
			return err
		}
		msg = apperr.Message(err)
		if fe := apperr.FieldErrors(err); len(fe) > 0 {
			msg = fe[0].Message
		}
	}
	page, err := u.credentialPage(c, cr, g, p)
	if err != nil {
		return err
	}
	page.RevokeReason, page.RevokeError = reason, msg
	return u.rd.Render(c, http.StatusUnprocessableEntity, "staff_credential.html", page)
}

func (u *ui) credentialResend(c *gin.Context) error {
	cr, _, p, err := u.credentialFor(c, auth.PublishCredentials)
	if err != nil {
		return err
	}
	if err := u.s.Core.Resend(c.Request.Context(), p.Actor(), cr.ID); err != nil {
		if apperr.Is(err, apperr.Invalid) || apperr.Is(err, apperr.Conflict) {
			auth.SetFlash(c, apperr.Message(err))
			return seeOther(c, "/credentials/"+cr.ID)
		}
		return err
	}
	auth.SetFlash(c, "Email to "+cr.Recipient.Email+" queued for sending.")
	return seeOther(c, "/credentials/"+cr.ID)
}

// diff lists the fields that differ between two audit snapshots, flattening
// nested objects ("recipient.name").
