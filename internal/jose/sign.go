package jose

import (
	"crypto/rsa"
	"encoding/json"
	"fmt"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// SigningKey is one of Laurel's own RS256 keys.
type SigningKey struct {
	KID  string
	Priv *rsa.PrivateKey
}

// publicKey is the published form of a key: kty RSA, kid, alg RS256, use sig.
func publicKey(kid string, pub *rsa.PublicKey) (jwk.Key, error) {
	k, err := jwk.Import(pub)
	if err != nil {
		return nil, fmt.Errorf("import key %s: %w", kid, err)
	}
	for name, v := range map[string]any{jwk.KeyIDKey: kid, jwk.AlgorithmKey: jwa.RS256(), jwk.KeyUsageKey: "sig"} {
		if err := k.Set(name, v); err != nil {
			return nil, fmt.Errorf("key %s: set %s: %w", kid, name, err)
		}
	}
	return k, nil
}

// JWKS is the JSON Web Key Set publishing the public halves of keys, in order.
func JWKS(keys []SigningKey) ([]byte, error) {
	set := jwk.NewSet()
	for _, sk := range keys {
		k, err := publicKey(sk.KID, &sk.Priv.PublicKey)
		if err != nil {
			return nil, err
		}
		if err := set.AddKey(k); err != nil {
			return nil, fmt.Errorf("key %s: %w", sk.KID, err)
		}
	}
	js, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("marshal JWKS: %w", err)
	}
	return js, nil
}

// Sign signs payload as a compact JWS with alg RS256, kid and typ (omitted
// when "") in the protected header.
func Sign(k SigningKey, typ string, payload []byte) (string, error) {
	return signCompact(jwa.RS256(), k.Priv, k.KID, typ, payload)
}

// signCompact signs payload as a compact JWS with alg, kid and typ (omitted
// when "") in the protected header, and no other header.
func signCompact(alg jwa.SignatureAlgorithm, priv any, kid, typ string, payload []byte) (string, error) {
	h := jws.NewHeaders()
	if err := h.Set(jws.KeyIDKey, kid); err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	if typ != "" {
		if err := h.Set(jws.TypeKey, typ); err != nil {
			return "", fmt.Errorf("sign: %w", err)
		}
	}
	out, err := jws.Sign(payload, jws.WithKey(alg, priv, jws.WithProtectedHeaders(h)))
	if err != nil {
		return "", fmt.Errorf("sign with key %s: %w", kid, err)
	}
	return string(out), nil
}

// SignJWT signs claims as a compact JWT (typ JWT).
func SignJWT(k SigningKey, claims any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("sign: marshal claims: %w", err)
	}
	return Sign(k, "JWT", payload)
}
