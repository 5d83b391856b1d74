package lti_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/lti"
)

// forged is one broken launch: token builds the id_token from the claims the
// platform would send (with this login's nonce); submit, when set, replaces
// the ordinary POST of id_token + state.
type forged struct {
	name     string
	token    func(e *env, claims map[string]any) string
	submit   func(e *env, c *http.Client, state, token string) *http.Response
	before   func(e *env)
	status   int
	reason   string
	fragment string
}

func without(claims map[string]any, names ...string) map[string]any {
	for _, n := range names {
		delete(claims, n)
	}
	return claims
}

func with(claims map[string]any, kv ...any) map[string]any {
	for i := 0; i < len(kv); i += 2 {
		claims[kv[i].(string)] = kv[i+1]
	}
	return claims
}

func post(e *env, c *http.Client, form url.Values) *http.Response {
	resp, err := c.PostForm(e.tool.LaunchURL(), form)
	must(e.t, err)
	return resp
}

func TestForgedLaunchesRefused(t *testing.T) {
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	must(t, err)
	hour := time.Hour
	cases := []forged{
		{name: "alg none", status: 401, reason: lti.ReasonAlg, fragment: `alg "none"`,
			token: func(e *env, cl map[string]any) string { return canvassim.Unsigned(e.sim.Header("none"), cl) }},
		{name: "HS256 signed with the platform's public key", status: 401, reason: lti.ReasonAlg, fragment: `alg "HS256"`,
			token: func(e *env, cl map[string]any) string {
				return canvassim.SignHS256(e.sim.Header("HS256"), cl, e.sim.PublicKeyPEM())
			}},
		{name: "RS512 header", status: 401, reason: lti.ReasonAlg, fragment: "only RS256",
			token: func(e *env, cl map[string]any) string {
				return canvassim.SignRS256(e.sim.Header("RS512"), cl, otherKey)
			}},
		{name: "crit header", status: 401, reason: lti.ReasonAlg, fragment: "crit",
			token: func(e *env, cl map[string]any) string {
				h := e.sim.Header("RS256")
				h["crit"] = []string{"exp"}
				return canvassim.SignRS256(h, cl, otherKey)
			}},
		{name: "unknown kid", status: 401, reason: lti.ReasonKid, fragment: `no key with kid "forged-kid"`,
			token: func(e *env, cl map[string]any) string {
				return canvassim.SignRS256(map[string]any{"alg": "RS256", "kid": "forged-kid"}, cl, otherKey)
			}},
		{name: "another key under the platform's kid", status: 401, reason: lti.ReasonSignature, fragment: "does not verify",
			token: func(e *env, cl map[string]any) string {
				return canvassim.SignRS256(e.sim.Header("RS256"), cl, otherKey)
			}},
		{name: "tampered payload", status: 401, reason: lti.ReasonSignature, fragment: "does not verify",
			token: func(e *env, cl map[string]any) string {
				tok := e.sim.Sign(cl)
				parts := strings.Split(tok, ".")
				cl[lti.ClaimRoles] = canvassim.RoleURIs(canvassim.Teacher)
				b, _ := json.Marshal(cl)
				return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
			}},
		{name: "malformed JWT", status: 400, reason: lti.ReasonMalformed, fragment: "2 parts",
			token: func(e *env, cl map[string]any) string { return "abc.def" }},
		{name: "payload not JSON", status: 400, reason: lti.ReasonMalformed, fragment: "payload is not a JSON object",
			token: func(e *env, cl map[string]any) string {
				return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256"}`)) + "." + base64.RawURLEncoding.EncodeToString([]byte("[1,2]")) + ".c2ln"
			}},
		{name: "missing id_token", status: 400, reason: lti.ReasonTokenMissing, fragment: "no id_token",
			token: func(e *env, cl map[string]any) string { return "" }},
		{name: "wrong iss", status: 401, reason: lti.ReasonIssuer, fragment: `"https://evil.example" is not the registered issuer`,
			token: func(e *env, cl map[string]any) string { return e.sim.Sign(with(cl, "iss", "https://evil.example")) }},
		{name: "NUL in the name claim", status: 400, reason: lti.ReasonClaim, fragment: `field "name" contains a NUL byte`,
			token: func(e *env, cl map[string]any) string { return e.sim.Sign(with(cl, "name", "Ada\x00Lovelace")) }},
		{name: "missing iss", status: 400, reason: lti.ReasonClaim, fragment: "no iss claim",
			token: func(e *env, cl map[string]any) string { return e.sim.Sign(without(cl, "iss")) }},
		{name: "wrong aud", status: 401, reason: lti.ReasonAudience, fragment: "does not contain our client_id",
			token: func(e *env, cl map[string]any) string { return e.sim.Sign(with(cl, "aud", "someone-else")) }},
		{name: "several aud without azp", status: 401, reason: lti.ReasonAZP, fragment: "several audiences and no azp",
			token: func(e *env, cl map[string]any) string {
				return e.sim.Sign(without(with(cl, "aud", []string{e.platform.ClientID, "other"}), "azp"))
			}},
		{name: "wrong azp", status: 401, reason: lti.ReasonAZP, fragment: "is not our client_id",
			token: func(e *env, cl map[string]any) string {
				return e.sim.Sign(with(cl, "aud", []string{e.platform.ClientID, "other"}, "azp", "other"))
			}},
		{name: "expired", status: 401, reason: lti.ReasonExpired, fragment: "expired at",
			token: func(e *env, cl map[string]any) string {
				return e.sim.Sign(with(cl, "exp", time.Now().Add(-3*time.Minute).Unix(), "iat", time.Now().Add(-hour).Unix()))
			}},
		{name: "missing exp", status: 401, reason: lti.ReasonExpired, fragment: "no exp claim",
			token: func(e *env, cl map[string]any) string { return e.sim.Sign(without(cl, "exp")) }},
		{name: "iat in the future beyond leeway", status: 401, reason: lti.ReasonIssuedAt, fragment: "issued in the future",
			token: func(e *env, cl map[string]any) string {
				return e.sim.Sign(with(cl, "iat", time.Now().Add(5*time.Minute).Unix()))
			}},
		{name: "missing nonce", status: 401, reason: lti.ReasonNonceMissing, fragment: "no nonce",
			token: func(e *env, cl map[string]any) string { return e.sim.Sign(without(cl, "nonce")) }},
		{name: "nonce of another login", status: 401, reason: lti.ReasonNonceMismatch, fragment: "not the one issued",
			token: func(e *env, cl map[string]any) string { return e.sim.Sign(with(cl, "nonce", "other-nonce")) }},
		{name: "missing deployment_id", status: 400, reason: lti.ReasonDeploymentMissing, fragment: "no deployment_id",
			token: func(e *env, cl map[string]any) string { return e.sim.Sign(without(cl, lti.ClaimDeploymentID)) }},
		{name: "unknown deployment", status: 403, reason: lti.ReasonDeploymentUnknown, fragment: `"7:unknown" is not registered`,
			before: func(e *env) {
				off := false
				_, err := e.tool.Registry().UpdatePlatform(context.Background(), e.platform.ID, lti.PlatformInput{AutoRegisterDeployments: &off})
				must(e.t, err)
			},
			token: func(e *env, cl map[string]any) string {
				return e.sim.Sign(with(cl, lti.ClaimDeploymentID, "7:unknown"))
			}},
		{name: "wrong version", status: 400, reason: lti.ReasonVersion, fragment: `"1.1"`,
			token: func(e *env, cl map[string]any) string { return e.sim.Sign(with(cl, lti.ClaimVersion, "1.1")) }},
		{name: "unknown message type", status: 400, reason: lti.ReasonMessageType, fragment: `"LtiSubmissionReviewRequest"`,
			token: func(e *env, cl map[string]any) string {
				return e.sim.Sign(with(cl, lti.ClaimMessageType, "LtiSubmissionReviewRequest"))
			}},
		{name: "missing resource_link id", status: 400, reason: lti.ReasonResourceLink, fragment: "no resource_link.id",
			token: func(e *env, cl map[string]any) string {
				return e.sim.Sign(with(cl, lti.ClaimResourceLink, map[string]any{"title": "x"}))
			}},
		{name: "deep linking without return URL", status: 400, reason: lti.ReasonDeepLinking, fragment: "deep_link_return_url",
			token: func(e *env, cl map[string]any) string {
				return e.sim.Sign(with(cl, lti.ClaimMessageType, lti.MessageDeepLinking, lti.ClaimDeepLinking, map[string]any{}))
			}},
		{name: "missing sub", status: 400, reason: lti.ReasonSub, fragment: "no sub",
			token: func(e *env, cl map[string]any) string { return e.sim.Sign(without(cl, "sub")) }},
		{name: "missing roles", status: 400, reason: lti.ReasonRoles, fragment: "no roles claim",
			token: func(e *env, cl map[string]any) string { return e.sim.Sign(without(cl, lti.ClaimRoles)) }},
		{name: "roles not a list", status: 400, reason: lti.ReasonRoles, fragment: "not a list",
			token: func(e *env, cl map[string]any) string { return e.sim.Sign(with(cl, lti.ClaimRoles, "Instructor")) }},
		{name: "missing state", status: 400, reason: lti.ReasonStateMissing, fragment: "no state",
			submit: func(e *env, c *http.Client, state, tok string) *http.Response {
				return post(e, c, url.Values{"id_token": {tok}})
			}},
		{name: "unknown state", status: 400, reason: lti.ReasonStateUnknown, fragment: "unknown or expired",
			submit: func(e *env, c *http.Client, state, tok string) *http.Response {
				return post(e, c, url.Values{"id_token": {tok}, "state": {"made-up-state"}})
			}},
		{name: "state without the browser's cookie", status: 400, reason: lti.ReasonStateNotBound, fragment: "did not keep the login cookie",
			submit: func(e *env, c *http.Client, state, tok string) *http.Response {
				return post(e, browser(false), url.Values{"id_token": {tok}, "state": {state}})
			}},
		{name: "reused state", status: 400, reason: lti.ReasonStateReused, fragment: "already used",
			submit: func(e *env, c *http.Client, state, tok string) *http.Response {
				// The first submission of a broken token consumes the state...
				first := post(e, c, url.Values{"id_token": {"x.y"}, "state": {state}})
				readBody(e.t, first)
				// ... so the valid token cannot use it again.
				return post(e, c, url.Values{"id_token": {tok}, "state": {state}})
			}},
		{name: "disabled platform", status: 403, reason: lti.ReasonPlatformDisabled, fragment: "is disabled",
			submit: func(e *env, c *http.Client, state, tok string) *http.Response {
				must(e.t, e.tool.Registry().SetDisabled(context.Background(), e.platform.ID, true))
				return post(e, c, url.Values{"id_token": {tok}, "state": {state}})
			}},
		{name: "platform error answer", status: 400, reason: lti.ReasonLoginParams, fragment: "login_required",
			submit: func(e *env, c *http.Client, state, tok string) *http.Response {
				return post(e, c, url.Values{"error": {"login_required"}, "error_description": {"no session"}, "state": {state}})
			}},
	}
	if len(cases) < 25 {
		t.Fatalf("only %d forged launches", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.t = t
			if tc.before != nil {
				tc.before(e)
			}
			c := browser(true)
			auth, _ := e.login(c, e.student.ID, e.course.ID, canvassim.LaunchOptions{NoStorageTarget: true})
			state, nonce := stateNonce(t, auth)
			claims, err := e.sim.Claims(e.student.ID, e.course.ID, nonce, "", "")
			must(t, err)
			tok := e.sim.Sign(claims)
			if tc.token != nil {
				tok = tc.token(e, claims)
			}
			var resp *http.Response
			if tc.submit != nil {
				resp = tc.submit(e, c, state, tok)
			} else {
				resp = post(e, c, url.Values{"id_token": {tok}, "state": {state}})
			}
			assertRefused(t, resp, tc.status, tc.reason, tc.fragment)
			if n := e.countUsers(); n != 0 {
				t.Fatalf("refused launch recorded %d lti_users", n)
			}
			if n := e.countSessions(); n != 0 {
				t.Fatalf("refused launch created %d launch sessions", n)
			}
			if l := e.lastLaunch(); l != nil {
				t.Fatalf("refused launch reached the app: %+v", l)
			}
		})
	}
}

// A replayed nonce: the first launch's form is submitted again after the
// state store was made to forget that its state was used (restored to the
// record of the login); the nonce store still catches the replay, and no
// second session is stored.
func TestReplayedNonceRefused(t *testing.T) {
	e := newEnv(t)
	c := browser(true)
	auth, _ := e.login(c, e.student.ID, e.course.ID, canvassim.LaunchOptions{NoStorageTarget: true})
	state, _ := stateNonce(t, auth)
	ctx := context.Background()
	rec, err := e.rdb.Get(ctx, "lti:state:"+state).Result()
	must(t, err)
	action, vals := e.authorize(c, auth)
	resp, err := c.PostForm(action, vals)
	must(t, err)
	if b := readBody(t, resp); resp.StatusCode != 200 {
		t.Fatalf("first launch: %d %s", resp.StatusCode, b)
	}
	must(t, e.rdb.Set(ctx, "lti:state:"+state, rec, time.Minute).Err())
	u, err := url.Parse(e.tool.LaunchURL())
	must(t, err)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: lti.StateCookiePrefix + state, Value: state, Path: "/lti/"}}) // the browser's cookie, back
	resp = post(e, c, url.Values{"id_token": vals["id_token"], "state": {state}})
	assertRefused(t, resp, http.StatusUnauthorized, lti.ReasonNonceReplayed, "replay")
	if n := e.countSessions(); n != 1 {
		t.Fatalf("sessions = %d, want only the first launch's", n)
	}
}

// Clock skew within the leeway is tolerated (a top complaint).
func TestClockSkewWithinLeewayAccepted(t *testing.T) {
	e := newEnv(t)
	c := browser(true)
	auth, _ := e.login(c, e.student.ID, e.course.ID, canvassim.LaunchOptions{NoStorageTarget: true})
	state, nonce := stateNonce(t, auth)
	claims, err := e.sim.Claims(e.student.ID, e.course.ID, nonce, "", "")
	must(t, err)
	claims["iat"] = time.Now().Add(90 * time.Second).Unix()
	resp := post(e, c, url.Values{"id_token": {e.sim.Sign(claims)}, "state": {state}})
	if b := readBody(t, resp); resp.StatusCode != 200 {
		t.Fatalf("skewed launch: %d %s", resp.StatusCode, b)
	}
}
