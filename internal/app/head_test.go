package app_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/issuance"
)

// HEAD on a page answers with GET's status and headers and no body: a staff
// page (signed in), the public credential page, the sign-in page, a 404 and
// the favicon. /favicon.ico is an icon.
func TestHeadAnswersLikeGet(t *testing.T) {
	app := mustRun(t)
	ctx := context.Background()
	g, cred := seedOwnerAndCredential(t, app)
	cs := []issuance.Credential{cred}
	if _, err := app.Issuance.Publish(ctx, "test", issuance.Selection{IDs: []string{cs[0].ID}}); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.PostForm(app.URL+"/login", url.Values{"email": {"it@uni.example.edu"}, "password": {ownerPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %d", resp.StatusCode)
	}
	anon := &http.Client{CheckRedirect: hc.CheckRedirect}
	do := func(method, path string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, app.URL+path, nil)
		c := hc
		if path == "/login" {
			c = anon // signed in, /login sends you on
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	// Headers that differ between any two requests.
	perRequest := []string{"Date", "X-Request-Id", "Set-Cookie"}
	for _, tc := range []struct {
		path   string
		status int
		ctype  string
	}{
		{"/groups/" + itoa(g.ID), 200, "text/html; charset=utf-8"},
		{"/admin/organisation", 200, "text/html; charset=utf-8"},
		{"/c/" + cs[0].ID, 200, "text/html; charset=utf-8"},
		{"/login", 200, "text/html; charset=utf-8"},
		{"/c/nosuchcredential", 404, "text/html; charset=utf-8"},
		{"/favicon.ico", 200, "image/x-icon"},
	} {
		get, body := do("GET", tc.path)
		head, headBody := do("HEAD", tc.path)
		if get.StatusCode != tc.status || get.Header.Get("Content-Type") != tc.ctype || len(body) == 0 {
			t.Errorf("GET %s: %d %q with %d bytes, want %d %q", tc.path, get.StatusCode, get.Header.Get("Content-Type"), len(body), tc.status, tc.ctype)
			continue
		}
		if head.StatusCode != get.StatusCode || len(headBody) != 0 {
			t.Errorf("HEAD %s: %d with %d bytes of body, want %d and none", tc.path, head.StatusCode, len(headBody), get.StatusCode)
		}
		for k := range mergeKeys(get.Header, head.Header) {
			if slices.Contains(perRequest, k) {
				continue
			}
			if g, h := strings.Join(get.Header.Values(k), ", "), strings.Join(head.Header.Values(k), ", "); g != h {
				t.Errorf("%s: header %s is %q for GET, %q for HEAD", tc.path, k, g, h)
			}
		}
		// GET's length, where GET states one (net/http's Content-Length
		// reaches the client as resp.ContentLength).
		if get.ContentLength >= 0 && head.ContentLength != get.ContentLength {
			t.Errorf("HEAD %s: Content-Length %d, GET's %d", tc.path, head.ContentLength, get.ContentLength)
		}
	}
	_, ico := do("GET", "/favicon.ico")
	if len(ico) < 6 || string(ico[:4]) != "\x00\x00\x01\x00" {
		t.Fatalf("/favicon.ico is not an ICO file: % x", ico[:min(len(ico), 8)])
	}
	// Pages link it, so browsers ask for no other name.
	if _, page := do("GET", "/login"); !strings.Contains(string(page), `<link rel="icon" href="/favicon.ico">`) {
		t.Error("the layout does not link the favicon")
	}
}

func mergeKeys(a, b http.Header) map[string]bool {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	return keys
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
