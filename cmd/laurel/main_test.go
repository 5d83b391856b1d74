package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/secret"
	"github.com/laurel-edu/laurel/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

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
