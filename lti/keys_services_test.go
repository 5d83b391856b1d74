package lti_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/jose"
	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/lti"
)

func launchOK(t *testing.T, e *env, user *canvassim.User) { t.Helper(); e.shared.LaunchOK(t, user) }

func TestPlatformKeyRotation(t *testing.T) {
	e := newEnv(t)
	launchOK(t, e, e.student)
	if n := e.jwksFetches(); n != 1 {
		t.Fatalf("JWKS fetched %d times for the first launch, want 1", n)
	}
	launchOK(t, e, e.student)
	if n := e.jwksFetches(); n != 1 {
		t.Fatalf("JWKS fetched %d times after a second launch, want 1 (cached)", n)
	}

	// The platform rotates: a new kid is fetched (after the rate limit).
	e.sim.RotateKeys()
	e.clock.Advance(jose.DefaultMinRefetch + time.Second)
	launchOK(t, e, e.student)
	if n := e.jwksFetches(); n != 2 {
		t.Fatalf("JWKS fetched %d times after rotation, want 2", n)
	}

	// Forged unknown kids do not hammer the platform: one fetch per window.
	for i := 0; i < 3; i++ {
		c := browser(true)
		auth, _ := e.login(c, e.student.ID, e.course.ID, canvassim.LaunchOptions{NoStorageTarget: true})
		state, nonce := stateNonce(t, auth)
		cl, _ := e.sim.Claims(e.student.ID, e.course.ID, nonce, "", "")
		h := e.sim.Header("RS256")
		h["kid"] = "forged"
		resp := post(e, c, url.Values{"id_token": {signWithSim(e, h, cl)}, "state": {state}})
		assertRefused(t, resp, http.StatusUnauthorized, lti.ReasonKid, "forged")
	}
	if n := e.jwksFetches(); n != 2 {
		t.Fatalf("JWKS fetched %d times for forged kids inside the window, want still 2", n)
	}
}

// signWithSim signs with the platform's real current key under any header.
func signWithSim(e *env, h, cl map[string]any) string {
	tok := e.sim.Sign(cl)
	// Replace the header: the signature no longer matches, which is fine for
	// kid lookups that fail before verification.
	parts := strings.SplitN(tok, ".", 2)
	hb, _ := json.Marshal(h)
	return b64url(hb) + "." + parts[1]
}

func TestPlatformReplacesKeyUnderSameKid(t *testing.T) {
	e := newEnv(t)
	launchOK(t, e, e.student)
	e.sim.ReplaceKeySameKid() // the cached key for this kid is now stale
	// Inside the rate-limit window the stale key cannot be refreshed.
	c := browser(true)
	status, body := e.fullLaunch(c, e.student.ID, e.course.ID, canvassim.LaunchOptions{NoStorageTarget: true})
	if status != http.StatusUnauthorized || !strings.Contains(body, lti.ReasonSignature) {
		t.Fatalf("stale key inside the window: %d %s", status, body)
	}
	e.clock.Advance(jose.DefaultMinRefetch + time.Second)
	launchOK(t, e, e.student)
}

func TestToolKeyRotation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	get := func() []map[string]string {
		resp, err := http.Get(e.tool.JWKSURL())
		must(t, err)
		var set struct{ Keys []map[string]string }
		must(t, json.Unmarshal([]byte(readBody(t, resp)), &set))
		return set.Keys
	}
	keys := get()
	if len(keys) != 1 || keys[0]["kid"] == "" || keys[0]["alg"] != "RS256" || keys[0]["use"] != "sig" || keys[0]["kty"] != "RSA" || keys[0]["d"] != "" {
		t.Fatalf("jwks = %v", keys)
	}
	first := keys[0]["kid"]
	kid, err := e.tool.RotateKeys(ctx)
	must(t, err)
	keys = get()
	if len(keys) != 2 || keys[0]["kid"] != first || keys[1]["kid"] != kid {
		t.Fatalf("after rotation jwks = %v, want %s and %s", keys, first, kid)
	}
	// The new key signs: the platform verifies a service token assertion with it.
	if _, err := e.tool.ServiceToken(ctx, &e.platform, lti.ScopeNRPS); err != nil {
		t.Fatalf("service token after rotation: %v", err)
	}
	retired, err := e.tool.RetireKeys(ctx, 0)
	must(t, err)
	if len(retired) != 1 || retired[0] != first {
		t.Fatalf("retired %v, want [%s]", retired, first)
	}
	if keys = get(); len(keys) != 1 || keys[0]["kid"] != kid {
		t.Fatalf("after retiring jwks = %v", keys)
	}
	// The newest key is never retired.
	retired, err = e.tool.RetireKeys(ctx, 0)
	must(t, err)
	if len(retired) != 0 {
		t.Fatalf("retired the only key: %v", retired)
	}
}

func TestNRPSPagingAndTokenCache(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	big := e.sim.AddCourse(canvassim.Course{Title: "Big course"})
	must(t, e.sim.Enroll(big.ID, e.teacher.ID, canvassim.Teacher))
	if _, err := e.sim.AddStudents(big.ID, 119); err != nil {
		t.Fatal(err)
	}
	status, body := e.fullLaunch(browser(true), e.teacher.ID, big.ID, canvassim.LaunchOptions{})
	if status != 200 {
		t.Fatalf("launch: %d %s", status, body)
	}
	l := e.lastLaunch()
	for i := 0; i < 3; i++ {
		members, err := e.tool.Members(ctx, &l.Platform, l.NRPS.ContextMembershipsURL)
		must(t, err)
		learners := 0
		for _, m := range members {
			if m.IsLearner() {
				learners++
			}
		}
		if len(members) != 120 || learners != 119 || members[0].UserID != e.teacher.LTIID || members[5].Email == "" {
			t.Fatalf("members = %d (learners %d), want 120 (119)", len(members), learners)
		}
	}
	if n := e.sim.NRPSRequests(); n != 9 {
		t.Fatalf("NRPS pages requested = %d, want 3 per call", n)
	}
	if n := e.sim.TokenRequests(); n != 1 {
		t.Fatalf("token requests = %d, want 1 (cached)", n)
	}
	// The cache lives until 5 minutes before expiry (Canvas tokens: 1 hour).
	ttl, err := e.rdb.TTL(ctx, keyLike(t, e, "lti:svctoken:*")).Result()
	must(t, err)
	if ttl < 50*time.Minute || ttl > 55*time.Minute {
		t.Fatalf("token cached for %s, want ~55m", ttl)
	}
}

func keyLike(t *testing.T, e *env, pattern string) string {
	keys, err := e.rdb.Keys(context.Background(), pattern).Result()
	must(t, err)
	if len(keys) != 1 {
		t.Fatalf("keys %s = %v", pattern, keys)
	}
	return keys[0]
}

// A platform added with a deployment id (as `laurel platform add
// --deployment-id X` does) accepts only that deployment: a launch from
// another is refused and nothing is recorded, until the owner switches
// auto-registration on; then it is accepted and recorded.
func TestNamedDeploymentsRestrictLaunches(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if e.platform.AutoRegisterDeployments {
		t.Fatal("a platform added with a deployment id auto-registers other deployments")
	}
	e.sim.DeploymentID = "42:new-deployment"
	status, body := e.fullLaunch(browser(true), e.student.ID, e.course.ID, canvassim.LaunchOptions{NoStorageTarget: true})
	if status != http.StatusForbidden || dataAttrs(body)["reason"] != lti.ReasonDeploymentUnknown || !strings.Contains(htmlUnescape(body), `"42:new-deployment" is not registered`) {
		t.Fatalf("launch from an unnamed deployment: %d %s", status, body)
	}
	deps, err := e.tool.Registry().Deployments(ctx, e.platform.ID)
	must(t, err)
	if len(deps) != 1 || e.countUsers() != 0 {
		t.Fatalf("a refused deployment changed the database: deployments %+v, users %d", deps, e.countUsers())
	}
	on := true
	_, err = e.tool.Registry().UpdatePlatform(ctx, e.platform.ID, lti.PlatformInput{AutoRegisterDeployments: &on})
	must(t, err)
	launchOK(t, e, e.student)
	deps, err = e.tool.Registry().Deployments(ctx, e.platform.ID)
	must(t, err)
	if len(deps) != 2 || deps[1].DeploymentID != "42:new-deployment" || !deps[1].Auto {
		t.Fatalf("deployments = %+v", deps)
	}
}

// A platform added without any deployment id records the first launch's.
func TestFirstLaunchRecordsDeployment(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sim := canvassim.New().Start()
	defer sim.Close()
	sim.UseTool(e.tool.LoginURL(), e.tool.LaunchURL(), e.tool.JWKSURL())
	in := sim.PlatformInput("no deployments")
	in.DeploymentIDs = nil
	p, err := e.tool.Registry().AddPlatform(ctx, in)
	must(t, err)
	if !p.AutoRegisterDeployments {
		t.Fatal("a platform added without deployment ids must record its first deployment")
	}
	course := sim.AddCourse(canvassim.Course{Title: "Art"})
	u := sim.AddUser(canvassim.User{Name: "Ann Artist"})
	must(t, sim.Enroll(course.ID, u.ID, canvassim.Student))
	c := browser(true)
	lr, err := sim.BeginLaunch(u.ID, course.ID, canvassim.LaunchOptions{NoStorageTarget: true})
	must(t, err)
	resp, err := c.PostForm(lr.URL, lr.Form)
	must(t, err)
	readBody(t, resp)
	action, vals := e.authorize(c, resp.Header.Get("Location"))
	resp, err = c.PostForm(action, vals)
	must(t, err)
	if b := readBody(t, resp); resp.StatusCode != 200 {
		t.Fatalf("first launch: %d %s", resp.StatusCode, b)
	}
	deps, err := e.tool.Registry().Deployments(ctx, p.ID)
	must(t, err)
	if len(deps) != 1 || deps[0].DeploymentID != sim.DeploymentID || !deps[0].Auto {
		t.Fatalf("deployments = %+v, want %s recorded", deps, sim.DeploymentID)
	}
}
