package lti

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Every URL Laurel fetches from a platform (Dynamic Registration's
// configuration and registration endpoints, the platform's JWKS, its token
// and service endpoints) was given by someone outside the server: an owner, or
// a platform during registration. So each fetch is held to one rule, checked
// on every connection and every redirect: https only, and never a loopback,
// private, link-local or otherwise non-public address — unless the operator
// allows plain http and private addresses for a test installation
// (LAUREL_ALLOW_HTTP_PLATFORMS, and always in `laurel dev`). What a platform
// answers is bounded in size (platformFetchLimit; a roster page, which lists
// a whole course, 16 MiB) and time (FetchTimeout).

// platformFetchLimit bounds the body Laurel reads from a platform.
const platformFetchLimit = 1 << 20

// maxPlatformRedirects bounds the redirects of one platform fetch.
const maxPlatformRedirects = 3

// errAddressNotAllowed is the dial-time refusal of a non-public address.
var errAddressNotAllowed = errors.New("address not allowed for platform fetches")

// errSchemeNotAllowed refuses plain http when it is not allowed.
var errSchemeNotAllowed = errors.New("only https is allowed for platform fetches")

// nonPublic are the IPv4 and IPv6 ranges no platform fetch may reach (beyond
// what netip.Addr's own predicates cover).
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"), // NAT64 onto any IPv4, private included
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2002::/16"), // 6to4 onto any IPv4
	netip.MustParsePrefix("fc00::/7"),
}

// publicAddr reports whether a is an address a platform fetch may reach.
func publicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsUnspecified() || a.IsLinkLocalUnicast() ||
		a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() || a.IsMulticast() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// allowHTTP reports whether plain http and non-public addresses are allowed.
func (t *Tool) allowHTTP() bool { return t.AllowHTTPPlatforms }

// checkPlatformURL applies the fetch rule to a URL before any connection, so
// a refused URL is named clearly: an absolute https URL whose host is not
// "localhost" nor a non-public IP literal (the resolved address is checked
// again when connecting). field names the URL in the message.
func (t *Tool) checkPlatformURL(field, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Hostname() == "" || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil {
		return nil, fmt.Errorf("%s is not an absolute https URL", field)
	}
	if t.allowHTTP() {
		return u, nil
	}
	if u.Scheme != "https" {
		return nil, fmt.Errorf("%s must use https (plain http is allowed only in laurel dev or with LAUREL_ALLOW_HTTP_PLATFORMS=true)", field)
	}
	h := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return nil, fmt.Errorf("%s points at this machine (localhost), which is allowed only in laurel dev or with LAUREL_ALLOW_HTTP_PLATFORMS=true", field)
	}
	if a, err := netip.ParseAddr(h); err == nil && !publicAddr(a) {
		return nil, fmt.Errorf("%s points at a loopback or private address, which is allowed only in laurel dev or with LAUREL_ALLOW_HTTP_PLATFORMS=true", field)
	}
	return u, nil
}

// newPlatformClient is the HTTP client of every platform fetch: no proxy
// (which would connect on our behalf, past the address check), the address
// checked on the resolved IP of each connection (so a name that resolves to
// a private address, or a redirect to one, is refused too), https enforced on
// each request including redirects, and at most maxPlatformRedirects
// redirects.
func (t *Tool) newPlatformClient() *http.Client { return t.NewPlatformClient(t.FetchTimeout) }

// NewPlatformClient returns a client that holds to the platform fetch rule
// with its own overall timeout, for other features that call a platform's
// URLs (package canvas: the Canvas REST API at the platform's Canvas URL).
func (t *Tool) NewPlatformClient(timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second, Control: t.dialControl}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          50,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 10 * time.Second,
	}
	return &http.Client{
		Transport: &schemeGuard{t: t, next: tr},
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxPlatformRedirects {
				return fmt.Errorf("more than %d redirects", maxPlatformRedirects)
			}
			if sameHostOnly(req.Context()) && !strings.EqualFold(req.URL.Host, via[0].URL.Host) {
				return errors.New("redirect to another host")
			}
			return nil
		},
	}
}

func (t *Tool) dialControl(network, address string, _ syscall.RawConn) error {
	if t.allowHTTP() {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !publicAddr(ap.Addr()) {
		return errAddressNotAllowed
	}
	return nil
}

// schemeGuard refuses plain http on every request (the first and each
// redirect) unless allowed.
type schemeGuard struct {
	t    *Tool
	next http.RoundTripper
}

func (g *schemeGuard) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme != "https" && !g.t.allowHTTP() {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, errSchemeNotAllowed
	}
	return g.next.RoundTrip(r)
}

type sameHostKey struct{}

// withSameHost makes redirects of requests under ctx stay on the first
// request's host (Dynamic Registration: the configuration and registration
// endpoints belong to the platform that opened the registration).
func withSameHost(ctx context.Context) context.Context {
	return context.WithValue(ctx, sameHostKey{}, true)
}

func sameHostOnly(ctx context.Context) bool {
	v, _ := ctx.Value(sameHostKey{}).(bool)
	return v
}

// errTooLarge is a platform answer beyond platformFetchLimit.
var errTooLarge = fmt.Errorf("answer larger than %d bytes", platformFetchLimit)

// readLimited reads a platform's answer, refusing one larger than
// platformFetchLimit rather than cutting it.
func readLimited(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, platformFetchLimit+1))
	if err != nil {
		return nil, err
	}
	if len(b) > platformFetchLimit {
		return nil, errTooLarge
	}
	return b, nil
}
