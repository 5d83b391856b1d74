package staff

import (
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/internal/staffui"
	"github.com/laurel-edu/laurel/issuance/reminders"
)

// groupListPage is /groups.
type groupListPage struct {
	Title     string
	Groups    []issuance.GroupSummary
	CanManage bool
}

func (u *ui) groupList(c *gin.Context) error {
	p, err := require(c, auth.ViewCredentials)
	if err != nil {
		return err
	}
	// A team member limited to groups sees only those (nil: every group).
	groups, err := u.s.Core.Groups(c.Request.Context(), p.Groups)
	if err != nil {
		return err
	}
	canCreate, err := staffui.MayCreateGroup(c.Request.Context(), u.s.Core, p)
	if err != nil {
		return err
	}
	return u.rd.Render(c, http.StatusOK, "staff_groups.html", groupListPage{
		Title:     "Groups",
		Groups:    groups,
		CanManage: canCreate,
	})
}

// groupOverviewPage is /groups/:id.
type groupOverviewPage struct {
	Title   string
	Nav     nav
	Summary issuance.GroupSummary
	Design  issuance.Design
	// Language is the group's language by name ("English").
	Language string
	// Schedules are the group's scheduled publishes, waiting or recently run.
	Schedules []scheduleView
	// Sending is "41,200 of 100,000" while the group's emails are being
	// sent, "" otherwise.
	Sending string
	// Reminders says what the group's expiry reminders do; Renewals are
	// its open renewal requests.
	Reminders       reminders.Settings
	ReminderSummary string
	Renewals        []reminders.RenewalRequest
	// Insight is the engagement panel ("" without one).
	Insight template.HTML
	// Images are the group's image attributes, each with its upload.
	Images []groupImageView
}

func (u *ui) groupOverview(c *gin.Context) error {
	g, p, err := u.groupFor(c, auth.ViewCredentials)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	sums, err := u.s.Core.Groups(ctx, []int64{g.ID})
	if err != nil {
		return err
	}
	page := groupOverviewPage{Title: g.Name, Nav: newNav(g, p, "overview"), Summary: issuance.GroupSummary{Group: g}, Language: languageName(g.Language)}
	if len(sums) == 1 {
		page.Summary = sums[0]
	}
	if page.Design, err = u.s.Core.Design(ctx, g.DesignID); err != nil && !apperr.Is(err, apperr.NotFound) {
		return err
	}
	if page.Schedules, err = u.groupSchedules(ctx, g, p); err != nil {
		return err
	}
	sending, err := u.s.Core.GroupSending(ctx, g.ID)
	if err != nil {
		return err
	}
	if !sending.Sent() {
		page.Sending = sending.String()
	}
	if page.Reminders, err = u.s.Reminders.Group(ctx, g.ID); err != nil {
		return err
	}
	page.ReminderSummary = reminderSummary(page.Reminders)
	if page.Renewals, err = u.s.Reminders.RenewalRequests(ctx, g.ID); err != nil {
		return err
	}
	if u.s.Insight != nil {
		if page.Insight, err = u.s.Insight.GroupPanel(ctx, g.ID); err != nil {
			return err
		}
	}
	status := http.StatusOK
	var problem [2]string
	if v, ok := c.Get(groupImageProblemKey); ok {
		problem, status = v.([2]string), http.StatusUnprocessableEntity
	}
	if page.Images, err = u.groupImageViews(ctx, g, problem[0], problem[1]); err != nil {
		return err
	}
	return u.rd.Render(c, status, "staff_group.html", page)
}

// attrRow is one custom attribute row of the group form: a variable of
// the Attributes section picked by key, with the group's own settings.
type attrRow struct {
	Index      int
	Key        string
	Label      string
	Type       string
	Required   bool
	Visibility string
	ResultType string
	// Own is the row's attribute as the group has it when the picker does
	// not offer it so (a retired variable, or a group that kept another
	// label or type than the variable's when the registry was made).
	Own *issuance.AttributeVariable
}

// groupFormPage is /groups/new and /groups/:id/edit.
type groupFormPage struct {
	Title          string
	New            bool
	Action         string
	Group          issuance.Group
	DesignID       int64
	ValidityMonths string
	Attrs          []attrRow
	Designs        []issuance.Design
	Errors         formErrors
	OtherErrors    []string // errors that belong to no input
	// Variables are the Attributes section's live custom variables the
	// attribute rows pick from.
	Variables       []issuance.AttributeVariable
	Offered         map[string]bool // their keys
	Visibilities    []issuance.Visibility
	ResultTypes     []issuance.ResultType
	LanguageOptions []languageOption
}

// spareAttrRows is how many empty attribute rows the form shows, so a group
// gets new attributes without JavaScript.
const spareAttrRows = 3

func (u *ui) groupFormPage(c *gin.Context, g issuance.Group, isNew bool) (groupFormPage, error) {
	designs, err := u.s.Core.Designs(c.Request.Context())
	if err != nil {
		return groupFormPage{}, err
	}
	page := groupFormPage{
		New: isNew, Group: g, DesignID: g.DesignID, Designs: designs, Errors: formErrors{},
		Visibilities:    issuance.Visibilities,
		ResultTypes:     issuance.ResultTypes,
		LanguageOptions: groupLanguages,
	}
	if g.ValidityMonths != nil {
		page.ValidityMonths = strconv.Itoa(*g.ValidityMonths)
	}
	vars, err := u.s.Core.AttributeVariables(c.Request.Context(), false)
	if err != nil {
		return groupFormPage{}, err
	}
	page.Offered = map[string]bool{}
	for _, v := range vars {
		if !v.Standard {
			page.Variables = append(page.Variables, v)
			page.Offered[v.Key] = true
		}
	}
	for i, a := range g.Attributes {
		page.Attrs = append(page.Attrs, page.row(i, a))
	}
	if isNew {
		page.Title, page.Action = "New group", "/groups/new"
		if page.DesignID == 0 {
			for _, d := range designs {
				if d.IsDefault {
					page.DesignID = d.ID
				}
			}
		}
	} else {
		page.Title, page.Action = "Edit "+g.Name, "/groups/"+strconv.FormatInt(g.ID, 10)+"/edit"
	}
	page.addSpareRows()
	return page, nil
}

// row is attribute a as the form's row i.
func (page *groupFormPage) row(i int, a issuance.Attribute) attrRow {
	r := attrRow{Index: i, Key: a.Key, Label: a.Label, Type: string(a.Type), Required: a.Required,
		Visibility: string(a.Visibility), ResultType: string(a.ResultType)}
	if !slices.ContainsFunc(page.Variables, func(v issuance.AttributeVariable) bool {
		return v.Key == a.Key && v.Label == a.Label && v.Type == a.Type
	}) {
		r.Own = &issuance.AttributeVariable{Key: a.Key, Label: a.Label, Type: a.Type}
	}
	return r
}

// addSpareRows adds empty rows; their visibility is "" (the variable's
// default).
func (page *groupFormPage) addSpareRows() {
	n := len(page.Attrs)
	for i := 0; i < spareAttrRows; i++ {
		page.Attrs = append(page.Attrs, attrRow{Index: n + i})
	}
}

func (u *ui) groupNew(c *gin.Context) error {
	p, err := principal(c)
	if err != nil {
		return err
	}
	if err := staffui.RequireNewGroup(c.Request.Context(), u.s.Core, p); err != nil {
		return err
	}
	// A new group is in the organisation's language unless staff say otherwise.
	o, err := u.s.Core.Organisation(c.Request.Context())
	if err != nil {
		return err
	}
	page, err := u.groupFormPage(c, issuance.Group{Language: o.Language}, true)
	if err != nil {
		return err
	}
	return u.rd.Render(c, http.StatusOK, "staff_group_form.html", page)
}

// groupCreate creates a group; a team member limited to some groups gets
// it added to their groups (staffui.CreateGroup).
func (u *ui) groupCreate(c *gin.Context) error {
	p, err := principal(c)
	if err != nil {
		return err
	}
	if err := staffui.RequireNewGroup(c.Request.Context(), u.s.Core, p); err != nil {
		return err
	}
	g, page, err := u.parseGroupForm(c, issuance.Group{}, true)
	if err != nil {
		return err
	}
	if len(page.Errors) == 0 {
		created, err := staffui.CreateGroup(c.Request.Context(), u.s.Core, p, g)
		if err == nil {
			auth.SetFlash(c, "Group “"+created.Name+"” created.")
			return seeOther(c, "/groups/"+strconv.FormatInt(created.ID, 10))
		}
		if !apperr.Is(err, apperr.Invalid) && !apperr.Is(err, apperr.Conflict) {
			return err
		}
		page.absorb(err)
	}
	return u.rd.Render(c, http.StatusUnprocessableEntity, "staff_group_form.html", page)
}

func (u *ui) groupEdit(c *gin.Context) error {
	g, _, err := u.groupFor(c, auth.ManageGroups)
	if err != nil {
		return err
	}
	page, err := u.groupFormPage(c, g, false)
	if err != nil {
		return err
	}
	return u.rd.Render(c, http.StatusOK, "staff_group_form.html", page)
}

func (u *ui) groupUpdate(c *gin.Context) error {
	old, p, err := u.groupFor(c, auth.ManageGroups)
	if err != nil {
		return err
	}
	g, page, err := u.parseGroupForm(c, old, false)
	if err != nil {
		return err
	}
	if len(page.Errors) == 0 {
		_, err := u.s.Core.UpdateGroup(c.Request.Context(), p.Actor(), g)
		if err == nil {
			auth.SetFlash(c, "Group saved.")
			return seeOther(c, "/groups/"+strconv.FormatInt(g.ID, 10))
		}
		if !apperr.Is(err, apperr.Invalid) && !apperr.Is(err, apperr.Conflict) {
			return err
		}
		page.absorb(err)
	}
	return u.rd.Render(c, http.StatusUnprocessableEntity, "staff_group_form.html", page)
}

var attrFieldRE = regexp.MustCompile(`^attr_(key|required|visibility|result_type)_(\d+)$`)

// serviceAttrFieldRE matches the service's names for attribute fields,
// "attributes[2].key" or "attributes.2.key".
var serviceAttrFieldRE = regexp.MustCompile(`^attributes(?:\[(\d+)\]|\.(\d+))\.?(key|label|type|required|visibility|result_type)$`)

// absorb places the service's field errors next to their inputs.
func (page *groupFormPage) absorb(err error) {
	fields := apperr.FieldErrors(err)
	if len(fields) == 0 {
		page.OtherErrors = append(page.OtherErrors, apperr.Message(err))
		return
	}
	known := map[string]bool{"name": true, "course_name": true, "description": true, "course_link": true, "language": true, "design_id": true, "validity_months": true, "allow_duplicates": true,
		"available_to_instructors": true, "allow_auto_publish": true}
	for _, f := range fields {
		name := f.Field
		if m := serviceAttrFieldRE.FindStringSubmatch(name); m != nil {
			i, f := m[1]+m[2], m[3]
			if f != "visibility" && f != "result_type" {
				f = "key" // the picker stands for the variable's label and type
			}
			name = "attr_" + f + "_" + i
		} else if strings.HasPrefix(name, "attributes") {
			name = "attributes"
		}
		if known[name] || attrFieldRE.MatchString(name) || name == "attributes" {
			page.Errors.Add(name, f.Message)
		} else {
			page.OtherErrors = append(page.OtherErrors, f.Field+": "+f.Message)
		}
	}
}

// parseGroupForm reads the group form into g (keeping base's id and
// timestamps) and the page to re-render, with the errors found while parsing.
func (u *ui) parseGroupForm(c *gin.Context, base issuance.Group, isNew bool) (issuance.Group, groupFormPage, error) {
	g := base
	g.Name = trimmed(c, "name")
	g.CourseName = trimmed(c, "course_name")
	g.Description = strings.TrimSpace(c.PostForm("description"))
	g.CourseLink = trimmed(c, "course_link")
	g.Language = trimmed(c, "language")
	g.AllowDuplicates = c.PostForm("allow_duplicates") != ""
	g.AvailableToInstructors = c.PostForm("available_to_instructors") != ""
	g.AllowAutoPublish = c.PostForm("allow_auto_publish") != ""
	errs := formErrors{}
	if g.Name == "" {
		errs.Add("name", "Enter the group's name.")
	}
	if g.CourseName == "" {
		errs.Add("course_name", "Enter the course name.")
	}
	if g.CourseLink != "" {
		if l, err := url.Parse(g.CourseLink); err != nil || (l.Scheme != "http" && l.Scheme != "https") || l.Host == "" {
			errs.Add("course_link", "Enter a full link starting with https://, or leave it empty.")
		}
	}
	g.DesignID = 0
	if s := c.PostForm("design_id"); s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id <= 0 {
			errs.Add("design_id", "Choose a design from the list.")
		} else {
			g.DesignID = id
		}
	}
	vm := trimmed(c, "validity_months")
	g.ValidityMonths = nil
	if vm != "" {
		n, err := strconv.Atoi(vm)
		if err != nil || n <= 0 || n > 1200 {
			errs.Add("validity_months", "Enter a whole number of months (1–1200), or leave it empty for credentials that never expire.")
		} else {
			g.ValidityMonths = &n
		}
	}

	// Attribute rows: any index the form sent, in order; empty rows are
	// the spare ones and are ignored.
	_ = c.Request.ParseForm()
	var idx []int
	for k := range c.Request.PostForm {
		if m := attrFieldRE.FindStringSubmatch(k); m != nil {
			if i, err := strconv.Atoi(m[2]); err == nil && i < 200 && !slices.Contains(idx, i) {
				idx = append(idx, i)
			}
		}
	}
	sort.Ints(idx)
	vars, err := u.s.Core.AttributeVariables(c.Request.Context(), true)
	if err != nil {
		return g, groupFormPage{}, err
	}
	var picked []issuance.Attribute
	g.Attributes = nil
	seen := map[string]int{}
	for _, i := range idx {
		s := strconv.Itoa(i)
		a := issuance.Attribute{
			Key:      trimmed(c, "attr_key_"+s),
			Required: c.PostForm("attr_required_"+s) != "",
			// The core checks both and names the field.
			Visibility: issuance.Visibility(trimmed(c, "attr_visibility_"+s)),
			ResultType: issuance.ResultType(trimmed(c, "attr_result_type_"+s)),
		}
		if a.Key == "" {
			continue
		}
		n := len(picked)
		// The group's own copy keeps its label and type; a new pick takes
		// the variable's (the core fills them in).
		for _, o := range base.Attributes {
			if o.Key == a.Key {
				a.Label, a.Type = o.Label, o.Type
			}
		}
		known := slices.ContainsFunc(vars, func(v issuance.AttributeVariable) bool { return v.Key == a.Key && !v.Standard })
		switch {
		case !known && a.Label == "":
			errs.Add("attr_key_"+strconv.Itoa(n), "Choose an attribute from the list.")
		case seen[a.Key] > 0:
			errs.Add("attr_key_"+strconv.Itoa(n), "This attribute is already picked in row "+strconv.Itoa(seen[a.Key])+".")
		}
		seen[a.Key] = n + 1
		picked = append(picked, a)
	}
	g.Attributes = picked

	page, err := u.groupFormPage(c, g, isNew)
	if err != nil {
		return g, page, err
	}
	page.Attrs = nil
	for i, a := range picked {
		r := page.row(i, a)
		if a.Label == "" { // a new pick: the picker shows the variable
			r.Own = nil
		}
		page.Attrs = append(page.Attrs, r)
	}
	page.addSpareRows()
	page.DesignID = g.DesignID
	page.ValidityMonths = vm
	page.Errors = errs
	return g, page, nil
}

// groupLanguages are the languages the forms suggest (any BCP 47 tag is
// accepted), each shown by its name.
var groupLanguages = languageOptions("en", "de", "fr", "es", "it", "nl", "pt", "sv", "da", "fi", "pl")

// languageOption is a suggested language tag with its name, so a form's
// list reads "German", not only "de".
type languageOption struct{ Code, Name string }

func languageOptions(tags ...string) []languageOption {
	out := make([]languageOption, len(tags))
	for i, t := range tags {
		out[i] = languageOption{Code: t, Name: languageName(t)}
	}
	return out
}

// languageName is a language tag as pages name it ("English", "Brazilian
// Portuguese"); the tag itself when it has no English name.
func languageName(tag string) string {
	t, err := language.Parse(tag)
	if err != nil {
		return tag
	}
	if n := display.English.Tags().Name(t); n != "" {
		return n
	}
	return tag
}

// attrKeyRE is what a custom attribute key may look like: it names a form
// field, a CSV column and a JSON key.
var attrKeyRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)
