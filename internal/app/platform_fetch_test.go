package app_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/laurel-edu/laurel/canvas"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/lti"
	"github.com/laurel-edu/laurel/lti/course"
)

// The Canvas URL an owner stores is fetched by reconciliation with the
// Canvas API token: it follows the platform fetch rule too, so outside laurel
// dev (and LAUREL_ALLOW_HTTP_PLATFORMS) a loopback Canvas URL is never
// called.
func TestCanvasURLFollowsPlatformFetchRule(t *testing.T) {
	app := mustRun(t)
	ctx := context.Background()
	var hits atomic.Int32
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`[]`))
	}))
	defer internal.Close()
	p, err := app.LTI.Registry().AddPlatform(ctx, lti.PlatformInput{
		Name: "Canvas", Issuer: "https://canvas.uni.example.edu", ClientID: "1", AuthURL: "https://canvas.uni.example.edu/api/lti/authorize_redirect",
		JWKSURL: "https://canvas.uni.example.edu/api/lti/security/jwks", Extra: canvas.PlatformExtra(internal.URL, "7~secret"),
	})
	if err != nil {
		t.Fatal(err)
	}
	g, err := app.Issuance.CreateGroup(ctx, "test", issuance.Group{Name: "G", CourseName: "G", Language: "en"})
	if err != nil {
		t.Fatal(err)
	}
	courseID, rule := "565", string(course.RuleCanvasCompletion)
	m, err := app.Course.CreateMapping(ctx, "test", course.MappingInput{PlatformID: &p.ID, CanvasCourseID: &courseID, GroupID: &g.ID, CompletionRule: &rule})
	if err != nil {
		t.Fatal(err)
	}
	app.LTI.AllowHTTPPlatforms = false
	if _, err := app.Canvas.Reconcile(ctx, m.ID); err == nil || hits.Load() != 0 {
		t.Fatalf("reconcile against a loopback Canvas URL: err %v, %d requests reached it; want refused, none", err, hits.Load())
	}
	app.LTI.AllowHTTPPlatforms = true
	if _, err := app.Canvas.Reconcile(ctx, m.ID); err != nil || hits.Load() == 0 {
		t.Fatalf("allowed reconcile: err %v, %d requests", err, hits.Load())
	}
}
