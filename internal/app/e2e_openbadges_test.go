package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/laurel-edu/laurel/internal/browsertest"
	"github.com/laurel-edu/laurel/issuance"
)

// TestSignedCredentialInBrowser runs Laurel as `laurel serve` does: a
// published credential is signed by the background worker, its JSON and
// the issuer's DID document are served, and the public page in Chromium
// says what it verified; after revocation it says revoked.
func TestSignedCredentialInBrowser(t *testing.T) {
	app := mustRun(t)
	ctx := context.Background()
	g, err := app.Issuance.CreateGroup(ctx, "test", issuance.Group{Name: "Data Science Foundations", CourseName: "DS 101"})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := app.Issuance.CreateCredentials(ctx, "test", g.ID, issuance.FromForm, []issuance.NewCredential{
		{Recipient: issuance.Recipient{Name: "Grace Hopper", Email: "grace@uni.example.edu"}, IssuedOn: "2026-06-30"}})
	if err != nil {
		t.Fatal(err)
	}
	id := cs[0].ID
	if _, err := app.Issuance.Publish(ctx, "test", issuance.Selection{IDs: []string{id}}); err != nil {
		t.Fatal(err)
	}
	// The worker signs it (the sign job runs before the email's).
	var signed int
	for deadline := time.Now().Add(20 * time.Second); signed == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the worker did not sign the credential within 20 s")
		}
		if err := app.DB.Get(&signed, `SELECT count(*) FROM credential_signatures WHERE credential_id = $1`, id); err != nil {
			t.Fatal(err)
		}
	}
	get := func(path string) map[string]any {
		t.Helper()
		res, err := http.Get(app.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		var m map[string]any
		if res.StatusCode != 200 || json.Unmarshal(b, &m) != nil {
			t.Fatalf("%s: %d %s", path, res.StatusCode, b)
		}
		return m
	}
	cred := get("/c/" + id + ".json")
	did := get("/.well-known/did.json")
	if cred["proof"] == nil || cred["issuer"].(map[string]any)["id"] != did["id"] || !strings.HasPrefix(did["id"].(string), "did:web:127.0.0.1%3A") {
		t.Fatalf("credential issuer %v, DID document id %v", cred["issuer"], did["id"])
	}
	b := browsertest.New(t, browsertest.Options{})
	read := func(sel string) string {
		t.Helper()
		sctx, cancel := context.WithTimeout(b, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, chromedp.Navigate(app.URL+"/c/"+id), chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
			t.Fatalf("open /c/%s: %v", id, err)
		}
		s, err := chromedp.Run(b, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if s := read("#credential-status"); !strings.Contains(s, "Verified: signed by Laurel") {
		t.Fatalf("status = %q", s)
	}
	checks := read("#verification-checks")
	for _, want := range []string{"Data Integrity proof: passed", "VC-JWT: passed", "Revocation status: passed", "Validity dates: passed"} {
		if !strings.Contains(checks, want) {
			t.Fatalf("checks %q lack %q", checks, want)
		}
	}
	if _, err := app.Issuance.Revoke(ctx, "test", id, "Issued in error"); err != nil {
		t.Fatal(err)
	}
	if s := read("#credential-status"); !strings.Contains(s, "This credential was revoked") {
		t.Fatalf("status after revocation = %q", s)
	}
	if checks := read("#verification-checks"); !strings.Contains(checks, "Revocation status: failed") || strings.Contains(checks, "Verified") {
		t.Fatalf("checks after revocation: %q", checks)
	}
}
