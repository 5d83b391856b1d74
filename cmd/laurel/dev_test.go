package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/laurel-edu/laurel/internal/browsertest"
	"github.com/laurel-edu/laurel/internal/testenv"
)

func TestDevListensOnLoopbackByDefault(t *testing.T) {
	if got := devListen("", false); got != "127.0.0.1:8080" {
		t.Errorf("laurel dev without LAUREL_LISTEN listens on %q, want 127.0.0.1:8080", got)
	}
	if got := devListen(":9000", true); got != ":9000" {
		t.Errorf("LAUREL_LISTEN=:9000 gives %q", got)
	}
	for listen, want := range map[string]bool{
		"127.0.0.1:8080": true, "localhost:8080": true, "[::1]:8080": true, "127.0.0.2:80": true,
		":8080": false, "0.0.0.0:8080": false, "[::]:8080": false, "192.0.2.2:8080": false, "laurel.example.edu:8080": false,
	} {
		if got := loopbackOnly(listen); got != want {
			t.Errorf("loopbackOnly(%q) = %v, want %v", listen, got, want)
		}
	}
}

// syncBuffer is the dev command's stdout, read while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runDev runs `laurel dev` in-process listening on listen until the test
// ends, and returns its data directory and stdout once it serves.
func runDev(t *testing.T, listen, base string) (dir string, out *syncBuffer) {
	t.Helper()
	dir = t.TempDir()
	t.Setenv("LAUREL_DATABASE_URL", testenv.DatabaseURL(t))
	t.Setenv("LAUREL_REDIS_URL", testenv.RedisURL(t))
	t.Setenv("LAUREL_LISTEN", listen)
	t.Setenv("LAUREL_BASE_URL", base)
	out = &syncBuffer{}
	m := &Main{Stdin: strings.NewReader(""), Stdout: out, Stderr: io.Discard}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, []string{"dev", "--data", dir}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("laurel dev: %v", err)
		}
		m.Close()
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if strings.Contains(out.String(), "Laurel is running") {
				return dir, out
			}
		}
		select {
		case err := <-done:
			t.Fatalf("laurel dev stopped: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("laurel dev did not come up: %v\n%s", err, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freeAddr(t *testing.T, host string) string {
	t.Helper()
	l, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func ownerPassword(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "owner-password"))
	if err != nil || len(bytes.TrimSpace(b)) < 8 {
		t.Fatalf("owner password file: %q, %v", b, err)
	}
	return string(bytes.TrimSpace(b))
}

// On loopback, /dev shows the password (only this machine can read it) and
// the sandbox is not reachable on the machine's other addresses.
func TestDevOnLoopbackShowsPasswordToThisMachineOnly(t *testing.T) {
	addr := freeAddr(t, "127.0.0.1")
	dir, out := runDev(t, addr, "http://"+addr)
	pw := ownerPassword(t, dir)
	if !strings.Contains(out.String(), "listening on:    "+addr+" (this machine only") {
		t.Errorf("start-up does not say it listens on loopback only:\n%s", out.String())
	}
	if page := get(t, "http://"+addr+"/dev"); !strings.Contains(page, pw) {
		t.Errorf("/dev on loopback does not show the owner's password")
	}
	_, port, _ := net.SplitHostPort(addr)
	for _, ip := range nonLoopbackIPs(t) {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(ip, port), time.Second)
		if err == nil {
			c.Close()
			t.Errorf("the loopback sandbox accepts connections on %s", ip)
		}
	}
}

// Listening on every interface, /dev must not show the password: the
// terminal has it.
func TestDevOnEveryInterfaceHidesPassword(t *testing.T) {
	addr := freeAddr(t, "127.0.0.1")
	_, port, _ := net.SplitHostPort(addr)
	dir, out := runDev(t, "0.0.0.0:"+port, "http://"+addr)
	pw := ownerPassword(t, dir)
	page := get(t, "http://"+addr+"/dev")
	if strings.Contains(page, pw) {
		t.Fatal("/dev shows the owner's password while the sandbox listens on every interface")
	}
	if !strings.Contains(page, "printed in the terminal") {
		t.Errorf("/dev does not say where the password is:\n%s", page)
	}
	if !strings.Contains(out.String(), pw) || !strings.Contains(out.String(), "EVERY interface") {
		t.Errorf("the terminal should show the password and warn about every interface:\n%s", out.String())
	}
}

func nonLoopbackIPs(t *testing.T) []string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			out = append(out, n.IP.String())
		}
	}
	if len(out) == 0 {
		t.Fatal("this machine has no non-loopback IPv4 address to check the loopback binding against")
	}
	return out
}

// TestDevSandboxLaunchUnderCSP launches Laurel from the sandbox's simulated
// Canvas in Chromium: the simulator (which shares Laurel's address in the
// sandbox) keeps its own scripts, Laurel's pages in its iframe are framed
// by the platform's origin, and the teacher gets the mapping form with no
// CSP violation reported.
func TestDevSandboxLaunchUnderCSP(t *testing.T) {
	addr := freeAddr(t, "127.0.0.1")
	runDev(t, addr, "http://"+addr)
	b := browsertest.New(t, browsertest.Options{})
	violations := browsertest.WatchCSP(t, b)
	ctx, cancel := context.WithTimeout(b, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+addr+"/dev"), chromedp.Click(chromedp.CSS("#launch-2001"))); err != nil {
		t.Fatal(err)
	}
	const mapped = `(function () {
  var f = document.getElementById("tool_content");
  var d = f && f.contentDocument;
  return !!(d && d.querySelector('form[action="/lti/app/map"]'));
})()`
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](mapped))
		if err == nil && ok {
			break
		}
		if ctx.Err() != nil {
			html, _ := chromedp.Run(b, chromedp.Evaluate[string](`(function(){var f=document.getElementById("tool_content");return f&&f.contentDocument?f.contentDocument.body.innerHTML:document.body.innerHTML})()`))
			t.Fatalf("the teacher's launch did not show the mapping form: %v\n%.2000s\nCSP violations: %v", err, html, violations())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if v := violations(); len(v) > 0 {
		t.Errorf("CSP violations during the sandbox launch: %v", v)
	}
}
