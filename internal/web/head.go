package web

import (
	"context"
	"net/http"
)

// HeadAsGet answers HEAD like GET without the body: the router only knows
// GET routes, so a HEAD request runs the GET handler. net/http discards the
// body it writes for a HEAD request (and derives Content-Length from it
// when GET would send one), so status and headers are GET's. Wrap the
// outermost handler: every middleware then sees GET, as for the real page.
// IsHead still tells the handler it was a HEAD (engagement counting skips
// those).
func HeadAsGet(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			get := r.WithContext(context.WithValue(r.Context(), headKey{}, true)) // a shallow copy; w keeps the HEAD request
			get.Method = http.MethodGet
			h.ServeHTTP(w, get)
			return
		}
		h.ServeHTTP(w, r)
	})
}

type headKey struct{}

// IsHead reports whether r is a HEAD request, also after HeadAsGet made
// it look like a GET.
func IsHead(r *http.Request) bool {
	if r.Method == http.MethodHead {
		return true
	}
	v, _ := r.Context().Value(headKey{}).(bool)
	return v
}
