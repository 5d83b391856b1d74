package insight_test

import (
	"context"
	"encoding/csv"
	"html"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// as is principal who's GET of path.
func (f *fixture) as(who, path string) (*http.Response, string) {
	f.t.Helper()
	return f.do(http.MethodGet, path, map[string]string{"User-Agent": browser, "X-Test-As": who})
}

var (
	totalRE = regexp.MustCompile(`<strong id="total-([a-z]+)">(\d+)</strong>`)
	rowRE   = regexp.MustCompile(`<tr><th scope="row">([^<]*)</th>((?:<td>\d+</td>)+)</tr>`)
	cellRE  = regexp.MustCompile(`<td>(\d+)</td>`)
)

// totals are the page's headline figures by id.
func totals(body string) map[string]string {
	out := map[string]string{}
	for _, m := range totalRE.FindAllStringSubmatch(body, -1) {
		out[m[1]] = m[2]
	}
	return out
}

// tableRows are the rows of the page's table of every figure, without
// the day: the numbers, in order.
func tableRows(body string) [][]string {
	i := strings.Index(body, `id="insight-table"`)
	if i < 0 {
		return nil
	}
	body = body[i : strings.Index(body[i:], "</table>")+i]
	var out [][]string
	for _, m := range rowRE.FindAllStringSubmatch(body, -1) {
		if m[1] == "Total" {
			continue
		}
		var row []string
		for _, c := range cellRE.FindAllStringSubmatch(m[2], -1) {
			row = append(row, c[1])
		}
		out = append(out, row)
	}
	return out
}

func TestDashboardScopedChartsAndCSV(t *testing.T) {
	f := mustFixture(t)
	for range 3 {
		f.get("/c/" + f.c1.ID)
	}
	f.get("/c/" + f.c2.ID)
	f.get("/c/" + f.c2.ID + "/go/linkedin")
	f.get("/c/" + f.c2.ID + "/go/share/x")
	f.get("/c/" + f.c1.ID + ".pdf")
	f.flush()

	res, body := f.as("owner", "/insights")
	if res.StatusCode != 200 {
		t.Fatalf("owner: %d\n%s", res.StatusCode, body)
	}
	want := map[string]string{"issued": "0", "published": "2", "viewed": "4", "shared": "1", "linkedin": "1", "downloads": "1"}
	if got := totals(body); len(got) != len(want) || strings.Join(mapPairs(got), ",") != strings.Join(mapPairs(want), ",") {
		t.Fatalf("owner's totals %v, want %v", got, want)
	}
	// Each chart is an image with a title and a description, and a table.
	for _, id := range []string{"issued", "published", "viewed", "shared", "linkedin", "downloads"} {
		sec := regexp.MustCompile(`(?s)<section class="card insight-chart" id="chart-` + id + `".*?</section>`).FindString(body)
		if sec == "" || !strings.Contains(sec, `role="img"`) || !strings.Contains(sec, "<title id=") || !strings.Contains(sec, "<desc id=") ||
			!strings.Contains(sec, "<table") {
			t.Fatalf("chart %s lacks its image role, title, description or table:\n%s", id, sec)
		}
	}
	if !strings.Contains(body, `<rect class="bar"`) {
		t.Fatal("no bar drawn")
	}
	rows := tableRows(body)
	if len(rows) != 30 {
		t.Fatalf("%d days in the table, want 30", len(rows))
	}

	// The CSV holds the same figures as the page's table.
	csvURL := html.UnescapeString(regexp.MustCompile(`href="(/insights\.csv\?[^"]*)"`).FindStringSubmatch(body)[1])
	res, text := f.as("owner", csvURL)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	recs, err := csv.NewReader(strings.NewReader(text)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(rows)+1 || recs[0][0] != "Day" || recs[0][3] != "Page views" {
		t.Fatalf("csv has %d rows, header %v", len(recs), recs[0])
	}
	today := f.today().Format(time.DateOnly)
	for i, r := range recs[1:] {
		if strings.Join(r[1:], ",") != strings.Join(rows[i], ",") {
			t.Fatalf("csv row %d %v, page %v", i, r, rows[i])
		}
		if i == len(rows)-1 && (r[0] != today || r[3] != "4") {
			t.Fatalf("last csv row %v, want today (%s) with 4 views", r, today)
		}
	}

	// A team member limited to the second group sees only its figures and
	// groups; asking for another group is refused, naming the field.
	res, body = f.as("member", "/insights")
	if res.StatusCode != 200 {
		t.Fatalf("member: %d", res.StatusCode)
	}
	want = map[string]string{"issued": "0", "published": "1", "viewed": "1", "shared": "1", "linkedin": "1", "downloads": "0"}
	if got := totals(body); strings.Join(mapPairs(got), ",") != strings.Join(mapPairs(want), ",") {
		t.Fatalf("member's totals %v, want %v", got, want)
	}
	if strings.Contains(body, f.g1.Name) || !strings.Contains(body, f.g2.Name) {
		t.Fatal("member's group list is not their groups")
	}
	g1 := "/insights?group=" + itoa(f.g1.ID)
	if res, body := f.as("member", g1); res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Pick a group from the list.") ||
		strings.Contains(body, `id="total-viewed"`) {
		t.Fatalf("member asking for another group: %d", res.StatusCode)
	}
	if res, _ := f.as("member", "/insights.csv?group="+itoa(f.g1.ID)); res.StatusCode == 200 {
		t.Fatal("member exported another group's figures")
	}
	// The owner filters by group, and by range (the issue dates are in June).
	if _, body := f.as("owner", g1); totals(body)["viewed"] != "3" || totals(body)["published"] != "1" {
		t.Fatalf("owner's first group %v", totals(body))
	}
	_, body = f.as("owner", "/insights?from=2026-06-01&to=2026-07-31")
	if got := totals(body); got["issued"] != "3" || got["viewed"] != "0" || len(tableRows(body)) != 61 {
		t.Fatalf("June-July: %v, %d days", got, len(tableRows(body)))
	}
	_, body = f.as("member", "/insights?from=2026-06-01&to=2026-07-31")
	if got := totals(body); got["issued"] != "1" {
		t.Fatalf("member's June-July: %v", got)
	}
	// Bad ranges name their field and show no figures.
	for q, msg := range map[string]string{
		"from=yesterday":                "Enter a date",
		"from=2026-07-01&to=2026-06-01": "The end date is before the start date.",
		"from=2024-01-01&to=2026-06-01": "at most 366 days",
		"group=abc":                     "Pick a group from the list.",
		"from=2026-06-01&to=2026-13-01": "Enter a date",
	} {
		res, body := f.as("owner", "/insights?"+q)
		if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, msg) || strings.Contains(body, `id="total-viewed"`) {
			t.Errorf("%s: %d, want 422 with %q", q, res.StatusCode, msg)
		}
	}
	// Signed out: no figures.
	if res, _ := f.do(http.MethodGet, "/insights", map[string]string{"User-Agent": browser}); res.StatusCode == 200 {
		t.Fatal("/insights answered without sign-in")
	}
}

func TestPanels(t *testing.T) {
	f := mustFixture(t)
	f.get("/c/" + f.c1.ID)
	f.get("/c/" + f.c1.ID + ".pdf")
	f.get("/c/" + f.c2.ID)
	f.flush()
	ctx := context.Background()
	g, err := f.ins.GroupPanel(ctx, f.g1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(g), `<strong id="insight-views">1</strong> page views`) || !strings.Contains(string(g), `<strong id="insight-downloads">1</strong>`) ||
		!strings.Contains(string(g), `href="/insights?group=`+itoa(f.g1.ID)+`"`) {
		t.Fatalf("group panel:\n%s", g)
	}
	c, err := f.ins.CredentialPanel(ctx, f.c2.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(c), `<strong id="insight-views">1</strong>`) || !strings.Contains(string(c), `<strong id="insight-downloads">0</strong>`) {
		t.Fatalf("credential panel:\n%s", c)
	}
	if row, err := f.ins.CredentialTotals(ctx, f.c1.ID); err != nil || row.Views != 1 || row.Downloads != 1 {
		t.Fatalf("totals %+v %v", row, err)
	}
}

func mapPairs(m map[string]string) []string {
	var out []string
	for _, k := range []string{"issued", "published", "viewed", "shared", "linkedin", "downloads"} {
		out = append(out, k+"="+m[k])
	}
	return out
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }
