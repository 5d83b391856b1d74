package lti_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/canvas/canvassim"
	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/lti"
)

func TestDynamicRegistration(t *testing.T) {
	e := newEnv(t)
	other := canvassim.New().Start()
	defer other.Close()
	other.RegistrationToken = "reg-token-123"
	other.GrantScopes = []string{} // the admin stripped the NRPS scope
	q := url.Values{"openid_configuration": {other.OpenIDConfigurationURL()}, "registration_token": {"reg-token-123"}}
	resp, err := http.Get(e.tool.RegisterURL() + "?" + q.Encode())
	must(t, err)
	body := readBody(t, resp)
	if resp.StatusCode != 200 || !strings.Contains(body, "org.imsglobal.lti.close") || !strings.Contains(body, "Names and Roles scope") {
		t.Fatalf("registration page: %d %s", resp.StatusCode, body)
	}
	p, err := e.tool.Registry().PlatformByIssuerClient(context.Background(), other.Issuer, other.ClientID)
	must(t, err)
	if p.AuthURL != other.AuthURL() || p.TokenURL != other.TokenURL() || p.JWKSURL != other.JWKSURL() || p.CanvasURL != other.URL() {
		t.Fatalf("registered platform = %+v", p)
	}
	deps, err := e.tool.Registry().Deployments(context.Background(), p.ID)
	must(t, err)
	if len(deps) != 1 || deps[0].DeploymentID != other.DeploymentID {
		t.Fatalf("deployments = %+v, want %s", deps, other.DeploymentID)
	}
	// The sim now launches the registered tool.
	course := other.AddCourse(canvassim.Course{Title: "Chem"})
	u := other.AddUser(canvassim.User{Name: "New Teacher"})
	must(t, other.Enroll(course.ID, u.ID, canvassim.Teacher))
	c := browser(true)
	lr, err := other.BeginLaunch(u.ID, course.ID, canvassim.LaunchOptions{NoStorageTarget: true})
	must(t, err)
	resp, err = c.PostForm(lr.URL, lr.Form)
	must(t, err)
	readBody(t, resp)
	action, vals := e.authorize(c, resp.Header.Get("Location"))
	resp, err = c.PostForm(action, vals)
	must(t, err)
	if b := readBody(t, resp); resp.StatusCode != 200 || !strings.Contains(b, u.LTIID) {
		t.Fatalf("launch after registration: %d %s", resp.StatusCode, b)
	}
}

func TestDynamicRegistrationErrors(t *testing.T) {
	e := newEnv(t)
	other := canvassim.New().Start()
	defer other.Close()
	other.RegistrationToken = "good"
	get := func(cfg, tok string) (int, string) {
		q := url.Values{"openid_configuration": {cfg}, "registration_token": {tok}}
		resp, err := http.Get(e.tool.RegisterURL() + "?" + q.Encode())
		must(t, err)
		return resp.StatusCode, htmlUnescape(readBody(t, resp))
	}
	if st, b := get(other.OpenIDConfigurationURL(), "bad"); st != 422 || !strings.Contains(b, "401") || !strings.Contains(b, "Invalid registration token") {
		t.Fatalf("bad token: %d %s", st, b)
	}
	other.RegistrationErrors = []string{"Developer key limit reached for this account"}
	if st, b := get(other.OpenIDConfigurationURL(), "good"); st != 422 || !strings.Contains(b, "422") || !strings.Contains(b, "Developer key limit reached") {
		t.Fatalf("422: %d %s", st, b)
	}
	if st, b := get("ftp://x", "good"); st != 422 || !strings.Contains(b, "not an https URL") {
		t.Fatalf("bad url: %d %s", st, b)
	}
	other.RegistrationErrors = nil
	other.Issuer = "https://evil.example.org"
	if st, b := get(other.OpenIDConfigurationURL(), "good"); st != 422 || !strings.Contains(b, "does not belong") && !strings.Contains(b, "https") {
		t.Fatalf("foreign issuer: %d %s", st, b)
	}
	ps, err := e.tool.Registry().Platforms(context.Background())
	must(t, err)
	if len(ps) != 1 {
		t.Fatalf("failed registrations stored platforms: %+v", ps)
	}
}

func TestRegistryPlatforms(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	reg := e.tool.Registry()
	// Instructure-hosted issuer: only issuer and client_id needed.
	p, err := reg.AddPlatform(ctx, lti.PlatformInput{Issuer: "https://canvas.instructure.com", ClientID: "170000000000001",
		DeploymentIDs: []string{"1:abc"}, CanvasURL: "https://school.instructure.com", CanvasToken: "secret-canvas-token"})
	must(t, err)
	if p.AuthURL != "https://sso.canvaslms.com/api/lti/authorize_redirect" || p.JWKSURL != "https://sso.canvaslms.com/api/lti/security/jwks" ||
		p.TokenURL != "https://sso.canvaslms.com/login/oauth2/token" || p.Name != "school.instructure.com" || !p.HasCanvasToken || !p.AutoRegisterDeployments {
		t.Fatalf("platform = %+v", p)
	}
	tok, err := reg.CanvasToken(ctx, p.ID)
	must(t, err)
	if tok != "secret-canvas-token" {
		t.Fatalf("canvas token = %q", tok)
	}
	var raw []byte
	must(t, e.db.Get(&raw, `SELECT canvas_token_enc FROM platforms WHERE id = $1`, p.ID))
	if strings.Contains(string(raw), "secret-canvas-token") {
		t.Fatal("canvas token stored in clear")
	}
	// Same issuer, another client_id: a second registration side by side.
	beta, err := reg.AddPlatform(ctx, lti.PlatformInput{Issuer: "https://canvas.instructure.com", ClientID: "170000000000002"})
	must(t, err)
	if beta.ID == p.ID {
		t.Fatal("second registration reused the first")
	}
	_, err = reg.AddPlatform(ctx, lti.PlatformInput{Issuer: "https://canvas.instructure.com", ClientID: "170000000000001"})
	if !apperr.Is(err, apperr.Conflict) || !strings.Contains(apperr.Message(err), "170000000000001") {
		t.Fatalf("duplicate: %v", err)
	}
	_, err = reg.AddPlatform(ctx, lti.PlatformInput{Issuer: "https://moodle.example.edu", ClientID: "x", AuthURL: "not a url"})
	fe := apperr.FieldErrors(err)
	if !apperr.Is(err, apperr.Invalid) || len(fe) != 2 || fe[0].Field != "auth_url" || fe[1].Field != "jwks_url" {
		t.Fatalf("invalid: %v %+v", err, fe)
	}
	got, err := reg.PlatformByIssuerClient(ctx, "https://canvas.instructure.com", "170000000000002")
	must(t, err)
	if got.ID != beta.ID {
		t.Fatalf("by issuer/client = %d, want %d", got.ID, beta.ID)
	}
	if _, err := reg.Platform(ctx, 9999); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("missing platform: %v", err)
	}
	up, err := reg.UpdatePlatform(ctx, beta.ID, lti.PlatformInput{Name: "Beta", DeploymentIDs: []string{"2:def"}})
	must(t, err)
	if up.Name != "Beta" || up.Issuer != "https://canvas.instructure.com" {
		t.Fatalf("updated = %+v", up)
	}
	all, err := reg.Platforms(ctx)
	must(t, err)
	if len(all) != 3 {
		t.Fatalf("platforms = %d, want 3", len(all))
	}
}

func TestRoles(t *testing.T) {
	for _, tc := range []struct {
		role                                     canvassim.Role
		instructor, ta, designer, learner, admin bool
		test                                     bool
	}{
		{canvassim.Teacher, true, false, false, false, false, false},
		{canvassim.TA, false, true, false, false, false, false},
		{canvassim.Designer, false, false, true, false, false, false},
		{canvassim.Student, false, false, false, true, false, false},
		{canvassim.TestStudent, false, false, false, true, false, true},
		{canvassim.AccountAdmin, false, false, false, false, true, false},
		{canvassim.SiteAdmin, false, false, false, false, true, false},
		{canvassim.Observer, false, false, false, false, false, false},
	} {
		l := &lti.Launch{Roles: canvassim.RoleURIs(tc.role)}
		if l.IsInstructor() != tc.instructor || l.IsTeachingAssistant() != tc.ta || l.IsContentDeveloper() != tc.designer ||
			l.IsLearner() != tc.learner || l.IsAdmin() != tc.admin || l.IsTestUser() != tc.test {
			t.Errorf("%s: instructor=%v ta=%v designer=%v learner=%v admin=%v test=%v", tc.role, l.IsInstructor(),
				l.IsTeachingAssistant(), l.IsContentDeveloper(), l.IsLearner(), l.IsAdmin(), l.IsTestUser())
		}
	}
	// Short role names (other platforms) count too.
	if l := (&lti.Launch{Roles: []string{"Instructor"}}); !l.IsInstructor() {
		t.Error("short Instructor role not recognised")
	}
	if l := (&lti.Launch{Custom: map[string]string{"canvas_user_id": "$Canvas.user.id"}}); l.CustomValue("canvas_user_id") != "" {
		t.Error("an unsubstituted variable must read as empty")
	}
}

// `laurel dev` re-registers its sandbox on every start: no conflict, same row.
func TestSimRegisterIsIdempotent(t *testing.T) {
	e := newEnv(t)
	p, err := e.sim.Register(context.Background(), e.tool, "Sim Canvas")
	must(t, err)
	if p.ID != e.platform.ID || p.Name != "Sim Canvas" {
		t.Fatalf("re-register = %+v, want platform %d", p, e.platform.ID)
	}
	launchOK(t, e, e.student)
}
