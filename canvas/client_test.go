package canvas_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/canvas"
)

// A next-page link to another host is refused: the Canvas API token must
// never be sent anywhere but the Canvas it belongs to.
func TestClientRefusesNextPageOnAnotherHost(t *testing.T) {
	var leaked bool
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			leaked = true
		}
		w.Write([]byte("[]"))
	}))
	defer evil.Close()
	canvasSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", fmt.Sprintf(`<%s/api/v1/courses/1/bulk_user_progress?page=2>; rel="next"`, evil.URL))
		w.Write([]byte(`[{"id": 1, "display_name": "A", "progress": {"completed_at": null}}]`))
	}))
	defer canvasSrv.Close()
	c, err := canvas.NewClient(canvasSrv.URL, "secret-token", nil, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.BulkUserProgress(context.Background(), "1")
	if err == nil || !strings.Contains(err.Error(), "another host") || leaked {
		t.Fatalf("err = %v, token leaked = %v", err, leaked)
	}
}

// Canvas's 403 "Rate Limit Exceeded" is retried with back-off, then given up
// with a clear error.
func TestClientGivesUpAfterRepeatedRateLimiting(t *testing.T) {
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte("403 Forbidden (Rate Limit Exceeded)"))
	}))
	defer srv.Close()
	c, _ := canvas.NewClient(srv.URL, "tok", nil, time.Millisecond)
	_, err := c.BulkUserProgress(context.Background(), "1")
	if err == nil || !strings.Contains(err.Error(), "Rate Limit Exceeded") || n != 7 {
		t.Fatalf("err = %v after %d requests, want a rate-limit error after 7", err, n)
	}
}
