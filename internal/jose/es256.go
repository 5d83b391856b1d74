package jose

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// ES256Key is one of Laurel's own P-256 keys (the VC-JWT of Open Badges
// credentials: Ed25519 is not allowed there, and ES256 signs in
// microseconds where RS256 takes a millisecond).
type ES256Key struct {
	KID  string
	Priv *ecdsa.PrivateKey
}

// PublicJWKES256 is the published form of an ES256 key: kty EC, crv P-256,
// kid, alg ES256, use sig.
func PublicJWKES256(kid string, pub *ecdsa.PublicKey) (json.RawMessage, error) {
	if pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("key %s: not a P-256 key", kid)
	}
	k, err := jwk.Import(pub)
	if err != nil {
		return nil, fmt.Errorf("import key %s: %w", kid, err)
	}
	for name, v := range map[string]any{jwk.KeyIDKey: kid, jwk.AlgorithmKey: jwa.ES256(), jwk.KeyUsageKey: "sig"} {
		if err := k.Set(name, v); err != nil {
			return nil, fmt.Errorf("key %s: set %s: %w", kid, name, err)
		}
	}
	return json.Marshal(k)
}

// SignES256 signs payload as a compact JWS with alg ES256, kid and typ
// (omitted when "") in the protected header, and no other header.
func SignES256(k ES256Key, typ string, payload []byte) (string, error) {
	return signCompact(jwa.ES256(), k.Priv, k.KID, typ, payload)
}

// VerifyES256 checks a compact JWS signed with ES256 by pub and returns its
// header and payload. Any other alg, a crit header or a bad signature is an
// *Error.
func VerifyES256(token string, pub *ecdsa.PublicKey) (Header, []byte, error) {
	h, payload, err := Parse([]byte(token))
	if err != nil {
		return h, nil, err
	}
	if h.Alg != "ES256" {
		return h, nil, &Error{Kind: Alg, Message: fmt.Sprintf("the token's alg is %q; only ES256 is accepted here", h.Alg)}
	}
	if len(h.Crit) > 0 {
		return h, nil, &Error{Kind: Alg, Message: "the token has a crit header"}
	}
	last := strings.LastIndexByte(token, '.')
	sig, err := base64.RawURLEncoding.DecodeString(token[last+1:])
	if err != nil || len(sig) != 64 {
		return h, nil, &Error{Kind: NoSignature, Message: "the token's ES256 signature is not 64 bytes of base64url"}
	}
	digest := sha256.Sum256([]byte(token[:last]))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(pub, digest[:], r, s) {
		return h, nil, &Error{Kind: Signature, Message: "the token's signature does not verify"}
	}
	return h, payload, nil
}
