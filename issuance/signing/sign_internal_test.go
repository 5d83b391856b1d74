package signing

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

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
