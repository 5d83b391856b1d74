package staff

import (
	"bufio"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/updates"
)

// credentialsTabPage is /credentials: every credential the user may see,
// across groups.
type credentialsTabPage struct {
	Title     string
	Language  string // the organisation's, for dates
	Filter    tabFilter
	Groups    []issuance.GroupName
	GroupName map[int64]string
	States    []issuance.State
	Sources   []issuance.Source
	Sorts     []issuance.Sort
	Items     []tabRow
	CanCreate bool
	// Matches is how many match on a first page that holds them all;
	// MoreMatches says more fill further pages.
	Matches     int
	MoreMatches bool
	NextURL     string
	PrevURL     string
	FirstURL    string
	// CSVURL and XLSXURL export what the filter selects.
	CSVURL, XLSXURL string
	// UpdateXLSXURL and UpdateCSVURL download the same for an update by
	// spreadsheet (for those who may amend: CanBulk).
	UpdateXLSXURL, UpdateCSVURL string
	// CanBulk shows the checkboxes and bulk actions (not to viewers);
	// FilterQuery is the filter the bulk form carries, Here this page.
	CanBulk           bool
	Bulk              bulkBar
	FilterQuery, Here string
	// SortURL is the list in each column's order ("name", "issued",
	// "newest"), the reverse of the current one for its own column.
	SortURL map[string]string
}

// tabRow is a credential with its group's name and its state in words.
type tabRow struct {
	issuance.Credential
	Group, State string
}

// tabFilter is the Credentials tab's search, filters and order, as typed.
type tabFilter struct {
	Q, Group, State, Source, IssuedFrom, IssuedTo, ExpiresFrom, ExpiresTo, Sort string
	Errors                                                                      formErrors
}

// Active reports whether any search or filter is set (the order is not one).
func (f tabFilter) Active() bool {
	return f.Q != "" || f.Group != "" || f.State != "" || f.Source != "" || f.IssuedFrom != "" || f.IssuedTo != "" ||
		f.ExpiresFrom != "" || f.ExpiresTo != ""
}

func (f tabFilter) values() url.Values {
	v := url.Values{}
	for k, x := range map[string]string{"q": f.Q, "group": f.Group, "state": f.State, "source": f.Source,
		"issued_from": f.IssuedFrom, "issued_to": f.IssuedTo, "expires_from": f.ExpiresFrom, "expires_to": f.ExpiresTo, "sort": f.Sort} {
		if x != "" {
			v.Set(k, x)
		}
	}
	return v
}

// readTabFilter reads the filter of a /credentials request into the core's
// options for principal p: a Team Member limited to some groups sees only
// theirs. A group that is not a number is a field error.
func readTabFilter(c *gin.Context, p *auth.Principal) (tabFilter, issuance.AcrossOptions, formErrors) {
	q := func(k string) string { return strings.TrimSpace(c.Query(k)) }
	f := tabFilter{Q: q("q"), Group: q("group"), State: q("state"), Source: q("source"), IssuedFrom: q("issued_from"),
		IssuedTo: q("issued_to"), ExpiresFrom: q("expires_from"), ExpiresTo: q("expires_to"), Sort: q("sort"), Errors: formErrors{}}
	opt := issuance.AcrossOptions{
		ListOptions: issuance.ListOptions{State: issuance.State(f.State), Query: f.Q, Source: issuance.Source(f.Source),
			IssuedFrom: f.IssuedFrom, IssuedTo: f.IssuedTo, Cursor: c.Query("cursor"), Limit: pageSize},
		Groups: p.Groups, ExpiresFrom: f.ExpiresFrom, ExpiresTo: f.ExpiresTo, Sort: issuance.Sort(f.Sort),
	}
	if f.Group != "" {
		id, err := strconv.ParseInt(f.Group, 10, 64)
		if err != nil || id <= 0 {
			f.Errors.Add("group", "Pick a group from the list.")
		}
		opt.GroupID = id
	}
	return f, opt, f.Errors
}

// tabFieldLabels names the core's filter fields as the form labels them.
var tabFieldLabels = map[string]string{"q": "q", "state": "state", "source": "source", "issued_from": "issued_from",
	"issued_to": "issued_to", "expires_from": "expires_from", "expires_to": "expires_to", "sort": "sort", "group_id": "group"}

func (u *ui) credentialsTab(c *gin.Context) error {
	p, err := require(c, auth.ViewCredentials)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	f, opt, fe := readTabFilter(c, p)
	org, err := u.s.Core.Organisation(ctx)
	if err != nil {
		return err
	}
	groups, err := u.s.Core.GroupNames(ctx, p.Groups)
	if err != nil {
		return err
	}
	page := credentialsTabPage{
		Title: "Credentials", Language: org.Language, Filter: f, Groups: groups, GroupName: map[int64]string{},
		States:    []issuance.State{issuance.Unpublished, issuance.Published, issuance.Revoked},
		Sources:   []issuance.Source{issuance.FromCompletion, issuance.FromReconciliation, issuance.FromForm, issuance.FromCSV, issuance.FromAPI},
		Sorts:     issuance.Sorts,
		CanCreate: p.Can(auth.CreateCredentials),
		SortURL:   map[string]string{},
		CanBulk:   p.Can(auth.PublishCredentials),
		Here:      c.Request.URL.RequestURI(),
	}
	for _, g := range groups {
		page.GroupName[g.ID] = g.Name
	}
	base := f.values()
	for col, orders := range map[string][2]issuance.Sort{"name": {issuance.SortName, issuance.SortNameDesc},
		"issued": {issuance.SortIssuedDesc, issuance.SortIssued}, "newest": {issuance.SortNewest, issuance.SortOldest}} {
		v := url.Values{}
		for k, x := range base {
			v[k] = x
		}
		next := orders[0]
		if issuance.Sort(f.Sort) == orders[0] {
			next = orders[1]
		}
		v.Del("sort")
		if next != "" {
			v.Set("sort", string(next))
		}
		page.SortURL[col] = "/credentials" + query(v)
	}
	if len(fe) == 0 && u.s.Wallets != nil && strings.HasPrefix(f.Q, "did:") {
		// A wallet's DID: the credentials claimed into it, in the
		// principal's groups (the other filters do not apply).
		ids, err := u.s.Wallets.CredentialsOfHolder(ctx, f.Q)
		if err != nil {
			return err
		}
		for _, id := range ids {
			cr, err := u.s.Core.Credential(ctx, id)
			if apperr.Is(err, apperr.NotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if p.CanGroup(auth.ViewCredentials, cr.GroupID) {
				page.Items = append(page.Items, tabRow{Credential: cr, Group: page.GroupName[cr.GroupID], State: stateLabel(cr.State)})
			}
		}
		page.Matches = len(page.Items)
		return u.rd.Render(c, http.StatusOK, "staff_credentials_tab.html", page)
	}
	if len(fe) == 0 {
		pg := newPager(c, "/credentials", base)
		items, next, err := u.s.Core.CredentialsAcross(ctx, opt)
		switch {
		case err == nil:
			for _, cr := range items {
				page.Items = append(page.Items, tabRow{Credential: cr, Group: page.GroupName[cr.GroupID], State: stateLabel(cr.State)})
			}
			page.NextURL, page.PrevURL = pg.next(next), pg.prev()
			if pg.cursor != "" {
				page.FirstURL = pg.url("", nil)
			}
			if f.Active() && pg.cursor == "" {
				page.Matches, page.MoreMatches = len(items), next != ""
			}
			page.FilterQuery = query(f.values())
			page.Bulk = bulkBar{AllLabel: allLabel(f.Active(), len(items), next != "" || pg.cursor != ""),
				Actions: []bulkOption{optRevoke, optResend, optExpiry, optDelete, optDownload}}
		case len(apperr.FieldErrors(err)) > 0 && apperr.FieldErrors(err)[0].Field != "cursor":
			for _, x := range apperr.FieldErrors(err) {
				page.Filter.Errors.Add(tabFieldLabels[x.Field], plainFilterMessage(x))
			}
		case apperr.Is(err, apperr.Invalid):
			return apperr.Errorf(apperr.Invalid, "That page link is no longer valid. Open the first page again.")
		default:
			return err
		}
	}
	if len(page.Filter.Errors) > 0 {
		return u.rd.Render(c, http.StatusUnprocessableEntity, "staff_credentials_tab.html", page)
	}
	exp := f.values()
	exp.Set("format", "csv")
	page.CSVURL = "/credentials/export?" + exp.Encode()
	exp.Set("format", "xlsx")
	page.XLSXURL = "/credentials/export?" + exp.Encode()
	exp.Set("for", "update")
	page.UpdateXLSXURL = "/credentials/export?" + exp.Encode()
	exp.Set("format", "csv")
	page.UpdateCSVURL = "/credentials/export?" + exp.Encode()
	return u.rd.Render(c, http.StatusOK, "staff_credentials_tab.html", page)
}

// allLabel offers every credential matching the filter, with their number
// when the first page holds them all (counting more would cost a search of
// its own; the confirmation counts them).
func allLabel(active bool, n int, more bool) string {
	what := "every credential you can see"
	if active {
		what = "every credential matching the search"
	}
	if !more && n > 0 {
		return fmt.Sprintf("Select all %d: %s, not only those ticked", n, what)
	}
	return "Select " + what + ", not only those ticked on this page (the next page counts them)"
}

// plainFilterMessage is the core's message for a filter field, in the
// words of the form: the core names codes ("unpublished") and formats
// ("YYYY-MM-DD") that the form's menus and date pickers make moot.
func plainFilterMessage(x apperr.FieldError) string {
	switch x.Field {
	case "state":
		return "Pick a state from the list."
	case "source":
		return "Pick a source from the list."
	case "sort":
		return "Pick an order from the list."
	case "issued_from", "issued_to", "expires_from", "expires_to":
		if strings.Contains(x.Message, "before the start") {
			return x.Message
		}
		return "Enter a date, for example with the date picker."
	}
	return x.Message
}

func query(v url.Values) string {
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// credentialsExport streams what the Credentials tab's filter selects as
// CSV or XLSX: rows go from the core's batches to the response as they are
// read, never all in memory.
func (u *ui) credentialsExport(c *gin.Context) error {
	p, err := require(c, auth.ViewCredentials)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	_, opt, fe := readTabFilter(c, p)
	if len(fe) > 0 {
		return apperr.Errorf(apperr.Invalid, "The group of the export is not valid; open Credentials and choose it again.")
	}
	format := c.Query("format")
	if format != "csv" && format != "xlsx" {
		return apperr.Errorf(apperr.NotFound, "Exports are CSV or Excel (XLSX) files.")
	}
	// Check the filter before the first byte: afterwards an error can only
	// cut the download short.
	opt.Cursor, opt.Limit = "", 1
	if _, _, err := u.s.Core.CredentialsAcross(ctx, opt); err != nil {
		if fe := apperr.FieldErrors(err); len(fe) > 0 {
			return apperr.Errorf(apperr.Invalid, "The export's filter is not valid (%s); open Credentials and search again.", plainFilterMessage(fe[0]))
		}
		return err
	}
	groups, err := u.s.Core.GroupNames(ctx, p.Groups)
	if err != nil {
		return err
	}
	names := make(map[int64]string, len(groups))
	for _, g := range groups {
		names[g.ID] = g.Name
	}
	// "Download for update": the credential ID and the columns an update
	// by spreadsheet reads back (issuance/updates).
	forUpdate := c.Query("for") == "update"
	header, rowOf := exportHeader, func(cr issuance.Credential) []exportCell { return exportRow(cr, names[cr.GroupID]) }
	if forUpdate {
		if !p.Can(auth.PublishCredentials) {
			return apperr.Errorf(apperr.Forbidden, "Updating credentials needs the permission to amend them.")
		}
		if header, rowOf, err = u.updateColumns(c, opt, groups); err != nil {
			return err
		}
	}
	w, err := newExportWriter(format, bufio.NewWriterSize(c.Writer, 64<<10))
	if err != nil {
		return err
	}
	defer w.release()
	name := "credentials " + u.s.now().UTC().Format("2006-01-02") + "." + format
	if forUpdate {
		name = "credentials for update " + u.s.now().UTC().Format("2006-01-02") + "." + format
	}
	c.Header("Content-Type", w.contentType())
	c.Header("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	c.Header("X-Content-Type-Options", "nosniff")
	c.Header("Cache-Control", "no-store")
	c.Status(http.StatusOK)
	err = w.header(header)
	switch ids := c.QueryArray("ids"); {
	case err != nil:
	case forUpdate && len(ids) > 0:
		// Ticked credentials (bulk.go caps them): those in the user's groups.
		var byID map[string]issuance.Credential
		if byID, err = u.s.Core.CredentialsByID(ctx, ids[:min(len(ids), maxDownloadIDs)]); err == nil {
			for _, id := range ids[:min(len(ids), maxDownloadIDs)] {
				if cr, ok := byID[id]; ok && p.CanGroup(auth.PublishCredentials, cr.GroupID) && err == nil {
					err = w.row(rowOf(cr))
				}
			}
		}
	default:
		err = u.s.Core.EachCredentialAcross(ctx, opt, func(cr issuance.Credential) error {
			return w.row(rowOf(cr))
		})
	}
	if err == nil {
		err = w.close()
	}
	if err != nil {
		// The status is sent: break the connection so the browser reports a
		// failed download rather than keeping a file that looks complete.
		u.s.Core.Logger().Error("credentials export", slog.String("format", format), slog.Any("err", err))
		if conn, _, herr := http.NewResponseController(c.Writer).Hijack(); herr == nil {
			_ = conn.Close()
		}
		c.Abort()
	}
	return nil
}

// updateColumns are the columns of a download for update of what opt
// selects, and each credential's row.
func (u *ui) updateColumns(c *gin.Context, opt issuance.AcrossOptions, names []issuance.GroupName) ([]string, func(issuance.Credential) []exportCell, error) {
	gs := map[int64]issuance.Group{}
	var list []issuance.Group
	for _, n := range names {
		if opt.GroupID != 0 && n.ID != opt.GroupID {
			continue
		}
		g, err := u.s.Core.Group(c.Request.Context(), n.ID)
		if err != nil {
			return nil, nil, err
		}
		gs[g.ID] = g
		list = append(list, g)
	}
	cols := updates.Columns(list)
	return cols, func(cr issuance.Credential) []exportCell {
		g := gs[cr.GroupID]
		cells := updates.Cells(cr, g, g.Name, cols)
		out := make([]exportCell, len(cells))
		for i, x := range cells {
			if x.Date {
				out[i] = exportCell{date: true, dateOf: x.Text}
			} else {
				out[i] = exportCell{text: x.Text}
			}
		}
		return out
	}, nil
}

// exportHeader names the export's columns.
var exportHeader = []string{"Credential ID", "Recipient name", "Recipient email", "Group", "State", "Source",
	"Issue date", "Expiry date", "Published on", "Revoked on", "Revocation reason"}

// exportCell is one cell: text, or a date (nil for none).
type exportCell struct {
	text   string
	date   bool
	dateOf string // YYYY-MM-DD
}

func exportRow(cr issuance.Credential, group string) []exportCell {
	date := func(t interface{ Format(string) string }, ok bool) exportCell {
		if !ok {
			return exportCell{date: true}
		}
		return exportCell{date: true, dateOf: t.Format(issuance.DateLayout)}
	}
	row := []exportCell{{text: cr.ID}, {text: cr.Recipient.Name}, {text: cr.Recipient.Email}, {text: group},
		{text: stateLabel(cr.State)}, {text: cr.Source.Label()}, date(cr.IssuedOn, true)}
	if cr.ExpiresOn != nil {
		row = append(row, date(*cr.ExpiresOn, true))
	} else {
		row = append(row, date(nil, false))
	}
	if cr.PublishedAt != nil {
		row = append(row, date(cr.PublishedAt.UTC(), true))
	} else {
		row = append(row, date(nil, false))
	}
	if cr.RevokedAt != nil {
		row = append(row, date(cr.RevokedAt.UTC(), true))
	} else {
		row = append(row, date(nil, false))
	}
	return append(row, exportCell{text: cr.RevocationReason})
}

// stateLabel is a credential's state in words.
func stateLabel(s issuance.State) string {
	switch s {
	case issuance.Unpublished:
		return "Unpublished"
	case issuance.Published:
		return "Published"
	case issuance.Revoked:
		return "Revoked"
	}
	return fmt.Sprint(s)
}

// createCredentialsPage is /credentials/new: "Create Credentials" from the
// Credentials tab.
type createCredentialsPage struct {
	Title  string
	Groups []issuance.GroupName
	Group  string
	Errors formErrors
}

// credentialsCreateStart offers Single Group: pick one of the groups the
// user may create credentials in, then the group's form or its upload.
// Choosing sends the browser there.
func (u *ui) credentialsCreateStart(c *gin.Context) error {
	p, err := require(c, auth.CreateCredentials)
	if err != nil {
		return err
	}
	groups, err := u.s.Core.GroupNames(c.Request.Context(), p.Groups)
	if err != nil {
		return err
	}
	page := createCredentialsPage{Title: "Create Credentials", Groups: groups, Group: c.Query("group"), Errors: formErrors{}}
	if how := c.Query("how"); how != "" {
		id, err := strconv.ParseInt(page.Group, 10, 64)
		switch {
		case page.Group == "":
			page.Errors.Add("group", "Pick the group the credentials belong to.")
		case err != nil || !p.CanGroup(auth.CreateCredentials, id) || !hasGroup(groups, id):
			page.Errors.Add("group", "Pick a group from the list.")
		case how == "upload":
			return seeOther(c, "/groups/"+strconv.FormatInt(id, 10)+"/imports")
		default:
			return seeOther(c, "/groups/"+strconv.FormatInt(id, 10)+"/credentials/new")
		}
		return u.rd.Render(c, http.StatusUnprocessableEntity, "staff_credentials_create.html", page)
	}
	return u.rd.Render(c, http.StatusOK, "staff_credentials_create.html", page)
}

func hasGroup(gs []issuance.GroupName, id int64) bool {
	for _, g := range gs {
		if g.ID == id {
			return true
		}
	}
	return false
}
