package lti_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/lti"
)

// Every request inside a launch's iframe is framed by its platform's
// origins, the Canvas URL among them: they come from the Registry's cache,
// not a query per request, and a change made through the Registry is seen
// at once.
func TestLaunchFramingOriginsCached(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const first, second = "https://canvas.first.example.edu", "https://canvas.second.example.edu"
	if _, err := e.tool.Registry().UpdatePlatform(ctx, e.platform.ID, lti.PlatformInput{Extra: map[string]string{"canvas_url": first}}); err != nil {
		t.Fatal(err)
	}
	status, body := e.fullLaunch(browser(true), e.student.ID, e.course.ID, canvassim.LaunchOptions{NoStorageTarget: true})
	if status != http.StatusOK {
		t.Fatalf("launch: %d %s", status, body)
	}
	var resp struct{ Ltik string }
	must(t, json.Unmarshal([]byte(body), &resp))
	r := gin.New()
	r.GET("/inside", func(c *gin.Context) {
		if _, err := e.tool.LaunchFromRequest(c); err != nil {
			t.Errorf("follow-up request: %v", err)
		}
	})
	csp := func() string {
		t.Helper()
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest("GET", "/inside?ltik="+resp.Ltik, nil))
		return w.Header().Get("Content-Security-Policy")
	}
	if got := csp(); !strings.Contains(got, first) {
		t.Fatalf("CSP %q does not let the Canvas URL %s frame the page", got, first)
	}
	// Changed behind the Registry's back (as by another instance): the
	// cached origins stand for registryCacheFor.
	if _, err := e.db.Exec(`UPDATE canvas_platform_settings SET canvas_url = $2 WHERE platform_id = $1`, e.platform.ID, second); err != nil {
		t.Fatal(err)
	}
	if got := csp(); !strings.Contains(got, first) || strings.Contains(got, second) {
		t.Fatalf("CSP %q after a change behind the cache: want the cached %s only", got, first)
	}
	if _, err := e.tool.Registry().UpdatePlatform(ctx, e.platform.ID, lti.PlatformInput{Extra: map[string]string{"canvas_url": second}}); err != nil {
		t.Fatal(err)
	}
	if got := csp(); !strings.Contains(got, second) || strings.Contains(got, first) {
		t.Fatalf("CSP %q after an update through the Registry: want %s at once", got, second)
	}
}
