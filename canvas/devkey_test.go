package canvas_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/lti"
)

func TestDevKeyJSON(t *testing.T) {
	e := newEnv(t)
	resp, err := http.Get(e.srv.URL + "/lti/canvas.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var cfg map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"oidc_initiation_url": "http://laurel.test/lti/login",
		"target_link_uri":     "http://laurel.test/lti/launch",
		"public_jwk_url":      "http://laurel.test/lti/jwks",
	} {
		if cfg[k] != want {
			t.Errorf("%s = %v, want %s", k, cfg[k], want)
		}
	}
	for _, k := range []string{"title", "description"} {
		if s, _ := cfg[k].(string); s == "" {
			t.Errorf("%s missing", k)
		}
	}
	if !strings.Contains(fmt.Sprint(cfg["scopes"]), "contextmembership.readonly") {
		t.Errorf("scopes = %v", cfg["scopes"])
	}
	ext := cfg["extensions"].([]any)[0].(map[string]any)
	if ext["platform"] != "canvas.instructure.com" || ext["privacy_level"] != "public" {
		t.Errorf("extension = %v", ext)
	}
	places := map[string]map[string]any{}
	for _, p := range ext["settings"].(map[string]any)["placements"].([]any) {
		pm := p.(map[string]any)
		places[pm["placement"].(string)] = pm
	}
	nav := places["course_navigation"]
	if nav["message_type"] != "LtiResourceLinkRequest" || nav["default"] != "enabled" || nav["visibility"] != "admins" {
		t.Errorf("course_navigation = %v", nav)
	}
	for _, p := range []string{"link_selection", "assignment_selection"} {
		if places[p]["message_type"] != "LtiDeepLinkingRequest" {
			t.Errorf("%s = %v", p, places[p])
		}
	}
	custom := cfg["custom_fields"].(map[string]any)
	if custom["canvas_user_id"] != "$Canvas.user.id" || custom["canvas_course_id"] != "$Canvas.course.id" || custom["email"] != "$Person.email.primary" {
		t.Errorf("custom_fields = %v", custom)
	}
}

// The developer key names the tool's JWKS, whose keys carry alg and use as
// Canvas requires.
func TestDevKeyPublicJWKCarriesAlgAndUse(t *testing.T) {
	e := newEnv(t)
	app := newToolApp(t, e)
	cfg := e.svc.DevKey()
	path := strings.TrimPrefix(cfg.PublicJWKURL, "http://laurel.test")
	if path != "/lti/jwks" {
		t.Fatalf("public_jwk_url = %s", cfg.PublicJWKURL)
	}
	resp, err := http.Get(app.URL + path)
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

// newToolApp serves Laurel's LTI tool (its login, launch and JWKS) over
// real HTTP, with the course views as its launch handler.
func newToolApp(t *testing.T, e *env) *httptest.Server {
	t.Helper()
	var h http.Handler
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(app.Close)
	tool := lti.New(e.db, testenv.Redis(t), e.keys, app.URL, slog.New(slog.NewTextHandler(io.Discard, nil)), e.courses.HandleLaunch)
	rd, err := web.NewRenderer(nil, lti.Templates)
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	tool.Register(r, rd)
	h = r
	return app
}

func mustContain(t testing.TB, page string, frags ...string) {
	t.Helper()
	for _, f := range frags {
		if !strings.Contains(page, f) {
			t.Fatalf("page lacks %q:\n%s", f, page)
		}
	}
}
