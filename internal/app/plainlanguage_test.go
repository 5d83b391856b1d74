package app_test

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/canvas"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/internal/sandbox/moodlesim"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/imports"
	"github.com/laurel-edu/laurel/issuance/reminders"
	"github.com/laurel-edu/laurel/issuance/wallet"
	"github.com/laurel-edu/laurel/lti"
	"github.com/laurel-edu/laurel/lti/course"
	"github.com/laurel-edu/laurel/moodle"
)

// TestEveryPageSpeaksPlainly renders every staff, admin, LMS and public page
// and every email with seeded data and fails on what people cannot read: an
// ISO date or timestamp, a field path (recipient.email), a code written in
// snake_case (team_member, manage_staff, an attribute key), an internal ID
// ("group 1"). The pages are the router's GET routes, so a new page is
// scanned too; a route with a parameter needs its seeded value below.
func TestEveryPageSpeaksPlainly(t *testing.T) {
	app := mustRun(t)
	ctx := context.Background()
	g, grace := seedOwnerAndCredential(t, app)
	if _, err := app.Issuance.UpdateOrganisation(ctx, "test", issuance.OrganisationUpdate{Organisation: issuance.Organisation{
		Name: "University of Example", Language: "en", TimeZone: "America/Chicago", InstructorsMayPublish: true}}); err != nil {
		t.Fatal(err)
	}
	g.Attributes = []issuance.Attribute{
		{Key: "final_grade", Label: "Final grade", Type: issuance.TextAttr},
		{Key: "completed_on", Label: "Completed", Type: issuance.DateAttr},
	}
	g, err := app.Issuance.UpdateGroup(ctx, "test", g)
	if err != nil {
		t.Fatal(err)
	}
	// The Attributes section with a retired variable and a result.
	if _, err := app.Issuance.CreateAttributeVariable(ctx, "test", issuance.AttributeVariable{Key: "portfolio_link", Label: "Portfolio link", Type: issuance.URLAttr}); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Issuance.RetireAttributeVariable(ctx, "test", "portfolio_link", true); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Issuance.CreateAttributeVariable(ctx, "test", issuance.AttributeVariable{Key: "gpa", Label: "GPA", Type: issuance.NumberAttr,
		ResultType: "GradePointAverage", Visibility: issuance.VisibilityPublic}); err != nil {
		t.Fatal(err)
	}
	// Credentials in every state, one amended, with a history to read.
	cs, err := app.Issuance.CreateCredentials(ctx, "test", g.ID, issuance.FromForm, []issuance.NewCredential{
		{Recipient: issuance.Recipient{Name: "Ada Lovelace", Email: "ada@uni.example.edu"}, IssuedOn: "2026-11-20",
			Attributes: map[string]string{"final_grade": "A", "completed_on": "2026-11-19"}},
		{Recipient: issuance.Recipient{Name: "Emmy Noether", Email: "enoether@example.edu"}, IssuedOn: "2026-11-20"},
	})
	if err != nil {
		t.Fatal(err)
	}
	ada, emmy := cs[0], cs[1]
	name, expires := "Ada King", "2027-11-20"
	if _, err := app.Issuance.AmendCredential(ctx, "user:1:it@uni.example.edu", ada.ID, issuance.Amendment{Name: &name, ExpiresOn: &expires,
		Attributes: map[string]string{"final_grade": "A+", "completed_on": "2026-11-18"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Issuance.Publish(ctx, "user:1:it@uni.example.edu", issuance.Selection{IDs: []string{ada.ID, emmy.ID}}); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Issuance.Revoke(ctx, "user:1:it@uni.example.edu", emmy.ID, "Issued in error"); err != nil {
		t.Fatal(err)
	}
	team, _, err := app.Accounts.CreateUser(ctx, "tm@uni.example.edu", "Tessa Member", auth.TeamMember, []int64{g.ID}, ownerPassword)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.Accounts.InviteUser(ctx, "test", "new@uni.example.edu", "Nina New", auth.TeamMember, []int64{g.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Accounts.CreateToken(ctx, "Nightly sync", auth.Admin); err != nil {
		t.Fatal(err)
	}

	owner := newClient(t, app.URL)
	if resp, body := owner.form("/login", url.Values{"email": {"it@uni.example.edu"}, "password": {ownerPassword}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %d %s", resp.StatusCode, body)
	}
	// A password reset link for the team member; with the invitation and
	// Ada's credential, three emails.
	if resp, body := owner.form(fmt.Sprintf("/admin/users/%d/reset", team.ID), nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("send reset: %d %s", resp.StatusCode, body)
	}
	msgs, err := app.Mail.WaitFor(3, 30*time.Second)
	if err != nil {
		t.Fatalf("emails: %v", err)
	}
	links := map[string]string{}
	for _, m := range msgs {
		if l := regexp.MustCompile(regexp.QuoteMeta(app.URL) + `(/account/(welcome|reset)\?token=[A-Za-z0-9_%-]+)`).FindStringSubmatch(m.Text); l != nil {
			links["/account/"+l[2]] = l[1]
		}
	}

	// An import of a file with a bad row, checked and waiting to be committed.
	importID := mustUpload(t, owner, fmt.Sprintf("/groups/%d/imports", g.ID), "roster.csv",
		"Recipient Name,Recipient Email,Issue Date,Final grade\nAlan Turing,alan@uni.example.edu,2026-11-20,B\nNo Email,,2026-11-20,C\n")
	waitImport(t, app, importID)
	// A Multiple Groups import: each row names its group.
	multiID := mustUpload(t, owner, "/imports", "several.csv",
		"Recipient Name,Recipient Email,Issue Date,Group\nJoan Clarke,joan@uni.example.edu,2026-11-20,"+g.Name+"\n")
	waitImport(t, app, multiID)

	// A Canvas course mapped to the group, launched by its teacher and a student.
	sim := canvassim.New()
	simSrv := httptest.NewServer(sim.Handler())
	t.Cleanup(simSrv.Close)
	sim.SetURL(simSrv.URL)
	sim.UseTool(app.URL+"/lti/login", app.URL+"/lti/launch", app.URL+"/lti/jwks")
	crs := sim.AddCourse(canvassim.Course{ID: "565", Title: "Introduction to Data Science", Label: "DS 101"})
	teacher := sim.AddUser(canvassim.User{ID: "123", Name: "Isaac Newton", Email: "inewton@example.edu"})
	student := sim.AddUser(canvassim.User{ID: "124", Name: "Emmy Noether", Email: "enoether@example.edu"})
	if err := sim.Enroll(crs.ID, teacher.ID, canvassim.Teacher); err != nil {
		t.Fatal(err)
	}
	if err := sim.Enroll(crs.ID, student.ID, canvassim.Student); err != nil {
		t.Fatal(err)
	}
	plat, err := app.LTI.Registry().AddPlatform(ctx, lti.PlatformInput{
		Name: "Canvas", Issuer: sim.Issuer, ClientID: sim.ClientID, AuthURL: sim.AuthURL(), TokenURL: sim.TokenURL(),
		JWKSURL: sim.JWKSURL(), DeploymentIDs: []string{sim.DeploymentID}, Extra: canvas.PlatformExtra(sim.URL(), ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	rule := "canvas_completion"
	if _, err := app.Course.CreateMapping(ctx, "test", course.MappingInput{PlatformID: &plat.ID, GroupID: &g.ID,
		CanvasCourseID: &crs.ID, CompletionRule: &rule}); err != nil {
		t.Fatal(err)
	}
	// Ada's credential claimed into a wallet (the staff page says so), and
	// a live wallet link for its page.
	claimIntoWallet(t, app, ada.ID)
	offer, err := app.Wallet.CreateOffer(ctx, "test", ada.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	teacherPage, teacherTok := launch(t, sim, teacher.ID, crs.ID)
	studentPage, _ := launch(t, sim, student.ID, crs.ID)
	moodleTeacherPage := moodleCourseChecked(t, app, g.ID)

	var findings []string
	scan := func(where, page string) {
		for _, f := range unplain(visibleText(page), g) {
			findings = append(findings, where+": "+f)
		}
	}
	scan("LMS launch (teacher)", teacherPage)
	scan("LMS launch (student)", studentPage)
	scan("LMS launch (Moodle teacher, after a completion check)", moodleTeacherPage)

	// An update by spreadsheet with a change and a problem, in its preview.
	updateID := mustUpload(t, owner, "/credentials/updates", "update.csv",
		"Credential ID,Recipient Name,Issue Date\n"+ada.ID+",Ada King,2026-11-21\nnosuchcredential,Nobody,2026-11-21\n")
	// The page each route with parameters is scanned at.
	gp, imp := fmt.Sprintf("/groups/%d", g.ID), fmt.Sprintf("/groups/%d/imports/%s", g.ID, importID)
	params := map[string]string{
		"/groups/:id":                  gp,
		"/groups/:id/edit":             gp + "/edit",
		"/groups/:id/unpublished":      gp + "/unpublished",
		"/groups/:id/published":        gp + "/published",
		"/groups/:id/credentials/new":  gp + "/credentials/new",
		"/groups/:id/imports":          gp + "/imports",
		"/groups/:id/imports/:import":  imp,
		"/imports/:import":             "/imports/" + multiID,
		"/credentials/updates/:update": "/credentials/updates/" + updateID,
		"/credentials/:id":             "/credentials/" + ada.ID,
		"/credentials/:id/delete":      "/credentials/" + grace.ID + "/delete",
		"/credentials/:id/preview":     "/credentials/" + ada.ID + "/preview",
		"/designs/:id/edit":            fmt.Sprintf("/designs/%d/edit", g.DesignID),
		"/admin/users/:id":             fmt.Sprintf("/admin/users/%d", team.ID),
		"/admin/platforms/:id":         fmt.Sprintf("/admin/platforms/%d", plat.ID),
		"/admin/platforms/:id/edit":    fmt.Sprintf("/admin/platforms/%d/edit", plat.ID),
		"/c/:id":                       "/c/" + ada.ID,
		"/c/:id/manage":                "/c/" + ada.ID + "/manage",
		"/c/:id/wallet":                strings.TrimPrefix(app.Wallet.EmailLink(ada.ID, "ada@uni.example.edu"), app.URL),
		"/groups/:id/wallet":           gp + "/wallet",
		"/lti/app/credentials/:id":     "/lti/app/credentials/" + emmy.ID,
	}
	// Expiry reminders: the group's settings page and a recipient's
	// renewal link.
	if _, err := app.Reminders.SetGroup(ctx, "test", g.ID, &reminders.Settings{Offsets: []int{30, 7}, ExpiredEmail: true, Renewal: true}); err != nil {
		t.Fatal(err)
	}
	adaNow, err := app.Issuance.Credential(ctx, ada.ID)
	if err != nil {
		t.Fatal(err)
	}
	params["/groups/:id/reminders"] = gp + "/reminders"
	params["/c/:id/renew"] = strings.TrimPrefix(app.Reminders.RenewURL(adaNow), app.URL)
	// Routes that are not pages people read (files, machine documents,
	// redirects into flows tested elsewhere).
	notPages := regexp.MustCompile(`^/(api/|static/|metrics|healthz|readyz|favicon|webhooks/|dev|wallet/|\.well-known/|did\.json|issuer|status/|achievements/|organisation/logo|lti/(jwks|canvas\.json|login|launch|register))|/go/|\.(csv|xlsx|json|jwt|pdf|svg)$|/(image|logo|badge|template\.csv|template\.xlsx|errors\.csv|export)$|/images/:key$`)
	var missing []string
	scanned := 0
	for _, r := range app.Engine.Routes() {
		if r.Method != http.MethodGet || notPages.MatchString(r.Path) || r.Path == "/" || r.Path == "/logout" {
			continue
		}
		path := r.Path
		if strings.Contains(path, ":") || strings.Contains(path, "*") {
			v, ok := params[r.Path]
			if !ok {
				missing = append(missing, r.Path)
				continue
			}
			path = v
		}
		c := owner
		switch path {
		case "/login":
			c = newClient(t, app.URL)
		case "/account/welcome", "/account/reset":
			c, path = newClient(t, app.URL), links[path]
		}
		if strings.HasPrefix(path, "/lti/app") {
			path += "?ltik=" + url.QueryEscape(teacherTok)
			c = newClient(t, app.URL)
		}
		resp, body := c.do("GET", path, "", "")
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d, want 200", path, resp.StatusCode)
		}
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			continue
		}
		scanned++
		t.Logf("scanned GET %s", path)
		scan("GET "+r.Path, body)
	}
	// Published and revoked lists and a revoked credential read the same way.
	for _, p := range []string{fmt.Sprintf("/groups/%d/published?state=revoked", g.ID), "/credentials/" + emmy.ID, "/c/" + emmy.ID, "/c/" + ada.ID + "?wallet=sent", wallet.ClaimPath(offer.Token), "/lti/app/credentials/" + emmy.ID + "?ltik=" + url.QueryEscape(teacherTok),
		"/lti/app/credentials?state=published&ltik=" + url.QueryEscape(teacherTok), "/admin/events?state=processed",
		fmt.Sprintf("/insights?group=%d", g.ID), "/insights?from=2026-11-01&to=2026-11-30",
		"/designs/new?kind=certificate", "/designs/new?kind=badge", "/designs/new?kind=certificate&template=modern", "/designs/new?kind=badge&template=medal"} {
		_, body := owner.do("GET", p, "", "")
		scan("GET "+p, body)
	}
	// The bulk confirmations, which are answers to a POST.
	for _, action := range []string{"revoke", "resend", "expiry", "delete"} {
		resp, body := owner.form("/credentials/bulk?state=published", url.Values{"action": {action}, "all": {"1"}})
		if resp.StatusCode != http.StatusOK {
			t.Errorf("bulk %s confirmation: %d", action, resp.StatusCode)
		}
		scanned++
		scan("bulk confirmation ("+action+")", body)
	}

	// Recipient self-service: the proven recipient's page, a request in the
	// staff queue, the page the public sees of a hidden credential, and the
	// link and decision emails.
	adaNow, err = app.Issuance.Credential(ctx, ada.ID)
	if err != nil {
		t.Fatal(err)
	}
	rcp := newClient(t, app.URL)
	mustProve(t, app, rcp, adaNow)
	msgs = append(msgs, app.Mail.Messages()...)
	if resp, body := rcp.form("/c/"+ada.ID+"/manage/correction", url.Values{"name": {"Augusta Ada King"}, "note": {"My full name, please."}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("name correction: %d %s", resp.StatusCode, body)
	}
	if resp, body := rcp.form("/c/"+ada.ID+"/manage/hide", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("hide: %d %s", resp.StatusCode, body)
	}
	for _, p := range []struct {
		who  *client
		path string
	}{{rcp, "/c/" + ada.ID + "/manage"}, {rcp, "/c/" + ada.ID}, {owner, "/corrections"}, {newClient(t, app.URL), "/c/" + ada.ID},
		{newClient(t, app.URL), "/c/" + ada.ID + "/manage"}, {owner, "/credentials/" + ada.ID}} {
		resp, body := p.who.do("GET", p.path, "", "")
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", p.path, resp.StatusCode)
		}
		scan("self-service GET "+p.path, body)
	}
	_, queue := owner.do("GET", "/corrections", "", "")
	if m := regexp.MustCompile(`action="/corrections/(\d+)/refuse"`).FindStringSubmatch(queue); m == nil {
		t.Error("no name correction in the queue")
	} else {
		app.Mail.Reset()
		if resp, body := owner.form("/corrections/"+m[1]+"/refuse", url.Values{"reason": {"The registrar's record differs."}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("refuse: %d %s", resp.StatusCode, body)
		}
		msgs = append(msgs, waitMail(t, app, adaNow.Recipient.Email, "Your name correction"))
	}

	// A team member refused another group's page.
	tm := newClient(t, app.URL)
	if resp, body := tm.form("/login", url.Values{"email": {"tm@uni.example.edu"}, "password": {ownerPassword}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %d %s", resp.StatusCode, body)
	}
	other, err := app.Issuance.CreateGroup(ctx, "test", issuance.Group{Name: "Marine Biology", CourseName: "MB 201", Language: "en"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fmt.Sprintf("/groups/%d", other.ID), "/admin/users"} {
		resp, body := tm.do("GET", p, "", "")
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("team member GET %s: %d, want 403", p, resp.StatusCode)
		}
		scan("team member refused "+p, body)
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		t.Errorf("routes without a seeded value to scan them with (add to params): %s", strings.Join(missing, ", "))
	}
	if scanned < 20 {
		t.Errorf("only %d pages scanned", scanned)
	}

	// Every email: the invitation, the reset and the published
	// credential's (the revoked one's is not sent).
	for _, m := range msgs {
		scan("email "+m.Subject, html.EscapeString(m.Subject+"\n"+m.Text)) // text is not HTML: escape so visibleText keeps it
		if m.HTML != "" {
			scan("email (HTML) "+m.Subject, m.HTML)
		}
	}
	for _, f := range findings {
		t.Error(f)
	}
}

// launch launches the tool from the simulated Canvas as userID over HTTP
// and returns the page and its launch token.
func launch(t *testing.T, sim *canvassim.Sim, userID, courseID string) (string, string) {
	t.Helper()
	b := sim.NewBrowser(nil)
	authURL, err := b.Login(userID, courseID, canvassim.LaunchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	action, form, err := b.Authorize(authURL)
	if err != nil {
		t.Fatal(err)
	}
	st, body, err := b.Launch(action, form)
	if err != nil || st != http.StatusOK {
		t.Fatalf("launch: %d %v\n%s", st, err, body)
	}
	tok := ""
	if m := regexp.MustCompile(`ltik=([^"&]+)`).FindSubmatch(body); m != nil {
		tok, _ = url.QueryUnescape(html.UnescapeString(string(m[1])))
	}
	return string(body), tok
}

func mustUpload(t *testing.T, c *client, path, name, file string) string {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write([]byte(file))
	mw.Close()
	resp, body := c.do("POST", path, mw.FormDataContentType(), b.String())
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	loc := resp.Header.Get("Location")
	return loc[strings.LastIndex(loc, "/")+1:]
}

// waitImport waits until the import is checked.
func waitImport(t *testing.T, app *running, id string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var state string
		if err := app.DB.Get(&state, `SELECT state FROM imports WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
		if state != string(imports.ImportValidating) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("import %s still %s", id, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var (
	scriptsAndStyles = regexp.MustCompile(`(?is)<(script|style|template|datalist|select)\b.*?</(script|style|template|datalist|select)>|<!--.*?-->`)
	// visibleAttrs are the attribute values people see or hear.
	visibleAttr = regexp.MustCompile(`(?i)\s(alt|title|placeholder|aria-label)="([^"]*)"`)
	tag         = regexp.MustCompile(`(?s)<[^>]*>`)
)

// visibleText is what a person sees or hears of an HTML page: its text and
// the attribute values read out, without scripts, styles, option values and
// other attributes.
func visibleText(page string) string {
	page = scriptsAndStyles.ReplaceAllString(page, " ")
	var b strings.Builder
	for _, m := range regexp.MustCompile(`(?s)<[^>]*>|[^<]+`).FindAllString(page, -1) {
		if strings.HasPrefix(m, "<") {
			for _, a := range visibleAttr.FindAllStringSubmatch(m, -1) {
				b.WriteString(" " + a[2] + " ")
			}
			b.WriteString(" ")
			continue
		}
		b.WriteString(m)
	}
	return html.UnescapeString(tag.ReplaceAllString(b.String(), " "))
}

var (
	isoTime   = regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}|\s\d{2}:\d{2})?`)
	fieldPath = regexp.MustCompile(`\b(recipient|attributes|credential|group|organisation)\.[a-z_]+\b`)
	snakeCase = regexp.MustCompile(`\b[a-z][a-z0-9]*(_[a-z0-9]+)+\b`)
	idRef     = regexp.MustCompile(`(?i)\b(group|user|platform|design|import|token|deployment|credential|mapping|account) (#|id )?\d+\b`)
	// Where a code is the text: an email address, a URL, a placeholder the
	// owner types in braces ({recipient_name}).
	notProse = regexp.MustCompile(`\{[a-z_]+\}|[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+|https?://\S+|/[A-Za-z0-9_./?=&%-]+`)
)

// unplain lists what text shows that people cannot read.
func unplain(text string, g issuance.Group) []string {
	text = notProse.ReplaceAllString(text, " ")
	var out []string
	add := func(what string, ms []string) {
		seen := map[string]bool{}
		for _, m := range ms {
			if !seen[m] {
				seen[m] = true
				out = append(out, fmt.Sprintf("%s %q in %q", what, m, around(text, m)))
			}
		}
	}
	add("ISO date", isoTime.FindAllString(text, -1))
	add("field path", fieldPath.FindAllString(text, -1))
	add("code", snakeCase.FindAllString(text, -1))
	add("internal ID", idRef.FindAllString(text, -1))
	// Codes that are single words stay allowed as English words (published,
	// ready); snake_case codes are caught above, whatever their origin:
	// roles, permissions, states, attribute keys such as the group's.
	for _, a := range g.Attributes {
		if !strings.Contains(a.Key, "_") && strings.Contains(text, " "+a.Key+" ") && a.Key != strings.ToLower(a.Label) {
			add("attribute key", []string{a.Key})
		}
	}
	return out
}

// around is the text near s, for the failure message.
func around(text, s string) string {
	i := strings.Index(text, s)
	lo, hi := max(0, i-60), min(len(text), i+len(s)+60)
	return strings.Join(strings.Fields(text[lo:hi]), " ")
}

// moodleCourseChecked is moodleFixture, then "Check completions now" as the
// course's teacher: it returns the page the teacher then sees, with each
// student's line. /admin/events then shows the mapping's lines too.
func moodleCourseChecked(t *testing.T, app *running, groupID int64) string {
	t.Helper()
	ml, crs, teacher := moodleFixture(t, app, groupID)
	_, ltik := launch(t, ml, teacher.ID, crs.ID)
	c := newClient(t, app.URL)
	resp, body := c.form("/lti/app/reconcile", url.Values{"ltik": {ltik}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("check completions now on Moodle: %d %s", resp.StatusCode, body)
	}
	resp, body = c.do("GET", resp.Header.Get("Location"), "", "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Course completed on 18 Nov 2026.") {
		t.Fatalf("after the check: %d\n%s", resp.StatusCode, body)
	}
	return body
}

// moodleFixture maps a Moodle course (the LTI simulator speaking Moodle's
// ids: context id = course id, sub = user id; completions from the web
// service emulator, one of two students completed) on Moodle course
// completion into group groupID. With the returned simulator, course and
// teacher a test launches the teacher's view.
func moodleFixture(t *testing.T, app *running, groupID int64) (*canvassim.Sim, *canvassim.Course, *canvassim.User) {
	t.Helper()
	ctx := context.Background()
	site := moodlesim.New()
	t.Cleanup(site.Close)
	const tok = "0123456789abcdef0123456789abcdef"
	site.AddToken(tok, moodlesim.Token{Functions: moodlesim.AllFunctions, Capabilities: moodlesim.AllCapabilities})
	site.AddCourse(moodlesim.Course{ID: 42, Aggregation: 1, Criteria: []moodlesim.Criterion{{Type: 4, Title: "Final exam"}},
		Users: []moodlesim.User{
			{ID: 3, FullName: "Grace Hopper", Email: "ghopper@example.edu", Role: "editingteacher"},
			{ID: 7, FullName: "Alan Kay", Email: "akay@example.edu", Role: "student", Done: map[int]time.Time{0: time.Date(2026, 11, 18, 15, 0, 0, 0, time.UTC)}},
			{ID: 8, FullName: "Barbara Liskov", Email: "bliskov@example.edu", Role: "student"},
		}})
	ml := canvassim.New()
	ml.ProductFamilyCode = "moodle"
	ml.CustomFields = map[string]string{}
	srv := httptest.NewServer(ml.Handler())
	t.Cleanup(srv.Close)
	ml.SetURL(srv.URL)
	ml.UseTool(app.URL+"/lti/login", app.URL+"/lti/launch", app.URL+"/lti/jwks")
	crs := ml.AddCourse(canvassim.Course{ID: "42", ContextID: "42", Title: "Operating Systems", Label: "OS 300"})
	teacher := ml.AddUser(canvassim.User{ID: "3", LTIID: "3", Name: "Grace Hopper", Email: "ghopper@example.edu"})
	for _, u := range []canvassim.User{{ID: "7", LTIID: "7", Name: "Alan Kay", Email: "akay@example.edu"}, {ID: "8", LTIID: "8", Name: "Barbara Liskov", Email: "bliskov@example.edu"}} {
		st := ml.AddUser(u)
		if err := ml.Enroll(crs.ID, st.ID, canvassim.Student); err != nil {
			t.Fatal(err)
		}
	}
	if err := ml.Enroll(crs.ID, teacher.ID, canvassim.Teacher); err != nil {
		t.Fatal(err)
	}
	plat, err := app.LTI.Registry().AddPlatform(ctx, lti.PlatformInput{
		Name: "Moodle", Issuer: ml.Issuer, ClientID: ml.ClientID, AuthURL: ml.AuthURL(), TokenURL: ml.TokenURL(),
		JWKSURL: ml.JWKSURL(), DeploymentIDs: []string{ml.DeploymentID}, Extra: moodle.PlatformExtra(site.URL(), tok),
	})
	if err != nil {
		t.Fatal(err)
	}
	rule, courseID := "moodle_completion", "42"
	if _, err := app.Course.CreateMapping(ctx, "test", course.MappingInput{PlatformID: &plat.ID, GroupID: &groupID,
		ContextID: &courseID, CompletionRule: &rule}); err != nil {
		t.Fatal(err)
	}
	return ml, crs, teacher
}
