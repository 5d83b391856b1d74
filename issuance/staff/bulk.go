package staff

// Bulk work on the credentials ticked on a list, or on all matching its
// filter: revoke with a reason, send the email again, set or clear the
// expiry date, delete unpublished ones. Each goes through a confirmation
// naming how many and which (POST /credentials/bulk), then is applied by the
// core (POST /credentials/bulk/apply). The filter travels in the form's URL
// as the Credentials tab's query, and the core evaluates it again, within
// the caller's groups, when it applies the change.

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/issuance"
)

// bulkConfirmPage is the confirmation of a bulk change, and its form.
type bulkConfirmPage struct {
	Title    string
	Action   issuance.BulkAction
	Question string // "Revoke 4 credentials?"
	Button   string // "Revoke 4 credentials"
	Selected string // "You selected 12 credentials matching …"
	Plan     issuance.BulkPlan
	More     int      // eligible beyond those named
	Skipped  []string // "3 are unpublished and cannot be revoked …"
	// The selection, posted again: ticked IDs, or All with the filter in
	// the form's URL (FilterQuery).
	All         bool
	IDs         []string
	FilterQuery string
	Back        string
	// The inputs: a revocation's reason; the expiry date or its removal.
	Reason, ExpiresOn string
	ClearExpiry       bool
	// Checked is the expiry date whose skips the user has seen.
	Checked string
	Errors  formErrors
}

// bulkInput is a bulk change as posted.
type bulkInput struct {
	p      *auth.Principal
	req    issuance.BulkRequest
	filter tabFilter
	back   string
	page   bulkConfirmPage
}

// readBulk reads the action, the selection and the inputs of a bulk
// change for a caller who may publish (revoke, amend, resend and delete go
// with it): a viewer gets a 403.
func (u *ui) readBulk(c *gin.Context) (bulkInput, error) {
	p, err := require(c, auth.PublishCredentials)
	if err != nil {
		return bulkInput{}, err
	}
	f, opt, fe := readTabFilter(c, p)
	if len(fe) > 0 {
		return bulkInput{}, apperr.Errorf(apperr.Invalid, "The group of the selection is not valid; open the list and choose it again.")
	}
	in := bulkInput{p: p, filter: f, back: auth.SafeNext(c.PostForm("back"))}
	if in.back == "/groups" {
		in.back = "/credentials"
	}
	in.req.Action = issuance.BulkAction(c.PostForm("action"))
	if !in.req.Action.Valid() {
		return in, apperr.Errorf(apperr.Invalid, "Choose what to do with the selected credentials: revoke, send the email again, change the expiry date or delete.")
	}
	in.req.Selection.Filter = opt
	if c.PostForm("all") == "1" {
		in.req.Selection.All = true
	} else {
		for _, id := range c.PostFormArray("ids") {
			if id = strings.TrimSpace(id); id != "" && !slices.Contains(in.req.Selection.IDs, id) {
				in.req.Selection.IDs = append(in.req.Selection.IDs, id)
			}
		}
	}
	in.req.Reason = strings.TrimSpace(c.PostForm("reason"))
	in.page = bulkConfirmPage{Action: in.req.Action, All: in.req.Selection.All, IDs: in.req.Selection.IDs,
		FilterQuery: query(f.values()), Back: in.back, Reason: in.req.Reason, Errors: formErrors{},
		ExpiresOn: strings.TrimSpace(c.PostForm("expires_on")), ClearExpiry: c.PostForm("expiry") == "clear",
		Checked: c.PostForm("checked")}
	if !in.page.ClearExpiry {
		in.req.ExpiresOn = in.page.ExpiresOn
	}
	return in, nil
}

// bulkConfirm is POST /credentials/bulk: what the change would do, and
// the inputs it needs.
func (u *ui) bulkConfirm(c *gin.Context) error {
	if c.PostForm("action") == "download" {
		return u.bulkDownload(c)
	}
	in, err := u.readBulk(c)
	if err != nil {
		return err
	}
	if !in.req.Selection.All && len(in.req.Selection.IDs) == 0 {
		auth.SetFlash(c, "Select at least one credential first.")
		return seeOther(c, in.back)
	}
	// The inputs come on this page: plan without them.
	plan := in.req
	plan.Reason, plan.ExpiresOn = "x", ""
	if err := u.planPage(c, &in, plan); err != nil {
		return err
	}
	return u.rd.Render(c, http.StatusOK, "staff_bulk_confirm.html", in.page)
}

// bulkDownload sends the selection to Download for update: the filter's
// credentials, or the ticked ones.
func (u *ui) bulkDownload(c *gin.Context) error {
	p, err := require(c, auth.PublishCredentials)
	if err != nil {
		return err
	}
	f, _, _ := readTabFilter(c, p)
	v := f.values()
	v.Set("format", "xlsx")
	v.Set("for", "update")
	if c.PostForm("all") != "1" {
		for _, id := range c.PostFormArray("ids") {
			if id = strings.TrimSpace(id); id != "" {
				v.Add("ids", id)
			}
		}
		if len(v["ids"]) == 0 {
			auth.SetFlash(c, "Select at least one credential first.")
			return seeOther(c, auth.SafeNext(c.PostForm("back")))
		}
		if len(v["ids"]) > maxDownloadIDs {
			return apperr.Errorf(apperr.Invalid, "At most %d ticked credentials can be downloaded at once; select all matching a search instead.", maxDownloadIDs)
		}
	}
	return seeOther(c, "/credentials/export?"+v.Encode())
}

// maxDownloadIDs bounds the ticked credentials of a download (a page's
// worth, and a URL's length).
const maxDownloadIDs = 200

// planPage fills in.page with what r would do.
func (u *ui) planPage(c *gin.Context, in *bulkInput, r issuance.BulkRequest) error {
	ctx := c.Request.Context()
	plan, err := u.s.Core.PlanBulk(ctx, r)
	if err != nil {
		if fe := apperr.FieldErrors(err); len(fe) > 0 && fe[0].Field != "ids" {
			return apperr.Errorf(apperr.Invalid, "The selection's search is not valid (%s); open the list and search again.", plainFilterMessage(fe[0]))
		}
		return err
	}
	pg := &in.page
	pg.Plan = plan
	pg.More = plan.Eligible - len(plan.First)
	pg.Skipped = nil
	for _, s := range plan.Skipped {
		verb := " are "
		if s.Count == 1 {
			verb = " is "
		}
		pg.Skipped = append(pg.Skipped, fmt.Sprint(s.Count)+verb+s.Why+".")
	}
	n := plan.Eligible
	switch in.req.Action {
	case issuance.BulkRevoke:
		pg.Title, pg.Question, pg.Button = "Revoke credentials", "Revoke "+plural(n, "credential")+"?", "Revoke "+plural(n, "credential")
	case issuance.BulkResend:
		pg.Title, pg.Question, pg.Button = "Send the emails again", "Send the credential email again to "+plural(n, "recipient")+"?", "Send "+plural(n, "email")
	case issuance.BulkExpiry:
		pg.Title, pg.Question, pg.Button = "Change the expiry date", "Change the expiry date of "+plural(n, "credential")+"?", "Change "+plural(n, "credential")
	case issuance.BulkDelete:
		pg.Title, pg.Question, pg.Button = "Delete unpublished credentials", "Delete "+plural(n, "unpublished credential")+"?", "Delete "+plural(n, "credential")
	}
	if in.req.Selection.All {
		names, err := u.s.Core.GroupNames(ctx, in.p.Groups)
		if err != nil {
			return err
		}
		if d := u.describeFilter(c, in.filter, names); d != "" {
			pg.Selected = "You selected all " + plural(plan.Selected, "credential") + " matching the filter (" + d + ")."
		} else {
			pg.Selected = "You selected all " + plural(plan.Selected, "credential") + " you can see."
		}
	} else {
		pg.Selected = "You selected " + plural(plan.Selected, "credential") + "."
		if missing := len(in.req.Selection.IDs) - plan.Selected; missing > 0 {
			pg.Selected += " " + plural(missing, "other") + " no longer exist or are not in your groups."
		}
	}
	return nil
}

// describeFilter is the filter in words: "group: Data Science 101;
// state: published; search: “smith”; issued from: 1 Jan 2026" ("" for
// none).
func (u *ui) describeFilter(c *gin.Context, f tabFilter, groups []issuance.GroupName) string {
	var parts []string
	if f.Q != "" {
		parts = append(parts, "search: “"+f.Q+"”")
	}
	if f.Group != "" {
		for _, g := range groups {
			if fmt.Sprint(g.ID) == f.Group {
				parts = append(parts, "group: "+g.Name)
			}
		}
	}
	if f.State != "" {
		parts = append(parts, "state: "+strings.ToLower(stateLabel(issuance.State(f.State))))
	}
	if f.Source != "" {
		parts = append(parts, "source: "+strings.ToLower(issuance.Source(f.Source).Label()))
	}
	date := func(s string) string {
		t, err := time.Parse(issuance.DateLayout, s)
		if err != nil {
			return s
		}
		return u.s.Core.Locale(c.Request.Context()).Date(t)
	}
	for _, d := range []struct{ label, v string }{{"issued from: ", f.IssuedFrom}, {"issued up to: ", f.IssuedTo},
		{"expiring from: ", f.ExpiresFrom}, {"expiring up to: ", f.ExpiresTo}} {
		if d.v != "" {
			parts = append(parts, d.label+date(d.v))
		}
	}
	return strings.Join(parts, "; ")
}

// bulkApply is POST /credentials/bulk/apply, from the confirmation.
func (u *ui) bulkApply(c *gin.Context) error {
	in, err := u.readBulk(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	switch in.req.Action {
	case issuance.BulkRevoke:
		if in.req.Reason == "" {
			in.page.Errors.Add("reason", "Enter the reason for revoking; each credential's public page shows it.")
		}
	case issuance.BulkExpiry:
		switch {
		case in.page.ClearExpiry:
		case in.page.ExpiresOn == "":
			in.page.Errors.Add("expires_on", "Enter the new expiry date, or choose to remove the expiry date.")
		default:
			if _, err := time.Parse(issuance.DateLayout, in.page.ExpiresOn); err != nil {
				in.page.Errors.Add("expires_on", "Enter a date, for example with the date picker.")
			}
		}
	}
	if len(in.page.Errors) == 0 && in.req.Action == issuance.BulkExpiry && !in.page.ClearExpiry && in.page.Checked != in.page.ExpiresOn {
		// The date may skip some that the confirmation counted (those
		// issued after it): show them before applying.
		undated := in.req
		undated.ExpiresOn = ""
		was, err := u.s.Core.PlanBulk(ctx, undated)
		if err != nil {
			return err
		}
		if err := u.planPage(c, &in, in.req); err != nil {
			return err
		}
		if in.page.Plan.Eligible < was.Eligible {
			in.page.Checked = in.page.ExpiresOn
			return u.rd.Render(c, http.StatusOK, "staff_bulk_confirm.html", in.page)
		}
	}
	if len(in.page.Errors) > 0 {
		plan := in.req
		plan.Reason, plan.ExpiresOn = "x", ""
		if err := u.planPage(c, &in, plan); err != nil {
			return err
		}
		return u.rd.Render(c, http.StatusUnprocessableEntity, "staff_bulk_confirm.html", in.page)
	}
	res, err := u.s.Core.ApplyBulk(ctx, in.p.Actor(), in.req)
	if err != nil {
		return err
	}
	auth.SetFlash(c, bulkDone(in.req, res))
	return seeOther(c, in.back)
}

// bulkDone says what a bulk change did.
func bulkDone(r issuance.BulkRequest, res issuance.ChangeResult) string {
	n := res.Changed
	if res.InBackground {
		switch r.Action {
		case issuance.BulkRevoke:
			return "Revoking " + plural(n, "credential") + " in the background; their pages say so as each is done."
		case issuance.BulkResend:
			return "Sending the email again to " + plural(n, "recipient") + " in the background."
		case issuance.BulkExpiry:
			return "Changing the expiry date of " + plural(n, "credential") + " in the background."
		default:
			return "Deleting " + plural(n, "unpublished credential") + " in the background."
		}
	}
	switch r.Action {
	case issuance.BulkRevoke:
		return "Revoked " + plural(n, "credential") + "."
	case issuance.BulkResend:
		return plural(res.Emails, "email") + " queued for sending."
	case issuance.BulkExpiry:
		if r.ExpiresOn == "" {
			return "Removed the expiry date of " + plural(n, "credential") + "."
		}
		return "Changed the expiry date of " + plural(n, "credential") + "."
	default:
		return "Deleted " + plural(n, "unpublished credential") + "."
	}
}

// bulkBar is the bulk actions a list offers under its rows.
type bulkBar struct {
	// AllLabel offers "all matching" ("" when the list has its own).
	AllLabel string
	Actions  []bulkOption
	// FormAction sends the list's form to the bulk confirmation ("" when
	// the form goes there already).
	FormAction string
}

type bulkOption struct{ Value, Label string }

var (
	optRevoke   = bulkOption{string(issuance.BulkRevoke), "Revoke, with a reason (published ones)"}
	optResend   = bulkOption{string(issuance.BulkResend), "Send the credential email again (published ones)"}
	optExpiry   = bulkOption{string(issuance.BulkExpiry), "Set or remove the expiry date"}
	optDelete   = bulkOption{string(issuance.BulkDelete), "Delete (unpublished ones)"}
	optDownload = bulkOption{"download", "Download for update (Excel), to change them in a spreadsheet"}
)
