package web

import "net/http"

// HeadAsGet answers HEAD like GET without the body: the router only knows
// GET routes, so a HEAD request runs the GET handler. net/http discards the
// body it writes for a HEAD request (and derives Content-Length from it
// when GET would send one), so status and headers are GET's. Wrap the
// outermost handler: every middleware then sees GET, as for the real page.
func HeadAsGet(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			get := r.WithContext(r.Context()) // a shallow copy; w keeps the HEAD request
			get.Method = http.MethodGet
			h.ServeHTTP(w, get)
			return
		}
		h.ServeHTTP(w, r)
	})
}
