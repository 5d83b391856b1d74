package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/devstack"
)

// privateServers starts a PostgreSQL and a Redis of this test's own, which
// it may stop and start again on the same ports.
type privateServers struct {
	t        *testing.T
	dir      string
	pg, rd   *devstack.Server
	pgPort   int
	rdPort   int
	pgURL    string
	redisURL string
}

func startPrivateServers(t *testing.T) *privateServers {
	t.Helper()
	s := &privateServers{t: t, dir: t.TempDir()}
	s.startPG()
	s.startRedis()
	t.Cleanup(func() { _ = s.pg.Stop(); _ = s.rd.Stop() })
	return s
}

func port(t *testing.T, raw string) int {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatalf("port of %s: %v", raw, err)
	}
	return p
}

func (s *privateServers) startPG() {
	s.t.Helper()
	pg, err := devstack.StartPostgres(context.Background(), filepath.Join(s.dir, "pg"), "laurel", devstack.Options{Port: s.pgPort})
	if err != nil {
		s.t.Fatalf("start PostgreSQL: %v", err)
	}
	s.pg, s.pgURL, s.pgPort = pg, pg.URL, port(s.t, pg.URL)
}

func (s *privateServers) startRedis() {
	s.t.Helper()
	// Durable, so sessions survive the restart as they would in production.
	rd, err := devstack.StartRedis(context.Background(), filepath.Join(s.dir, "redis"), devstack.Options{Port: s.rdPort, Durable: true})
	if err != nil {
		s.t.Fatalf("start Redis: %v", err)
	}
	s.rd, s.redisURL, s.rdPort = rd, rd.URL, port(s.t, rd.URL)
}

// wantUnavailable checks a 503 with Retry-After: the friendly page, or the
// API's JSON error with code "unavailable".
func wantUnavailable(t *testing.T, what string, resp *http.Response, body string, api bool) {
	t.Helper()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("%s: %d (Retry-After %q) %.300s; want 503 with Retry-After", what, resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if api {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Code != "unavailable" {
			t.Fatalf("%s: body %q, want a JSON error with code unavailable", what, body)
		}
		return
	}
	if !strings.Contains(body, "temporarily unavailable") || !strings.Contains(body, "<html") {
		t.Fatalf("%s: %.500s; want the friendly page", what, body)
	}
}

func waitOK(t *testing.T, what string, get func() (*http.Response, string)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, body := get()
		if resp.StatusCode == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not recover: %d %.300s", what, resp.StatusCode, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestOutagesAnswer503AndRecover really stops Laurel's PostgreSQL, then its
// Redis: a staff page, the API, the sign-in form and /readyz answer 503 with
// Retry-After (a friendly page or JSON), and once each server is back the
// same requests succeed without restarting Laurel.
func TestOutagesAnswer503AndRecover(t *testing.T) {
	s := startPrivateServers(t)
	app := mustRunWith(t, s.pgURL, s.redisURL)
	staff := mustSignIn(t, app, auth.Owner)
	api := mustToken(t, app)
	page := func() (*http.Response, string) { return staff.do("GET", "/groups", "", "") }
	apiGroups := func() (*http.Response, string) { return api.do("GET", "/api/v1/groups", "", "") }
	ready := func() (*http.Response, string) { return api.do("GET", "/readyz", "", "") }
	waitOK(t, "staff page", page)
	waitOK(t, "API", apiGroups)

	if err := s.pg.Stop(); err != nil {
		t.Fatal(err)
	}
	resp, body := page()
	wantUnavailable(t, "staff page without PostgreSQL", resp, body, false)
	resp, body = apiGroups()
	wantUnavailable(t, "API without PostgreSQL", resp, body, true)
	resp, body = newClient(t, app.URL).form("/login", url.Values{"email": {"someone@uni.example.edu"}, "password": {"whatever"}})
	wantUnavailable(t, "sign-in without PostgreSQL", resp, body, false)
	if resp, body := ready(); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, `"postgres":"unreachable"`) {
		t.Errorf("/readyz without PostgreSQL: %d %s", resp.StatusCode, body)
	}

	s.startPG()
	waitOK(t, "staff page after PostgreSQL restarted", page)
	waitOK(t, "API after PostgreSQL restarted", apiGroups)
	waitOK(t, "/readyz after PostgreSQL restarted", ready)

	if err := s.rd.Stop(); err != nil {
		t.Fatal(err)
	}
	resp, body = page()
	wantUnavailable(t, "staff page (session) without Redis", resp, body, false)
	resp, body = newClient(t, app.URL).form("/login", url.Values{"email": {"someone@uni.example.edu"}, "password": {"whatever"}})
	wantUnavailable(t, "sign-in (rate limit) without Redis", resp, body, false)
	if resp, body := ready(); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, `"redis":"unreachable"`) {
		t.Errorf("/readyz without Redis: %d %s", resp.StatusCode, body)
	}

	s.startRedis()
	waitOK(t, "staff page after Redis restarted", page)
	waitOK(t, "/readyz after Redis restarted", ready)
}
