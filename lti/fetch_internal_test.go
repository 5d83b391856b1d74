package lti

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPublicAddr(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"93.184.216.34", true}, {"2606:2800:220:1:248:1893:25c8:1946", true},
		{"127.0.0.1", false}, {"127.9.9.9", false}, {"::1", false}, {"10.1.2.3", false}, {"172.16.0.1", false},
		{"192.168.0.1", false}, {"169.254.169.254", false}, {"100.64.0.1", false}, {"0.0.0.0", false}, {"::", false},
		{"fd00::1", false}, {"fe80::1", false}, {"::ffff:127.0.0.1", false}, {"::ffff:10.0.0.1", false},
		{"64:ff9b::a00:1", false}, {"2002:a00:1::", false}, {"224.0.0.1", false}, {"255.255.255.255", false},
	} {
		if got := publicAddr(netip.MustParseAddr(tc.addr)); got != tc.ok {
			t.Errorf("publicAddr(%s) = %v, want %v", tc.addr, got, tc.ok)
		}
	}
}

// The rule holds at connect time, whatever the URL looked like (a public
// name that resolves to a private address, a redirect): the platform client
// never connects to a loopback address, nor speaks plain http, unless
// allowed.
func TestPlatformClientRefusesAtConnect(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("{}"))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	defer srv.Close()
	tool := &Tool{}
	tool.FetchTimeout = 5 * time.Second
	tool.HTTPClient = tool.newPlatformClient()
	tool.HTTPClient.Transport.(*schemeGuard).next.(*http.Transport).TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
	get := func(u string) error {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, u, nil)
		resp, err := tool.HTTPClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(srv.URL); !errors.Is(err, errAddressNotAllowed) || conns.Load() != 0 {
		t.Fatalf("loopback over https: %v, %d connections; want refused before connecting", err, conns.Load())
	}
	if err := get(strings.Replace(srv.URL, "https://", "http://", 1)); !errors.Is(err, errSchemeNotAllowed) || conns.Load() != 0 {
		t.Fatalf("plain http: %v", err)
	}
	// Allowed (laurel dev, LAUREL_ALLOW_HTTP_PLATFORMS): it connects.
	tool.AllowHTTPPlatforms = true
	if err := get(srv.URL + "/plain"); err != nil || conns.Load() == 0 {
		t.Fatalf("allowed: %v", err)
	}
}
