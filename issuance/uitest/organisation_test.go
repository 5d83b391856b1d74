package uitest

import (
	"bytes"
	"image"
	"image/png"
	"net/http"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/auth"
)

// /admin/organisation is the owner's: admins, team members and viewers get
// a 403 page for every route, and their posts change nothing.
func TestOrganisationSettingsOwnerOnly(t *testing.T) {
	e := mustEnv(t)
	state := func() string {
		t.Helper()
		var s string
		if err := e.db.Get(&s, `SELECT row_to_json(o)::text || (SELECT count(*) FROM audit_log)::text FROM organisation o`); err != nil {
			t.Fatal(err)
		}
		return s
	}
	form := map[string]string{"name": "Mallory University", "language": "en", "email_body": "{credential_url}"}
	for _, who := range []struct {
		email string
		role  auth.Role
	}{{"admin@example.edu", auth.Admin}, {"tm@example.edu", auth.TeamMember}, {"viewer@example.edu", auth.Viewer}} {
		c := e.signIn(who.email, who.role)
		if strings.Contains(c.get("/groups").body, "/admin/organisation") {
			t.Errorf("%s sees the Organisation link", who.role)
		}
		before := state()
		forbidden(t, c.get("/admin/organisation"), string(who.role)+" GET /admin/organisation")
		forbidden(t, c.postMultipart("/admin/organisation", form, nil), string(who.role)+" POST /admin/organisation")
		forbidden(t, c.postMultipart("/admin/organisation/preview", form, nil), string(who.role)+" POST /admin/organisation/preview")
		if state() != before {
			t.Fatalf("%s's refused posts changed the settings", who.role)
		}
	}

	// The owner's logo is served publicly (no sign-in), sandboxed, and shown
	// on a certificate whose design has no logo of its own.
	owner := e.signIn("owner@example.edu", auth.Owner)
	r := owner.get("/admin/organisation")
	if r.code != 200 {
		t.Fatalf("owner: %d", r.code)
	}
	contains(t, r.body, `id="nav-organisation"`, `value="Laurel"`, "{recipient_name}", "{credential_url}", `id="email-preview"`)
	var img bytes.Buffer
	if err := png.Encode(&img, image.NewGray(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	form = map[string]string{"name": "University of Example", "language": "de", "email_subject": "", "email_body": ""}
	r = owner.postMultipart("/admin/organisation", form, map[string][]byte{"logo": img.Bytes()})
	if r.code != 303 {
		t.Fatalf("owner saves: %d\n%s", r.code, r.body)
	}
	r = owner.follow(r)
	contains(t, r.body, "Organisation settings saved.", `id="current-logo"`, "Your credential for {credential_name}")
	var anon client
	anon.e, anon.hc = e, &http.Client{}
	lr := anon.get("/organisation/logo")
	if lr.code != 200 || lr.header.Get("Content-Type") != "image/png" || lr.body != img.String() ||
		!strings.Contains(lr.header.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("public logo: %d %q %q", lr.code, lr.header.Get("Content-Type"), lr.header.Get("Content-Security-Policy"))
	}
	e.seed(e.group.ID, 1)
	e.publishAll(e.group)
	var id string
	if err := e.db.Get(&id, `SELECT id FROM credentials LIMIT 1`); err != nil {
		t.Fatal(err)
	}
	pub := anon.get("/c/" + id)
	contains(t, pub.body, `<img class="logo" src="http://laurel.test/organisation/logo?v=`, `alt="University of Example"`, "Issued by University of Example")
	if strings.Contains(pub.body, "Laurel</dd>") {
		t.Error("the public page still names Laurel as the issuer")
	}
	// New groups default to the organisation's language.
	contains(t, owner.get("/groups/new").body, `id="language" name="language" value="de"`)
	// A preview with an unknown placeholder names it and stores nothing.
	before := state()
	r = owner.postMultipart("/admin/organisation/preview", map[string]string{"name": "University of Example", "language": "de",
		"email_subject": "Hi", "email_body": "Hi {first_name}: {credential_url}"}, nil)
	if r.code != 422 {
		t.Fatalf("preview with an unknown placeholder: %d", r.code)
	}
	fieldError(t, r.body, "email_body", "Unknown placeholder {first_name}")
	if state() != before {
		t.Fatal("a refused preview changed the settings")
	}
}
