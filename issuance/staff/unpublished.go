package staff

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/mail"
	"github.com/laurel-edu/laurel/issuance"
)

// pageSize is how many credentials a review page lists.
const pageSize = 50

// credentialListPage is "Review Unpublished Credentials" and "Published".
type credentialListPage struct {
	Title   string
	Nav     nav
	State   issuance.State
	Filter  listFilterForm
	Items   []issuance.Credential
	Total   int // unpublished credentials in the group (the review page)
	Matches int // credentials matching a filter on the first page
	// MoreMatches says more than Matches match (they fill further pages).
	MoreMatches bool
	NextURL     string
	PrevURL     string
	FirstURL    string
	Capped      bool // Total is only a lower bound: more than countCap
	// Empty says the group holds no credential at all, and AllPublished
	// that every one it holds is published (none revoked): what "nothing
	// to review" may claim.
	Empty, AllPublished bool
	// Bulk is the bulk actions under the rows (for those who may publish),
	// sent to BulkURL; Here is this page, to come back to.
	Bulk          bulkBar
	BulkURL, Here string
}

// listFilterForm is the search and filter form above a list, as typed.
type listFilterForm struct {
	Q, Source, IssuedFrom, IssuedTo string
	Sources                         []issuance.Source
	Errors                          formErrors
	Clear                           string // the list without filters
}

// Active reports whether any filter is set.
func (f listFilterForm) Active() bool {
	return f.Q != "" || f.Source != "" || f.IssuedFrom != "" || f.IssuedTo != ""
}

// values are the filter's query parameters, kept by every page link.
func (f listFilterForm) values(v url.Values) url.Values {
	for k, x := range map[string]string{"q": f.Q, "source": f.Source, "issued_from": f.IssuedFrom, "issued_to": f.IssuedTo} {
		if x != "" {
			v.Set(k, x)
		}
	}
	return v
}

// countCap bounds the count on the review page: counting 100,000 rows on
// every page view would cost more than the page itself, and beyond this
// "more than 10000" says enough. The Confirm page states the exact number.
const countCap = 10000

// listPage reads the filter and the page's cursor and loads one page. A bad
// filter comes back as the page with its field errors and ok=false.
func (u *ui) listPage(c *gin.Context, g issuance.Group, p *auth.Principal, state issuance.State, tab, base string, extra url.Values) (page credentialListPage, ok bool, err error) {
	ctx := c.Request.Context()
	f := listFilterForm{
		Q: strings.TrimSpace(c.Query("q")), Source: strings.TrimSpace(c.Query("source")),
		IssuedFrom: strings.TrimSpace(c.Query("issued_from")), IssuedTo: strings.TrimSpace(c.Query("issued_to")),
		Sources: []issuance.Source{issuance.FromCompletion, issuance.FromReconciliation, issuance.FromForm, issuance.FromCSV, issuance.FromAPI}, Errors: formErrors{},
		Clear: base,
	}
	if len(extra) > 0 {
		f.Clear = base + "?" + extra.Encode()
	}
	if extra == nil {
		extra = url.Values{}
	}
	pg := newPager(c, base, f.values(extra))
	page = credentialListPage{Nav: newNav(g, p, tab), State: state, Filter: f, Here: c.Request.URL.RequestURI()}
	// "All" of a list is its group's credentials in its state (matching the
	// search on the published list; the review page's "all" is the group's
	// whole queue, as publishing it is).
	bv := url.Values{"group": {strconv.FormatInt(g.ID, 10)}, "state": {string(state)}}
	if state != issuance.Unpublished {
		bv = f.values(bv)
	}
	page.BulkURL = "/credentials/bulk?" + bv.Encode()
	opt := issuance.ListOptions{State: state, Cursor: pg.cursor, Limit: pageSize, Query: f.Q, Source: issuance.Source(f.Source), IssuedFrom: f.IssuedFrom, IssuedTo: f.IssuedTo}
	items, next, err := u.s.Core.Credentials(ctx, g.ID, opt)
	if err != nil {
		if fe := apperr.FieldErrors(err); len(fe) > 0 && fe[0].Field != "cursor" {
			for _, x := range fe {
				page.Filter.Errors.Add(x.Field, x.Message)
			}
			return page, false, nil
		}
		if apperr.Is(err, apperr.Invalid) {
			// A stale or mangled cursor: start over rather than fail.
			return page, false, apperr.Errorf(apperr.Invalid, "That page link is no longer valid. Open the first page again.")
		}
		return page, false, err
	}
	page.Items, page.NextURL, page.PrevURL = items, pg.next(next), pg.prev()
	if pg.cursor != "" {
		page.FirstURL = pg.url("", nil)
	}
	// How many match is known for free when the first page holds them all;
	// counting a rare filter's matches would read the whole group, so a
	// longer result says only that there are more.
	if f.Active() && pg.cursor == "" {
		page.Matches, page.MoreMatches = len(items), next != ""
	}
	return page, true, nil
}

// renderList renders a list page: 200, or 422 when its filter was refused.
func (u *ui) renderList(c *gin.Context, ok bool, name string, page credentialListPage) error {
	status := http.StatusOK
	if !ok {
		status = http.StatusUnprocessableEntity
	}
	return u.rd.Render(c, status, name, page)
}

func (u *ui) unpublished(c *gin.Context) error {
	g, p, err := u.groupFor(c, auth.ViewCredentials)
	if err != nil {
		return err
	}
	page, ok, err := u.listPage(c, g, p, issuance.Unpublished, "unpublished", "/groups/"+strconv.FormatInt(g.ID, 10)+"/unpublished", nil)
	if err != nil {
		return err
	}
	page.Title = "Review Unpublished Credentials · " + g.Name
	page.Bulk = bulkBar{Actions: []bulkOption{optDelete, optExpiry, optDownload}, FormAction: page.BulkURL}
	if page.Total, err = u.s.Core.CountUnpublishedUpTo(c.Request.Context(), g.ID, countCap+1); err != nil {
		return err
	}
	page.Capped = page.Total > countCap
	if page.Total == 0 && !page.Filter.Active() {
		sums, err := u.s.Core.Groups(c.Request.Context(), []int64{g.ID})
		if err != nil {
			return err
		}
		for _, s := range sums {
			if s.ID == g.ID {
				page.Empty = s.Published+s.Revoked == 0
				page.AllPublished = s.Published > 0 && s.Revoked == 0
			}
		}
	}
	return u.renderList(c, ok, "staff_unpublished.html", page)
}

func (u *ui) published(c *gin.Context) error {
	g, p, err := u.groupFor(c, auth.ViewCredentials)
	if err != nil {
		return err
	}
	state := issuance.Published
	if c.Query("state") == string(issuance.Revoked) {
		state = issuance.Revoked
	}
	var extra url.Values
	if state == issuance.Revoked {
		extra = url.Values{"state": {string(issuance.Revoked)}}
	}
	page, ok, err := u.listPage(c, g, p, state, "published", "/groups/"+strconv.FormatInt(g.ID, 10)+"/published", extra)
	if err != nil {
		return err
	}
	page.Title = "Published · " + g.Name
	what := "every published credential in this group"
	if page.Filter.Active() {
		what = "every published credential in this group matching the search"
	}
	page.Bulk = bulkBar{AllLabel: "Select " + what + ", not only those ticked", Actions: []bulkOption{optRevoke, optResend, optExpiry, optDownload}}
	return u.renderList(c, ok, "staff_published.html", page)
}

// publishConfirmPage is the "Confirm" step: who will receive what, and
// when (now, or at a date and time).
type publishConfirmPage struct {
	Title string
	Nav   nav
	Sel   issuance.Selection
	Count int
	Back  string
	// Recipients are the first confirmRecipients by name; More the rest.
	Recipients []issuance.Credential
	More       int
	// Email is the email the first recipient will receive.
	Email *mail.Message
	// PublishAt is the date and time as typed; Zone the zone it is read in.
	PublishAt, Zone, MinAt string
	Errors                 formErrors
}

// publishRequest is what both publishing steps (Confirm, then Publish) post.
type publishRequest struct {
	g    issuance.Group
	p    *auth.Principal
	sel  issuance.Selection
	back string // the review page to return to
}

// readPublish checks the caller may publish in the group and reads the
// selection. It returns ok=false after sending the user back with a message
// when nothing is selected.
func (u *ui) readPublish(c *gin.Context) (r publishRequest, ok bool, err error) {
	if r.g, r.p, err = u.groupFor(c, auth.PublishCredentials); err != nil {
		return r, false, err
	}
	if r.sel, err = issuance.FormSelection(c, r.g.ID); err != nil {
		return r, false, err
	}
	r.back = auth.SafeNext(c.PostForm("back"))
	if r.back == "/groups" {
		r.back = "/groups/" + strconv.FormatInt(r.g.ID, 10) + "/unpublished"
	}
	if !r.sel.AllUnpublished && len(r.sel.IDs) == 0 {
		auth.SetFlash(c, "Select at least one credential to publish.")
		return r, false, seeOther(c, r.back)
	}
	return r, true, nil
}

func (u *ui) publishConfirm(c *gin.Context) error {
	r, ok, err := u.readPublish(c)
	if !ok {
		return err
	}
	if err := u.s.Core.PublishAllowed(c.Request.Context()); err != nil {
		return err
	}
	page, err := u.confirmPage(c, r)
	if err != nil {
		return err
	}
	if page.Count == 0 {
		auth.SetFlash(c, "None of the selected credentials can be published (already published or revoked).")
		return seeOther(c, r.back)
	}
	return u.rd.Render(c, http.StatusOK, "staff_publish_confirm.html", page)
}

func (u *ui) publish(c *gin.Context) error {
	r, ok, err := u.readPublish(c)
	if !ok {
		return err
	}
	if c.PostForm("when") == "later" {
		return u.publishLater(c, r)
	}
	res, err := u.s.Core.Publish(c.Request.Context(), r.p.Actor(), r.sel)
	if err != nil {
		return err
	}
	if res.InBackground {
		auth.SetFlash(c, "Publishing "+plural(res.Published, "credential")+" in the background; "+plural(res.Emails, "email")+
			" will be sent as they are published. The group's page shows how far the sending is.")
		return seeOther(c, r.back)
	}
	auth.SetFlash(c, "Published "+plural(res.Published, "credential")+"; "+plural(res.Emails, "email")+" queued for sending.")
	return seeOther(c, r.back)
}
