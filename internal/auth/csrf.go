package auth

import (
	"net/http"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/web"
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

// denyCrossOrigin answers through the HTML error page's renderer (it runs
// outside gin, so web.ServeError).
func denyCrossOrigin(w http.ResponseWriter, r *http.Request) {
	from := r.Header.Get("Origin")
	if from == "" {
		from = "a " + r.Header.Get("Sec-Fetch-Site") + " page"
	}
	web.ServeError(w, r, apperr.Errorf(apperr.Forbidden, "This form was sent from another site (%s): cross-origin request refused, to protect your account. Nothing was changed. If you meant to do this, open Laurel directly and submit the form again.", from))
}
