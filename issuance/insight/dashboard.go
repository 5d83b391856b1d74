package insight

import (
	"bytes"
	"context"
	"embed"
	"encoding/csv"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/internal/staffui"
)

// figure is one column of the figures: its label on the page and in the
// CSV, and whether the page draws it as a chart.
type figure struct {
	ID, Label, Help string
	Chart           bool
	Of              func(Row) int64
}

// figures are the columns of the table, the CSV and the charts, in order.
var figures = []figure{
	{"issued", "Issued", "credentials whose issue date is that day", true, func(r Row) int64 { return r.Issued }},
	{"published", "Published", "credentials published that day", true, func(r Row) int64 { return r.Published }},
	{"viewed", "Page views", "credential pages opened by people (not bots or link previews)", true, func(r Row) int64 { return r.Views }},
	{"shared", "Shares", "clicks on a share link (LinkedIn, X, Facebook)", true, func(r Row) int64 { return r.Shares }},
	{"linkedin", "Added to LinkedIn", "clicks on “Add to LinkedIn profile”", true, func(r Row) int64 { return r.LinkedIn }},
	{"downloads", "Downloads", "certificate PDFs and badge images downloaded", true, func(r Row) int64 { return r.Downloads }},
	{"verified", "Checks by verifiers", "signed credentials fetched by verifying software", false, func(r Row) int64 { return r.Verifications }},
	{"email", "Email button clicks", "clicks on “View your credential” in the email", false, func(r Row) int64 { return r.Emails }},
}

// dashboard serves /insights and /insights.csv.
type dashboard struct {
	s  *Service
	rd *web.Renderer
}

// dashboardPage is /insights.
type dashboardPage struct {
	Title    string
	From, To string // as typed (the date inputs' values)
	Group    string
	Groups   []issuance.GroupName
	Errors   staffui.FormErrors
	Figures  []figure
	Report   *Report
	Charts   []chart
	CSVURL   string
	Scoped   bool // a team member limited to some groups
	ZoneName string
}

// query is a dashboard request, read and checked.
type query struct {
	from, to time.Time
	group    int64
	scope    []int64 // nil: every group
}

// read reads the range and group of c for principal p; field errors name
// the inputs "from", "to" and "group".
func (d *dashboard) read(c *gin.Context, p *auth.Principal, page *dashboardPage) (query, error) {
	ctx := c.Request.Context()
	today := dateOf(d.s.now().In(d.s.location(ctx)))
	page.From, page.To, page.Group = strings.TrimSpace(c.Query("from")), strings.TrimSpace(c.Query("to")), strings.TrimSpace(c.Query("group"))
	q := query{to: today, from: today.AddDate(0, 0, -29), scope: p.Groups}
	if page.To != "" {
		t, err := time.Parse(time.DateOnly, page.To)
		if err != nil {
			page.Errors.Add("to", "Enter a date, for example with the date picker.")
		}
		q.to = t
	}
	if page.From != "" {
		t, err := time.Parse(time.DateOnly, page.From)
		if err != nil {
			page.Errors.Add("from", "Enter a date, for example with the date picker.")
		}
		q.from = t
	} else if page.To != "" {
		q.from = q.to.AddDate(0, 0, -29)
	}
	if len(page.Errors) == 0 {
		switch {
		case q.to.Before(q.from):
			page.Errors.Add("to", "The end date is before the start date.")
		case q.to.Sub(q.from) >= maxDays*24*time.Hour:
			page.Errors.Add("from", fmt.Sprintf("Pick a range of at most %d days.", maxDays))
		}
	}
	groups, err := d.s.Core.GroupNames(ctx, p.Groups)
	if err != nil {
		return q, err
	}
	page.Groups = groups
	if page.Group != "" {
		id, err := strconv.ParseInt(page.Group, 10, 64)
		ok := false
		for _, g := range groups {
			ok = ok || (err == nil && g.ID == id)
		}
		if !ok {
			page.Errors.Add("group", "Pick a group from the list.")
		}
		q.group, q.scope = id, []int64{id}
	}
	page.From, page.To = q.from.Format(time.DateOnly), q.to.Format(time.DateOnly)
	return q, nil
}

func (d *dashboard) page(c *gin.Context) error {
	p, err := staffui.Require(c, auth.ViewCredentials)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	page := dashboardPage{Title: "Insights", Errors: staffui.FormErrors{}, Figures: figures, Scoped: p.Groups != nil,
		ZoneName: d.s.Core.Locale(ctx).ZoneName()}
	q, err := d.read(c, p, &page)
	if err != nil {
		return err
	}
	if len(page.Errors) > 0 {
		return d.rd.Render(c, http.StatusUnprocessableEntity, "insights.html", page)
	}
	rep, err := d.s.Report(ctx, q.scope, q.from, q.to)
	if err != nil {
		return err
	}
	page.Report = &rep
	for _, f := range figures {
		if f.Chart {
			page.Charts = append(page.Charts, newChart(f, rep))
		}
	}
	v := url.Values{"from": {page.From}, "to": {page.To}}
	if page.Group != "" {
		v.Set("group", page.Group)
	}
	page.CSVURL = "/insights.csv?" + v.Encode()
	return d.rd.Render(c, http.StatusOK, "insights.html", page)
}

// csv serves the figures of the page as CSV: one row per day, the same
// columns as the page's table, dates as YYYY-MM-DD for spreadsheets.
func (d *dashboard) csv(c *gin.Context) error {
	p, err := staffui.Require(c, auth.ViewCredentials)
	if err != nil {
		return err
	}
	page := dashboardPage{Errors: staffui.FormErrors{}}
	q, err := d.read(c, p, &page)
	if err != nil {
		return err
	}
	for _, field := range []string{"from", "to", "group"} {
		if msg, ok := page.Errors[field]; ok {
			return apperr.Errorf(apperr.Invalid, "%s: %s", map[string]string{"from": "From", "to": "To", "group": "Group"}[field], msg)
		}
	}
	rep, err := d.s.Report(c.Request.Context(), q.scope, q.from, q.to)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	head := []string{"Day"}
	for _, f := range figures {
		head = append(head, f.Label)
	}
	_ = w.Write(head)
	for _, r := range rep.Days {
		rec := []string{r.Day.Format(time.DateOnly)}
		for _, f := range figures {
			rec = append(rec, strconv.FormatInt(f.Of(r), 10))
		}
		_ = w.Write(rec)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return fmt.Errorf("insights csv: %w", err)
	}
	name := "insights-" + page.From + "-to-" + page.To
	if q.group != 0 {
		name += "-group-" + strconv.FormatInt(q.group, 10)
	}
	c.Header("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
	return nil
}

// chart is one figure drawn as bars per day (server-side SVG, no script),
// with the numbers behind it for the table in its <details>.
type chart struct {
	Figure     figure
	Total, Max int64
	Bars       []bar
	Width      int
	Height     int
	First      time.Time
	Last       time.Time
	Peak       time.Time // the first day with the most; zero when all are 0
}

// bar is one day's bar; X, Y, W, H are in the SVG's units.
type bar struct {
	Day        time.Time
	N          int64
	X, Y, W, H string
}

const (
	chartW, chartH = 600, 160
	chartTop       = 10
	chartBottom    = 150
)

func newChart(f figure, rep Report) chart {
	ch := chart{Figure: f, Width: chartW, Height: chartH, First: rep.From, Last: rep.To}
	for _, r := range rep.Days {
		n := f.Of(r)
		ch.Total += n
		if n > ch.Max {
			ch.Max, ch.Peak = n, r.Day
		}
	}
	slot := float64(chartW) / float64(max(1, len(rep.Days)))
	for i, r := range rep.Days {
		n := f.Of(r)
		h := 0.0
		if ch.Max > 0 {
			h = float64(chartBottom-chartTop) * float64(n) / float64(ch.Max)
		}
		ch.Bars = append(ch.Bars, bar{Day: r.Day, N: n,
			X: num(float64(i)*slot + slot*0.1), W: num(max(slot*0.8, 0.5)),
			Y: num(chartBottom - h), H: num(h)})
	}
	return ch
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

//go:embed panels/*.html
var panelsFS embed.FS

var panels = template.Must(template.ParseFS(panelsFS, "panels/*.html"))

// panelView is what a panel shows.
type panelView struct {
	Row     Row
	Days    int
	Link    string
	GroupID int64
}

// GroupPanel is the engagement panel of group id's staff page: the last
// 30 days' figures (the organisation's days) and a link to the charts.
func (s *Service) GroupPanel(ctx context.Context, id int64) (template.HTML, error) {
	to := dateOf(s.now().In(s.location(ctx)))
	rep, err := s.report(ctx, []int64{id}, to.AddDate(0, 0, -29), to, false)
	if err != nil {
		return "", err
	}
	return renderPanel("group_panel", panelView{Row: rep.Total, Days: 30, GroupID: id,
		Link: "/insights?group=" + strconv.FormatInt(id, 10)})
}

// CredentialPanel is the engagement panel of credential id's staff page:
// its counts since it was published.
func (s *Service) CredentialPanel(ctx context.Context, id string) (template.HTML, error) {
	row, err := s.CredentialTotals(ctx, id)
	if err != nil {
		return "", err
	}
	return renderPanel("credential_panel", panelView{Row: row})
}

func renderPanel(name string, v panelView) (template.HTML, error) {
	var b bytes.Buffer
	if err := panels.ExecuteTemplate(&b, name, v); err != nil {
		return "", fmt.Errorf("render %s: %w", name, err)
	}
	return template.HTML(b.String()), nil //nolint:gosec // html/template output, escaped
}
