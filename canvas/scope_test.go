package canvas_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/canvas"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/lti"
	"github.com/laurel-edu/laurel/lti/course"
)

// Canvas sends metadata.hostname without a port: a platform whose Canvas URL
// has one still gets its events.
func TestWebhookMatchesHostNameWithoutPort(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cases := []struct{ canvasURL, hostname, course string }{
		{"https://canvas.example.edu:8443", "canvas.example.edu", "901"},
		{"https://lms.example.org", "lms.example.org", "902"},
		{"https://Mixed.Example.NET:443/", "mixed.example.net", "903"},
	}
	platforms := make([]lti.Platform, len(cases))
	for i, tc := range cases {
		p, err := e.registry.AddPlatform(ctx, lti.PlatformInput{Name: tc.hostname, Issuer: "https://" + tc.hostname,
			ClientID: "cid-" + tc.course, AuthURL: "https://" + tc.hostname + "/auth", JWKSURL: "https://" + tc.hostname + "/jwks",
			Extra: canvas.PlatformExtra(tc.canvasURL, "")})
		if err != nil {
			t.Fatal(err)
		}
		pid, gid, courseID, rule := p.ID, e.group.ID, tc.course, string(course.RuleCanvasCompletion)
		if _, err := e.courses.CreateMapping(ctx, "test", course.MappingInput{PlatformID: &pid, GroupID: &gid, CanvasCourseID: &courseID, CompletionRule: &rule}); err != nil {
			t.Fatal(err)
		}
		platforms[i] = p
	}
	for i, tc := range cases {
		p := platforms[i]
		ev := e.events.CourseCompleted(canvassim.Completion{CourseID: tc.course, UserID: "7" + tc.course, UserName: "Port Less", UserEmail: "u" + tc.course + "@example.com"})
		ev["metadata"].(map[string]any)["hostname"] = tc.hostname
		tok, err := e.events.Sign(ev)
		if err != nil {
			t.Fatal(err)
		}
		if st, b, err := e.events.Deliver(ctx, e.webhookURL(), tok); err != nil || st != 200 {
			t.Fatalf("deliver: %d %s %v", st, b, err)
		}
		e.drain()
		var state string
		var platformID *int64
		if err := e.db.QueryRow(`SELECT state, platform_id FROM canvas_events WHERE canvas_course_id = $1`, tc.course).Scan(&state, &platformID); err != nil {
			t.Fatal(err)
		}
		if state != "processed" || platformID == nil || *platformID != p.ID {
			t.Fatalf("event for %s (Canvas URL %s): state %s platform %v, want processed on %d", tc.hostname, tc.canvasURL, state, platformID, p.ID)
		}
	}
	// The env's own Canvas (127.0.0.1:port) still gets its events.
	e.mustMap("904", false)
	if st, b := e.deliver(canvassim.Completion{CourseID: "904", UserID: "1", UserName: "Local", UserEmail: "l@example.com"}); st != 200 {
		t.Fatalf("deliver: %d %s", st, b)
	}
	e.drain()
	if n := e.count(`SELECT count(*) FROM canvas_events WHERE canvas_course_id = '904' AND state = 'processed' AND platform_id = $1`, e.platform.ID); n != 1 {
		t.Fatal("the local Canvas's event was not processed on its platform")
	}
}

// /admin/events: owners and admins see every event; a team member limited to
// some groups only their courses' events and mappings; viewers nothing.
func TestAdminEventsTeamMemberScope(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	groupX := e.group
	groupY := mustGroup(t, e, "Group Y")
	e.mustMap("800", false) // → X
	pid, gid, courseID, rule := e.platform.ID, groupY.ID, "801", string(course.RuleCanvasCompletion)
	if _, err := e.courses.CreateMapping(ctx, "user:9:staff@example.edu", course.MappingInput{PlatformID: &pid, GroupID: &gid,
		CanvasCourseID: &courseID, CompletionRule: &rule}); err != nil {
		t.Fatal(err)
	}
	e.deliver(canvassim.Completion{CourseID: "800", UserID: "5551", UserName: "In X", UserEmail: "x@example.com"})
	e.deliver(canvassim.Completion{CourseID: "801", UserID: "5552", UserName: "In Y", UserEmail: "y@example.com"})
	e.deliver(canvassim.Completion{CourseID: "802", UserID: "5553", UserName: "Unmapped", UserEmail: "u@example.com"})
	e.drain()

	users := map[string]int64{}
	for _, u := range []struct {
		email  string
		role   auth.Role
		groups []int64
	}{
		{"owner@example.edu", auth.Owner, nil}, {"admin@example.edu", auth.Admin, nil},
		{"tm-x@example.edu", auth.TeamMember, []int64{groupX.ID}}, {"tm-all@example.edu", auth.TeamMember, nil},
		{"viewer@example.edu", auth.Viewer, nil},
	} {
		usr, _, err := e.accounts.CreateUser(ctx, u.email, u.email, u.role, u.groups, "")
		if err != nil {
			t.Fatal(err)
		}
		users[u.email] = usr.ID
	}
	rd, err := web.NewRenderer(nil, canvas.Templates)
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	// Stands in for the session middleware: the principal of a stored user.
	e.svc.RegisterAdmin(r.Group("/", func(c *gin.Context) {
		id, _ := strconv.ParseInt(c.GetHeader("X-Test-User"), 10, 64)
		p, err := e.accounts.Principal(c.Request.Context(), id)
		if err != nil {
			c.AbortWithStatus(500)
			return
		}
		c.Set(web.UserKey, p)
	}), rd)
	srv := httptest.NewServer(r)
	defer srv.Close()
	get := func(email, method, path string, form url.Values) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("X-Test-User", itoa(users[email]))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, readAll(t, resp)
	}
	for _, who := range []string{"owner@example.edu", "admin@example.edu", "tm-all@example.edu"} {
		st, page := get(who, "GET", "/admin/events", nil)
		if st != 200 {
			t.Fatalf("%s: %d", who, st)
		}
		mustContain(t, page, "<td>5551</td>", "<td>5552</td>", "<td>5553</td>", "course 800", "course 801", `id="platforms"`, "staff@example.edu")
	}
	st, page := get("tm-x@example.edu", "GET", "/admin/events", nil)
	if st != 200 {
		t.Fatalf("limited team member: %d %s", st, page)
	}
	mustContain(t, page, "<td>5551</td>", "course 800", "processed (1)", "unmapped (0)", `id="limited"`)
	for _, leak := range []string{"5552", "5553", "course 801", `id="platforms"`, `id="unmapped"`, "Sim Canvas", "webhook-secret"} {
		if strings.Contains(page, leak) {
			t.Fatalf("the limited team member sees %q:\n%s", leak, page)
		}
	}
	st, page = get("tm-x@example.edu", "GET", "/admin/events?state=unmapped", nil)
	if st != 200 || strings.Contains(page, "5553") {
		t.Fatalf("limited, unmapped filter: %d, shows 5553: %v", st, strings.Contains(page, "5553"))
	}
	if st, _ := get("viewer@example.edu", "GET", "/admin/events", nil); st != 403 {
		t.Fatalf("viewer: %d, want 403", st)
	}
	// The webhook secret stays owner-only.
	path := fmt.Sprintf("/admin/canvas/platforms/%d/webhook-secret", e.platform.ID)
	for _, who := range []string{"tm-x@example.edu", "tm-all@example.edu", "admin@example.edu"} {
		if st, _ := get(who, "POST", path, url.Values{"secret": {"0123456789abcdef-secret"}}); st != 403 {
			t.Fatalf("%s sets the webhook secret: %d, want 403", who, st)
		}
	}
	if st, _ := get("owner@example.edu", "POST", path, url.Values{"secret": {"0123456789abcdef-secret"}}); st != 303 {
		t.Fatalf("owner sets the webhook secret: %d", st)
	}
}
