package openbadges_test

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/laurel-edu/laurel/internal/text"
	"github.com/laurel-edu/laurel/issuance/openbadges"
)

func sample(name, description string, until string, images bool) openbadges.Credential {
	iss := openbadges.Profile{ID: "did:web:laurel.example.edu", Type: []string{"Profile"}, Name: "Example University", URL: "https://laurel.example.edu"}
	a := openbadges.Achievement{ID: "https://laurel.example.edu/achievements/7", Type: []string{"Achievement"}, AchievementType: "Badge",
		Name: "Intro to Data", Description: description, Criteria: openbadges.Criteria{Narrative: "Completed the course \"Intro to Data\"."}}
	if images {
		iss.Image = &openbadges.Image{ID: "https://laurel.example.edu/issuer/logo", Type: "Image"}
		a.Image = &openbadges.Image{ID: "https://laurel.example.edu/achievements/7/image", Type: "Image"}
	}
	return openbadges.NewCredential("https://laurel.example.edu/c/x7k2p9", iss, a,
		openbadges.Recipient{Email: "Ana@Example.edu", Name: name, Salt: "3f9a"}, "2026-01-01T00:00:00Z", until,
		openbadges.StatusEntry{ID: "https://laurel.example.edu/status/0#41", Type: "BitstringStatusListEntry", StatusPurpose: "revocation",
			StatusListIndex: "41", StatusListCredential: "https://laurel.example.edu/status/0"})
}

// TestNQuadsMatchGeneral proves the direct canonical form equal to the
// general JSON-LD expansion and RDFC-1.0 (json-gold) over the pinned
// contexts, for names and texts that exercise escaping and non-Latin
// scripts, with and without expiry and images.
func TestNQuadsMatchGeneral(t *testing.T) {
	names := []string{"Ana", "José Ñúñez", "王小明", "محمد علي", "O'Brien \"Bob\"", `back\slash`, "tab\there", "Zoë\nsecond line", "emoji 🎓", ""}
	descs := []string{"A short description.", "Multi\r\nline with \"quotes\" and \\ and <tags> & ampersands", "日本語の説明"}
	n := 0
	for i, name := range names {
		for j, desc := range descs {
			until := ""
			if (i+j)%2 == 0 {
				until = "2027-06-30T23:59:59Z"
			}
			c := sample(name, desc, until, (i+j)%3 != 0)
			if j == 1 {
				// A wallet copy: the subject is the holder's DID, not a blank node.
				c.CredentialSubject.ID = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
			}
			fast, err := c.NQuads()
			if err != nil {
				t.Fatalf("%q/%q: %v", name, desc, err)
			}
			b, _ := json.Marshal(c)
			general, err := openbadges.Canonical(b, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(general, fast); d != "" {
				t.Fatalf("%q/%q: direct N-Quads differ from json-gold (-general +direct):\n%s", name, desc, d)
			}
			n++
		}
	}
	// The proof configuration too.
	p := openbadges.NewProof("did:web:laurel.example.edu#key-1", time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC))
	fast, err := openbadges.ProofNQuads(p)
	if err != nil {
		t.Fatal(err)
	}
	pc, _ := json.Marshal(struct {
		Context []string `json:"@context"`
		openbadges.Proof
	}{openbadges.CredentialContext, p})
	general, err := openbadges.Canonical(pc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(general, fast); d != "" {
		t.Fatalf("proof N-Quads differ (-general +direct):\n%s", d)
	}
	t.Logf("%d credentials canonicalised identically", n)
}

// TestSignMatchesGeneralSigner: the fast signer's proof equals the general
// signer's (Ed25519 is deterministic), and verification fails after one
// character of the name changes.
func TestSignMatchesGeneralSigner(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	created := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	c := sample("José Ñúñez", "Desc", "2027-06-30T23:59:59Z", true)
	signed, err := c.Sign(priv, "did:web:laurel.example.edu#key-1", created)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(c)
	general, _, _, err := openbadges.SignDocument(b, openbadges.NewProof("did:web:laurel.example.edu#key-1", created), priv, nil)
	if err != nil {
		t.Fatal(err)
	}
	var g openbadges.Credential
	if err := json.Unmarshal(general, &g); err != nil {
		t.Fatal(err)
	}
	if g.Proof.ProofValue != signed.Proof.ProofValue {
		t.Fatalf("fast proof %s, general %s", signed.Proof.ProofValue, g.Proof.ProofValue)
	}
	pub := priv.Public().(ed25519.PublicKey)
	if err := signed.Verify(pub); err != nil {
		t.Fatalf("verify: %v", err)
	}
	tampered := signed
	tampered.CredentialSubject.Identifier = append([]openbadges.IdentityObject{}, signed.CredentialSubject.Identifier...)
	tampered.CredentialSubject.Identifier[1].IdentityHash = "Josè Ñúñez"
	if err := tampered.Verify(pub); err == nil {
		t.Fatal("a changed name still verifies")
	}
}

func TestControlCharactersRefused(t *testing.T) {
	for _, s := range []string{"a\x00b", "bell\x07", "form\ffeed", "del\x7f"} {
		c := sample(s, "d", "", false)
		if _, err := c.NQuads(); !errors.Is(err, openbadges.ErrControlChar) {
			t.Errorf("%q: err = %v, want ErrControlChar", s, err)
		}
	}
}

// TestCheckTextIsTheOneRule: a credential carries exactly the text Laurel
// stores (internal/text's rule), so nothing a form, an import or the API
// accepted fails to sign.
func TestCheckTextIsTheOneRule(t *testing.T) {
	for _, s := range []string{"Zoë 李", "a\tb\r\n", "nel\u0085", "nonchar\uFFFE", "a\x00b", "bell\x07", "del\x7f", "caf\xe9", "\xed\xa0\x80"} {
		c := sample(s, "d", "", false)
		_, got := c.NQuads()
		want := text.Check(s)
		if (got == nil) != (want == nil) || (got != nil && !errors.Is(got, openbadges.ErrControlChar)) {
			t.Errorf("NQuads of name %q: err = %v, text.Check = %v", s, got, want)
		}
	}
}

func TestMultikeyRoundTrip(t *testing.T) {
	for range 50 {
		pub, _, _ := ed25519.GenerateKey(nil)
		mb := openbadges.PublicKeyMultibase(pub)
		if !strings.HasPrefix(mb, "z6Mk") {
			t.Fatalf("%s does not start z6Mk", mb)
		}
		back, err := openbadges.ParsePublicKeyMultibase(mb)
		if err != nil || !back.Equal(pub) {
			t.Fatalf("round trip of %s: %v", mb, err)
		}
	}
	if _, err := openbadges.ParsePublicKeyMultibase("z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hw"); err == nil {
		t.Fatal("a truncated key parses")
	}
}

func BenchmarkSignCredential(b *testing.B) {
	_, priv, _ := ed25519.GenerateKey(nil)
	c := sample("José Ñúñez", "A description of the achievement.", "2027-06-30T23:59:59Z", true)
	created := time.Now()
	for b.Loop() {
		if _, err := c.Sign(priv, "did:web:laurel.example.edu#key-1", created); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCanonicalGeneral(b *testing.B) {
	c := sample("José Ñúñez", "A description of the achievement.", "2027-06-30T23:59:59Z", true)
	doc, _ := json.Marshal(c)
	for b.Loop() {
		if _, err := openbadges.Canonical(doc, nil); err != nil {
			b.Fatal(fmt.Sprint(err))
		}
	}
}

// withResults gives c's achievement two result descriptions and its
// subject a value for each, as a group's public result attributes do.
func withResults(c openbadges.Credential, grade, score string) openbadges.Credential {
	a := &c.CredentialSubject.Achievement
	a.ResultDescription = []openbadges.ResultDescription{
		{ID: a.ID + "#result-grade", Type: []string{"ResultDescription"}, Name: "Final grade", ResultType: "LetterGrade"},
		{ID: a.ID + "#result-score", Type: []string{"ResultDescription"}, Name: "Score \"raw\"", ResultType: "RawScore"},
	}
	c.CredentialSubject.Result = []openbadges.Result{
		{Type: []string{"Result"}, ResultDescription: a.ID + "#result-grade", Value: grade},
		{Type: []string{"Result"}, ResultDescription: a.ID + "#result-score", Value: score},
	}
	return c
}

// TestNQuadsWithResultsMatchGeneral: results and their descriptions are
// canonicalised as the general JSON-LD path does (the terms come from the
// pinned OB 3.0.3 context), including equal values and escaping.
func TestNQuadsWithResultsMatchGeneral(t *testing.T) {
	for _, vals := range [][2]string{{"A", "90"}, {"90", "90"}, {"B+ \"très bien\"", "87.5\n(curved)"}, {"", "0"}} {
		c := withResults(sample("Ana", "Desc", "2027-06-30T23:59:59Z", true), vals[0], vals[1])
		fast, err := c.NQuads()
		if err != nil {
			t.Fatalf("%q: %v", vals, err)
		}
		b, _ := json.Marshal(c)
		general, err := openbadges.Canonical(b, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(general, fast); d != "" {
			t.Fatalf("%q: direct N-Quads differ from json-gold (-general +direct):\n%s", vals, d)
		}
		if !strings.Contains(fast, "vocab.html#Result>") || !strings.Contains(fast, `"LetterGrade"`) {
			t.Fatalf("%q: the canonical form lacks the result:\n%s", vals, fast)
		}
	}
	// A result must name one of the achievement's descriptions.
	c := withResults(sample("Ana", "Desc", "", false), "A", "1")
	c.CredentialSubject.Result[0].ResultDescription = "https://laurel.example.edu/achievements/7#result-other"
	if _, err := c.NQuads(); err == nil {
		t.Fatal("a result naming no description canonicalises")
	}
	// Changing a result's value breaks the signature.
	_, priv, _ := ed25519.GenerateKey(nil)
	signed, err := withResults(sample("Ana", "Desc", "", true), "A", "90").Sign(priv, "did:web:laurel.example.edu#key-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pub := priv.Public().(ed25519.PublicKey)
	if err := signed.Verify(pub); err != nil {
		t.Fatalf("verify: %v", err)
	}
	signed.CredentialSubject.Result = []openbadges.Result{signed.CredentialSubject.Result[0], signed.CredentialSubject.Result[1]}
	signed.CredentialSubject.Result[0].Value = "A+"
	if err := signed.Verify(pub); err == nil {
		t.Fatal("a changed grade still verifies")
	}
}

func BenchmarkSignCredentialWithResults(b *testing.B) {
	_, priv, _ := ed25519.GenerateKey(nil)
	c := withResults(sample("José Ñúñez", "A description of the achievement.", "2027-06-30T23:59:59Z", true), "A-", "92")
	created := time.Now()
	for b.Loop() {
		if _, err := c.Sign(priv, "did:web:laurel.example.edu#key-1", created); err != nil {
			b.Fatal(err)
		}
	}
}
