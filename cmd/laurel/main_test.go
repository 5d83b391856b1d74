package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"

	"github.com/laurel-edu/laurel/canvas"
	"github.com/laurel-edu/laurel/internal/secret"
	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/moodle"
)

func TestMain(m *testing.M) {
	if args := os.Getenv(cliArgsEnv); args != "" {
		os.Exit(runAsLaurel(args))
	}
	os.Exit(testenv.Main(m))
}

// run runs the CLI in-process as an operator would, with stdin.
func run(t *testing.T, stdin string, args ...string) (stdout string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	m := &Main{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut}
	err = m.Run(context.Background(), args)
	m.Close()
	return out.String(), err
}

func storeEnv(t *testing.T) {
	t.Setenv("LAUREL_DATABASE_URL", testenv.DatabaseURL(t))
	t.Setenv("LAUREL_SECRET_KEY", secret.Generate())
}

func TestAdministrativeCommands(t *testing.T) {
	storeEnv(t)
	out, err := run(t, "s3cret-passphrase\n", "user", "add", "--email", "it@uni.example.edu", "--name", "IT Admin", "--role", "owner")
	if err != nil || !strings.Contains(out, "created user") || strings.Contains(out, "password:") {
		t.Fatalf("user add with a password on stdin = %q, %v; want created, no generated password", out, err)
	}
	// A password from the most common list is refused, saying why.
	if _, err := run(t, "Password123\n", "user", "add", "--email", "common@uni.example.edu", "--name", "Common", "--role", "viewer"); err == nil || !strings.Contains(err.Error(), "most common passwords") {
		t.Fatalf("user add with a common password: %v, want refused naming the list", err)
	}
	out, err = run(t, "", "user", "add", "--email", "tm@uni.example.edu", "--name", "Team Member", "--role", "team_member")
	if err != nil || !regexp.MustCompile(`(?m)^password: \S{12,}$`).MatchString(out) {
		t.Fatalf("user add without a password = %q, %v; want a generated password printed once", out, err)
	}
	if _, err := run(t, "", "user", "add", "--email", "it@uni.example.edu", "--name", "Again", "--role", "owner"); err == nil {
		t.Fatal("adding the same email twice succeeded")
	}

	tok, err := run(t, "", "token", "create", "--name", "sis-sync", "--role", "admin")
	if err != nil || !regexp.MustCompile(`^lrl_\S+\n$`).MatchString(tok) {
		t.Fatalf("token create printed %q (%v); want the token alone on stdout", tok, err)
	}

	id, err := run(t, "", "platform", "add", "--name", "Canvas", "--issuer", "https://canvas.instructure.com",
		"--client-id", "170000000000042", "--auth-url", "https://sso.canvaslms.com/api/lti/authorize_redirect",
		"--token-url", "https://sso.canvaslms.com/login/oauth2/token", "--jwks-url", "https://sso.canvaslms.com/api/lti/security/jwks",
		"--deployment-id", "1:abc", "--canvas-url", "https://uni.instructure.com", "--canvas-token", "7~secret")
	if err != nil || !regexp.MustCompile(`^\d+\n$`).MatchString(id) {
		t.Fatalf("platform add printed %q (%v); want its id alone on stdout", id, err)
	}
	list, err := run(t, "", "platform", "list")
	if err != nil || !strings.Contains(list, "170000000000042") || !strings.Contains(list, "https://uni.instructure.com") {
		t.Fatalf("platform list = %q, %v", list, err)
	}
	if strings.Contains(list, "7~secret") {
		t.Fatal("platform list shows the Canvas token")
	}
	// The Canvas flags land in package canvas's settings; the token opens.
	keys, err := secret.Parse(os.Getenv("LAUREL_SECRET_KEY"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := sqlx.Open("postgres", os.Getenv("LAUREL_DATABASE_URL"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	pid, _ := strconv.ParseInt(strings.TrimSpace(id), 10, 64)
	settings := canvas.NewPlatformSettings(d, keys)
	if st, err := settings.Settings(context.Background(), pid); err != nil || st.URL != "https://uni.instructure.com" || !st.HasToken {
		t.Fatalf("canvas settings of platform %d = %+v, %v", pid, st, err)
	}
	if tok, err := settings.Token(context.Background(), pid); err != nil || tok != "7~secret" {
		t.Fatalf("canvas token = %q, %v", tok, err)
	}

	// platform set: the Moodle web service, and the Canvas flags still work.
	out, err = run(t, "", "platform", "set", "--id", strconv.FormatInt(pid, 10), "--moodle-url", "https://moodle.uni.example.edu",
		"--moodle-token", "0123456789abcdef0123456789abcdef", "--canvas-url", "https://canvas.uni.example.edu")
	if err != nil || !strings.Contains(out, "updated") {
		t.Fatalf("platform set = %q, %v", out, err)
	}
	ms := moodle.NewPlatformSettings(d, keys)
	if st, err := ms.Settings(context.Background(), pid); err != nil || st.URL != "https://moodle.uni.example.edu" || !st.HasToken {
		t.Fatalf("moodle settings of platform %d = %+v, %v", pid, st, err)
	}
	if tok, err := ms.Token(context.Background(), pid); err != nil || tok != "0123456789abcdef0123456789abcdef" {
		t.Fatalf("moodle token = %q, %v", tok, err)
	}
	if st, err := settings.Settings(context.Background(), pid); err != nil || st.URL != "https://canvas.uni.example.edu" {
		t.Fatalf("canvas settings after platform set = %+v, %v", st, err)
	}
	if _, err := run(t, "", "platform", "set", "--id", strconv.FormatInt(pid, 10), "--moodle-url", "moodle.uni.example.edu"); err == nil || !strings.Contains(err.Error(), "moodle_url") {
		t.Fatalf("platform set with a relative Moodle URL: %v, want refused naming moodle_url", err)
	}
	if st, _ := ms.Settings(context.Background(), pid); st.URL != "https://moodle.uni.example.edu" {
		t.Fatalf("a refused platform set changed the Moodle URL to %q", st.URL)
	}
	if list, err := run(t, "", "platform", "list"); err != nil || strings.Contains(list, "0123456789abcdef0123456789abcdef") || !strings.Contains(list, "https://moodle.uni.example.edu") {
		t.Fatalf("platform list = %q, %v (shows the Moodle URL, never its token)", list, err)
	}

	out, err = run(t, "", "keys", "rotate")
	if err != nil || !strings.Contains(out, "new signing key") {
		t.Fatalf("keys rotate = %q, %v", out, err)
	}
	out, err = run(t, "", "keys", "rotate", "--credentials")
	if err != nil || !regexp.MustCompile(`^new credential keys ed-\d{8}-[0-9a-f]{12} \(Data Integrity\) and es-\d{8}-[0-9a-f]{12} \(VC-JWT\)`).MatchString(out) {
		t.Fatalf("keys rotate --credentials = %q, %v", out, err)
	}
	out, err = run(t, "", "migrate", "status")
	if err != nil || strings.Contains(out, "pending") || !strings.Contains(out, "applied") {
		t.Fatalf("migrate status = %q, %v; want every migration applied", out, err)
	}
}

func TestErrorsNameWhatIsWrong(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"unknown command", nil, []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"serve without database", map[string]string{"LAUREL_DATABASE_URL": ""}, []string{"serve"}, "LAUREL_DATABASE_URL is required"},
		{"serve with a short secret", map[string]string{"LAUREL_SECRET_KEY": "c2hvcnQ="}, []string{"serve"}, "LAUREL_SECRET_KEY is malformed"},
		{"serve without smtp", map[string]string{"LAUREL_SMTP_URL": ""}, []string{"serve"}, "LAUREL_SMTP_URL is required"},
		{"bad role", nil, []string{"user", "add", "--email", "a@b.edu", "--name", "A", "--role", "wizard"}, `role "wizard" is not one of`},
		{"missing flag", nil, []string{"token", "create", "--role", "admin"}, "--name and --role are required"},
		{"unknown flag", nil, []string{"token", "create", "--colour", "red"}, "flag provided but not defined: -colour"},
		{"bad mapping id", nil, []string{"reconcile", "--mapping", "x"}, `--mapping "x" is not a mapping id`},
		{"bad groups", nil, []string{"user", "add", "--email", "a@b.edu", "--name", "A", "--role", "team_member", "--groups", "1,x"}, `"x" is not a group id`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := map[string]string{
				"LAUREL_DATABASE_URL": "postgres://nobody@127.0.0.1:1/none", "LAUREL_REDIS_URL": "redis://127.0.0.1:1/0",
				"LAUREL_SMTP_URL": "smtp://127.0.0.1:1", "LAUREL_SECRET_KEY": secret.Generate(),
			}
			for k, v := range tt.env {
				base[k] = v
			}
			for k, v := range base {
				t.Setenv(k, v)
			}
			_, err := run(t, "", tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("laurel %v: error %v, want it to contain %q", tt.args, err, tt.want)
			}
			if line := oneLine(err.Error()); !strings.Contains(line, tt.want) {
				t.Fatalf("one-line form %q lost the reason", line)
			}
		})
	}
}

// `laurel platform link` prints a one-time registration link alone on
// stdout, stores only its hash, and honours --expires (default 24h);
// `platform add --deployment-id` restricts launches to the named deployment.
func TestPlatformLinkAndDeployments(t *testing.T) {
	storeEnv(t)
	dbURL := os.Getenv("LAUREL_DATABASE_URL")
	d, err := sqlx.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := run(t, "", "migrate", "up"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LAUREL_BASE_URL", "https://laurel.uni.example.edu")
	linkRE := regexp.MustCompile(`^https://laurel\.uni\.example\.edu/lti/register\?laurel_link=([A-Za-z0-9_-]{40,})\n$`)
	for _, tc := range []struct {
		args []string
		want time.Duration
	}{{nil, 24 * time.Hour}, {[]string{"--expires", "2h"}, 2 * time.Hour}} {
		before := time.Now()
		out, err := run(t, "", append([]string{"platform", "link"}, tc.args...)...)
		m := linkRE.FindStringSubmatch(out)
		if err != nil || m == nil {
			t.Fatalf("platform link %v printed %q (%v); want the link alone on stdout", tc.args, out, err)
		}
		var row struct {
			Hash    []byte    `db:"token_hash"`
			Expires time.Time `db:"expires_at"`
		}
		if err := d.Get(&row, `SELECT token_hash, expires_at FROM registration_links ORDER BY id DESC LIMIT 1`); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(row.Hash, []byte(m[1])) || len(row.Hash) != 32 {
			t.Fatalf("stored token_hash %x is not a hash of the link's token", row.Hash)
		}
		if got := row.Expires.Sub(before); got < tc.want-time.Minute || got > tc.want+time.Minute {
			t.Fatalf("platform link %v expires in %s, want %s", tc.args, got, tc.want)
		}
	}
	for _, bad := range []string{"0s", "1000h", "soon"} {
		if _, err := run(t, "", "platform", "link", "--expires", bad); err == nil || !strings.Contains(err.Error(), "expires") {
			t.Fatalf("platform link --expires %s: %v, want an error naming --expires", bad, err)
		}
	}

	id, err := run(t, "", "platform", "add", "--name", "Moodle", "--issuer", "https://moodle.uni.example.edu",
		"--client-id", "abc", "--auth-url", "https://moodle.uni.example.edu/mod/lti/auth.php",
		"--jwks-url", "https://moodle.uni.example.edu/mod/lti/certs.php", "--deployment-id", "7")
	if err != nil {
		t.Fatal(err)
	}
	var auto bool
	if err := d.Get(&auto, `SELECT auto_register_deployments FROM platforms WHERE id = $1`, strings.TrimSpace(id)); err != nil {
		t.Fatal(err)
	}
	if auto {
		t.Fatal("platform add --deployment-id left auto-registration of other deployments on")
	}
	id, err = run(t, "", "platform", "add", "--name", "Moodle 2", "--issuer", "https://moodle2.uni.example.edu",
		"--client-id", "abc", "--auth-url", "https://moodle2.uni.example.edu/mod/lti/auth.php",
		"--jwks-url", "https://moodle2.uni.example.edu/mod/lti/certs.php")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Get(&auto, `SELECT auto_register_deployments FROM platforms WHERE id = $1`, strings.TrimSpace(id)); err != nil {
		t.Fatal(err)
	}
	if !auto {
		t.Fatal("platform add without --deployment-id must record the first launch's deployment")
	}
}
