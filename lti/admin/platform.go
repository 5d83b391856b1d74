package admin

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/lti"
)

// formField is one single-line input of the platform form, built in Go so
// the template renders every field (label, value, hint, error) the same way.
type formField struct {
	Name        string
	Label       string
	Type        string // text or url
	Value       string
	Hint        string
	Placeholder string
	Required    bool
	Error       string
}

// platformFormPage is /admin/platforms/new and /admin/platforms/:id/edit.
type platformFormPage struct {
	Title    string
	Nav      adminTabs
	New      bool
	Action   string
	Platform lti.Platform // the stored platform when editing
	// Identity and Endpoints are the single-line fields, in two groups.
	Identity    []formField
	Endpoints   []formField
	Deployments []lti.Deployment // already known (editing)
	NewDeps     string           // the deployment ids textarea
	AutoReg     bool
	Known       []lti.KnownIssuer
	// Extra are the PlatformExtensions' sections (Canvas, Moodle web
	// service).
	Extra       []extraSection
	Errors      map[string]string // per field, for fields rendered by hand
	OtherErrors []string
	// NotKept names the secrets an admin typed that were not saved because
	// the form had errors: they are never echoed back into the page.
	NotKept []string
}

// platformValues is the form as submitted (or as stored, when editing).
type platformValues struct {
	Name, Issuer, ClientID, AuthURL, TokenURL, JWKSURL, Deployments string
	AutoRegister                                                    bool
	// Extra are the extension's fields as submitted (nil: show the stored ones).
	Extra map[string]string
}

func valuesOf(p lti.Platform) platformValues {
	return platformValues{Name: p.Name, Issuer: p.Issuer, ClientID: p.ClientID, AuthURL: p.AuthURL, TokenURL: p.TokenURL,
		JWKSURL: p.JWKSURL, AutoRegister: p.AutoRegisterDeployments}
}

// extraSection is one extension's section of the platform form.
type extraSection struct {
	Title  string
	Fields []formField
}

// extraSection is the extensions' form fields for platform id (0: new), in
// one section.
func (a *admin) extraSection(ctx context.Context, id int64) (lti.ExtraSection, error) {
	ext := a.t.Registry().Extension()
	if ext == nil {
		return lti.ExtraSection{}, nil
	}
	return ext.FormSection(ctx, id)
}

func (a *admin) formPage(ctx context.Context, isNew bool, p lti.Platform, v platformValues, errs map[string]string) (platformFormPage, error) {
	known := a.t.Registry().KnownIssuers()
	page := platformFormPage{Nav: adminTabs{"platforms"}, New: isNew, Platform: p, NewDeps: v.Deployments,
		AutoReg: v.AutoRegister, Known: known, Errors: errs}
	if page.Errors == nil {
		page.Errors = map[string]string{}
	}
	if isNew {
		page.Title, page.Action = "Add a platform", "/admin/platforms/new"
	} else {
		page.Title, page.Action = "Edit "+p.Name, "/admin/platforms/"+strconv.FormatInt(p.ID, 10)+"/edit"
	}
	endpointHint := ""
	if len(known) > 0 {
		endpointHint = "Optional for Instructure-hosted Canvas: left empty, Laurel fills it in."
	}
	f := func(name, label, typ, value, hint, placeholder string, required bool) formField {
		return formField{Name: name, Label: label, Type: typ, Value: value, Hint: hint, Placeholder: placeholder,
			Required: required, Error: page.Errors[name]}
	}
	nameHint := ""
	if isNew {
		nameHint = "Optional: defaults to the Canvas URL's (or the issuer's) host name."
	}
	page.Identity = []formField{
		f("name", "Name", "text", v.Name, nameHint, "e.g. Canvas production", !isNew),
		f("issuer", "Issuer (iss)", "url", v.Issuer, "Instructure-hosted Canvas: https://canvas.instructure.com (beta and test have their own).", "https://canvas.instructure.com", true),
		f("client_id", "Client ID", "text", v.ClientID, "The developer key's ID (Canvas shows it in the Details column).", "", true),
	}
	page.Endpoints = []formField{
		f("auth_url", "Authorization URL (OIDC auth endpoint)", "url", v.AuthURL, endpointHint, "https://", false),
		f("token_url", "Token URL (LTI Advantage services)", "url", v.TokenURL, strings.TrimSpace("Needed for the course roster (NRPS). "+endpointHint), "https://", false),
		f("jwks_url", "Platform JWKS URL", "url", v.JWKSURL, endpointHint, "https://", false),
	}
	secs, err := lti.FormSections(ctx, a.t.Registry().Extension(), p.ID)
	if err != nil {
		return page, err
	}
	for _, sec := range secs {
		es := extraSection{Title: sec.Title}
		for _, x := range sec.Fields {
			value := x.Value
			if sub, ok := v.Extra[x.Name]; ok && !x.Secret {
				value = sub // what was typed, on a re-rendered form
			}
			if x.Secret {
				value = ""
			}
			es.Fields = append(es.Fields, f(x.Name, x.Label, x.Type, value, x.Hint, x.Placeholder, false))
		}
		page.Extra = append(page.Extra, es)
	}
	return page, nil
}

func (a *admin) platformNew(c *gin.Context) error {
	if _, err := auth.CurrentCan(c, auth.ManageStaff); err != nil {
		return err
	}
	page, err := a.formPage(c.Request.Context(), true, lti.Platform{}, platformValues{AutoRegister: true}, nil)
	if err != nil {
		return err
	}
	return a.rd.Render(c, http.StatusOK, "lti_admin_platform_form.html", page)
}

func (a *admin) platformEdit(c *gin.Context) error {
	_, p, err := a.platformParam(c)
	if err != nil {
		return err
	}
	page, err := a.formPage(c.Request.Context(), false, p, valuesOf(p), nil)
	if err != nil {
		return err
	}
	if page.Deployments, err = a.t.Registry().Deployments(c.Request.Context(), p.ID); err != nil {
		return err
	}
	return a.rd.Render(c, http.StatusOK, "lti_admin_platform_form.html", page)
}

// readPlatformForm reads the submitted form: the LTI fields and the
// extension's, by the names its section gives.
func (a *admin) readPlatformForm(c *gin.Context) (platformValues, lti.PlatformInput, error) {
	tr := func(k string) string { return strings.TrimSpace(c.PostForm(k)) }
	v := platformValues{Name: tr("name"), Issuer: tr("issuer"), ClientID: tr("client_id"), AuthURL: tr("auth_url"),
		TokenURL: tr("token_url"), JWKSURL: tr("jwks_url"),
		Deployments: strings.TrimSpace(c.PostForm("deployment_ids")), AutoRegister: c.PostForm("auto_register") != ""}
	auto := v.AutoRegister
	in := lti.PlatformInput{Name: v.Name, Issuer: v.Issuer, ClientID: v.ClientID, AuthURL: v.AuthURL, TokenURL: v.TokenURL,
		JWKSURL: v.JWKSURL, AutoRegisterDeployments: &auto,
		DeploymentIDs: deploymentLines(v.Deployments)}
	sec, err := a.extraSection(c.Request.Context(), 0)
	if err != nil {
		return v, in, err
	}
	for _, x := range sec.Fields {
		// A secret is taken as typed but for surrounding whitespace, which a
		// paste often adds and no token contains; an empty one keeps the
		// stored value, so it is left out.
		val := tr(x.Name)
		if x.Secret && val == "" {
			continue
		}
		if v.Extra == nil {
			v.Extra, in.Extra = map[string]string{}, map[string]string{}
		}
		v.Extra[x.Name], in.Extra[x.Name] = val, val
	}
	return v, in, nil
}

// secretsTyped lists the labels of the secret fields the admin filled in.
func (a *admin) secretsTyped(c *gin.Context, v platformValues) []string {
	sec, err := a.extraSection(c.Request.Context(), 0)
	if err != nil {
		return nil
	}
	var out []string
	for _, x := range sec.Fields {
		if x.Secret && v.Extra[x.Name] != "" {
			out = append(out, x.Label)
		}
	}
	return out
}

// deploymentLines splits the deployment ids textarea: one id per line,
// trimmed, blank lines ignored. Only line breaks separate ids, because the
// spec allows any printable ASCII in a deployment_id.
func deploymentLines(s string) []string {
	var out []string
	for _, l := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func (a *admin) platformCreate(c *gin.Context) error {
	if _, err := auth.CurrentCan(c, auth.ManageStaff); err != nil {
		return err
	}
	v, in, err := a.readPlatformForm(c)
	if err != nil {
		return err
	}
	secrets := a.secretsTyped(c, v)
	p, err := a.t.Registry().AddPlatform(c.Request.Context(), in)
	if err == nil {
		a.log.InfoContext(c.Request.Context(), "platform added", "platform_id", p.ID, "issuer", p.Issuer, "client_id", p.ClientID)
		msg := "Platform “" + p.Name + "” added."
		for _, l := range secrets {
			msg += " Its " + l + " is stored encrypted."
		}
		auth.SetFlash(c, msg)
		return seeOther(c, "/admin/platforms")
	}
	return a.rerender(c, true, lti.Platform{}, v, err)
}

func (a *admin) platformUpdate(c *gin.Context) error {
	_, cur, err := a.platformParam(c)
	if err != nil {
		return err
	}
	v, in, err := a.readPlatformForm(c)
	if err != nil {
		return err
	}
	secrets := a.secretsTyped(c, v)
	// UpdatePlatform keeps the stored value of an empty field; on this form
	// every field shows its stored value, so an empty one was cleared on
	// purpose and must not be silently ignored.
	errs := map[string]string{}
	if v.Name == "" {
		errs["name"] = "Enter a name."
	}
	if v.Issuer == "" {
		errs["issuer"] = "Enter the issuer."
	}
	if v.ClientID == "" {
		errs["client_id"] = "Enter the client ID."
	}
	if k, ok := a.t.Registry().KnownEndpoints(v.Issuer); ok {
		// A known issuer: an emptied endpoint goes back to the known one.
		fill := func(dst *string, known string) {
			if *dst == "" {
				*dst = known
			}
		}
		fill(&in.AuthURL, k.AuthURL)
		fill(&in.TokenURL, k.TokenURL)
		fill(&in.JWKSURL, k.JWKSURL)
	} else {
		if v.AuthURL == "" {
			errs["auth_url"] = "Enter the platform's authorization URL."
		}
		if v.JWKSURL == "" {
			errs["jwks_url"] = "Enter the platform's JWKS URL."
		}
		if v.TokenURL == "" && cur.TokenURL != "" {
			errs["token_url"] = "A stored token URL cannot be removed here; enter the platform's token URL."
		}
	}
	// The extension's own checks are named together with these.
	for _, fe := range a.t.Registry().ValidateExtra(c.Request.Context(), cur.ID, in.Extra) {
		if _, dup := errs[fe.Field]; !dup {
			errs[fe.Field] = fe.Message
		}
	}
	if len(errs) > 0 {
		return a.rerenderErrs(c, false, cur, v, errs, nil)
	}
	p, err := a.t.Registry().UpdatePlatform(c.Request.Context(), cur.ID, in)
	if err == nil {
		a.log.InfoContext(c.Request.Context(), "platform updated", "platform_id", p.ID, "issuer", p.Issuer, "client_id", p.ClientID, "secrets_replaced", len(secrets))
		msg := "Platform “" + p.Name + "” saved."
		for _, l := range secrets {
			msg += " Its " + l + " was replaced."
		}
		auth.SetFlash(c, msg)
		return seeOther(c, "/admin/platforms")
	}
	return a.rerender(c, false, cur, v, err)
}

// rerender shows the form again with the Registry's error next to its
// field: Invalid errors per field, a Conflict on the issuer + client ID.
// Any other error is the error page.
func (a *admin) rerender(c *gin.Context, isNew bool, cur lti.Platform, v platformValues, err error) error {
	errs := map[string]string{}
	var other []string
	switch {
	case apperr.Is(err, apperr.Conflict):
		errs["client_id"] = apperr.Message(err)
		errs["issuer"] = "Another platform already has this issuer with this client ID."
	case apperr.Is(err, apperr.Invalid):
		fields := apperr.FieldErrors(err)
		if len(fields) == 0 {
			other = append(other, apperr.Message(err))
		}
		known := map[string]bool{"name": true, "issuer": true, "client_id": true, "auth_url": true, "token_url": true, "jwks_url": true}
		sec, serr := a.extraSection(c.Request.Context(), cur.ID)
		if serr != nil {
			return serr
		}
		for _, x := range sec.Fields {
			known[x.Name] = true
		}
		for _, f := range fields {
			name := f.Field
			if name == "deployment_id" || name == "deployment_ids" {
				name = "deployment_ids"
			} else if !known[name] {
				other = append(other, f.Message)
				continue
			}
			if _, dup := errs[name]; !dup {
				errs[name] = f.Message
			}
		}
	default:
		return err
	}
	return a.rerenderErrs(c, isNew, cur, v, errs, other)
}

func (a *admin) rerenderErrs(c *gin.Context, isNew bool, cur lti.Platform, v platformValues, errs map[string]string, other []string) error {
	page, err := a.formPage(c.Request.Context(), isNew, cur, v, errs)
	if err != nil {
		return err
	}
	page.OtherErrors = other
	page.NotKept = a.secretsTyped(c, v)
	if !isNew {
		if page.Deployments, err = a.t.Registry().Deployments(c.Request.Context(), cur.ID); err != nil {
			return err
		}
	}
	return a.rd.Render(c, http.StatusUnprocessableEntity, "lti_admin_platform_form.html", page)
}

// platformSetDisabled switches a platform off (its launches are refused
// with the "platform disabled" reason) or back on.
func (a *admin) platformSetDisabled(disabled bool) func(c *gin.Context) error {
	return func(c *gin.Context) error {
		_, p, err := a.platformParam(c)
		if err != nil {
			return err
		}
		if err := a.t.Registry().SetDisabled(c.Request.Context(), p.ID, disabled); err != nil {
			return err
		}
		a.log.InfoContext(c.Request.Context(), "platform switched", "platform_id", p.ID, "disabled", disabled)
		msg := "Platform “" + p.Name + "” is enabled: its launches are accepted again."
		if disabled {
			msg = "Platform “" + p.Name + "” is disabled: its launches are refused until you enable it."
		}
		auth.SetFlash(c, msg)
		return seeOther(c, "/admin/platforms")
	}
}
