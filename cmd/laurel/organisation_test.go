package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"
)

// TestOrganisationSet: `laurel organisation set` names a fresh
// installation's organisation with the page's validation (one message per
// flag, named), keeps the values of flags not given, and stores a logo file.
func TestOrganisationSet(t *testing.T) {
	storeEnv(t)
	d, err := sqlx.Open("postgres", os.Getenv("LAUREL_DATABASE_URL"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// A fresh installation: not named (test databases start named).
	if _, err := d.Exec(`UPDATE organisation SET named_at = NULL`); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "", "organisation", "set", "--website", "https://www.example.edu"); err == nil || !strings.Contains(err.Error(), "--name is required") {
		t.Fatalf("without --name: %v", err)
	}
	_, err = run(t, "", "organisation", "set", "--name", " ", "--website", "example.edu", "--contact-email", "nobody")
	if err == nil || !strings.Contains(err.Error(), "--name: Enter your organisation's name") ||
		!strings.Contains(err.Error(), "--website: The website must be a full address") || !strings.Contains(err.Error(), "--contact-email: ") {
		t.Fatalf("bad flags: %v", err)
	}
	if _, err := run(t, "", "organisation", "set", "--name", "U", "--logo", "/nonexistent.png"); err == nil || !strings.Contains(err.Error(), "--logo") {
		t.Fatalf("missing logo file: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "logo.txt")
	if err := os.WriteFile(bad, []byte("not an image"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "", "organisation", "set", "--name", "U", "--logo", bad); err == nil || !strings.Contains(err.Error(), "--logo: The logo") {
		t.Fatalf("a logo that is not an image: %v", err)
	}
	var named bool
	if err := d.Get(&named, `SELECT named_at IS NOT NULL FROM organisation`); err != nil || named {
		t.Fatalf("named after refused commands: %v, %v", named, err)
	}

	logo := filepath.Join(t.TempDir(), "logo.svg")
	if err := os.WriteFile(logo, []byte(devLogo), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "", "organisation", "set", "--name", "University of Example", "--website", "https://www.example.edu",
		"--contact-email", "registry@example.edu", "--logo", logo)
	if err != nil || !strings.Contains(out, "organisation: University of Example") || !strings.Contains(out, "/organisation/logo?v=") {
		t.Fatalf("organisation set = %q, %v", out, err)
	}
	if _, err := run(t, "", "organisation", "set", "--name", "University of Example, Registry"); err != nil {
		t.Fatal(err)
	}
	// Once named, the time zone is set alone; a bad one is named by its flag.
	if _, err := run(t, "", "organisation", "set", "--time-zone", "Europe/Atlantis"); err == nil || !strings.Contains(err.Error(), `--time-zone: "Europe/Atlantis" is not a time zone`) {
		t.Fatalf("bad --time-zone: %v", err)
	}
	if out, err := run(t, "", "organisation", "set", "--time-zone", "Europe/Paris"); err != nil || !strings.Contains(out, "time zone: Europe/Paris") {
		t.Fatalf("--time-zone = %q, %v", out, err)
	}
	m := &Main{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard}
	defer m.Close()
	a, err := m.openStore(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	o, err := a.Issuance.Organisation(context.Background())
	if err != nil || !o.Named || o.Name != "University of Example, Registry" || o.Website != "https://www.example.edu" ||
		o.ContactEmail != "registry@example.edu" || o.LogoType != "image/svg+xml" || o.TimeZone != "Europe/Paris" {
		t.Fatalf("organisation after set: %+v, %v", o, err)
	}
}
