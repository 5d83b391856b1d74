package canvas_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pressly/goose/v3"

	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/migrations"
)

// Migration 0012 on a database where the LTI tables still hold Canvas's
// settings: every platform's Canvas URL and sealed token land in
// canvas_platform_settings (next to a webhook secret already there), the
// token still decrypts, the LTI endpoints stay, and every Canvas user id
// lti_users knew is in canvas_users. Rolled back and re-applied, nothing is
// lost either way.
func TestMigrationCanvasSettingsSurvive(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	p, err := goose.NewProvider(goose.DialectPostgres, e.db.DB, migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 11); err != nil {
		t.Fatalf("down to before 0012: %v", err)
	}
	mustExec := func(q string, args ...any) {
		t.Helper()
		if _, err := e.db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	type platform struct {
		name, issuer, auth, token, jwks, canvasURL, apiToken string
		id                                                   int64
	}
	plats := []*platform{
		{name: "Instructure prod", issuer: "https://canvas.instructure.com", auth: "https://sso.canvaslms.com/api/lti/authorize_redirect",
			token: "https://sso.canvaslms.com/login/oauth2/token", jwks: "https://sso.canvaslms.com/api/lti/security/jwks",
			canvasURL: "https://school.instructure.com", apiToken: "7~prod-token-éü-0001"},
		{name: "Instructure beta", issuer: "https://canvas.beta.instructure.com", auth: "https://sso.beta.canvaslms.com/api/lti/authorize_redirect",
			token: "https://sso.beta.canvaslms.com/login/oauth2/token", jwks: "https://sso.beta.canvaslms.com/api/lti/security/jwks",
			canvasURL: "https://school.beta.instructure.com"},
		{name: "Self-hosted", issuer: "https://canvas.state.edu", auth: "https://canvas.state.edu/api/lti/authorize_redirect",
			jwks: "https://canvas.state.edu/api/lti/security/jwks", apiToken: "7~token-without-url"},
		{name: "Moodle", issuer: "https://moodle.example.org", auth: "https://moodle.example.org/auth", jwks: "https://moodle.example.org/jwks"},
	}
	for i, pl := range plats {
		var sealed []byte
		if err := e.db.Get(&pl.id, `INSERT INTO platforms (name, issuer, client_id, auth_url, token_url, jwks_url, canvas_url)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, pl.name, pl.issuer, "client-"+itoa(int64(i)), pl.auth, pl.token, pl.jwks, pl.canvasURL); err != nil {
			t.Fatal(err)
		}
		if pl.apiToken != "" {
			sealed = e.keys.Seal([]byte(pl.apiToken), "canvas-token:"+itoa(pl.id))
			mustExec(`UPDATE platforms SET canvas_token_enc = $2 WHERE id = $1`, pl.id, sealed)
		}
	}
	// The simulator's platform came back from 0012's Down with its URL and
	// token; it also has a webhook secret, which must stay beside them.
	sim := &platform{name: "Sim Canvas", canvasURL: e.canvas.URL(), apiToken: canvasToken}
	if err := e.svc.SetWebhookSecret(ctx, e.platform.ID, "shared-secret-0123456789"); err != nil {
		t.Fatal(err)
	}
	var secretBefore []byte
	if err := e.db.Get(&secretBefore, `SELECT webhook_secret_enc FROM canvas_platform_settings WHERE platform_id = $1`, e.platform.ID); err != nil {
		t.Fatal(err)
	}
	sim.id = e.platform.ID
	plats = append(plats, sim)

	prod, self := plats[0].id, plats[2].id
	insertUser := func(platformID int64, sub, name, email, canvasID, at string) {
		t.Helper()
		mustExec(`INSERT INTO lti_users (platform_id, sub, name, email, canvas_user_id, first_launch_at, last_launch_at)
			VALUES ($1, $2, $3, $4, $5, $6, $6)`, platformID, sub, name, email, canvasID, at)
	}
	// Known only to lti_users (launched before canvas_users existed).
	insertUser(prod, "sub-ana", "Ana Lima", "ana@school.edu", "101", "2026-01-10T10:00:00Z")
	// Known to both: canvas_users keeps its values and gains the email it lacked.
	mustExec(`INSERT INTO canvas_users (platform_id, canvas_user_id, sub, name, email) VALUES ($1, '102', 'sub-ben', 'Ben (from roster)', '')`, prod)
	insertUser(prod, "sub-ben", "Ben B.", "ben@school.edu", "102", "2026-01-11T10:00:00Z")
	// Two subs named the same Canvas user: the later launch wins.
	insertUser(self, "sub-old", "Old Name", "old@state.edu", "7", "2026-01-01T10:00:00Z")
	insertUser(self, "sub-new", "New Name", "new@state.edu", "7", "2026-02-01T10:00:00Z")
	// No Canvas id (another LMS): nothing to move.
	insertUser(plats[3].id, "sub-moodle", "Mo", "mo@example.org", "", "2026-01-05T10:00:00Z")

	if _, err := db.Migrate(ctx, e.db.DB); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		settings := e.svc.PlatformSettings()
		for _, pl := range plats {
			st, err := settings.Settings(ctx, pl.id)
			if err != nil {
				t.Fatal(err)
			}
			if st.URL != pl.canvasURL || st.HasToken != (pl.apiToken != "") {
				t.Errorf("%s: %s settings = %+v, want URL %q token %v", when, pl.name, st, pl.canvasURL, pl.apiToken != "")
			}
			if pl.apiToken != "" {
				if tok, err := settings.Token(ctx, pl.id); err != nil || tok != pl.apiToken {
					t.Errorf("%s: %s token = %q, %v; want %q", when, pl.name, tok, err, pl.apiToken)
				}
			}
			if pl.issuer == "" {
				continue
			}
			got, err := e.registry.Platform(ctx, pl.id)
			if err != nil {
				t.Fatal(err)
			}
			if got.Issuer != pl.issuer || got.AuthURL != pl.auth || got.TokenURL != pl.token || got.JWKSURL != pl.jwks {
				t.Errorf("%s: %s endpoints = %+v", when, pl.name, got)
			}
		}
		var secretAfter []byte
		if err := e.db.Get(&secretAfter, `SELECT webhook_secret_enc FROM canvas_platform_settings WHERE platform_id = $1`, e.platform.ID); err != nil {
			t.Fatal(err)
		}
		if string(secretAfter) != string(secretBefore) {
			t.Errorf("%s: the webhook secret changed", when)
		}
		type cu struct {
			Platform int64  `db:"platform_id"`
			ID       string `db:"canvas_user_id"`
			Sub      string `db:"sub"`
			Name     string `db:"name"`
			Email    string `db:"email"`
		}
		var users []cu
		if err := e.db.Select(&users, `SELECT platform_id, canvas_user_id, sub, name, email FROM canvas_users
			WHERE platform_id IN ($1, $2) ORDER BY platform_id, canvas_user_id`, prod, self); err != nil {
			t.Fatal(err)
		}
		want := []cu{
			{prod, "101", "sub-ana", "Ana Lima", "ana@school.edu"},
			{prod, "102", "sub-ben", "Ben (from roster)", "ben@school.edu"},
			{self, "7", "sub-new", "New Name", "new@state.edu"},
		}
		if diff := cmp.Diff(want, users); diff != "" {
			t.Errorf("%s: canvas users (-want +got):\n%s", when, diff)
		}
		if n := e.count(`SELECT count(*) FROM lti_users`); n != 5 {
			t.Errorf("%s: %d lti users, want all 5 kept", when, n)
		}
		if n := e.count(`SELECT count(*) FROM information_schema.columns
			WHERE (table_name = 'platforms' AND column_name IN ('canvas_url', 'canvas_token_enc'))
			   OR (table_name = 'lti_users' AND column_name = 'canvas_user_id')`); n != 0 {
			t.Errorf("%s: %d Canvas columns left in the LTI tables", when, n)
		}
	}
	check("after 0012")

	// Rolled back, the LTI tables get the values back; re-applied, canvas's
	// tables hold them again.
	if _, err := p.DownTo(ctx, 11); err != nil {
		t.Fatalf("roll back 0012: %v", err)
	}
	for _, pl := range plats {
		var url string
		var sealed []byte
		if err := e.db.QueryRow(`SELECT canvas_url, canvas_token_enc FROM platforms WHERE id = $1`, pl.id).Scan(&url, &sealed); err != nil {
			t.Fatal(err)
		}
		if url != pl.canvasURL || (sealed != nil) != (pl.apiToken != "") {
			t.Errorf("rolled back: %s canvas_url %q, token stored %v", pl.name, url, sealed != nil)
		}
		if pl.apiToken != "" {
			if plain, err := e.keys.Open(sealed, "canvas-token:"+itoa(pl.id)); err != nil || string(plain) != pl.apiToken {
				t.Errorf("rolled back: %s token does not open: %v", pl.name, err)
			}
		}
	}
	var canvasID string
	if err := e.db.Get(&canvasID, `SELECT canvas_user_id FROM lti_users WHERE platform_id = $1 AND sub = 'sub-ana'`, prod); err != nil || canvasID != "101" {
		t.Errorf("rolled back: lti_users canvas_user_id = %q, %v; want 101", canvasID, err)
	}
	if _, err := db.Migrate(ctx, e.db.DB); err != nil {
		t.Fatal(err)
	}
	check("re-applied")
}
