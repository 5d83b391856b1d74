package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
)

// The Content-Security-Policy of every response. Scripts come only from
// /static/ (no inline script, no eval); styles may be inline because the
// templates use <style> blocks and style attributes (style-src
// 'unsafe-inline' allows no script). Pages are not framed and forms post
// only here, unless AllowFraming names an LTI platform.
const cspBase = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'"

func csp(origins []string) string {
	if len(origins) == 0 {
		return cspBase + "; form-action 'self'; frame-ancestors 'none'"
	}
	o := strings.Join(origins, " ")
	return cspBase + "; form-action 'self' " + o + "; frame-ancestors " + o
}

// SecurityHeaders wraps the whole handler so every response, error pages
// written before gin runs included, carries: the Content-Security-Policy
// above with frame-ancestors 'none' (and X-Frame-Options DENY for old
// browsers), Referrer-Policy same-origin (launch tokens travel in URLs
// inside the LMS iframe and must not leak to outside links),
// X-Content-Type-Options nosniff, and HSTS when baseURL is https.
func SecurityHeaders(baseURL string, next http.Handler) http.Handler {
	hsts := strings.HasPrefix(strings.ToLower(baseURL), "https://")
	policy := csp(nil)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", policy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Content-Type-Options", "nosniff")
		if hsts {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// AllowFraming lets this response be framed by origins (scheme://host[:port],
// e.g. an LTI platform's) and lets its forms post to them (a deep-linking
// response goes back to the platform). Anything that is not an http(s)
// origin is dropped; with none left the page stays unframeable. Call it
// before the response is written.
func AllowFraming(c *gin.Context, origins ...string) {
	var ok []string
	seen := map[string]bool{}
	for _, o := range origins {
		if o = Origin(o); o != "" && !seen[o] {
			seen[o] = true
			ok = append(ok, o)
		}
	}
	if len(ok) == 0 {
		return
	}
	c.Header("Content-Security-Policy", csp(ok))
	c.Writer.Header().Del("X-Frame-Options")
}

// Origin returns scheme://host[:port] of an http(s) URL, or "".
func Origin(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.ContainsAny(u.Host, " ;,'\"*") {
		return ""
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host)
}
