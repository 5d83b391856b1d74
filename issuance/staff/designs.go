package staff

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/public"
)

// StandardPrinted are the standard attributes a certificate may print.
var StandardPrinted = []string{"recipient_name", "course_name", "issued_on", "expires_on", "credential_id"}

// standardLabels name the standard attributes on the design form.
var standardLabels = map[string]string{"recipient_name": "Recipient name", "course_name": "Course name",
	"issued_on": "Issue date", "expires_on": "Expiry date", "credential_id": "Credential ID"}

// keyLabel is a label for an attribute key that has none (its words).
func keyLabel(key string) string {
	w := strings.ReplaceAll(key, "_", " ")
	if w == "" {
		return w
	}
	return strings.ToUpper(w[:1]) + w[1:]
}

// designListPage is /designs.
type designListPage struct {
	Title     string
	Designs   []issuance.Design
	CanManage bool
	ReadOnly  map[int64]bool // designs the user may view but not change
}

func (u *ui) designList(c *gin.Context) error {
	p, err := require(c, auth.ViewCredentials)
	if err != nil {
		return err
	}
	ds, err := u.s.Core.Designs(c.Request.Context())
	if err != nil {
		return err
	}
	page := designListPage{Title: "Designs", Designs: ds, CanManage: p.Can(auth.ManageGroups), ReadOnly: map[int64]bool{}}
	if page.CanManage {
		outside, err := u.s.Core.DesignsUsedOutside(c.Request.Context(), p.Groups)
		if err != nil {
			return err
		}
		for id := range outside {
			page.ReadOnly[id] = true
		}
	}
	return u.rd.Render(c, http.StatusOK, "staff_designs.html", page)
}

// designFormPage is /designs/new and /designs/:id/edit.
type designFormPage struct {
	Title     string
	New       bool
	Action    string
	Design    issuance.Design
	Printed   map[string]bool
	ExtraKeys string       // printed custom attribute keys, comma-separated
	Standard  []attrChoice // Key and Label
	// Choices are the custom attributes the groups define, to tick for
	// printing; Unknown the printed keys no group of the user defines.
	Choices []attrChoice
	Unknown []attrChoice
	// Preview is the live preview, drawn by the credential's own partial.
	Preview     public.CredentialView
	Errors      formErrors
	OtherErrors []string
	// ReadOnly is why the user may view but not change the design ("" when
	// they may change it).
	ReadOnly string
	// Layouts are the kind's templates to switch between; KindLabel names
	// the kind ("Certificate design").
	Layouts   []layoutChoice
	KindLabel string
	// Slots are the certificate's image places, each with the image
	// attributes of the user's groups to put there.
	Slots []slotChoice
	// GeneratedImage says a badge's image is drawn from its template
	// (no file uploaded yet).
	GeneratedImage bool
}

// layoutChoice is one layout on the design form, with its thumbnail.
type layoutChoice struct {
	Layout                 issuance.Layout
	Name, Description, SVG string
	Checked                bool
}

// slotChoice is one image place of a certificate and what may go there.
type slotChoice struct {
	Slot, Label, Current string
	Options              []attrChoice
}

// slotLabels name the image places.
var slotLabels = map[string]string{"left": "Bottom left", "centre": "Bottom centre", "right": "Bottom right"}

// templateImageURL is the thumbnail (for a badge: the image) of layout l
// in the given colours.
func templateImageURL(l issuance.Layout, primary, secondary string) string {
	q := url.Values{}
	if issuance.ValidColor(primary) {
		q.Set("primary", primary)
	}
	if issuance.ValidColor(secondary) {
		q.Set("secondary", secondary)
	}
	u := "/designs/templates/" + url.PathEscape(string(l)) + "/preview.svg"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

func newDesignForm(d issuance.Design, isNew bool) designFormPage {
	page := designFormPage{New: isNew, Design: d, Printed: map[string]bool{}, Errors: formErrors{}}
	for _, k := range StandardPrinted {
		page.Standard = append(page.Standard, attrChoice{Key: k, Label: standardLabels[k]})
	}
	var extra []string
	for _, k := range d.PrintedAttributes {
		if slices.Contains(StandardPrinted, k) {
			page.Printed[k] = true
		} else {
			extra = append(extra, k)
		}
	}
	page.ExtraKeys = strings.Join(extra, ", ")
	page.KindLabel = "Certificate design"
	if d.Kind == issuance.Badge {
		page.KindLabel = "Badge design"
	}
	for _, t := range issuance.DesignTemplates(d.Kind) {
		page.Layouts = append(page.Layouts, layoutChoice{Layout: t.Layout, Name: t.Name, Description: t.Description,
			SVG: templateImageURL(t.Layout, "", ""), Checked: t.Layout == d.Layout})
	}
	page.GeneratedImage = d.Kind == issuance.Badge && len(d.Image) == 0
	if isNew {
		page.Title, page.Action = "Create Certificate Design", "/designs/new"
		if d.Kind == issuance.Badge {
			page.Title = "Create Badge Design"
		}
	} else {
		page.Title, page.Action = "Edit design "+d.Name, "/designs/"+strconv.FormatInt(d.ID, 10)+"/edit"
	}
	return page
}

// designNew is GET /designs/new: without a template, the gallery of
// templates (of ?kind= when given); with ?template=, the design form
// filled from it.
func (u *ui) designNew(c *gin.Context) error {
	p, err := require(c, auth.ManageGroups)
	if err != nil {
		return err
	}
	kind := c.Query("kind")
	if kind != "" && kind != string(issuance.Badge) && kind != string(issuance.Certificate) {
		return apperr.Errorf(apperr.NotFound, "There is no such kind of design; choose Create Badge Design or Create Certificate Design.")
	}
	name := c.Query("template")
	if name == "" {
		return u.designGallery(c, kind)
	}
	t, ok := issuance.TemplateFor(issuance.Layout(name))
	if !ok {
		return apperr.Errorf(apperr.NotFound, "There is no such template.")
	}
	d := t.Design()
	d.Image, d.ImageType = nil, "" // drawn from the template until a file is uploaded
	page := newDesignForm(d, true)
	if err := u.designExtras(c, p, &page); err != nil {
		return err
	}
	return u.rd.Render(c, http.StatusOK, "staff_design_form.html", page)
}

func (u *ui) designCreate(c *gin.Context) error {
	p, err := require(c, auth.ManageGroups)
	if err != nil {
		return err
	}
	d, page := parseDesignForm(c, issuance.Design{}, true)
	if len(page.Errors) == 0 {
		if d.Kind == issuance.Badge && len(d.Image) == 0 {
			// No file uploaded: the badge is the template's image in the
			// chosen colours.
			d.Image, d.ImageType = issuance.BadgeSVG(d.Layout, d.PrimaryColor, d.SecondaryColor), "image/svg+xml"
		}
		created, err := u.s.Core.CreateDesign(c.Request.Context(), p.Actor(), d)
		if err == nil {
			auth.SetFlash(c, "Design “"+created.Name+"” created.")
			return seeOther(c, "/designs")
		}
		if !apperr.Is(err, apperr.Invalid) && !apperr.Is(err, apperr.Conflict) {
			return err
		}
		page.absorb(err)
	}
	if err := u.designExtras(c, p, &page); err != nil {
		return err
	}
	return u.rd.Render(c, http.StatusUnprocessableEntity, "staff_design_form.html", page)
}

func (u *ui) designFor(c *gin.Context, perm auth.Permission) (issuance.Design, *auth.Principal, error) {
	p, err := require(c, perm)
	if err != nil {
		return issuance.Design{}, nil, err
	}
	id, err := paramID(c, "design")
	if err != nil {
		return issuance.Design{}, nil, err
	}
	d, err := u.s.Core.Design(c.Request.Context(), id)
	return d, p, err
}

// readOnlyReason is why principal p may not change design d, or "": a
// design used by groups outside p's is read-only to them.
func (u *ui) readOnlyReason(c *gin.Context, p *auth.Principal, d issuance.Design) (string, error) {
	outside, err := u.s.Core.DesignsUsedOutside(c.Request.Context(), p.Groups)
	if err != nil {
		return "", err
	}
	if n := outside[d.ID]; n > 0 {
		return apperr.Message(issuance.DesignReadOnly(d.Name, n)), nil
	}
	return "", nil
}

func (u *ui) designEdit(c *gin.Context) error {
	d, p, err := u.designFor(c, auth.ManageGroups)
	if err != nil {
		return err
	}
	page := newDesignForm(d, false)
	if page.ReadOnly, err = u.readOnlyReason(c, p, d); err != nil {
		return err
	}
	if page.ReadOnly != "" {
		page.Title = "Design " + d.Name
	}
	if err := u.designExtras(c, p, &page); err != nil {
		return err
	}
	return u.rd.Render(c, http.StatusOK, "staff_design_form.html", page)
}

func (u *ui) designUpdate(c *gin.Context) error {
	old, p, err := u.designFor(c, auth.ManageGroups)
	if err != nil {
		return err
	}
	// Refuse before reading the form, so a read-only design answers 403
	// whatever was posted (UpdateDesign checks again in its transaction).
	if why, err := u.readOnlyReason(c, p, old); err != nil {
		return err
	} else if why != "" {
		return apperr.Errorf(apperr.Forbidden, "%s", why)
	}
	d, page := parseDesignForm(c, old, false)
	if len(page.Errors) == 0 {
		_, err := u.s.Core.UpdateDesign(c.Request.Context(), p.Actor(), p.Groups, d)
		if err == nil {
			auth.SetFlash(c, "Design saved.")
			return seeOther(c, "/designs")
		}
		if !apperr.Is(err, apperr.Invalid) && !apperr.Is(err, apperr.Conflict) {
			return err
		}
		page.absorb(err)
	}
	if err := u.designExtras(c, p, &page); err != nil {
		return err
	}
	return u.rd.Render(c, http.StatusUnprocessableEntity, "staff_design_form.html", page)
}

func (page *designFormPage) absorb(err error) {
	fields := apperr.FieldErrors(err)
	if len(fields) == 0 {
		page.OtherErrors = append(page.OtherErrors, apperr.Message(err))
	}
	for _, f := range fields {
		switch f.Field {
		case "name", "kind", "image", "title", "primary_color", "secondary_color", "logo", "printed_attributes", "layout", "image_slots":
			page.Errors.Add(f.Field, f.Message)
		default:
			page.OtherErrors = append(page.OtherErrors, f.Field+": "+f.Message)
		}
	}
}

// parseDesignForm reads the multipart design form over base; an upload
// left empty keeps base's image or logo.
func parseDesignForm(c *gin.Context, base issuance.Design, isNew bool) (issuance.Design, designFormPage) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, 3*issuance.MaxImageBytes)
	d := base
	errs := formErrors{}
	d.Name = trimmed(c, "name")
	d.Kind = issuance.DesignKind(trimmed(c, "kind"))
	d.Title = trimmed(c, "title")
	d.PrimaryColor = strings.ToLower(trimmed(c, "primary_color"))
	d.SecondaryColor = strings.ToLower(trimmed(c, "secondary_color"))
	if d.Name == "" {
		errs.Add("name", "Enter a name for the design.")
	}
	if d.Kind != issuance.Badge && d.Kind != issuance.Certificate {
		errs.Add("kind", "Choose badge or certificate.")
	}
	for _, f := range []struct{ field, val string }{{"primary_color", d.PrimaryColor}, {"secondary_color", d.SecondaryColor}} {
		if !issuance.ValidColor(f.val) {
			errs.Add(f.field, "Enter a colour as #rrggbb, e.g. #1f3a5f.")
		}
	}
	if img, typ, present, msg := upload(c, "image"); msg != "" {
		errs.Add("image", msg)
	} else if present {
		d.Image, d.ImageType = img, typ
	}
	if logo, typ, present, msg := upload(c, "logo"); msg != "" {
		errs.Add("logo", msg)
	} else if present {
		d.Logo, d.LogoType = logo, typ
	}
	d.Layout = issuance.Layout(trimmed(c, "layout"))
	if d.Layout != "" && !slices.Contains(issuance.Layouts(d.Kind), d.Layout) {
		errs.Add("layout", "Choose one of the templates shown.")
	}
	if d.Kind == issuance.Badge && c.PostForm("redraw_image") != "" {
		// The template's image again, in the colours chosen now.
		d.Image, d.ImageType = issuance.BadgeSVG(d.Layout, d.PrimaryColor, d.SecondaryColor), "image/svg+xml"
	}
	if d.Kind == issuance.Badge && len(d.Image) == 0 && !isNew {
		errs.Add("image", "A badge needs its image: upload a PNG or SVG file (at most 1 MiB).")
	}
	d.ImageSlots = map[string]string{}
	for _, slot := range issuance.ImageSlots {
		if k := trimmed(c, "slot_"+slot); k != "" && d.Kind == issuance.Certificate {
			if !attrKeyRE.MatchString(k) {
				errs.Add("image_slots", "“"+k+"” is not an attribute key.")
				continue
			}
			d.ImageSlots[slot] = k
		}
	}
	if d.Kind == issuance.Certificate && d.Title == "" {
		errs.Add("title", "Enter the certificate's heading, e.g. Certificate of Completion.")
	}
	d.PrintedAttributes = nil
	for _, k := range StandardPrinted {
		if c.PostForm("print_"+k) != "" {
			d.PrintedAttributes = append(d.PrintedAttributes, k)
		}
	}
	keys := c.PostFormArray("print_attr")
	keys = append(keys, strings.Split(c.PostForm("printed_extra"), ",")...)
	for _, k := range keys {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		if !attrKeyRE.MatchString(k) {
			errs.Add("printed_attributes", "“"+k+"” is not an attribute key (lower-case letters, digits and _).")
			continue
		}
		if !slices.Contains(d.PrintedAttributes, k) {
			d.PrintedAttributes = append(d.PrintedAttributes, k)
		}
	}
	page := newDesignForm(d, isNew)
	page.ExtraKeys = strings.TrimSpace(c.PostForm("printed_extra"))
	page.Errors = errs
	return d, page
}

// upload reads an optional image upload, accepting PNG and SVG by their
// content (never the browser's claimed type) up to MaxImageBytes.
func upload(c *gin.Context, field string) (data []byte, typ string, present bool, msg string) {
	fh, err := c.FormFile(field)
	if err == http.ErrMissingFile {
		return nil, "", false, ""
	}
	if err != nil {
		return nil, "", false, "The upload could not be read (files may be at most 1 MiB)."
	}
	if fh.Size > issuance.MaxImageBytes {
		return nil, "", false, "The file is " + strconv.FormatInt(fh.Size/1024, 10) + " KiB; at most 1024 KiB (1 MiB) is allowed."
	}
	f, err := fh.Open()
	if err != nil {
		return nil, "", false, "The upload could not be read."
	}
	defer f.Close()
	data, err = io.ReadAll(io.LimitReader(f, issuance.MaxImageBytes+1))
	if err != nil {
		return nil, "", false, "The upload could not be read."
	}
	if len(data) > issuance.MaxImageBytes {
		return nil, "", false, "The file is larger than 1 MiB."
	}
	if len(data) == 0 {
		return nil, "", false, ""
	}
	typ = sniffImage(data)
	if typ == "" {
		return nil, "", false, "This file is not a PNG or SVG image."
	}
	return data, typ, true, ""
}

// sniffImage returns "image/png" or "image/svg+xml" when data is one, else "".
func sniffImage(data []byte) string {
	if http.DetectContentType(data) == "image/png" {
		return "image/png"
	}
	s := bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	s = bytes.TrimSpace(s)
	head := s[:min(len(s), 4096)]
	lower := bytes.ToLower(head)
	if (bytes.HasPrefix(lower, []byte("<?xml")) || bytes.HasPrefix(lower, []byte("<svg")) || bytes.HasPrefix(lower, []byte("<!--")) || bytes.HasPrefix(lower, []byte("<!doctype svg"))) &&
		bytes.Contains(lower, []byte("<svg")) {
		return "image/svg+xml"
	}
	return ""
}

// designImage serves a design's badge image or logo. SVG can carry script,
// so every image is served with a CSP that forbids everything but inline
// styles, in a sandbox: opened directly it is inert, and in <img> scripts
// never run anyway.
func (u *ui) designImage(which string) func(c *gin.Context) error {
	return func(c *gin.Context) error {
		d, _, err := u.designFor(c, auth.ViewCredentials)
		if err != nil {
			return err
		}
		data, typ := d.Image, d.ImageType
		if which == "logo" {
			data, typ = d.Logo, d.LogoType
		}
		if len(data) == 0 || (typ != "image/png" && typ != "image/svg+xml") {
			return apperr.Errorf(apperr.NotFound, "Design %d has no %s.", d.ID, which)
		}
		h := c.Writer.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Disposition", "inline")
		h.Set("Cache-Control", "private, max-age=300")
		c.Data(http.StatusOK, typ, data)
		return nil
	}
}
