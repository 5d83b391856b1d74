package issuance_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/issuance"
)

// The settings start as the installation had them (issuer "Laurel", the
// default email text, instructors may not publish), are validated field by
// field, stored with an audit entry, and read back through Organisation.
func TestOrganisationSettings(t *testing.T) {
	s, d := mustService(t)
	ctx := context.Background()
	o, err := s.Organisation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if o.Name != "Laurel" || o.Language != "en" || o.InstructorsMayPublish || o.LogoURL != "" ||
		o.Subject() != issuance.DefaultEmailSubject || o.Body() != issuance.DefaultEmailBody || o.TimeZone != issuance.ServerZone() {
		t.Fatalf("initial settings %+v", o)
	}
	if may, err := s.InstructorsMayPublish(ctx); err != nil || may {
		t.Fatalf("InstructorsMayPublish = %v, %v; want false by default", may, err)
	}

	state := func() string {
		t.Helper()
		var st string
		if err := d.Get(&st, `SELECT row_to_json(o)::text || (SELECT count(*) FROM audit_log)::text FROM organisation o`); err != nil {
			t.Fatal(err)
		}
		return st
	}
	valid := issuance.Organisation{Name: "University of Example", Website: "https://www.uni.example.edu",
		ContactEmail: "registry@uni.example.edu", Language: "pt-br", SenderName: "UoE Registry", TimeZone: "America/Sao_Paulo"}
	for _, tc := range []struct {
		name  string
		mod   func(*issuance.OrganisationUpdate)
		field string
		want  string
	}{
		{"no name", func(u *issuance.OrganisationUpdate) { u.Name = "  " }, "name", "Enter your organisation's name"},
		{"website not a URL", func(u *issuance.OrganisationUpdate) { u.Website = "www.example.edu" }, "website", "https://"},
		{"contact email", func(u *issuance.OrganisationUpdate) { u.ContactEmail = "registry" }, "contact_email", `"registry" is not an email address`},
		{"reply-to with a name", func(u *issuance.OrganisationUpdate) { u.ReplyTo = "Reg <reg@example.edu>" }, "reply_to", "is not an email address"},
		{"language", func(u *issuance.OrganisationUpdate) { u.Language = "english please" }, "language", "is not a language code"},
		{"time zone", func(u *issuance.OrganisationUpdate) { u.TimeZone = "Mars/Olympus" }, "time_zone", `"Mars/Olympus" is not a time zone`},
		{"time zone Local", func(u *issuance.OrganisationUpdate) { u.TimeZone = "Local" }, "time_zone", "is not a time zone"},
		{"unknown placeholder in the subject", func(u *issuance.OrganisationUpdate) { u.EmailSubject = "For {name}" }, "email_subject", "Unknown placeholder {name}"},
		{"unknown placeholders in the text", func(u *issuance.OrganisationUpdate) {
			u.EmailBody = "{Recipient_Name} {credential_url} {course} {course}"
		}, "email_body", "Unknown placeholders {Recipient_Name}, {course};"},
		{"text without the link", func(u *issuance.OrganisationUpdate) { u.EmailBody = "Hello {recipient_name}" }, "email_body", "must contain {credential_url}"},
		{"logo not an image", func(u *issuance.OrganisationUpdate) { u.Logo = []byte("GIF89a not really") }, "logo", "PNG or SVG"},
		{"logo with script", func(u *issuance.OrganisationUpdate) {
			u.Logo = []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)
		}, "logo", "PNG or SVG"},
		{"logo with a prefixed script", func(u *issuance.OrganisationUpdate) {
			u.Logo = []byte(`<svg:svg xmlns:svg="http://www.w3.org/2000/svg"><svg:script>alert(1)</svg:script></svg:svg>`)
		}, "logo", "<script> element"},
		{"logo with an external reference", func(u *issuance.OrganisationUpdate) {
			u.Logo = []byte(`<svg xmlns="http://www.w3.org/2000/svg"><image href="https://tracker.example/p.png"/></svg>`)
		}, "logo", "refers to another file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := state()
			u := issuance.OrganisationUpdate{Organisation: valid}
			tc.mod(&u)
			_, err := s.UpdateOrganisation(ctx, actor, u)
			fe := apperr.FieldErrors(err)
			if !apperr.Is(err, apperr.Invalid) || len(fe) != 1 || fe[0].Field != tc.field || !strings.Contains(fe[0].Message, tc.want) {
				t.Fatalf("error %v %+v, want one on %s containing %q", err, fe, tc.field, tc.want)
			}
			if state() != before {
				t.Fatal("a refused update changed something")
			}
		})
	}

	logo := []byte(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="10" height="10"/></svg>`)
	got, err := s.UpdateOrganisation(ctx, actor, issuance.OrganisationUpdate{Organisation: valid, Logo: logo})
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "University of Example" || got.Language != "pt-BR" || got.LogoType != "image/svg+xml" ||
		!strings.HasPrefix(got.LogoURL, "https://laurel.test/organisation/logo?v=") || got.Sender() != "UoE Registry" ||
		got.ReplyAddress() != "registry@uni.example.edu" || got.TimeZone != "America/Sao_Paulo" {
		t.Fatalf("stored %+v", got)
	}
	if l := s.Locale(ctx); l.Lang != "pt-BR" || l.ZoneName() != "America/Sao Paulo" {
		t.Fatalf("locale %+v, want pt-BR in São Paulo", l)
	}
	if o, _ := s.Organisation(ctx); o != got {
		t.Fatalf("Organisation after the update = %+v, want %+v", o, got)
	}
	// A group created without a language gets the organisation's.
	if g := mustGroup(t, s, nil); g.Language != "pt-BR" {
		t.Fatalf("new group's language %q, want the organisation's pt-BR", g.Language)
	}
	b, typ, _, err := s.OrganisationLogo(ctx)
	if err != nil || string(b) != string(logo) || typ != "image/svg+xml" {
		t.Fatalf("logo %q %q %v", b, typ, err)
	}
	var entry struct {
		Actor string `db:"actor"`
		After string `db:"after"`
	}
	if err := d.Get(&entry, `SELECT actor, after::text FROM audit_log WHERE entity_type = 'organisation' ORDER BY id DESC LIMIT 1`); err != nil {
		t.Fatal(err)
	}
	var after map[string]any
	if err := json.Unmarshal([]byte(entry.After), &after); err != nil {
		t.Fatal(err)
	}
	if entry.Actor != actor || after["name"] != "University of Example" || after["logo_bytes"] != float64(len(logo)) {
		t.Fatalf("audit entry %+v", entry)
	}

	// Saving without a logo keeps it; RemoveLogo drops it. The default email
	// text is stored as "", so it follows later defaults.
	u := issuance.OrganisationUpdate{Organisation: got}
	u.InstructorsMayPublish = true
	u.EmailSubject, u.EmailBody = issuance.DefaultEmailSubject, issuance.DefaultEmailBody
	if got, err = s.UpdateOrganisation(ctx, actor, u); err != nil || got.LogoType == "" || got.EmailBody != "" || got.EmailSubject != "" {
		t.Fatalf("update without a logo: %+v %v", got, err)
	}
	if may, _ := s.InstructorsMayPublish(ctx); !may {
		t.Fatal("InstructorsMayPublish is still false after the owner allowed it")
	}
	if got, err = s.UpdateOrganisation(ctx, actor, issuance.OrganisationUpdate{Organisation: got, RemoveLogo: true}); err != nil || got.LogoURL != "" {
		t.Fatalf("remove logo: %+v %v", got, err)
	}
	if b, _, _, _ := s.OrganisationLogo(ctx); b != nil {
		t.Fatal("logo bytes kept after removing it")
	}
}
