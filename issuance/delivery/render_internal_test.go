package delivery

import (
	"testing"

	"github.com/laurel-edu/laurel/issuance"
)

// TestFillSkipsOnlyTextWithoutPlaceholders: fill gives what issuance.Fill
// gives, with and without braces, known or unknown names.
func TestFillSkipsOnlyTextWithoutPlaceholders(t *testing.T) {
	vals := map[string]string{"recipient_name": "Ana {x}", "issuer_name": "U & <Co>", "credential_url": "https://l.test/c/1"}
	for _, s := range []string{"", "plain", "Hello {recipient_name},", "{issuer_name}{issuer_name}", "{unknown} and {", "}{", "{ recipient_name }", "View it here:", "é {credential_url}."} {
		if got, want := fill(s, vals), issuance.Fill(s, vals); got != want {
			t.Errorf("fill(%q) = %q, issuance.Fill gives %q", s, got, want)
		}
	}
}

// BenchmarkRenderEmail renders the default publish email of one recipient.
func BenchmarkRenderEmail(b *testing.B) {
	o := issuance.Organisation{Name: "Example University", Language: "en", LogoURL: "https://l.test/logo"}
	vals := map[string]string{"recipient_name": "José Ñúñez", "credential_name": "Data Science", "course_name": "DS 101",
		"issued_on": "7 December 2026", "issuer_name": o.Name, "credential_url": "https://l.test/c/abcdefghijklmnopqrstuvwx", "credential_id": "abcdefghijklmnopqrstuvwx"}
	links := emailLinks{Download: issuance.Link{Label: "Download your badge image", URL: "https://l.test/c/abc/badge.png"}}
	fields := []emailField{{"Grade", "A"}}
	for b.Loop() {
		if _, err := renderEmail(o, o.Subject(), o.Body(), vals, "#123456", links, fields, "jose@example.edu", "publish"); err != nil {
			b.Fatal(err)
		}
	}
}
