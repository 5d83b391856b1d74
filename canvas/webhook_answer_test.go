package canvas_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/laurel-edu/laurel/canvas"
	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/internal/web"
)

// TestWebhookAnswer is the webhook's error answer over a table of deliveries:
// a refusal answers the status of its code with {"error":{"code","reason",
// "message"}} and is counted under its reason; a failure on Laurel's side
// (here the Live Events JWKS cannot be fetched) answers 503 with
// Retry-After and code "unavailable", no reason, so Canvas retries, and
// stores nothing.
func TestWebhookAnswer(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	// A second service whose Live Events key set is unreachable.
	gone := httptest.NewServer(http.NotFoundHandler())
	goneURL := gone.URL + "/jwks"
	gone.Close()
	reg := prometheus.NewRegistry()
	down, err := canvas.New(canvas.Options{
		DB: e.db, Keys: e.keys, Issuer: e.iss, Platforms: canvas.LTIPlatforms(e.registry), Courses: e.courses,
		BaseURL: "http://laurel.test", LiveEventsJWKSURL: goneURL, Registerer: reg,
		Now: e.clock.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	r.Use(web.RequestID())
	down.RegisterWebhook(r)
	downSrv := httptest.NewServer(r)
	t.Cleanup(downSrv.Close)

	signed, err := e.events.Sign(e.events.CourseCompleted(canvassim.Completion{CourseID: "900", UserID: "1", UserName: "Ada", UserEmail: "ada@example.com"}))
	if err != nil {
		t.Fatal(err)
	}
	unsigned, _ := json.Marshal(e.events.CourseCompleted(canvassim.Completion{CourseID: "900", UserID: "2", UserName: "Bo", UserEmail: "bo@example.com"}))
	for _, tc := range []struct {
		name       string
		url        string
		body       []byte
		status     int
		code       string
		reason     string
		retryAfter bool
	}{
		{"empty body", e.webhookURL(), nil, 400, "bad_request", "empty", false},
		{"garbage", e.webhookURL(), []byte("not a token"), 400, "bad_request", "malformed_jwt", false},
		{"too large", e.webhookURL(), bytes.Repeat([]byte("a"), 256<<10+1), 413, "too_large", "too_large", false},
		{"unsigned without a secret", e.webhookURL(), unsigned, 401, "unauthorized", "missing_secret", false},
		{"key set unreachable", downSrv.URL + "/webhooks/canvas", []byte(signed), 503, "unavailable", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(ctx, "POST", tc.url, bytes.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/jwt")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var got struct {
				Error struct {
					Code, Message string
					Reason        *string
				} `json:"error"`
			}
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("body %q: %v", b, err)
			}
			if resp.StatusCode != tc.status || got.Error.Code != tc.code || got.Error.Message == "" {
				t.Errorf("got %d %s, want %d code %s", resp.StatusCode, b, tc.status, tc.code)
			}
			if (got.Error.Reason == nil) != (tc.reason == "") || (got.Error.Reason != nil && *got.Error.Reason != tc.reason) {
				t.Errorf("reason in %s, want %q", b, tc.reason)
			}
			if ra := resp.Header.Get("Retry-After"); (ra != "") != tc.retryAfter {
				t.Errorf("Retry-After %q, want set: %v", ra, tc.retryAfter)
			}
			if strings.Contains(string(b), goneURL) || strings.Contains(string(b), "connection refused") {
				t.Errorf("the answer shows the cause: %s", b)
			}
		})
	}
	if n := e.count(`SELECT count(*) FROM canvas_events`); n != 0 {
		t.Fatalf("refused or failed deliveries stored %d inbox rows", n)
	}
	// Refusals are counted per reason; the failure as an error outcome.
	wantCounter(t, e.reg, "laurel_canvas_webhook_refused_total", "too_large", 1)
	wantCounter(t, e.reg, "laurel_canvas_webhook_refused_total", "missing_secret", 1)
	wantCounter(t, e.reg, "laurel_canvas_webhook_deliveries_total", "refused", 4)
	wantCounter(t, reg, "laurel_canvas_webhook_deliveries_total", "error", 1)
}

func wantCounter(t *testing.T, reg *prometheus.Registry, name, label string, want float64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == label {
				if got := m.GetCounter().GetValue(); got != want {
					t.Errorf("%s{%s} = %v, want %v", name, label, got, want)
				}
				return
			}
		}
	}
	t.Errorf("%s{%s} not found, want %v", name, label, want)
}
