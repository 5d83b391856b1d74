package staff

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/text"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/internal/staffui"
)

// attributesPage is /attributes, the Attributes section: the organisation's
// attribute variables, where each is used, and (by role) create, rename,
// retire.
type attributesPage struct {
	Title    string
	Standard []issuance.AttributeVariable
	// StandardDesigns are the designs that print each standard variable.
	StandardDesigns map[string][]issuance.AttributeUse
	Custom          []variableRow
	Retired         []variableRow
	// CanCreate: whoever may create a group may create a variable for it;
	// CanManage (owner, admin) may rename and retire.
	CanCreate, CanManage bool
	New                  issuance.AttributeVariable // the create form's values
	// Back is the group form to return to after creating a variable.
	Back         string
	Errors       formErrors
	Types        []issuance.AttributeType
	Visibilities []issuance.Visibility
	ResultTypes  []issuance.ResultType
}

// variableRow is one custom variable with where it is used, as far as the
// user may see.
type variableRow struct {
	issuance.AttributeVariable
	Groups      []issuance.AttributeUse
	OtherGroups int // groups using it that the user does not work in
	Designs     []issuance.AttributeUse
	Label       string // the rename input's value
	Error       string // the rename's problem
	CanManage   bool
}

// mayManageAttributes: renaming or retiring a variable touches every group
// that uses it, so it is for owners and admins.
func mayManageAttributes(p *auth.Principal) bool {
	return p.Role == auth.Owner || p.Role == auth.Admin
}

func (u *ui) attributesPage(ctx context.Context, p *auth.Principal) (attributesPage, error) {
	page := attributesPage{Title: "Attributes", Errors: formErrors{}, CanManage: mayManageAttributes(p), StandardDesigns: map[string][]issuance.AttributeUse{},
		Types: issuance.AttributeTypes, Visibilities: issuance.Visibilities, ResultTypes: issuance.ResultTypes,
		New: issuance.AttributeVariable{Type: issuance.TextAttr, Visibility: issuance.VisibilityRecipient}}
	var err error
	if page.CanCreate, err = staffui.MayCreateGroup(ctx, u.s.Core, p); err != nil {
		return page, err
	}
	vars, err := u.s.Core.AttributeVariables(ctx, true)
	if err != nil {
		return page, err
	}
	uses, err := u.s.Core.AttributeVariableUses(ctx)
	if err != nil {
		return page, err
	}
	for _, v := range vars {
		if v.Standard {
			page.Standard = append(page.Standard, v)
			page.StandardDesigns[v.Key] = uses[v.Key].Designs
			continue
		}
		use := uses[v.Key]
		r := variableRow{AttributeVariable: v, Designs: use.Designs, Label: v.Label, CanManage: page.CanManage}
		for _, g := range use.Groups {
			if p.Groups == nil || slices.Contains(p.Groups, g.ID) {
				r.Groups = append(r.Groups, g)
			} else {
				r.OtherGroups++
			}
		}
		if v.Retired {
			page.Retired = append(page.Retired, r)
		} else {
			page.Custom = append(page.Custom, r)
		}
	}
	return page, nil
}

func (u *ui) attributeList(c *gin.Context) error {
	p, err := require(c, auth.ViewCredentials)
	if err != nil {
		return err
	}
	page, err := u.attributesPage(c.Request.Context(), p)
	if err != nil {
		return err
	}
	page.Back = groupFormPath(c.Query("back"))
	return u.rd.Render(c, http.StatusOK, "staff_attributes.html", page)
}

// attributeCreate creates a variable from the page's form; its key is made
// from the label (variableKey).
func (u *ui) attributeCreate(c *gin.Context) error {
	p, err := principal(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	if err := staffui.RequireNewGroup(ctx, u.s.Core, p); err != nil {
		return err
	}
	v := issuance.AttributeVariable{Label: trimmed(c, "label"), Type: issuance.AttributeType(trimmed(c, "type")),
		Visibility: issuance.Visibility(trimmed(c, "visibility")), ResultType: issuance.ResultType(trimmed(c, "result_type"))}
	if v.Label != "" {
		if v.Key, err = u.variableKey(ctx, v.Label); err != nil {
			return err
		}
	}
	created, err := u.s.Core.CreateAttributeVariable(ctx, p.Actor(), v)
	if err == nil {
		auth.SetFlash(c, "Attribute “"+created.Label+"” created. Groups can now pick it.")
		if back := groupFormPath(c.PostForm("back")); back != "" {
			return seeOther(c, back)
		}
		return seeOther(c, "/attributes#attr-"+created.Key)
	}
	if !apperr.Is(err, apperr.Invalid) && !apperr.Is(err, apperr.Conflict) {
		return err
	}
	page, perr := u.attributesPage(ctx, p)
	if perr != nil {
		return perr
	}
	page.New = v
	page.Back = groupFormPath(c.PostForm("back"))
	for _, f := range apperr.FieldErrors(err) {
		switch f.Field {
		case "type", "visibility", "result_type":
			page.Errors.Add("new_"+f.Field, f.Message)
		case "key":
			if v.Label != "" { // the key is made from the label, once there is one
				page.Errors.Add("new_label", f.Message)
			}
		default:
			page.Errors.Add("new_label", f.Message)
		}
	}
	if len(page.Errors) == 0 {
		page.Errors.Add("new_label", apperr.Message(err))
	}
	return u.rd.Render(c, http.StatusUnprocessableEntity, "staff_attributes.html", page)
}

// variableKey makes a key from label: its letters and digits as a
// keyboard without accents types them, words joined by _, made unique.
func (u *ui) variableKey(ctx context.Context, label string) (string, error) {
	var b strings.Builder
	for _, r := range text.Fold(label) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "_"):
			b.WriteByte('_')
		}
	}
	key := strings.TrimRight(b.String(), "_")
	if key == "" || key[0] < 'a' || key[0] > 'z' {
		key = "attribute_" + key
	}
	key = strings.TrimRight(key[:min(len(key), 36)], "_")
	vars, err := u.s.Core.AttributeVariables(ctx, true)
	if err != nil {
		return "", err
	}
	taken := func(k string) bool {
		return slices.ContainsFunc(vars, func(v issuance.AttributeVariable) bool { return v.Key == k })
	}
	out := key
	for n := 2; taken(out); n++ {
		out = key + "_" + strconv.Itoa(n)
	}
	return out, nil
}

func (u *ui) attributeRename(c *gin.Context) error {
	p, err := principal(c)
	if err != nil {
		return err
	}
	if !mayManageAttributes(p) {
		return apperr.Errorf(apperr.Forbidden, "Only an owner or an admin can rename an attribute: it changes every group that uses it.")
	}
	ctx := c.Request.Context()
	key, label := c.Param("key"), trimmed(c, "label")
	v, err := u.s.Core.RenameAttributeVariable(ctx, p.Actor(), key, label)
	if err == nil {
		auth.SetFlash(c, "Attribute renamed to “"+v.Label+"” in every group that uses it. Spreadsheet columns with its old name still fill it.")
		return seeOther(c, "/attributes#attr-"+key)
	}
	if !apperr.Is(err, apperr.Invalid) && !apperr.Is(err, apperr.Conflict) {
		return err
	}
	page, perr := u.attributesPage(ctx, p)
	if perr != nil {
		return perr
	}
	msg := apperr.Message(err)
	if fe := apperr.FieldErrors(err); len(fe) > 0 {
		msg = fe[0].Message
	}
	for _, rows := range [][]variableRow{page.Custom, page.Retired} {
		for i := range rows {
			if rows[i].Key == key {
				rows[i].Label, rows[i].Error = label, msg
			}
		}
	}
	return u.rd.Render(c, http.StatusUnprocessableEntity, "staff_attributes.html", page)
}

// attributeRetire retires (retire) or restores a variable.
func (u *ui) attributeRetire(retire bool) func(c *gin.Context) error {
	return func(c *gin.Context) error {
		p, err := principal(c)
		if err != nil {
			return err
		}
		if !mayManageAttributes(p) {
			return apperr.Errorf(apperr.Forbidden, "Only an owner or an admin can retire or restore an attribute.")
		}
		v, err := u.s.Core.RetireAttributeVariable(c.Request.Context(), p.Actor(), c.Param("key"), retire)
		if err != nil {
			return err
		}
		if retire {
			auth.SetFlash(c, "Attribute “"+v.Label+"” retired: new groups no longer see it; groups that use it keep it.")
		} else {
			auth.SetFlash(c, "Attribute “"+v.Label+"” restored: groups can pick it again.")
		}
		return seeOther(c, "/attributes#attr-"+v.Key)
	}
}

// groupFormPathRE is what a "back" link may name: the group forms only, so
// it cannot send anyone elsewhere.
var groupFormPathRE = regexp.MustCompile(`^/groups/(new|[0-9]{1,19}/edit)$`)

// groupFormPath is back when it names a group form, "" otherwise.
func groupFormPath(back string) string {
	if groupFormPathRE.MatchString(back) {
		return back
	}
	return ""
}
