package course_test

import (
	"context"
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
	"github.com/laurel-edu/laurel/issuance/delivery"
	"github.com/laurel-edu/laurel/issuance/reminders"
	"github.com/laurel-edu/laurel/lti"
	"github.com/laurel-edu/laurel/lti/course"
)

// launchEnv is Laurel's LTI tool with the course views over real HTTP,
// launched from the Canvas simulator.
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
	e.tool = lti.New(e.db, testenv.Redis(t), e.keys, e.app.URL, log, e.courses.HandleLaunch)
	e.tool.Registry().SetExtension(e.svc.PlatformSettings())
	e.tool.AllowHTTPPlatforms = true // the simulated Canvas runs on loopback over http
	rd, err := web.NewRenderer(nil, lti.Templates, course.Templates)
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	r.Use(web.RequestID(), web.Recovery(rd))
	e.tool.Register(r, rd)
	e.courses.RegisterLaunch(r, course.LaunchDeps{
		LaunchFromRequest: e.tool.LaunchFromRequest,
		Roster: func(ctx context.Context, l *lti.Launch) ([]course.RosterMember, error) {
			ms, err := e.tool.Members(ctx, &l.Platform, l.NRPS.ContextMembershipsURL)
			if err != nil {
				return nil, err
			}
			out := make([]course.RosterMember, 0, len(ms))
			for _, m := range ms {
				out = append(out, course.RosterMember{Sub: m.UserID, Name: m.Name, Email: m.Email, Roles: m.Roles, Status: m.Status})
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
		EmailPreview: delivery.New(e.iss, reminders.New(e.iss, nil), nil).PublishPreview,
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

func mustLaunch(t *testing.T, e *launchEnv, user string) string {
	t.Helper()
	st, page := e.launch(user, canvassim.LaunchOptions{})
	if st != 200 {
		t.Fatalf("launch: %d %s", st, page)
	}
	return page
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
