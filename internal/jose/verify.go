package jose

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Header is the protected header of a verified token.
type Header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
	// JWK is a public key carried in the header (a wallet's proof of
	// possession may name its key this way instead of by kid).
	JWK jsontext.Value `json:"jwk"`
	// Crit is refused: no token Laurel accepts uses critical extensions.
	Crit jsontext.Value `json:"crit"`
}

// VerifyOptions says where a token's key comes from.
type VerifyOptions struct {
	// URL is the JWKS of the token's issuer.
	URL string
	// AnyKid accepts a token without kid when the set holds one key (LTI
	// allows it); otherwise a missing kid is refused.
	AnyKid bool
}

// minRSABits refuses keys too short to trust, whatever the set says.
const minRSABits = 2048

// headerOptions read a header as encoding/json does (names matched without
// regard to case, the last of duplicates winning, invalid UTF-8 replaced),
// at a fifth of its cost: every launch and webhook delivery parses one.
var headerOptions = jsonv2.JoinOptions(jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true), jsonv2.MatchCaseInsensitiveNames(true))

// Parse splits a compact JWS and decodes its header and payload without
// checking anything else, not even that a signature is present (a caller that must look at claims before the
// signature, such as an issuer lookup, uses it; Verify does the checks).
// Errors are *Error of kind Malformed.
func Parse(token []byte) (Header, []byte, error) {
	var h Header
	first := bytes.IndexByte(token, '.')
	last := bytes.LastIndexByte(token, '.')
	if first < 0 || first == last || bytes.Count(token, []byte(".")) != 2 {
		return h, nil, &Error{Kind: Malformed, Message: fmt.Sprintf("the token is not a compact JWT: it has %d parts separated by dots, not 3", bytes.Count(token, []byte("."))+1)}
	}
	hb, err := base64.RawURLEncoding.DecodeString(string(token[:first]))
	if err != nil || len(hb) == 0 {
		return h, nil, &Error{Kind: Malformed, Message: "the token's header is not base64url"}
	}
	if err := jsonv2.Unmarshal(hb, &h, headerOptions); err != nil {
		return h, nil, &Error{Kind: Malformed, Message: "the token's header is not a JSON object"}
	}
	pb, err := base64.RawURLEncoding.DecodeString(string(token[first+1 : last]))
	if err != nil || len(pb) == 0 {
		return h, nil, &Error{Kind: Malformed, Message: "the token's payload is not base64url"}
	}
	return h, pb, nil
}

// CheckHeader refuses every alg but RS256 and any crit header. Errors are
// *Error of kind Alg.
func CheckHeader(h Header) error {
	if h.Alg != "RS256" {
		return &Error{Kind: Alg, Alg: h.Alg, Message: "the token's alg is refused: only RS256 is accepted"}
	}
	if h.Crit != nil {
		return &Error{Kind: Alg, Alg: h.Alg, Message: "the header has a crit parameter, which is not accepted"}
	}
	return nil
}

// Verify checks a compact JWS — its form, alg RS256 (no crit), a kid the set
// at o.URL holds (re-fetched on an unknown kid, within the limit) and the
// signature, re-fetching once if a replaced key under the same kid may be
// the cause — and returns the header and the payload bytes. The payload's
// meaning is the caller's. Errors are *Error.
func (c *KeySets) Verify(ctx context.Context, token []byte, o VerifyOptions) (Header, []byte, error) {
	h, payload, err := Parse(token)
	if err != nil {
		return h, nil, err
	}
	if err := CheckHeader(h); err != nil {
		return h, nil, err
	}
	return h, payload, c.VerifySignature(ctx, token, h, o)
}

// VerifySignature is the key and signature half of Verify, for a caller
// that parsed and checked the header itself (with Parse and CheckHeader).
func (c *KeySets) VerifySignature(ctx context.Context, token []byte, h Header, o VerifyOptions) error {
	if err := checkSignaturePart(token); err != nil {
		return err
	}
	if h.Kid == "" && !o.AnyKid {
		return &Error{Kind: MissingKid, Message: "the token's header has no kid"}
	}
	key, err := c.key(ctx, o.URL, h.Kid, o.AnyKid)
	if err != nil {
		return err
	}
	if verifyRS256(key, token) {
		return nil
	}
	if k2, changed := c.refresh(ctx, o.URL, h.Kid, o.AnyKid); changed && verifyRS256(k2, token) {
		return nil
	}
	return &Error{Kind: Signature, Kid: h.Kid, Message: "the signature does not verify with the key of this kid"}
}

// checkSignaturePart refuses an empty or non-base64url signature (after the
// alg check, so an alg "none" token is refused for its alg).
func checkSignaturePart(token []byte) error {
	sig := token[bytes.LastIndexByte(token, '.')+1:]
	if len(sig) == 0 {
		return &Error{Kind: NoSignature, Message: "the token has no signature"}
	}
	if _, err := base64.RawURLEncoding.DecodeString(string(sig)); err != nil {
		return &Error{Kind: NoSignature, Message: "the token's signature is not base64url"}
	}
	return nil
}

// verifyRS256 checks RSASSA-PKCS1-v1_5 with SHA-256 over "header.payload"
// (RFC 7518 §3.3) with the standard library: the token's form and alg were
// checked already, so the JOSE library's own parsing would be done twice.
func verifyRS256(key *rsa.PublicKey, token []byte) bool {
	if key == nil || key.N == nil || key.N.BitLen() < minRSABits {
		return false
	}
	i := bytes.LastIndexByte(token, '.')
	if i < 0 {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(string(token[i+1:]))
	if err != nil {
		return false
	}
	sum := sha256.Sum256(token[:i])
	return rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig) == nil
}
