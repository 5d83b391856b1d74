package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/laurel-edu/laurel/internal/browsertest"
	"github.com/laurel-edu/laurel/issuance"
)

// TestOrganisationSettingsInBrowser: the owner names the organisation and
// the email's sender on /admin/organisation in a real Chromium; the publish
// email (delivered by the workers to a real SMTP server) and the public page
// then name it. The preview fills the placeholders; bad input (an invalid
// email, a logo that is not an image, an unknown placeholder) is named on
// the form and changes nothing.
func TestOrganisationSettingsInBrowser(t *testing.T) {
	app := mustRun(t)
	ctx := context.Background()
	_, cred := seedOwnerAndCredential(t, app)
	cs := []issuance.Credential{cred}
	b := browsertest.New(t, browsertest.Options{})
	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		browsertest.Step(t, b, name, actions...)
	}
	// submit clicks a button that posts the form and waits for the page it
	// leads to, returning its status.
	submit := func(sel string) int64 {
		t.Helper()
		sctx, cancel := context.WithTimeout(b, 30*time.Second)
		defer cancel()
		resp, err := chromedp.RunResponse(sctx, chromedp.Click(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("click %s: %v", sel, err)
		}
		return resp.Status
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(b, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}
	replace := func(sel, value string) chromedp.Action[chromedp.Void] {
		return chromedp.SetValue(chromedp.CSS(sel), value)
	}
	settings := func() string {
		t.Helper()
		var s string
		if err := app.DB.Get(&s, `SELECT row_to_json(o)::text || (SELECT count(*) FROM audit_log)::text FROM organisation o`); err != nil {
			t.Fatal(err)
		}
		return s
	}

	step("sign in and open the settings",
		chromedp.Navigate(app.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS("#email"), "it@uni.example.edu"),
		chromedp.SendKeys(chromedp.CSS("#password"), ownerPassword),
		chromedp.Click(chromedp.CSS("#sign-in")),
		chromedp.WaitVisible(chromedp.CSS("#groups")),
		chromedp.Click(chromedp.CSS("#nav-organisation")),
		chromedp.WaitVisible(chromedp.CSS("#organisation-form")),
	)
	step("name the organisation and the sender",
		replace("#name", "University of Example"),
		replace("#website", "https://www.uni.example.edu"),
		replace("#contact_email", "registry@uni.example.edu"),
		replace("#sender_name", "UoE Registry"),
		replace("#reply_to", "credentials@uni.example.edu"),
	)
	if st := submit("#save-organisation"); st != http.StatusOK {
		t.Fatalf("save: status %d after the redirect", st)
	}
	if f := text("#flash"); !strings.Contains(f, "Organisation settings saved.") {
		t.Fatalf("flash %q", f)
	}

	// The preview renders the posted text for an example recipient, and
	// stores nothing.
	before := settings()
	step("write an email text", replace("#email_subject", "{issuer_name}: your {credential_name}"),
		replace("#email_body", "Dear {recipient_name},\n\n{issuer_name} awards you {credential_name} on {issued_on}.\nSee {credential_url}"))
	if st := submit("#preview-email"); st != http.StatusOK {
		t.Fatalf("preview: status %d", st)
	}
	wantPreview := "Dear Ada Lovelace,\n\nUniversity of Example awards you Introduction to Data Science on "
	if got := text("#preview-text"); !strings.Contains(got, wantPreview) || !strings.Contains(got, "See "+app.URL+"/c/") || strings.Contains(got, "{") {
		t.Fatalf("preview text %q, want the placeholders filled (%q…)", got, wantPreview)
	}
	if got := text("#preview-subject"); got != "University of Example: your Introduction to Data Science" {
		t.Fatalf("preview subject %q", got)
	}
	if got := text("#preview-from"); got != "UoE Registry" {
		t.Fatalf("preview sender %q", got)
	}
	if settings() != before {
		t.Fatal("the preview changed the stored settings")
	}
	if st := submit("#save-organisation"); st != http.StatusOK {
		t.Fatalf("save the email text: status %d", st)
	}

	// Bad input: named on the form, nothing stored.
	notImage := filepath.Join(t.TempDir(), "logo.png")
	if err := os.WriteFile(notImage, []byte("this is not a picture"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct {
		name   string
		action chromedp.Action[chromedp.Void]
		field  string
		want   string
	}{
		{"invalid contact email", replace("#contact_email", "registry-at-uni"), "#contact_email-error", `"registry-at-uni" is not an email address`},
		{"logo not an image", chromedp.SetUploadFiles(chromedp.CSS("#logo"), []string{notImage}), "#logo-error", "not a PNG or SVG image"},
		{"unknown placeholder", replace("#email_body", "Hi {recipient},\n{credential_url}"), "#email_body-error", "Unknown placeholder {recipient}"},
	} {
		before := settings()
		step(bad.name, chromedp.Navigate(app.URL+"/admin/organisation"), chromedp.WaitVisible(chromedp.CSS("#organisation-form")), bad.action)
		if st := submit("#save-organisation"); st != http.StatusUnprocessableEntity {
			t.Fatalf("%s: status %d, want 422", bad.name, st)
		}
		if got := text(bad.field); !strings.Contains(got, bad.want) {
			t.Fatalf("%s: %s says %q, want %q", bad.name, bad.field, got, bad.want)
		}
		if !strings.Contains(text("#form-problem"), "Nothing was saved.") {
			t.Fatalf("%s: no form problem summary", bad.name)
		}
		if settings() != before {
			t.Fatalf("%s changed the stored settings", bad.name)
		}
	}

	// Publishing now sends the email in the organisation's name.
	if _, err := app.Issuance.Publish(ctx, "test", issuance.Selection{IDs: []string{cs[0].ID}}); err != nil {
		t.Fatal(err)
	}
	msgs, err := app.Mail.WaitFor(1, 30*time.Second)
	if err != nil {
		t.Fatalf("email: %v", err)
	}
	m := msgs[0]
	if m.Subject != "University of Example: your Data Science Foundations" {
		t.Errorf("subject %q", m.Subject)
	}
	if !strings.Contains(m.From, "UoE Registry") || !strings.Contains(m.From, "<no-reply@laurel.test>") {
		t.Errorf("From %q, want the sender name with LAUREL_MAIL_FROM's address", m.From)
	}
	if !strings.Contains(string(m.Raw), "Reply-To: <credentials@uni.example.edu>") {
		t.Errorf("no Reply-To header in\n%s", m.Raw)
	}
	for _, part := range []string{m.Text, m.HTML} {
		if !strings.Contains(part, "Dear Grace Hopper,") || !strings.Contains(part, "University of Example awards you Data Science Foundations on 20 Nov 2026.") ||
			!strings.Contains(part, "because University of Example issued a credential") {
			t.Errorf("email part lacks the organisation's text:\n%s", part)
		}
	}
	if strings.Contains(m.Text, "Laurel") || strings.Contains(m.HTML, "Laurel") {
		t.Errorf("the email still names Laurel:\n%s", m.Text)
	}

	// And the public page names it as the issuer.
	step("open the public page", chromedp.Navigate(app.URL+"/c/"+cs[0].ID), chromedp.WaitVisible(chromedp.CSS("#credential-status")))
	// The page verifies the signed credential, whose issuer profile carries
	// the organisation's name too.
	if got := text("#credential-status"); !strings.Contains(got, "Verified: signed by University of Example") {
		t.Fatalf("public page status %q", got)
	}
	if got := text("#issuer"); got != "University of Example" {
		t.Fatalf("public page issuer %q", got)
	}
	// So does the Open Badges issuer profile.
	resp, err := http.Get(app.URL + "/issuer")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var profile struct{ Name, URL string }
	if err := json.NewDecoder(resp.Body).Decode(&profile); err != nil || profile.Name != "University of Example" || profile.URL != "https://www.uni.example.edu" {
		t.Fatalf("issuer profile %+v (%v), want the organisation's name and website", profile, err)
	}
	if got := text("#verification"); !strings.Contains(got, "Issued by University of Example") {
		t.Fatalf("public page verification line %q", got)
	}
}
