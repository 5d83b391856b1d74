package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/laurel-edu/laurel/internal/config"
	"github.com/laurel-edu/laurel/internal/devstack"
	"github.com/laurel-edu/laurel/internal/secret"
)

// dev runs the newcomer's sandbox: private servers under ./.laurel, a mail
// catcher, a seeded demo organisation and a Canvas sandbox platform.
func (m *Main) dev(ctx context.Context, args []string) error {
	fs := m.flags("dev")
	dataDir := fs.String("data", ".laurel", "directory for the private PostgreSQL and Redis data")
	migrate := fs.Bool("migrate", true, "apply pending migrations on start")
	port := fs.Int("port", 0, "serve on this port, with base URL http://localhost:PORT (default 8080, or LAUREL_LISTEN's port)")
	if err := parse(fs, args); err != nil {
		return err
	}
	dir, err := filepath.Abs(*dataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	// One laurel dev per data directory: a second one would stop the first's
	// PostgreSQL when it clears what it takes for a crashed run's leftovers.
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("lock %s: %w", dir, err)
	}
	m.onClose(func() { lock.Close() })
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return fmt.Errorf("another laurel dev is already running with its data in %s (stop it first, or use --data)", dir)
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	// The sandbox's platform runs on this machine over plain http.
	cfg.AllowHTTPPlatforms = true
	cfg.Listen = devListen(os.LookupEnv("LAUREL_LISTEN"))
	if err := devAddress(&cfg, *port, os.LookupEnv); err != nil {
		return err
	}
	if cfg.DatabaseURL == "" {
		pg, err := devstack.StartPostgres(ctx, filepath.Join(dir, "postgres"), "laurel", devstack.Options{Durable: true})
		if err != nil {
			return devMissing(err)
		}
		m.onClose(func() { _ = pg.Stop() })
		cfg.DatabaseURL = pg.URL
	}
	if cfg.RedisURL == "" {
		rd, err := devstack.StartRedis(ctx, filepath.Join(dir, "redis"), devstack.Options{Durable: true})
		if err != nil {
			return devMissing(err)
		}
		m.onClose(func() { _ = rd.Stop() })
		cfg.RedisURL = rd.URL
	}
	if cfg.SecretKey == "" {
		if cfg.SecretKey, err = devSecret(filepath.Join(dir, "secret.key")); err != nil {
			return err
		}
	}
	return m.devRun(ctx, dir, cfg, *migrate)
}

// devDefaultListen keeps the sandbox, whose /dev page shows the owner's
// password, on this machine unless LAUREL_LISTEN says otherwise.
const devDefaultListen = "127.0.0.1:8080"

// devListen is LAUREL_LISTEN when set, else devDefaultListen.
func devListen(value string, set bool) string {
	if set && strings.TrimSpace(value) != "" {
		return strings.TrimSpace(value)
	}
	return devDefaultListen
}

// loopbackOnly reports whether a listen address accepts connections from
// this machine only (127.0.0.0/8, ::1, localhost); ":8080" and "0.0.0.0:8080"
// listen on every interface.
func loopbackOnly(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		host = listen
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

func devMissing(err error) error {
	if errors.Is(err, devstack.ErrMissing) {
		return fmt.Errorf("laurel dev needs it: %w", err)
	}
	return err
}

// devSecret keeps the sandbox's secret key across runs, so data encrypted on
// one run still opens on the next.
func devSecret(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	key := secret.Generate()
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("save dev secret key: %w", err)
	}
	return key, nil
}

// devAddress makes the sandbox's listen address and base URL agree, so one
// setting moves both: --port N moves the listen address (devListen's, on
// its interface) to port N and the base URL to http://localhost:N;
// otherwise LAUREL_LISTEN set alone gives the base URL its port, and a local
// LAUREL_BASE_URL set alone gives the listen address its port. A base URL
// on another host (a tunnel or proxy in front) is kept as it is. lookup is
// os.LookupEnv.
func devAddress(cfg *config.Config, port int, lookup func(string) (string, bool)) error {
	_, baseSet := lookup("LAUREL_BASE_URL")
	_, listenSet := lookup("LAUREL_LISTEN")
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || base.Host == "" {
		return fmt.Errorf("LAUREL_BASE_URL is malformed: not a URL")
	}
	host, listenPort, err := net.SplitHostPort(cfg.Listen)
	if err != nil || listenPort == "" {
		return fmt.Errorf("LAUREL_LISTEN is malformed: want host:port or :port, got %q", cfg.Listen)
	}
	local := !baseSet || loopbackOnly(base.Hostname())
	setBasePort := func(p string) {
		if !local {
			return
		}
		if !baseSet {
			base = &url.URL{Scheme: "http", Host: "localhost"}
		}
		base.Host = net.JoinHostPort(base.Hostname(), p)
		cfg.BaseURL = strings.TrimRight(base.String(), "/")
	}
	switch {
	case port != 0:
		if port < 1 || port > 65535 {
			return fmt.Errorf("dev: --port %d is not a port (1 to 65535)", port)
		}
		p := strconv.Itoa(port)
		cfg.Listen = net.JoinHostPort(host, p)
		setBasePort(p)
	case listenSet && !baseSet:
		setBasePort(listenPort)
	case baseSet && !listenSet && local && base.Port() != "":
		cfg.Listen = net.JoinHostPort(host, base.Port())
	}
	return nil
}
