package delivery_test

import (
	"strings"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/delivery"
	"github.com/laurel-edu/laurel/issuance/reminders"
)

// TestCredentialEmailCarriesOrganisation: the publish email's HTML opens
// with the organisation's name and, when it has a logo, the logo as an https
// URL on the public logo route (an http one is left out: mail clients do
// not load it).
func TestCredentialEmailCarriesOrganisation(t *testing.T) {
	s, _ := mustService(t)
	g := mustGroup(t, s, nil)
	c := issuance.Credential{ID: "abc123", Recipient: issuance.Recipient{Name: "Ada", Email: "ada@example.edu"},
		IssuedOn: time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC)}
	o := issuance.Organisation{Name: "University of Example", Language: "en",
		LogoURL: "https://laurel.test/organisation/logo?v=1", LogoType: "image/png"}
	m := delivery.New(s, reminders.New(s, nil), nil).CredentialEmail(c, g, issuance.Design{}, o, "ada@example.edu", "published")
	head := m.HTML[:strings.Index(m.HTML, "Hello Ada")]
	for _, w := range []string{`<img src="https://laurel.test/organisation/logo?v=1"`, "<strong style=\"font-size:17px\">University of Example</strong>"} {
		if !strings.Contains(head, w) {
			t.Errorf("the email's head lacks %q:\n%s", w, m.HTML)
		}
	}
	if strings.Contains(m.HTML+m.Text+m.Subject, "Laurel") {
		t.Errorf("the publish email names the software:\n%s", m.HTML)
	}
	o.LogoURL = "http://laurel.test/organisation/logo?v=1"
	if m = delivery.New(s, reminders.New(s, nil), nil).CredentialEmail(c, g, issuance.Design{}, o, "ada@example.edu", "published"); strings.Contains(m.HTML, "<img") {
		t.Fatalf("an http logo URL in the email:\n%s", m.HTML)
	}
}
