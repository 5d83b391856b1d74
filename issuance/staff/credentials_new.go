package staff

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/issuance"
)

// maxFormRows caps one "Create Credentials" form; larger batches go through
// a CSV import or the API.
const maxFormRows = 500

// attrCell is one custom attribute input in a recipient row.
type attrCell struct {
	Key, Label string
	Type       issuance.AttributeType
	Required   bool
	Value      string
	Error      string
	// Visibility is who else sees the value (the credential page says it).
	Visibility issuance.Visibility
}

// recipientRow is one row of the "Create Credentials" form. Inputs are
// named name_N, email_N, issued_on_N and attr_KEY_N (also their ids).
type recipientRow struct {
	Index    int
	Name     string
	Email    string
	IssuedOn string
	Attrs    []attrCell
	Errors   formErrors // by "name", "email", "issued_on", "expires_on"
	Other    []string   // row problems that belong to no single input
}

func (r recipientRow) blank() bool {
	if r.Name != "" || r.Email != "" {
		return false
	}
	for _, a := range r.Attrs {
		if a.Value != "" {
			return false
		}
	}
	return true
}

// credentialsNewPage is the "Create Credentials" tab.
type credentialsNewPage struct {
	Title   string
	Nav     nav
	Rows    []recipientRow
	Problem string // a form-level message
	Count   int    // rows with an error, for the summary
}

// emptyRow is a new recipient row, issued today in the organisation's time
// zone.
func (u *ui) emptyRow(ctx context.Context, g issuance.Group, i int) recipientRow {
	today := u.s.Core.Locale(ctx).Today(u.s.now())
	r := recipientRow{Index: i, IssuedOn: today.Format(issuance.DateLayout), Errors: formErrors{}}
	for _, a := range g.ValueAttributes() {
		r.Attrs = append(r.Attrs, attrCell{Key: a.Key, Label: a.Label, Type: a.Type, Required: a.Required})
	}
	return r
}

func (u *ui) credentialsNew(c *gin.Context) error {
	g, p, err := u.groupFor(c, auth.CreateCredentials)
	if err != nil {
		return err
	}
	return u.rd.Render(c, http.StatusOK, "staff_credentials_new.html", credentialsNewPage{
		Title: "Create Credentials · " + g.Name,
		Nav:   newNav(g, p, "new"),
		Rows:  []recipientRow{u.emptyRow(c.Request.Context(), g, 0)},
	})
}

var rowFieldRE = regexp.MustCompile(`^(?:name|email|issued_on)_(\d+)$`)

// parseRows reads every row the form sent (the JavaScript "Add Another
// Recipient" clones rows with new indices), renumbered from 0 in order.
func (u *ui) parseRows(c *gin.Context, g issuance.Group) ([]recipientRow, error) {
	if err := c.Request.ParseForm(); err != nil {
		return nil, apperr.Errorf(apperr.Invalid, "The form could not be read: %v", err)
	}
	var idx []int
	for k := range c.Request.PostForm {
		if m := rowFieldRE.FindStringSubmatch(k); m != nil {
			i, err := strconv.Atoi(m[1])
			if err == nil && !slices.Contains(idx, i) {
				idx = append(idx, i)
			}
		}
	}
	if len(idx) > maxFormRows {
		return nil, apperr.Errorf(apperr.Invalid, "The form has %d rows; at most %d can be created at once. Use a CSV import for more.", len(idx), maxFormRows)
	}
	sort.Ints(idx)
	rows := make([]recipientRow, 0, len(idx))
	for _, i := range idx {
		s := strconv.Itoa(i)
		r := recipientRow{
			Index:    len(rows),
			Name:     trimmed(c, "name_"+s),
			Email:    trimmed(c, "email_"+s),
			IssuedOn: trimmed(c, "issued_on_"+s),
			Errors:   formErrors{},
		}
		for _, a := range g.ValueAttributes() {
			r.Attrs = append(r.Attrs, attrCell{Key: a.Key, Label: a.Label, Type: a.Type, Required: a.Required, Value: trimmed(c, "attr_"+a.Key+"_"+s)})
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func (u *ui) credentialsCreate(c *gin.Context) error {
	g, p, err := u.groupFor(c, auth.CreateCredentials)
	if err != nil {
		return err
	}
	page := credentialsNewPage{Title: "Create Credentials · " + g.Name, Nav: newNav(g, p, "new")}
	rows, err := u.parseRows(c, g)
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		rows = []recipientRow{u.emptyRow(c.Request.Context(), g, 0)}
	}
	page.Rows = rows

	// Without JavaScript, "Add Another Recipient" submits the form: show
	// the same rows plus an empty one, and create nothing.
	if c.PostForm("action") == "add-row" {
		if len(rows) < maxFormRows {
			page.Rows = append(page.Rows, u.emptyRow(c.Request.Context(), g, len(rows)))
		}
		return u.rd.Render(c, http.StatusOK, "staff_credentials_new.html", page)
	}

	// Blank rows (a spare row left empty) are skipped; itemRow maps each
	// item back to its row for the error messages.
	var items []issuance.NewCredential
	var itemRow []int
	for i, r := range rows {
		if r.blank() {
			continue
		}
		it := issuance.NewCredential{Recipient: issuance.Recipient{Name: r.Name, Email: r.Email}, IssuedOn: r.IssuedOn, Attributes: map[string]string{}}
		for _, a := range r.Attrs {
			if a.Value != "" {
				it.Attributes[a.Key] = a.Value
			}
		}
		items = append(items, it)
		itemRow = append(itemRow, i)
	}
	if len(items) == 0 {
		page.Rows[0].Errors.Add("name", "Enter at least one recipient.")
		page.Problem = "Nothing was created: the form has no recipients."
		page.Count = 1
		return u.rd.Render(c, http.StatusUnprocessableEntity, "staff_credentials_new.html", page)
	}
	created, err := u.s.Core.CreateCredentials(c.Request.Context(), p.Actor(), g.ID, issuance.FromForm, items)
	if err == nil {
		auth.SetFlash(c, plural(len(created), "credential")+" created (unpublished). Nothing has been sent yet.")
		return seeOther(c, "/groups/"+strconv.FormatInt(g.ID, 10)+"/unpublished")
	}
	if !apperr.Is(err, apperr.Invalid) && !apperr.Is(err, apperr.Conflict) {
		return err
	}
	bad := map[int]bool{}
	for _, f := range apperr.FieldErrors(err) {
		if f.Index < 0 || f.Index >= len(itemRow) {
			page.Problem = f.Message
			continue
		}
		ri := itemRow[f.Index]
		bad[ri] = true
		placeRowError(&page.Rows[ri], f.Field, f.Message)
	}
	page.Count = len(bad)
	if page.Problem == "" {
		if len(bad) > 0 {
			page.Problem = "Nothing was created: fix the " + plural(len(bad), "row") + " marked below and submit again."
		} else {
			page.Problem = "Nothing was created: " + apperr.Message(err)
		}
	}
	return u.rd.Render(c, http.StatusUnprocessableEntity, "staff_credentials_new.html", page)
}

// placeRowError puts the service's message for field ("recipient.name",
// "issued_on", "attributes.grade", ...) next to the matching input.
func placeRowError(r *recipientRow, field, msg string) {
	switch field {
	case "recipient.name", "name":
		r.Errors.Add("name", msg)
	case "recipient.email", "email":
		r.Errors.Add("email", msg)
	case "issued_on":
		r.Errors.Add("issued_on", msg)
	default:
		if key, ok := strings.CutPrefix(field, "attributes."); ok {
			for i := range r.Attrs {
				if r.Attrs[i].Key == key {
					if r.Attrs[i].Error == "" {
						r.Attrs[i].Error = msg
					}
					return
				}
			}
		}
		// expires_on and unknown attributes have no input in this form.
		r.Other = append(r.Other, msg)
	}
}
