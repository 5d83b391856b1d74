package staff

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/public"
)

// attrChoice is one custom attribute on the design form's checklist.
type attrChoice struct {
	Key, Label, Groups  string
	Checked, UsesDesign bool
	// NotPublicIn names the groups whose certificates never draw it.
	NotPublicIn string
}

// uploadedImageMarker stands, in a live preview, for an image chosen in the
// form but not saved yet: html/template refuses data: URLs in src, so the
// preview script puts the chosen file there (see design-form.js).
const uploadedImageMarker = "/designs/preview/chosen-image"

// uploadedLogoMarker is uploadedImageMarker for the logo.
const uploadedLogoMarker = "/designs/preview/chosen-logo"

// designExtras fills what the design form shows beyond the design itself:
// the attributes of the user's groups to pick from, and the live preview.
func (u *ui) designExtras(c *gin.Context, p *auth.Principal, page *designFormPage) error {
	choices, err := u.s.Core.AttributeChoices(c.Request.Context(), p.Groups, page.Design.ID)
	if err != nil {
		return err
	}
	page.Choices, page.Unknown = nil, nil
	known := map[string]bool{}
	for _, ch := range choices {
		known[ch.Key] = true
	}
	// The Attributes section's variables that no group uses yet can be
	// placed too: the guide creates the variable and the design before the
	// group that picks them.
	vars, err := u.s.Core.AttributeVariables(c.Request.Context(), false)
	if err != nil {
		return err
	}
	for _, v := range vars {
		if !v.Standard && !known[v.Key] {
			known[v.Key] = true
			choices = append(choices, issuance.AttributeChoice{Attribute: issuance.Attribute{Key: v.Key, Label: v.Label, Type: v.Type,
				Visibility: v.Visibility, ResultType: v.ResultType}})
		}
	}
	for _, ch := range choices {
		if ch.Type == issuance.ImageAttr {
			continue // placed in a slot, not printed as text
		}
		page.Choices = append(page.Choices, attrChoice{Key: ch.Key, Label: ch.Label, Groups: choiceGroups(ch),
			Checked: slices.Contains(page.Design.PrintedAttributes, ch.Key), UsesDesign: ch.UsesDesign,
			NotPublicIn: strings.Join(ch.NotPublicIn, ", ")})
	}
	for _, k := range page.Design.PrintedAttributes {
		if !slices.Contains(StandardPrinted, k) && !known[k] {
			page.Unknown = append(page.Unknown, attrChoice{Key: k, Label: keyLabel(k)})
		}
	}
	iss, err := u.s.Public.Signing.Identity(c.Request.Context())
	if err != nil {
		return err
	}
	page.Preview = sampleView(page.Design, choices, iss.Name, u.s.now())
	if page.GeneratedImage {
		page.Preview.ImageURL = templateImageURL(page.Design.Layout, page.Design.PrimaryColor, page.Design.SecondaryColor)
	}
	page.Slots = nil
	for _, slot := range issuance.ImageSlots {
		sc := slotChoice{Slot: slot, Label: slotLabels[slot], Current: page.Design.ImageSlots[slot]}
		found := sc.Current == ""
		for _, ch := range choices {
			if ch.Type == issuance.ImageAttr {
				sc.Options = append(sc.Options, attrChoice{Key: ch.Key, Label: ch.Label, Groups: choiceGroups(ch),
					NotPublicIn: strings.Join(ch.NotPublicIn, ", ")})
				found = found || ch.Key == sc.Current
			}
		}
		if !found {
			sc.Options = append(sc.Options, attrChoice{Key: sc.Current, Label: keyLabel(sc.Current), Groups: "no group of yours defines it now"})
		}
		page.Slots = append(page.Slots, sc)
	}
	return nil
}

// choiceGroups names the groups that define a choice's attribute.
func choiceGroups(ch issuance.AttributeChoice) string {
	if len(ch.Groups) == 0 {
		return "none of your groups uses it yet"
	}
	return strings.Join(ch.Groups, ", ")
}

// sampleView is a made-up credential drawn with design d, for the live
// preview: a sample recipient, today's date, and each printed custom
// attribute showing its label.
func sampleView(d issuance.Design, choices []issuance.AttributeChoice, issuer string, now time.Time) public.CredentialView {
	today := issuance.DateOnly(now)
	g := issuance.Group{Name: "Example Achievement", CourseName: "Example Course", Language: "en"}
	cr := issuance.Credential{ID: "sample", State: issuance.Published, Recipient: issuance.Recipient{Name: "Alex Example", Email: "alex@example.edu"},
		IssuedOn: today, Attributes: map[string]string{}}
	for _, ch := range choices {
		if ch.Type == issuance.ImageAttr {
			continue
		}
		// The sample draws an attribute as a group where it is public would.
		a := ch.Attribute
		a.Visibility = issuance.VisibilityStaff
		if len(ch.NotPublicIn) < len(ch.Groups) || (len(ch.Groups) == 0 && ch.Visibility == issuance.VisibilityPublic) {
			a.Visibility = issuance.VisibilityPublic
		}
		g.Attributes = append(g.Attributes, a)
		cr.Attributes[ch.Key] = "(" + ch.Label + ")"
	}
	v := public.CredentialView{Credential: cr, Group: g, Issuer: issuer, IssuedOn: today.Format(issuance.HumanDate), Preview: true}
	if d.PrimaryColor == "" || !issuance.ValidColor(d.PrimaryColor) {
		d.PrimaryColor = "#1f3a5f"
	}
	if d.SecondaryColor == "" || !issuance.ValidColor(d.SecondaryColor) {
		d.SecondaryColor = "#c9a227"
	}
	if len(d.Image) > 0 {
		v.ImageURL = "/designs/" + strconv.FormatInt(d.ID, 10) + "/image"
	}
	if len(d.Logo) > 0 {
		v.LogoURL = "/designs/" + strconv.FormatInt(d.ID, 10) + "/logo"
	}
	d.Image, d.Logo = nil, nil
	v.Design = d
	for _, a := range g.VisibleAttributes(issuance.AudiencePublic) {
		v.Fields = append(v.Fields, public.ViewField{Key: a.Key, Label: a.Label, Value: cr.Attributes[a.Key]})
	}
	for _, k := range d.PrintedAttributes {
		if !g.Visible(k, issuance.AudiencePublic) {
			continue
		}
		if f, ok := v.Field(k); ok && f.Value != "" {
			v.Printed = append(v.Printed, f)
		}
	}
	// Placed images show as their caption over the line: the sample has no
	// group to take the images from.
	for _, pos := range issuance.ImageSlots {
		if key := d.ImageSlots[pos]; key != "" && d.Kind == issuance.Certificate {
			label := keyLabel(key)
			for _, ch := range choices {
				if ch.Key == key {
					label = ch.Label
				}
			}
			v.Slots = append(v.Slots, public.SlotView{Position: pos, Key: key, Caption: label})
		}
	}
	return v
}

// designPreview is POST /designs/preview: the design form as it stands,
// drawn as a sample credential through the credential's own partial (the
// fragment the form's script swaps into its preview). Nothing is saved.
func (u *ui) designPreview(c *gin.Context) error {
	p, err := require(c, auth.ManageGroups)
	if err != nil {
		return err
	}
	base := issuance.Design{}
	if s := c.PostForm("design_id"); s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id <= 0 {
			return apperr.Fields("The design is not valid.", []apperr.FieldError{{Index: -1, Field: "design_id", Message: "design_id must be a design's number."}})
		}
		if base, err = u.s.Core.Design(c.Request.Context(), id); err != nil {
			return err
		}
	}
	d, page := parseDesignForm(c, base, base.ID == 0)
	chosenImage, chosenLogo := len(d.Image) > 0 && !sameBytes(d.Image, base.Image), len(d.Logo) > 0 && !sameBytes(d.Logo, base.Logo)
	if err := u.designExtras(c, p, &page); err != nil {
		return err
	}
	if chosenImage {
		page.Preview.ImageURL = uploadedImageMarker
	}
	if chosenLogo {
		page.Preview.LogoURL = uploadedLogoMarker
	}
	if c.PostForm("redraw_image") != "" && d.Kind == issuance.Badge {
		page.Preview.ImageURL = templateImageURL(d.Layout, d.PrimaryColor, d.SecondaryColor)
	}
	return u.rd.RenderFragment(c, http.StatusOK, "staff_design_form.html", "design_preview", page.Preview)
}

func sameBytes(a, b []byte) bool { return string(a) == string(b) }
