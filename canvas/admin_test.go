package canvas_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/canvas"
	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/lti/course"
)

func TestAdminEventsPage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	m := e.mustMap("800", false)
	e.deliver(canvassim.Completion{CourseID: "800", UserID: "1", UserName: "Done", UserEmail: "done@example.com"})
	e.deliver(canvassim.Completion{CourseID: "801", UserID: "2", UserName: "Elsewhere", UserEmail: "else@example.com"})
	e.deliver(canvassim.Completion{CourseID: "800", UserID: "3", UserName: "No Mail"})
	e.drain()
	done := time.Now()
	e.rest.AddStudents("800", canvassim.RESTStudent{ID: "1", Name: "Done", Email: "done@example.com", CompletedAt: &done})
	if _, err := e.svc.Reconcile(ctx, m.ID); err != nil {
		t.Fatal(err)
	}

	rd, err := web.NewRenderer(nil, canvas.Templates)
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	// The staff pages sit behind the staff guard; a token principal stands in.
	e.svc.RegisterAdmin(r.Group("/", e.auth.Bearer()), rd)
	srv := httptest.NewServer(r)
	defer srv.Close()
	do := func(method, path, tok string, form url.Values) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	admin, owner, viewer := e.token("admin"), e.token("owner"), e.token("viewer")
	st, page := do("GET", "/admin/events", admin, nil)
	if st != 200 {
		t.Fatalf("admin page: %d %s", st, page)
	}
	mustContain(t, page, "processed (1)", "unmapped (1)", "failed (1)", "no email known for Canvas user 3",
		`<td>801</td>`, "1 checked, 0 created", "Sim Canvas", "none (signed events only)")
	if strings.Contains(page, `action="/admin/canvas/platforms/`) {
		t.Fatal("an admin (not owner) is offered the shared-secret form")
	}
	if strings.Contains(page, `id="publish-waits"`) {
		t.Fatal("a named organisation's events page says publishing waits")
	}
	// Before an owner names the organisation, the page says why nothing of
	// an auto-publishing mapping is published, and where to name it.
	if _, err := e.db.Exec(`UPDATE organisation SET named_at = NULL`); err != nil {
		t.Fatal(err)
	}
	_, page = do("GET", "/admin/events", admin, nil)
	mustContain(t, page, `id="publish-waits"`, "stay unpublished until an owner names the organisation", `href="/admin/organisation"`)
	if _, err := e.db.Exec(`UPDATE organisation SET named_at = now()`); err != nil {
		t.Fatal(err)
	}
	if st, _ := do("GET", "/admin/events", viewer, nil); st != 403 {
		t.Fatalf("viewer: %d, want 403", st)
	}
	path := fmt.Sprintf("/admin/canvas/platforms/%d/webhook-secret", e.platform.ID)
	if st, _ := do("POST", path, admin, url.Values{"secret": {"0123456789abcdef-secret"}}); st != 403 {
		t.Fatalf("admin sets secret: %d, want 403", st)
	}
	if st, body := do("POST", path, owner, url.Values{"secret": {"short"}}); st != 422 || !strings.Contains(body, "at least 16 characters") {
		t.Fatalf("short secret: %d %s", st, body)
	}
	if st, _ := do("POST", path, owner, url.Values{"secret": {"0123456789abcdef-secret"}}); st != 303 {
		t.Fatalf("owner sets secret: %d, want 303", st)
	}
	_, page = do("GET", "/admin/events", owner, nil)
	mustContain(t, page, "configured", `name="clear" value="1"`)
	// The secret now lets an unsigned event in.
	ev := e.events.CourseCompleted(canvassim.Completion{CourseID: "800", UserID: "4", UserName: "Unsigned", UserEmail: "u@example.com"})
	if st, b, _ := e.events.DeliverUnsigned(ctx, e.webhookURL(), ev, map[string]string{canvas.SecretHeader: "0123456789abcdef-secret"}); st != 200 {
		t.Fatalf("unsigned with the new secret: %d %s", st, b)
	}
}

// Staff see, per mapping and student, the rule engine's "why (not)
// awarded" line on /admin/events, with the student's name.
func TestAdminEventsWhyLines(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	m := e.mustMapRule("900", course.MappingInput{CompletionRule: ptr("canvas_score"), MinScore: ptr(80.0), ScoreKind: ptr("final")})
	e.rest.AddStudents("900",
		canvassim.RESTStudent{ID: "51", Name: "Passing Pat", Email: "pat@example.com"},
		canvassim.RESTStudent{ID: "52", Name: "Below Bea", Email: "bea@example.com"},
	)
	e.rest.SetScores("900", "51", canvassim.Scores{Current: score(91), Final: score(91)})
	e.rest.SetScores("900", "52", canvassim.Scores{Current: score(42), Final: score(42)})
	if _, err := e.svc.Reconcile(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	rd, err := web.NewRenderer(nil, canvas.Templates)
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	e.svc.RegisterAdmin(r.Group("/", e.auth.Bearer()), rd)
	srv := httptest.NewServer(r)
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/admin/events", nil)
	req.Header.Set("Authorization", "Bearer "+e.token("admin"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	page := string(b)
	for _, want := range []string{"Why each student was or was not awarded (2)", "<td>Passing Pat</td><td>Final score 91%, at least 80%: met since",
		"<td>Below Bea</td><td>Final score 42%, below 80%.</td>", "1 created"} {
		if !strings.Contains(page, want) {
			t.Errorf("/admin/events does not show %q", want)
		}
	}
}
