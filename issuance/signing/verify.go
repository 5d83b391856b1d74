package signing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/laurel-edu/laurel/internal/jose"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/openbadges"
)

// Check is one thing the verification looked at, and what it found.
type Check struct {
	Name   string
	OK     bool
	Detail string
}

// Verification is what verifying a credential from its published artefacts
// found: the stored signed JSON and VC-JWT, the keys in the issuer's DID
// document and JWKs, and the revocation status list.
type Verification struct {
	Checks []Check
	// Valid: both proofs verify, the status list does not mark it revoked,
	// and today is within its validity dates.
	Valid   bool
	Signed  bool // a signature exists (false: nothing to verify yet)
	Revoked bool // the status list marks it revoked
	Expired bool // past validUntil
	Problem string
}

// Verify checks published credential c as an outside verifier would, from
// what Laurel publishes: the Data Integrity proof against the Multikey its
// verificationMethod names in the DID document, the VC-JWT against the JWK
// its kid names (and that it carries the same credential), the credential's
// bit in its BitstringStatusList (whose own proof is checked), and
// validFrom/validUntil against now. Failures are reported in the result,
// not as errors; an error means the checks could not run.
func (s *Service) Verify(ctx context.Context, c issuance.Credential) (Verification, error) {
	var v Verification
	sig, err := s.signature(ctx, c.ID, true)
	js, jwt := []byte(sig.JSON), sig.JWT
	if errors.Is(err, ErrSigningUnavailable) {
		v.Problem = "This credential has not been signed, so it cannot be verified."
		return v, nil
	}
	if err != nil {
		return v, err
	}
	v.Signed = true
	var cred openbadges.Credential
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cred); err != nil || cred.Proof == nil {
		v.add("Data Integrity proof", false, "The signed credential is not in the expected form.")
		return v.finish(), nil
	}
	pub, err := s.resolveMultikey(ctx, cred.Proof.VerificationMethod)
	switch {
	case err != nil:
		v.add("Data Integrity proof", false, "Its key is not in the issuer's DID document.")
	default:
		if err := cred.Verify(pub); err != nil {
			v.add("Data Integrity proof", false, "The eddsa-rdfc-2022 signature does not match the credential.")
		} else {
			v.add("Data Integrity proof", true, "eddsa-rdfc-2022 signature by key "+cred.Proof.VerificationMethod+" of "+s.DID()+".")
		}
	}
	v.add(s.checkJWT(ctx, jwt, cred))
	revoked, err := s.revokedBit(ctx, sig.Seq, sig.Revoked)
	switch {
	case err != nil:
		s.logger().Warn("verify: status list unreadable", "credential", c.ID, "err", err)
		v.add("Revocation status", false, "The status list could not be checked.")
	case revoked:
		v.Revoked = true
		v.add("Revocation status", false, "Revoked: the issuer's status list marks this credential.")
	default:
		v.add("Revocation status", true, "Not revoked (bit "+cred.CredentialStatus.StatusListIndex+" of "+cred.CredentialStatus.StatusListCredential+", whose signature was checked).")
	}
	now := s.now()
	from, ferr := time.Parse(time.RFC3339, cred.ValidFrom)
	switch {
	case ferr != nil:
		v.add("Validity dates", false, "validFrom is not a date.")
	case now.Before(from):
		v.add("Validity dates", false, "Not valid before "+from.Format(issuance.HumanDate)+".")
	case cred.ValidUntil != "":
		until, uerr := time.Parse(time.RFC3339, cred.ValidUntil)
		if uerr != nil || now.After(until) {
			v.Expired = true
			v.add("Validity dates", false, "Expired on "+until.Format(issuance.HumanDate)+".")
		} else {
			v.add("Validity dates", true, "Valid from "+from.Format(issuance.HumanDate)+" until "+until.Format(issuance.HumanDate)+".")
		}
	default:
		v.add("Validity dates", true, "Valid from "+from.Format(issuance.HumanDate)+"; does not expire.")
	}
	return v.finish(), nil
}

func (v *Verification) add(name string, ok bool, detail string) {
	v.Checks = append(v.Checks, Check{Name: name, OK: ok, Detail: detail})
}

func (v Verification) finish() Verification {
	v.Valid = v.Signed && len(v.Checks) > 0
	for _, c := range v.Checks {
		if !c.OK {
			v.Valid = false
			if v.Problem == "" {
				v.Problem = c.Name + ": " + c.Detail
			}
		}
	}
	return v
}

// checkJWT verifies the VC-JWT against its published JWK and that it
// carries the same credential as the JSON.
func (s *Service) checkJWT(ctx context.Context, jwt string, cred openbadges.Credential) (string, bool, string) {
	const name = "VC-JWT"
	h, _, err := jose.Parse([]byte(jwt))
	if err != nil {
		return name, false, "The VC-JWT is malformed."
	}
	pub, err := s.jwtKey(ctx, h.Kid)
	if err != nil {
		return name, false, "Its key is not one the issuer publishes."
	}
	_, payload, err := jose.VerifyES256(jwt, pub)
	if err != nil {
		return name, false, "The ES256 signature does not verify."
	}
	var claims struct {
		openbadges.Credential
		Iss string `json:"iss"`
		Jti string `json:"jti"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return name, false, "The VC-JWT payload is not a credential."
	}
	want := cred
	want.Proof = nil
	got, _ := json.Marshal(claims.Credential)
	wantJS, _ := json.Marshal(want)
	if !bytes.Equal(got, wantJS) || claims.Iss != cred.Issuer.ID || claims.Jti != cred.ID {
		return name, false, "The VC-JWT carries a different credential."
	}
	return name, true, fmt.Sprintf("ES256 signature by %s.", h.Kid)
}
