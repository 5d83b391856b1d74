package jose

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math/big"
	"strings"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// ParsePublicJWK decodes a public JWK (an EC P-256 or an OKP Ed25519 key)
// into an *ecdsa.PublicKey or ed25519.PublicKey. A private key, or any other
// kind of key, is an *Error.
func ParsePublicJWK(b []byte) (any, error) {
	k, err := jwk.ParseKey(b)
	if err != nil {
		return nil, &Error{Kind: Malformed, Message: "the key is not a JWK: " + err.Error()}
	}
	if _, private := k.(jwk.ECDSAPrivateKey); private {
		return nil, &Error{Kind: Malformed, Message: "the JWK holds a private key"}
	}
	if _, private := k.(jwk.OKPPrivateKey); private {
		return nil, &Error{Kind: Malformed, Message: "the JWK holds a private key"}
	}
	var raw any
	if err := jwk.Export(k, &raw); err != nil {
		return nil, &Error{Kind: Malformed, Message: "the JWK cannot be used: " + err.Error()}
	}
	switch pub := raw.(type) {
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return nil, &Error{Kind: Alg, Message: "only P-256 EC keys are accepted"}
		}
		return pub, nil
	case ed25519.PublicKey:
		return pub, nil
	}
	return nil, &Error{Kind: Alg, Message: fmt.Sprintf("a %T key is not accepted: only P-256 and Ed25519", raw)}
}

// VerifyHolderJWS checks a compact JWS signed by a holder's key pub (an
// *ecdsa.PublicKey with alg ES256, or an ed25519.PublicKey with alg EdDSA)
// and returns its header and payload. Another alg, a crit header or a bad
// signature is an *Error.
func VerifyHolderJWS(token string, pub any) (Header, []byte, error) {
	h, payload, err := Parse([]byte(token))
	if err != nil {
		return h, nil, err
	}
	if len(h.Crit) > 0 {
		return h, nil, &Error{Kind: Alg, Message: "the token has a crit header"}
	}
	last := strings.LastIndexByte(token, '.')
	sig, err := base64.RawURLEncoding.DecodeString(token[last+1:])
	if err != nil {
		return h, nil, &Error{Kind: NoSignature, Message: "the token's signature is not base64url"}
	}
	input := []byte(token[:last])
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if h.Alg != "ES256" {
			return h, nil, &Error{Kind: Alg, Message: fmt.Sprintf("the token's alg is %q; a P-256 key signs ES256", h.Alg)}
		}
		if len(sig) != 64 {
			return h, nil, &Error{Kind: NoSignature, Message: "the token's ES256 signature is not 64 bytes"}
		}
		digest := sha256.Sum256(input)
		if !ecdsa.Verify(k, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
			return h, nil, &Error{Kind: Signature, Message: "the token's signature does not verify"}
		}
	case ed25519.PublicKey:
		if h.Alg != "EdDSA" && h.Alg != "Ed25519" {
			return h, nil, &Error{Kind: Alg, Message: fmt.Sprintf("the token's alg is %q; an Ed25519 key signs EdDSA", h.Alg)}
		}
		if len(sig) != ed25519.SignatureSize || !ed25519.Verify(k, input, sig) {
			return h, nil, &Error{Kind: Signature, Message: "the token's signature does not verify"}
		}
	default:
		return h, nil, &Error{Kind: Alg, Message: fmt.Sprintf("a %T key is not accepted", pub)}
	}
	return h, payload, nil
}
