package auth

import (
	"html/template"
	"net/http"
)

// CSRF refuses cross-origin state-changing browser requests (by
// Sec-Fetch-Site, else Origin vs Host) with a 403 page. LTI login/launch,
// webhooks and the Bearer-token API are cross-site by design and bypass it:
// each is protected by its own checks (signed id_token and state, signed
// events, tokens that a browser never sends on its own).
func CSRF(h http.Handler) http.Handler {
	p := http.NewCrossOriginProtection()
	for _, pat := range []string{"/lti/", "/webhooks/", "/api/"} {
		p.AddInsecureBypassPattern(pat)
	}
	p.SetDenyHandler(http.HandlerFunc(denyCrossOrigin))
	return p.Handler(h)
}

var denyPage = template.Must(template.New("deny").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>403 Forbidden · Laurel</title>
<style>body{font:15px/1.5 system-ui,sans-serif;color:#1d2733;background:#f6f8fa;margin:0}main{max-width:640px;margin:3rem auto;background:#fff;border:1px solid #d6dde4;border-radius:6px;padding:1rem 1.4rem}h1{color:#b3261e;font-size:1.3rem}</style>
</head><body><main role="alert"><h1>403 Forbidden: cross-origin request refused</h1>
<p>This form was sent from another site ({{.}}), so Laurel refused it to protect your account. Nothing was changed.</p>
<p>If you meant to do this, open Laurel directly and submit the form again.</p></main></body></html>`))

func denyCrossOrigin(w http.ResponseWriter, r *http.Request) {
	from := r.Header.Get("Origin")
	if from == "" {
		from = "a " + r.Header.Get("Sec-Fetch-Site") + " page"
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusForbidden)
	_ = denyPage.Execute(w, from)
}
