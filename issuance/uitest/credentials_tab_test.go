package uitest

import (
	"bytes"
	"context"
	"encoding/csv"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/issuance"
)

// credentialsTabEnv adds credentials in both groups: four people of
// several scripts in e.group, one in e.other.
func credentialsTabEnv(t *testing.T) (*env, []issuance.Credential) {
	e := mustEnv(t)
	ctx := context.Background()
	mk := func(name, email, expires string) issuance.NewCredential {
		return issuance.NewCredential{Recipient: issuance.Recipient{Name: name, Email: email}, IssuedOn: "2026-06-30", ExpiresOn: expires,
			Attributes: map[string]string{"grade": "A"}}
	}
	cs, err := e.svc.CreateCredentials(ctx, "test", e.group.ID, issuance.FromForm, []issuance.NewCredential{
		mk("Dmitri Соколов", "dmitri@example.ru", "2027-12-07"), mk("李娜", "lina@example.cn", ""),
		mk("Agnieszka Wiśniewska", "aga@example.pl", ""), mk("=HYPERLINK(\"http://evil.example\")", "formula@example.edu", "")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateCredentials(ctx, "test", e.other.ID, issuance.FromForm, []issuance.NewCredential{{
		Recipient: issuance.Recipient{Name: "Other Person", Email: "other@example.edu"}, IssuedOn: "2026-06-30"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Publish(ctx, "test", issuance.Selection{IDs: []string{cs[0].ID}}); err != nil {
		t.Fatal(err)
	}
	return e, cs
}

// The Credentials tab lists every credential the user may see across
// groups, searches every script, filters, links each to its page, speaks
// plainly; a Team Member limited to a group sees only its credentials,
// whatever the URL asks.
func TestCredentialsTab(t *testing.T) {
	e, cs := credentialsTabEnv(t)
	owner := e.signIn("owner@example.edu", auth.Owner)
	r := owner.get("/groups")
	contains(t, r.body, `href="/credentials" id="nav-credentials"`)

	r = owner.get("/credentials")
	if r.code != 200 {
		t.Fatalf("/credentials: %d\n%s", r.code, r.body)
	}
	contains(t, r.body, "Other Person", "Dmitri Соколов", "Data Science 101", "Other Course", `href="/credentials/`+cs[0].ID+`"`,
		"Published", "Unpublished", "30 Jun 2026", "7 Dec 2027", "Never", `id="create-credentials"`, `id="export-csv"`)
	if strings.Contains(r.body, "2026-06-30") {
		t.Error("an ISO date on the page")
	}
	for _, tc := range []struct {
		query url.Values
		want  []string
	}{
		{url.Values{"q": {"соколов"}}, []string{"Dmitri Соколов"}},
		{url.Values{"q": {"娜"}}, []string{"李娜"}},
		{url.Values{"q": {"wisniewska"}}, []string{"Agnieszka Wiśniewska"}},
		{url.Values{"q": {cs[2].ID}}, []string{"Agnieszka Wiśniewska"}},
		{url.Values{"q": {"example.edu"}}, []string{"Other Person", "=HYPERLINK(\"http://evil.example\")"}},
		{url.Values{"group": {strconv.FormatInt(e.other.ID, 10)}}, []string{"Other Person"}},
		{url.Values{"state": {"published"}}, []string{"Dmitri Соколов"}},
		{url.Values{"expires_from": {"2027-01-01"}}, []string{"Dmitri Соколов"}},
		{url.Values{"q": {"example"}, "sort": {"name"}}, []string{"=HYPERLINK(\"http://evil.example\")", "李娜", "Agnieszka Wiśniewska", "Dmitri Соколов", "Other Person"}},
	} {
		r := owner.get("/credentials?" + tc.query.Encode())
		if r.code != 200 {
			t.Fatalf("%v: %d\n%s", tc.query, r.code, r.body)
		}
		if diff := cmp.Diff(tc.want, plainNames(r.body)); diff != "" {
			t.Errorf("%v (-want +got)\n%s", tc.query, diff)
		}
	}
	// A bad filter says which and in plain words.
	r = owner.get("/credentials?expires_from=soon&state=lost")
	if r.code != http.StatusUnprocessableEntity {
		t.Fatalf("bad filter: %d", r.code)
	}
	contains(t, r.body, "Enter a date, for example with the date picker.", "Pick a state from the list.", `id="filter-problem"`)
	r = owner.get("/credentials?q=ab")
	contains(t, r.body, "Type at least 3 letters")

	// A Team Member limited to one group: only its credentials, even when
	// the URL names the other group, and only it to export.
	tm := e.signIn("tm@example.edu", auth.TeamMember, e.group.ID)
	r = tm.get("/credentials")
	if got := names(r.body); len(got) != 4 || strings.Contains(r.body, "Other Person") || strings.Contains(r.body, "Other Course") {
		t.Errorf("team member sees %v", got)
	}
	r = tm.get("/credentials?group=" + strconv.FormatInt(e.other.ID, 10))
	if got := names(r.body); len(got) != 0 {
		t.Errorf("team member asking for another group sees %v", got)
	}
	r = tm.get("/credentials/export?format=csv&group=" + strconv.FormatInt(e.other.ID, 10))
	if rows := mustCSV(t, r); len(rows) != 1 {
		t.Errorf("team member's export of another group: %v", rows)
	}
	// A viewer sees the list but is not offered to create.
	v := e.signIn("viewer@example.edu", auth.Viewer)
	r = v.get("/credentials")
	if r.code != 200 || strings.Contains(r.body, `id="create-credentials"`) {
		t.Errorf("viewer: %d, create offered %v", r.code, strings.Contains(r.body, `id="create-credentials"`))
	}
	if r := v.get("/credentials/new"); r.code != http.StatusForbidden {
		t.Errorf("viewer's create: %d", r.code)
	}
}

// plainNames are the names of a list page as a reader sees them.
func plainNames(body string) []string {
	var out []string
	for _, n := range names(body) {
		out = append(out, html.UnescapeString(n))
	}
	return out
}

func mustCSV(t *testing.T, r response) [][]string {
	t.Helper()
	if r.code != 200 || r.header.Get("Content-Type") != "text/csv; charset=utf-8" || !strings.HasPrefix(r.header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("export: %d %v\n%s", r.code, r.header, r.body)
	}
	if !strings.HasPrefix(r.body, "\ufeff") {
		t.Fatal("no BOM")
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(r.body, "\ufeff"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// The export writes what the filter selects, every script intact, formulas
// neutralised, as CSV and as XLSX with date cells.
func TestCredentialsExport(t *testing.T) {
	e, cs := credentialsTabEnv(t)
	owner := e.signIn("owner@example.edu", auth.Owner)
	rows := mustCSV(t, owner.get("/credentials/export?format=csv&group="+strconv.FormatInt(e.group.ID, 10)+"&sort=name"))
	want := [][]string{
		{"Credential ID", "Recipient name", "Recipient email", "Group", "State", "Source", "Issue date", "Expiry date", "Published on", "Revoked on", "Revocation reason"},
		{cs[3].ID, `'=HYPERLINK("http://evil.example")`, "formula@example.edu", "Data Science 101", "Unpublished", "Form", "2026-06-30", "", "", "", ""},
		{cs[1].ID, "李娜", "lina@example.cn", "Data Science 101", "Unpublished", "Form", "2026-06-30", "", "", "", ""},
		{cs[2].ID, "Agnieszka Wiśniewska", "aga@example.pl", "Data Science 101", "Unpublished", "Form", "2026-06-30", "", "", "", ""},
		{cs[0].ID, "Dmitri Соколов", "dmitri@example.ru", "Data Science 101", "Published", "Form", "2026-06-30", "2027-12-07", rows[4][8], "", ""},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("csv (-want +got)\n%s", diff)
	}
	if len(rows) > 4 && rows[4][8] == "" {
		t.Error("no publication date")
	}

	r := owner.get("/credentials/export?format=xlsx&q=" + url.QueryEscape("соколов"))
	if r.code != 200 || !strings.Contains(r.header.Get("Content-Type"), "spreadsheetml") {
		t.Fatalf("xlsx: %d %v", r.code, r.header)
	}
	f, err := excelize.OpenReader(bytes.NewReader([]byte(r.body)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := f.GetRows("Sheet1", excelize.Options{RawCellValue: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1][1] != "Dmitri Соколов" || got[1][3] != "Data Science 101" {
		t.Fatalf("xlsx rows %v", got)
	}
	if d, err := f.GetCellValue("Sheet1", "G2"); err != nil || d == "" {
		t.Errorf("issue date cell %q %v", d, err)
	}
	if typ, _ := f.GetCellType("Sheet1", "G2"); typ == excelize.CellTypeSharedString || typ == excelize.CellTypeInlineString {
		t.Errorf("issue date is text, not a date cell")
	}

	// A bad format or filter is refused before any byte of a file.
	if r := owner.get("/credentials/export?format=pdf"); r.code != http.StatusNotFound {
		t.Errorf("pdf export: %d", r.code)
	}
	if r := owner.get("/credentials/export?format=csv&issued_from=soon"); r.code != http.StatusUnprocessableEntity && r.code != http.StatusBadRequest {
		t.Errorf("bad filter export: %d %s", r.code, r.header.Get("Content-Type"))
	}
}

// Create Credentials from the tab: Single Group picks a group the user may
// create in, then its form or its upload.
func TestCredentialsCreateSingleGroup(t *testing.T) {
	e, _ := credentialsTabEnv(t)
	tm := e.signIn("tm@example.edu", auth.TeamMember, e.group.ID)
	r := tm.get("/credentials/new")
	contains(t, r.body, "Single Group", "Data Science 101", `id="single-form"`, `id="single-upload"`,
		"Multiple Groups", `href="/imports" id="multiple-upload"`)
	if strings.Contains(r.body, "Other Course") {
		t.Error("a group out of scope is offered")
	}
	g := strconv.FormatInt(e.group.ID, 10)
	if r := tm.get("/credentials/new?group=" + g + "&how=form"); r.code != http.StatusSeeOther || r.location != "/groups/"+g+"/credentials/new" {
		t.Errorf("form: %d %q", r.code, r.location)
	}
	if r := tm.get("/credentials/new?group=" + g + "&how=upload"); r.code != http.StatusSeeOther || r.location != "/groups/"+g+"/imports" {
		t.Errorf("upload: %d %q", r.code, r.location)
	}
	r = tm.get("/credentials/new?group=" + strconv.FormatInt(e.other.ID, 10) + "&how=form")
	if r.code != http.StatusUnprocessableEntity {
		t.Fatalf("a group out of scope: %d", r.code)
	}
	contains(t, r.body, "Pick a group from the list.")
	r = tm.get("/credentials/new?how=form")
	contains(t, r.body, "Pick the group the credentials belong to.")
}
