package lti_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func mustQuery(t testing.TB, u string) url.Values {
	t.Helper()
	p, err := url.Parse(u)
	must(t, err)
	return p.Query()
}

// assertRefused checks the refused-launch page: status, the reason code and
// (when given) a fragment of the message; never a stack trace.
func assertRefused(t testing.TB, resp *http.Response, status int, reason, fragment string) {
	t.Helper()
	body := readBody(t, resp)
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d (reason %s): %s", resp.StatusCode, status, reason, body)
	}
	d := dataAttrs(body)
	if d["reason"] != reason {
		t.Fatalf("reason = %q, want %q: %s", d["reason"], reason, body)
	}
	if fragment != "" && !strings.Contains(htmlUnescape(body), fragment) {
		t.Fatalf("message lacks %q: %s", fragment, body)
	}
	if strings.Contains(body, "goroutine") || strings.Contains(body, ".go:") {
		t.Fatalf("refused page shows a stack trace: %s", body)
	}
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
