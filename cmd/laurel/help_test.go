package main

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/config"
)

// `laurel help`, `laurel <command> --help` and `laurel help <command>` list
// the commands and a command's flags on stdout and succeed.
func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"help"}, []string{"commands:", "dev [--port N]", "user add --email E", "platform link", "keys rotate"}},
		{[]string{"--help"}, []string{"commands:", "serve [--workers=false]"}},
		{[]string{"user", "--help"}, []string{"usage: laurel user <subcommand>", "user add --email E --name N --role"}},
		{[]string{"platform", "-h"}, []string{"platform add", "platform set --id ID", "--moodle-token TOKEN", "platform list", "platform link"}},
		{[]string{"organisation", "set", "--help"}, []string{"usage: laurel organisation set", "--name string", "--website string", "--contact-email string", "--logo string", "--time-zone string"}},
		{[]string{"user", "add", "--help"}, []string{"usage: laurel user add", "flags:", "--email string", "--name string", "--role string", "--groups string"}},
		{[]string{"help", "user", "add"}, []string{"usage: laurel user add", "--email string"}},
		{[]string{"token", "create", "-h"}, []string{"--name string", "--role string"}},
		{[]string{"dev", "--help"}, []string{"--port int", "--data string", "(default .laurel)", "--migrate"}},
		{[]string{"serve", "--help"}, []string{"--workers", "--migrate"}},
		{[]string{"platform", "link", "--help"}, []string{"--expires duration", "(default 24h0m0s)"}},
		{[]string{"migrate", "--help"}, []string{"migrate [up|status]"}},
		{[]string{"keys", "rotate", "--help"}, []string{"keys rotate"}},
	} {
		out, err := run(t, "", tc.args...)
		if err != nil {
			t.Errorf("laurel %s: %v, want success", strings.Join(tc.args, " "), err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("laurel %s printed\n%s\nwithout %q", strings.Join(tc.args, " "), out, w)
			}
		}
	}
	// Incomplete or unknown commands still fail, naming what is wrong.
	if _, err := run(t, "", "user"); err == nil || !strings.Contains(err.Error(), "user: missing subcommand") {
		t.Errorf("laurel user: %v, want a missing subcommand error", err)
	}
	if _, err := run(t, "", "frobnicate", "--help"); err == nil || !strings.Contains(err.Error(), `unknown command "frobnicate"`) {
		t.Errorf("laurel frobnicate --help: %v", err)
	}
}

// `laurel dev --port N` (or LAUREL_LISTEN alone, or a local LAUREL_BASE_URL
// alone) moves the listen address and the base URL together.
func TestDevAddress(t *testing.T) {
	for _, tc := range []struct {
		name       string
		env        map[string]string
		port       int
		listen     string
		base       string
		errContain string
	}{
		{"defaults", nil, 0, "127.0.0.1:8080", "http://localhost:8080", ""},
		{"--port", nil, 8099, "127.0.0.1:8099", "http://localhost:8099", ""},
		{"--port with a local base URL set", map[string]string{"LAUREL_BASE_URL": "http://127.0.0.1:8080"}, 8099, "127.0.0.1:8099", "http://127.0.0.1:8099", ""},
		{"--port keeps LAUREL_LISTEN's interface", map[string]string{"LAUREL_LISTEN": "127.0.0.1:8080"}, 8099, "127.0.0.1:8099", "http://localhost:8099", ""},
		{"--port keeps a tunnel's base URL", map[string]string{"LAUREL_BASE_URL": "https://laurel-dev.example.org"}, 8099, "127.0.0.1:8099", "https://laurel-dev.example.org", ""},
		{"--port keeps LAUREL_LISTEN on every interface", map[string]string{"LAUREL_LISTEN": ":8080"}, 8099, ":8099", "http://localhost:8099", ""},
		{"LAUREL_LISTEN alone", map[string]string{"LAUREL_LISTEN": ":9000"}, 0, ":9000", "http://localhost:9000", ""},
		{"local LAUREL_BASE_URL alone", map[string]string{"LAUREL_BASE_URL": "http://localhost:9001"}, 0, "127.0.0.1:9001", "http://localhost:9001", ""},
		{"both set: as given", map[string]string{"LAUREL_LISTEN": ":9000", "LAUREL_BASE_URL": "http://localhost:9001"}, 0, ":9000", "http://localhost:9001", ""},
		{"bad port", nil, 70000, "", "", "--port 70000 is not a port"},
		{"bad LAUREL_LISTEN", map[string]string{"LAUREL_LISTEN": "9000"}, 0, "", "", "LAUREL_LISTEN is malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			// As config.Load reads them: the variables, or their defaults.
			cfg := config.Config{Listen: devListen(lookup("LAUREL_LISTEN")), BaseURL: "http://localhost:8080"}
			if v, ok := lookup("LAUREL_BASE_URL"); ok {
				cfg.BaseURL = v
			}
			err := devAddress(&cfg, tc.port, lookup)
			if tc.errContain != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errContain) {
					t.Fatalf("error %v, want %q", err, tc.errContain)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Listen != tc.listen || cfg.BaseURL != tc.base {
				t.Fatalf("listen %q base %q, want %q %q", cfg.Listen, cfg.BaseURL, tc.listen, tc.base)
			}
		})
	}
}

// `laurel dev` seeds a demo university as the issuer, once.
func TestDevSeedsDemoUniversity(t *testing.T) {
	storeEnv(t)
	ctx := context.Background()
	m := &Main{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard}
	defer m.Close()
	a, err := m.openStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for range 2 {
		if _, err := devSeed(ctx, a, dir); err != nil {
			t.Fatal(err)
		}
	}
	o, err := a.Issuance.Organisation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if o.Name != "Example State University" || o.Website == "" || o.ContactEmail == "" || o.SenderName == "" || o.LogoType != "image/svg+xml" {
		t.Fatalf("demo organisation %+v", o)
	}
	var groups int
	if err := a.DB.Get(&groups, `SELECT count(*) FROM groups`); err != nil || groups != 1 {
		t.Fatalf("%d groups after seeding twice (%v), want 1", groups, err)
	}
}
