package signing

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/laurel-edu/laurel/internal/jose"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/openbadges"
)

// TestJWTPayloadIsJSON: the VC-JWT payload is the credential plus its
// claims, encoded as JSON, also for text that Go quoting (%q) would write
// as invalid JSON (\x07, \U0001F600 escapes).
func TestJWTPayloadIsJSON(t *testing.T) {
	b := openbadges.Credential{ID: "https://laurel.test/c/abc\x07\u2028😀", Issuer: openbadges.Profile{ID: "did:web:laurel.test\x01"},
		ValidFrom: "2026-06-30T00:00:00Z", ValidUntil: "2027-06-30T23:59:59Z"}
	p, err := jwtPayload(b)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(p) {
		t.Fatalf("payload is not JSON: %s", p)
	}
	var got struct {
		ID  string `json:"id"`
		Iss string `json:"iss"`
		Jti string `json:"jti"`
		Nbf int64  `json:"nbf"`
		Exp int64  `json:"exp"`
	}
	if err := json.Unmarshal(p, &got); err != nil {
		t.Fatal(err)
	}
	want := struct {
		ID, Iss, Jti string
		Nbf, Exp     int64
	}{b.ID, b.Issuer.ID, b.ID, 1782777600, 1814399999}
	if diff := cmp.Diff(want, struct {
		ID, Iss, Jti string
		Nbf, Exp     int64
	}{got.ID, got.Iss, got.Jti, got.Nbf, got.Exp}); diff != "" {
		t.Fatalf("claims (-want +got):\n%s", diff)
	}
	// Without validUntil there is no exp.
	b.ValidUntil = ""
	if p, err = jwtPayload(b); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(p, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["exp"]; ok {
		t.Fatalf("exp without validUntil: %s", p)
	}
}

// TestResultsArePublicResultsOnly: the signed achievement describes the
// group's public result attributes, and a credential carries a result for
// each of them it has a value for; recipient or staff results, and public
// attributes that are not results, are not signed.
func TestResultsArePublicResultsOnly(t *testing.T) {
	s := &Service{BaseURL: "https://laurel.test/"}
	g := issuance.Group{ID: 7, Name: "G", CourseName: "C", Attributes: []issuance.Attribute{
		{Key: "grade", Label: "Grade", Visibility: issuance.VisibilityPublic, ResultType: "LetterGrade"},
		{Key: "score", Label: "Score", Visibility: issuance.VisibilityPublic, ResultType: "RawScore"},
		{Key: "gpa", Label: "GPA", Visibility: issuance.VisibilityRecipient, ResultType: "GradePointAverage"},
		{Key: "rank", Label: "Rank", Visibility: issuance.VisibilityStaff, ResultType: "Result"},
		{Key: "honours", Label: "Honours", Visibility: issuance.VisibilityPublic},
	}}
	a := s.achievement(g, issuance.Certificate, false, IssuerIdentity{Name: "U"})
	want := []openbadges.ResultDescription{
		{ID: "https://laurel.test/achievements/7#result-grade", Type: []string{"ResultDescription"}, Name: "Grade", ResultType: "LetterGrade"},
		{ID: "https://laurel.test/achievements/7#result-score", Type: []string{"ResultDescription"}, Name: "Score", ResultType: "RawScore"},
	}
	if d := cmp.Diff(want, a.ResultDescription); d != "" {
		t.Fatalf("result descriptions (-want +got):\n%s", d)
	}
	c := issuance.PublicCredential{Group: g, Credential: issuance.Credential{Attributes: map[string]string{
		"grade": "B+", "gpa": "3.3", "rank": "4", "honours": "yes"}}} // no score
	wantR := []openbadges.Result{{Type: []string{"Result"}, ResultDescription: "https://laurel.test/achievements/7#result-grade", Value: "B+"}}
	if d := cmp.Diff(wantR, results(c, a.ID)); d != "" {
		t.Fatalf("results (-want +got):\n%s", d)
	}
}

// TestSignOneMatchesMarshal: signOne encodes each credential once and
// appends the proof (and the JWT claims) to that encoding; the result is
// byte for byte what encoding the signed credential (and jwtPayload) gives,
// on text that JSON escapes in every way it can.
func TestSignOneMatchesMarshal(t *testing.T) {
	_, edPriv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	esPriv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sg := &signer{ed: edPriv, vm: "did:web:laurel.test#k1", es: jose.ES256Key{KID: "https://laurel.test/issuer/keys/k2", Priv: esPriv}}
	now := time.Date(2026, 12, 7, 17, 0, 0, 0, time.UTC)
	names := []string{"Ana", "José Ñúñez", `O'Brien "Bob" <b@x> & co`, "line\u2028sep\u2029", "😀 \\ back/slash", ""}
	for i, name := range names {
		a := openbadges.Achievement{ID: "https://laurel.test/achievements/7", Type: []string{"Achievement"}, AchievementType: "Badge",
			Name: "Data <Science> & \"more\"", Description: name + " desc", Criteria: openbadges.Criteria{Narrative: "Completed " + name}}
		if i%2 == 0 {
			a.Image = &openbadges.Image{ID: a.ID + "/image", Type: "Image"}
			a.ResultDescription = []openbadges.ResultDescription{{ID: a.ID + "#result-grade", Type: []string{"ResultDescription"}, Name: "Grade", ResultType: "LetterGrade"}}
		}
		p := openbadges.Profile{ID: "did:web:laurel.test", Type: []string{"Profile"}, Name: "Univ & <Co>", URL: "https://laurel.test/?a=1&b=2"}
		until := ""
		if i%3 == 0 {
			until = "2027-06-30T23:59:59Z"
		}
		b := openbadges.NewCredential(fmt.Sprintf("https://laurel.test/c/%024d", i), p, a,
			openbadges.Recipient{Email: "a@example.edu", Name: name, Salt: "s" + name}, "2026-06-30T00:00:00Z", until,
			openbadges.StatusEntry{ID: "https://laurel.test/status/0#1", Type: "BitstringStatusListEntry", StatusPurpose: "revocation", StatusListIndex: "1", StatusListCredential: "https://laurel.test/status/0"})
		if i%2 == 0 {
			b.CredentialSubject.Result = []openbadges.Result{{Type: []string{"Result"}, ResultDescription: a.ID + "#result-grade", Value: "A <+> " + name}}
		}
		got, err := sg.signOne(b, now)
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		withProof, err := b.Sign(edPriv, sg.vm, now)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(withProof)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(string(want), got.json); d != "" {
			t.Fatalf("%q: signed JSON differs (-marshal +signOne):\n%s", name, d)
		}
		wantPayload, err := jwtPayload(b)
		if err != nil {
			t.Fatal(err)
		}
		h, payload, err := jose.VerifyES256(got.jwt, &esPriv.PublicKey)
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		if d := cmp.Diff(string(wantPayload), string(payload)); d != "" {
			t.Fatalf("%q: JWT payload differs (-jwtPayload +signOne):\n%s", name, d)
		}
		if h.Kid != sg.es.KID {
			t.Fatalf("%q: kid %q", name, h.Kid)
		}
	}
}

// BenchmarkSignOne signs one credential with both proofs, as a batch does
// for each of its credentials.
func BenchmarkSignOne(b *testing.B) {
	_, edPriv, _ := ed25519.GenerateKey(nil)
	esPriv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sg := &signer{ed: edPriv, vm: "did:web:laurel.test#k1", es: jose.ES256Key{KID: "https://laurel.test/issuer/keys/k2", Priv: esPriv}}
	a := openbadges.Achievement{ID: "https://laurel.test/achievements/7", Type: []string{"Achievement"}, AchievementType: "Badge",
		Name: "Introduction to Data Science", Description: "Awarded by Example University for completing DS 101.",
		Criteria: openbadges.Criteria{Narrative: "Completed the course DS 101, as recorded by Example University."},
		Image:    &openbadges.Image{ID: "https://laurel.test/achievements/7/image", Type: "Image"}}
	p := openbadges.Profile{ID: "did:web:laurel.test", Type: []string{"Profile"}, Name: "Example University", URL: "https://laurel.test"}
	c := openbadges.NewCredential("https://laurel.test/c/abcdefghijklmnopqrstuvwx", p, a,
		openbadges.Recipient{Email: "jose@example.edu", Name: "José Ñúñez", Salt: "0123456789abcdef0123456789abcdef"}, "2026-06-30T00:00:00Z", "",
		openbadges.StatusEntry{ID: "https://laurel.test/status/0#1", Type: "BitstringStatusListEntry", StatusPurpose: "revocation", StatusListIndex: "1", StatusListCredential: "https://laurel.test/status/0"})
	now := time.Now()
	for b.Loop() {
		if _, err := sg.signOne(c, now); err != nil {
			b.Fatal(err)
		}
	}
}
