package insight

import (
	"net/http"
	"strings"

	"github.com/laurel-edu/laurel/internal/web"
)

// The counting rule, as docs/insight.md states it. A request counts when
//   - it is a GET (a HEAD never counts, also when the router answers it
//     as a GET),
//   - it carries none of the prefetch headers browsers send when they
//     fetch a page nobody asked to see yet (Purpose: prefetch,
//     Sec-Purpose: prefetch or prefetch;prerender, X-Moz: prefetch), and
//   - its user agent matches none of the patterns below: link-preview
//     fetchers of chat and social sites, search engines, and for what a
//     person opens (page, downloads, clicks) command-line HTTP clients too.
//     A request without a user agent is not a browser either.
//
// Verifier fetches of the Open Badges documents (/c/:id.json, .jwt) are
// made by programs, so for them the command-line clients count.

// crawlers are the user agents that never count: substrings of the
// lower-cased user agent (strings.Contains is a few hundred nanoseconds
// for the whole list; a regular expression was a hundred times that).
var crawlers = []string{"slackbot", "slack-imgproxy", "facebookexternalhit", "facebookcatalog", "twitterbot", "linkedinbot",
	"whatsapp", "discordbot", "telegrambot", "googlebot", "google-inspectiontool", "googleother", "bingbot", "applebot",
	"baiduspider", "duckduckbot", "embedly", "mastodon", "bot", "crawler", "spider", "preview"}

// programs are the user agents of HTTP libraries and command-line clients
// (prefixes of the lower-cased user agent): not a person opening a page,
// but possibly a verifier.
var programs = []string{"curl", "wget", "python-requests", "python-urllib", "go-http-client", "java/", "okhttp", "node-fetch",
	"undici", "axios", "libwww-perl", "httpie"}

func crawler(ua string) bool {
	for _, c := range crawlers {
		if strings.Contains(ua, c) {
			return true
		}
	}
	return false
}

func program(ua string) bool {
	for _, p := range programs {
		if strings.HasPrefix(ua, p) {
			return true
		}
	}
	return false
}

// prefetch reports whether r says it is a prefetch or prerender.
func prefetch(r *http.Request) bool {
	for _, h := range []string{"Purpose", "Sec-Purpose", "X-Moz", "X-Purpose"} {
		if strings.Contains(strings.ToLower(r.Header.Get(h)), "prefetch") ||
			strings.Contains(strings.ToLower(r.Header.Get(h)), "prerender") || strings.EqualFold(r.Header.Get(h), "preview") {
			return true
		}
	}
	return false
}

// Human reports whether r counts as a person opening or clicking
// something: a GET, not a prefetch, from a user agent that is neither a
// crawler, a link previewer nor a command-line client.
func Human(r *http.Request) bool {
	ua := strings.ToLower(r.UserAgent())
	return countable(r) && ua != "" && !crawler(ua) && !program(ua)
}

// Verifier reports whether r counts as a verifier fetching a signed
// credential: a GET, not a prefetch, not a crawler or link previewer.
func Verifier(r *http.Request) bool {
	return countable(r) && !crawler(strings.ToLower(r.UserAgent()))
}

func countable(r *http.Request) bool {
	return r.Method == http.MethodGet && !web.IsHead(r) && !prefetch(r)
}
