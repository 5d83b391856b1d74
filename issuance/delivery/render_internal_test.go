package delivery

import (
	"testing"

	"github.com/laurel-edu/laurel/issuance"
)

// BenchmarkRenderEmail renders the default publish email of one recipient.
func BenchmarkRenderEmail(b *testing.B) {
	o := issuance.Organisation{Name: "Example University", Language: "en", LogoURL: "https://l.test/logo"}
	vals := map[string]string{"recipient_name": "José Ñúñez", "credential_name": "Data Science", "course_name": "DS 101",
		"issued_on": "7 December 2026", "issuer_name": o.Name, "credential_url": "https://l.test/c/abcdefghijklmnopqrstuvwx", "credential_id": "abcdefghijklmnopqrstuvwx"}
	links := emailLinks{Download: issuance.Link{Label: "Download your badge image", URL: "https://l.test/c/abc/badge.png"}}
	fields := []emailField{{"Grade", "A"}}
	for b.Loop() {
		renderEmail(o, o.Subject(), o.Body(), vals, "#123456", links, fields, "jose@example.edu", "publish")
	}
}
