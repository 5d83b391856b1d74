package lti_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/lti"
)

func TestLaunchInstructorAndStudentWithCookies(t *testing.T) {
	e := newEnv(t)
	c := browser(true)
	for _, tc := range []struct {
		name       string
		user       *canvassim.User
		instructor bool
		learner    bool
	}{
		{"teacher", e.teacher, true, false},
		{"ta", e.ta, false, false},
		{"student", e.student, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.fullLaunch(c, tc.user.ID, e.course.ID, canvassim.LaunchOptions{NoStorageTarget: true})
			if status != http.StatusOK {
				t.Fatalf("launch: %d %s", status, body)
			}
			var got struct {
				Sub        string
				Ltik       string
				Instructor bool
				Learner    bool
			}
			must(t, json.Unmarshal([]byte(body), &got))
			if got.Sub != tc.user.LTIID || got.Instructor != tc.instructor || got.Learner != tc.learner || got.Ltik == "" {
				t.Fatalf("launch = %+v, want sub %s instructor %v learner %v", got, tc.user.LTIID, tc.instructor, tc.learner)
			}
			l := e.lastLaunch()
			if l.Context.Title != "Biology 101" || l.Context.ID != e.course.ContextID || l.NRPS == nil || l.ToolPlatformGUID == "" ||
				l.Platform.ID != e.platform.ID || l.ResourceLinkID == "" || l.LaunchPresentation.DocumentTarget != "iframe" {
				t.Fatalf("launch claims not carried: %+v", l)
			}
			if tc.name == "ta" && !l.IsTeachingAssistant() {
				t.Fatal("TA launch must report the TA sub-role")
			}
			// The launch token gets the launch back, without cookies.
			back, err := e.tool.LaunchByToken(context.Background(), got.Ltik)
			must(t, err)
			if back.Sub != tc.user.LTIID || back.Platform.ID != e.platform.ID || back.IsInstructor() != tc.instructor {
				t.Fatalf("launch by token = %+v", back)
			}
			// lti_users records the launch with its name and email; the
			// Canvas id from the custom fields reaches the launch handler
			// (package canvas keeps it in canvas_users).
			u, ok, err := e.tool.UserBySub(context.Background(), e.platform.ID, tc.user.LTIID)
			must(t, err)
			if !ok || l.CustomValue("canvas_user_id") != tc.user.ID || u.Email != tc.user.Email || u.Name != tc.user.Name {
				t.Fatalf("lti user = %+v ok=%v canvas_user_id=%q", u, ok, l.CustomValue("canvas_user_id"))
			}
		})
	}
}

func TestLaunchTokenFromRequest(t *testing.T) {
	e := newEnv(t)
	status, body := e.fullLaunch(browser(true), e.student.ID, e.course.ID, canvassim.LaunchOptions{})
	if status != http.StatusOK {
		t.Fatalf("launch: %d %s", status, body)
	}
	// An unknown or missing token is a clear 401, never a panic.
	if _, err := e.tool.LaunchByToken(context.Background(), "nope"); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("unknown token: %v", err)
	}
	if _, err := e.tool.LaunchByToken(context.Background(), ""); err == nil || !strings.Contains(err.Error(), "launch from your course") {
		t.Fatalf("missing token: %v", err)
	}
}

func TestLaunchLinksStaffByEmail(t *testing.T) {
	e := newEnv(t)
	var staffID int64
	must(t, e.db.Get(&staffID, `INSERT INTO users (email, name, role, password_hash) VALUES ('TINA@example.edu', 'Tina', 'admin', 'x') RETURNING id`))
	status, body := e.fullLaunch(browser(true), e.teacher.ID, e.course.ID, canvassim.LaunchOptions{})
	if status != http.StatusOK {
		t.Fatalf("launch: %d %s", status, body)
	}
	if l := e.lastLaunch(); l.StaffUserID != staffID || l.LTIUserID == 0 {
		t.Fatalf("staff link = %d (lti user %d), want %d", l.StaffUserID, l.LTIUserID, staffID)
	}
}

// Without cookies (third-party cookies blocked), the login page stores state
// and nonce in the platform's frame; the launch answers with the check page,
// whose script reads them back and re-posts: the server side of that path.
func TestLaunchWithoutCookiesViaPlatformStorage(t *testing.T) {
	e := newEnv(t)
	c := browser(false)
	auth, page := e.login(c, e.student.ID, e.course.ID, canvassim.LaunchOptions{})
	if page == nil || page["target"] != "post_message_forwarding" || page["origin"] != e.sim.URL() || page["state"] == "" || page["nonce"] == "" {
		t.Fatalf("login page data = %v", page)
	}
	action, vals := e.authorize(c, auth)
	resp, err := c.PostForm(action, vals)
	must(t, err)
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="lti-launch-form"`) {
		t.Fatalf("want the check page, got %d %s", resp.StatusCode, body)
	}
	if e.countSessions() != 0 || e.countUsers() != 0 {
		t.Fatal("the check page must not complete the launch")
	}
	check := dataAttrs(body)
	if check["state"] != page["state"] || check["target"] != "post_message_forwarding" || check["origin"] != e.sim.URL() {
		t.Fatalf("check page data = %v", check)
	}
	action, form, err := canvassim.FormFromHTML([]byte(body))
	must(t, err)
	// What lti.get_data answers: the values the login page stored.
	form.Set(lti.FieldStorageState, page["state"])
	form.Set(lti.FieldStorageNonce, page["nonce"])
	resp, err = c.PostForm(action, form)
	must(t, err)
	body = readBody(t, resp)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, e.student.LTIID) {
		t.Fatalf("launch via storage: %d %s", resp.StatusCode, body)
	}
	// The same storage answer cannot be replayed.
	resp, err = c.PostForm(action, form)
	must(t, err)
	assertRefused(t, resp, http.StatusBadRequest, lti.ReasonStateReused, "already used")
}

func TestLaunchWithoutCookiesStorageMismatchRefused(t *testing.T) {
	e := newEnv(t)
	c := browser(false)
	for _, tc := range []struct {
		name         string
		state, nonce func(page map[string]string) string
	}{
		{"empty storage answer", func(map[string]string) string { return "" }, func(map[string]string) string { return "" }},
		{"wrong nonce", func(p map[string]string) string { return p["state"] }, func(map[string]string) string { return "forged" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			auth, page := e.login(c, e.student.ID, e.course.ID, canvassim.LaunchOptions{})
			action, vals := e.authorize(c, auth)
			resp, err := c.PostForm(action, vals)
			must(t, err)
			_, form, err := canvassim.FormFromHTML([]byte(readBody(t, resp)))
			must(t, err)
			form.Set(lti.FieldStorageState, tc.state(page))
			form.Set(lti.FieldStorageNonce, tc.nonce(page))
			resp, err = c.PostForm(action, form)
			must(t, err)
			assertRefused(t, resp, http.StatusBadRequest, lti.ReasonStateNotBound, "")
		})
	}
	if e.countSessions() != 0 || e.countUsers() != 0 {
		t.Fatal("a refused launch created a session or user")
	}
}

func TestLaunchDeepLinking(t *testing.T) {
	e := newEnv(t)
	c := browser(true)
	status, body := e.fullLaunch(c, e.teacher.ID, e.course.ID, canvassim.LaunchOptions{MessageType: lti.MessageDeepLinking})
	if status != http.StatusOK {
		t.Fatalf("deep linking launch: %d %s", status, body)
	}
	l := e.lastLaunch()
	if l.DeepLinking == nil || l.DeepLinking.ReturnURL == "" || l.DeepLinking.Data == "" {
		t.Fatalf("deep linking settings = %+v", l.DeepLinking)
	}
	resp, err := c.PostForm(e.srv.URL+"/deep", map[string][]string{"ltik": {l.Token}})
	must(t, err)
	page := readBody(t, resp)
	action, form, err := canvassim.FormFromHTML([]byte(page))
	must(t, err)
	resp, err = c.PostForm(action, form)
	must(t, err)
	if got := readBody(t, resp); resp.StatusCode != http.StatusOK {
		t.Fatalf("platform refused the deep linking response: %d %s", resp.StatusCode, got)
	}
	dl := e.sim.DeepLinks()
	if len(dl) != 1 || len(dl[0].Items) != 1 || dl[0].Items[0]["title"] != "My credential" ||
		dl[0].Claims[lti.ClaimDeepLinkingData] != l.DeepLinking.Data {
		t.Fatalf("deep links = %+v", dl)
	}
}

func TestLoginRefusals(t *testing.T) {
	e := newEnv(t)
	c := browser(true)
	post := func(form map[string][]string) *http.Response {
		resp, err := c.PostForm(e.tool.LoginURL(), form)
		must(t, err)
		return resp
	}
	resp := post(map[string][]string{"iss": {e.platform.Issuer}})
	assertRefused(t, resp, http.StatusBadRequest, lti.ReasonLoginParams, "lacks login_hint, target_link_uri")
	resp = post(map[string][]string{"iss": {"https://unknown.example"}, "login_hint": {"1"}, "target_link_uri": {e.tool.LaunchURL()}})
	assertRefused(t, resp, http.StatusBadRequest, lti.ReasonPlatformUnknown, "https://unknown.example")
	// A second registration under the same issuer: a login without client_id is ambiguous.
	in := e.sim.PlatformInput("second")
	in.ClientID = "other-client"
	in.DeploymentIDs = []string{"other-deployment"}
	_, err := e.tool.Registry().AddPlatform(context.Background(), in)
	must(t, err)
	resp = post(map[string][]string{"iss": {e.platform.Issuer}, "login_hint": {"1"}, "target_link_uri": {e.tool.LaunchURL()}})
	assertRefused(t, resp, http.StatusBadRequest, lti.ReasonPlatformAmbiguous, "2 registrations")
	// ... unless the deployment picks exactly one.
	resp = post(map[string][]string{"iss": {e.platform.Issuer}, "login_hint": {"1"}, "target_link_uri": {e.tool.LaunchURL()}, "lti_deployment_id": {"other-deployment"}})
	if resp.StatusCode != http.StatusFound || !strings.Contains(resp.Header.Get("Location"), "client_id=other-client") {
		t.Fatalf("deployment should pick the registration: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The GET form works too.
	lr, err := e.sim.BeginLaunch(e.student.ID, e.course.ID, canvassim.LaunchOptions{NoStorageTarget: true})
	must(t, err)
	resp, err = c.Get(lr.URL + "?" + lr.Form.Encode())
	must(t, err)
	readBody(t, resp)
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), e.sim.AuthURL()+"?") {
		t.Fatalf("GET login: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The auth request carries every parameter.
	auth, _ := e.login(c, e.student.ID, e.course.ID, canvassim.LaunchOptions{NoStorageTarget: true})
	q := mustQuery(t, auth)
	for k, want := range map[string]string{"scope": "openid", "response_type": "id_token", "response_mode": "form_post",
		"prompt": "none", "client_id": e.platform.ClientID, "redirect_uri": e.tool.LaunchURL()} {
		if q.Get(k) != want {
			t.Errorf("auth request %s = %q, want %q", k, q.Get(k), want)
		}
	}
	for _, k := range []string{"login_hint", "lti_message_hint", "state", "nonce"} {
		if q.Get(k) == "" {
			t.Errorf("auth request lacks %s", k)
		}
	}
}
