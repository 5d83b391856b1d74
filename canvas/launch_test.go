package canvas_test

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/canvas"
	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/lti"
)

// launchEnv is Laurel's LTI tool with the Canvas launch views over real
// HTTP, launched from the Canvas simulator.
type launchEnv struct {
	*env
	tool    *lti.Tool
	app     *httptest.Server
	sim     *canvassim.Sim
	live    *canvassim.LiveEvents
	ltiPlat lti.Platform
	course  *canvassim.Course
	teacher *canvassim.User
	ta      *canvassim.User
	student *canvassim.User
	other   *canvassim.User
	org     *orgSetting
}

// orgSetting stands in for the organisation settings (owned by issuance,
// merged separately): whether instructors may publish, and the name.
type orgSetting struct {
	mayPublish atomic.Bool
	name       string
}

func (o *orgSetting) InstructorsMayPublish(context.Context) (bool, error) {
	return o.mayPublish.Load(), nil
}

func (o *orgSetting) OrganisationName(context.Context) (string, error) { return o.name, nil }

func newLaunchEnv(t *testing.T) *launchEnv {
	t.Helper()
	return newLaunchEnvOn(t, false)
}

// newLaunchEnvOn is newLaunchEnv; with crossSite the simulated Canvas is
// on "localhost" and Laurel on 127.0.0.1, so a browser puts Laurel's iframe
// in its own target, as it does under real Canvas.
func newLaunchEnvOn(t *testing.T, crossSite bool) *launchEnv {
	t.Helper()
	e := &launchEnv{env: newEnv(t), org: &orgSetting{name: "Example University"}}
	ctx := context.Background()
	var h http.Handler
	e.app = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(e.app.Close)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e.tool = lti.New(e.db, testenv.Redis(t), e.keys, e.app.URL, log, e.svc.HandleLaunch)
	e.tool.Registry().SetExtension(e.svc.PlatformSettings())
	e.tool.AllowHTTPPlatforms = true // the simulated Canvas runs on loopback over http
	rd, err := web.NewRenderer(nil, lti.Templates, canvas.Templates)
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	r.Use(web.RequestID(), web.Recovery(rd))
	e.tool.Register(r, rd)
	e.svc.RegisterLaunch(r, canvas.LaunchDeps{
		LaunchFromRequest: e.tool.LaunchFromRequest,
		Roster: func(ctx context.Context, l *lti.Launch) ([]canvas.RosterMember, error) {
			ms, err := e.tool.Members(ctx, &l.Platform, l.NRPS.ContextMembershipsURL)
			if err != nil {
				return nil, err
			}
			out := make([]canvas.RosterMember, 0, len(ms))
			for _, m := range ms {
				out = append(out, canvas.RosterMember{Sub: m.UserID, Name: m.Name, Email: m.Email, Roles: m.Roles, Status: m.Status})
			}
			return out, nil
		},
		DeepLink: func(c *gin.Context, l *lti.Launch, title, u string, custom map[string]string) error {
			return e.tool.WriteDeepLinkResponse(c, rd, l, []lti.ContentItem{{Type: "ltiResourceLink", Title: title, URL: u, Custom: custom}})
		},
		Groups:       e.iss,
		Renderer:     rd,
		Review:       e.iss,
		Organisation: e.org,
	})
	web.RegisterStatic(r)
	h = r
	e.sim = canvassim.New().Start()
	t.Cleanup(e.sim.Close)
	if crossSite {
		e.sim.SetURL(strings.Replace(e.sim.URL(), "127.0.0.1", "localhost", 1))
	}
	if e.ltiPlat, err = e.sim.Register(ctx, e.tool, "Sim Canvas (LTI)"); err != nil {
		t.Fatal(err)
	}
	// The simulator is this platform's Canvas: its Live Events name its host.
	if _, err := e.tool.Registry().UpdatePlatform(ctx, e.ltiPlat.ID, lti.PlatformInput{Extra: canvas.PlatformExtra(e.sim.URL(), "")}); err != nil {
		t.Fatal(err)
	}
	if e.live, err = canvassim.NewLiveEvents(e.sim); err != nil {
		t.Fatal(err)
	}
	e.course = e.sim.AddCourse(canvassim.Course{Title: "Astronomy 101", Label: "AST101"})
	e.teacher = e.sim.AddUser(canvassim.User{Name: "Tina Teacher", Email: "tina@example.edu"})
	e.ta = e.sim.AddUser(canvassim.User{Name: "Tom Assistant", Email: "tom@example.edu"})
	e.student = e.sim.AddUser(canvassim.User{Name: "Sam Student", Email: "sam@example.edu"})
	e.other = e.sim.AddUser(canvassim.User{Name: "Olga Other", Email: "olga@example.edu"})
	for _, en := range []struct {
		u    *canvassim.User
		role canvassim.Role
	}{{e.teacher, canvassim.Teacher}, {e.ta, canvassim.TA}, {e.student, canvassim.Student}, {e.other, canvassim.Student}} {
		if err := e.sim.Enroll(e.course.ID, en.u.ID, en.role); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func noRedirects() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func readAll(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// launch runs Canvas's login → auth → launch for user and returns the page.
func (e *launchEnv) launch(user string, o canvassim.LaunchOptions) (int, string) {
	e.t.Helper()
	return e.launchOn(e.sim, e.course.ID, user, o)
}

// launchOn is launch from another platform's course.
func (e *launchEnv) launchOn(sim *canvassim.Sim, courseID, user string, o canvassim.LaunchOptions) (int, string) {
	e.t.Helper()
	o.NoStorageTarget = true // cookies carry state here; the browser test covers postMessage storage
	c := noRedirects()
	lr, err := sim.BeginLaunch(user, courseID, o)
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := c.PostForm(lr.URL, lr.Form)
	if err != nil {
		e.t.Fatal(err)
	}
	readAll(e.t, resp)
	if resp.StatusCode != http.StatusFound {
		e.t.Fatalf("login: %d", resp.StatusCode)
	}
	resp, err = c.Get(resp.Header.Get("Location"))
	if err != nil {
		e.t.Fatal(err)
	}
	body := readAll(e.t, resp)
	action, vals, err := canvassim.FormFromHTML([]byte(body))
	if err != nil {
		e.t.Fatalf("auth: %v: %s", err, body)
	}
	resp, err = c.PostForm(action, vals)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, readAll(e.t, resp)
}

var ltikRE = regexp.MustCompile(`name="ltik" value="([^"]+)"|ltik=([^"&]+)`)

func ltik(t testing.TB, page string) string {
	t.Helper()
	m := ltikRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no launch token field in page: %s", page)
	}
	if m[1] != "" {
		return html.UnescapeString(m[1])
	}
	v, _ := url.QueryUnescape(html.UnescapeString(m[2]))
	return v
}

// post submits a form inside the iframe (no cookies: the launch token only)
// and follows the Post/Redirect/Get.
func (e *launchEnv) post(path string, form url.Values) (int, string) {
	e.t.Helper()
	c := noRedirects()
	c.Jar = nil
	resp, err := c.PostForm(e.app.URL+path, form)
	if err != nil {
		e.t.Fatal(err)
	}
	body := readAll(e.t, resp)
	if resp.StatusCode == http.StatusSeeOther {
		resp, err = c.Get(e.app.URL + resp.Header.Get("Location"))
		if err != nil {
			e.t.Fatal(err)
		}
		return resp.StatusCode, readAll(e.t, resp)
	}
	return resp.StatusCode, body
}

func mustContain(t testing.TB, page string, frags ...string) {
	t.Helper()
	for _, f := range frags {
		if !strings.Contains(page, f) {
			t.Fatalf("page lacks %q:\n%s", f, page)
		}
	}
}

func TestLaunchViews(t *testing.T) {
	e := newLaunchEnv(t)
	ctx := context.Background()

	// Unmapped: the TA sees it read-only and may not map.
	st, page := e.launch(e.ta.ID, canvassim.LaunchOptions{})
	if st != 200 || strings.Contains(page, `action="/lti/app/map"`) {
		t.Fatalf("TA on an unmapped course: %d, form shown: %v", st, strings.Contains(page, `action="/lti/app/map"`))
	}
	mustContain(t, page, "A teacher of the course can map it")

	// Unmapped: the teacher gets the form, prefilled from the course title.
	st, page = e.launch(e.teacher.ID, canvassim.LaunchOptions{})
	if st != 200 {
		t.Fatalf("teacher launch: %d %s", st, page)
	}
	mustContain(t, page, `action="/lti/app/map"`, `id="group_name" name="group_name" value="Astronomy 101"`, `value="canvas_completion" checked`)
	tok := ltik(t, page)

	// A bad form re-renders with the field named, and maps nothing.
	st, page = e.post("/lti/app/map", url.Values{"ltik": {tok}, "group": {"new"}, "group_name": {""}, "course_name": {"Astronomy 101"}, "design_id": {"1"}, "completion_rule": {"canvas_completion"}})
	if st != 422 {
		t.Fatalf("bad map form: %d", st)
	}
	mustContain(t, page, "Give the new group a name.")
	if n := e.count(`SELECT count(*) FROM course_mappings`); n != 0 {
		t.Fatalf("a refused form created %d mappings", n)
	}
	// The TA's token may not map.
	taTok := ltik(t, mustLaunch(t, e, e.ta.ID))
	if st, _ := e.post("/lti/app/map", url.Values{"ltik": {taTok}, "group": {"new"}, "group_name": {"x"}, "course_name": {"x"}, "design_id": {"1"}, "completion_rule": {"manual"}}); st != 403 {
		t.Fatalf("TA map: %d, want 403", st)
	}
	// No token: refused.
	if st, _ := e.post("/lti/app/map", url.Values{"group": {"new"}}); st != 401 {
		t.Fatalf("no token: %d, want 401", st)
	}

	designs, err := e.iss.Designs(ctx)
	if err != nil || len(designs) == 0 {
		t.Fatalf("designs: %v", err)
	}
	st, page = e.post("/lti/app/map", url.Values{"ltik": {tok}, "group": {"new"}, "group_name": {"Astronomy 101"},
		"course_name": {"Astronomy 101"}, "design_id": {itoa(designs[0].ID)}, "completion_rule": {"canvas_completion"}, "auto_publish": {"0"}})
	if st != 200 {
		t.Fatalf("map: %d %s", st, page)
	}
	mustContain(t, page, "The course is mapped", "Credential group: Astronomy 101", `id="count-unpublished">0<`, `id="count-published">0<`,
		"Sam Student", "Olga Other", "not yet earned", `id="no-token"`)
	if strings.Contains(page, "Tina Teacher</td>") {
		t.Fatal("the roster lists the teacher as a student")
	}
	var m canvas.Mapping
	if err := e.db.Get(&m, `SELECT id, platform_id, group_id, COALESCE(canvas_course_id, '') AS canvas_course_id, COALESCE(context_id, '') AS context_id,
		completion_rule, auto_publish FROM course_mappings`); err != nil {
		t.Fatal(err)
	}
	if m.PlatformID != e.ltiPlat.ID || m.CanvasCourseID != e.course.ID || m.ContextID != e.course.ContextID || m.CompletionRule != canvas.RuleCanvasCompletion || m.AutoPublish {
		t.Fatalf("mapping = %+v", m)
	}

	// The student: not yet earned, with what the course requires.
	st, page = e.launch(e.student.ID, canvassim.LaunchOptions{})
	if st != 200 {
		t.Fatalf("student launch: %d", st)
	}
	mustContain(t, page, "Not yet earned", "Astronomy 101")

	// The student completes the course: Canvas sends the event.
	ev := e.events.CourseCompleted(canvassim.Completion{CourseID: e.course.ID, CourseName: "Astronomy 101", UserID: e.student.ID, UserName: "Sam Student"})
	ev["metadata"].(map[string]any)["hostname"] = e.live.Host() // the simulator's Canvas host
	evTok, err := e.events.Sign(ev)
	if err != nil {
		t.Fatal(err)
	}
	if st, b, err := e.events.Deliver(ctx, e.webhookURL(), evTok); err != nil || st != 200 {
		t.Fatalf("deliver: %d %s %v", st, b, err)
	}
	e.drain()
	var credID string
	if err := e.db.Get(&credID, `SELECT id FROM credentials WHERE group_id = $1 AND recipient_email = 'sam@example.edu'`, m.GroupID); err != nil {
		t.Fatalf("no credential for the student (email known from the launch): %v", err)
	}
	if st, page = e.launch(e.teacher.ID, canvassim.LaunchOptions{}); st != 200 {
		t.Fatalf("teacher launch after the completion: status %d", st)
	}
	// Review stays inside the course (no staff sign-in page): with the
	// owner's default, the page says who reviews.
	mustContain(t, page, `id="count-unpublished">1<`, "state-unpublished", credID, `href="/lti/app/credentials?ltik=`,
		`id="who-reviews">Staff at Example University review and publish these credentials.`)
	if strings.Contains(page, "/groups/"+itoa(m.GroupID)+"/unpublished") {
		t.Fatal("the course view links to a staff page an instructor cannot sign in to")
	}
	// Unpublished: the student sees it awaiting review, without a link.
	_, page = e.launch(e.student.ID, canvassim.LaunchOptions{})
	mustContain(t, page, "Awaiting review.", "Staff at Example University review credentials before they are published.")
	if strings.Contains(page, "Not yet earned") || strings.Contains(page, "/c/"+credID) {
		t.Fatalf("unpublished credential: the student page says not yet earned or links it:\n%s", page)
	}

	if _, err := e.iss.Publish(ctx, "test", issuance.Selection{IDs: []string{credID}}); err != nil {
		t.Fatal(err)
	}
	_, page = e.launch(e.student.ID, canvassim.LaunchOptions{})
	mustContain(t, page, "View your credential", "/c/"+credID)
	_, page = e.launch(e.other.ID, canvassim.LaunchOptions{})
	mustContain(t, page, "Not yet earned")

	// "Check completions now" without a Canvas API token says so.
	st, page = e.post("/lti/app/reconcile", url.Values{"ltik": {ltik(t, mustLaunch(t, e, e.teacher.ID))}})
	if st != 422 {
		t.Fatalf("check without token: %d", st)
	}
	mustContain(t, page, "No Canvas API token is configured")
}

func TestLaunchCheckCompletionsNowAndDeepLink(t *testing.T) {
	e := newLaunchEnv(t)
	ctx := context.Background()
	if _, err := e.tool.Registry().UpdatePlatform(ctx, e.ltiPlat.ID, lti.PlatformInput{Extra: canvas.PlatformExtra("", canvasToken)}); err != nil {
		t.Fatal(err)
	}
	rest := canvassim.NewREST(e.sim, canvasToken)
	done := time.Now().Add(-time.Hour)
	// The REST API serves the Sim course's own students.
	rest.Complete(e.course.ID, e.student.ID, done)
	pid, gid, course, rule := e.ltiPlat.ID, e.group.ID, e.course.ID, "canvas_completion"
	if _, err := e.svc.CreateMapping(ctx, "test", canvas.MappingInput{PlatformID: &pid, GroupID: &gid, CanvasCourseID: &course, CompletionRule: &rule}); err != nil {
		t.Fatal(err)
	}
	page := mustLaunch(t, e, e.teacher.ID)
	mustContain(t, page, "Check completions now")
	st, page := e.post("/lti/app/reconcile", url.Values{"ltik": {ltik(t, page)}})
	if st != 200 {
		t.Fatalf("check now: %d %s", st, page)
	}
	mustContain(t, page, "2 students checked, 1 credentials created", `id="count-unpublished">1<`)

	// Deep linking: the teacher places "My credential" in a module.
	st, page = e.launch(e.teacher.ID, canvassim.LaunchOptions{MessageType: lti.MessageDeepLinking})
	if st != 200 {
		t.Fatalf("deep linking launch: %d %s", st, page)
	}
	mustContain(t, page, `action="/lti/app/deeplink"`)
	st, page = e.post("/lti/app/deeplink", url.Values{"ltik": {ltik(t, page)}, "title": {"My credential"}})
	if st != 200 {
		t.Fatalf("deep link response: %d %s", st, page)
	}
	action, vals, err := canvassim.FormFromHTML([]byte(page))
	if err != nil || vals.Get("JWT") == "" {
		t.Fatalf("no auto-posting response form: %v %s", err, page)
	}
	resp, err := http.PostForm(action, vals)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	links := e.sim.DeepLinks()
	if resp.StatusCode != 200 || len(links) != 1 {
		t.Fatalf("platform got %d deep links (status %d)", len(links), resp.StatusCode)
	}
}

func mustLaunch(t *testing.T, e *launchEnv, user string) string {
	t.Helper()
	st, page := e.launch(user, canvassim.LaunchOptions{})
	if st != 200 {
		t.Fatalf("launch: %d %s", st, page)
	}
	return page
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// The developer key names the tool's JWKS, whose keys carry alg and use as
// Canvas requires.
func TestDevKeyPublicJWKCarriesAlgAndUse(t *testing.T) {
	e := newLaunchEnv(t)
	cfg := e.svc.DevKey()
	path := strings.TrimPrefix(cfg.PublicJWKURL, "http://laurel.test")
	if path != "/lti/jwks" {
		t.Fatalf("public_jwk_url = %s", cfg.PublicJWKURL)
	}
	resp, err := http.Get(e.app.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(set.Keys) == 0 {
		t.Fatal("the tool publishes no key")
	}
	for _, k := range set.Keys {
		if k["alg"] != "RS256" || k["use"] != "sig" || k["kid"] == "" || k["kty"] != "RSA" {
			t.Fatalf("published key %v lacks kty RSA, alg RS256, use sig or kid", k)
		}
	}
}
