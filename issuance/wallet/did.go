package wallet

// Holder keys: the DIDs and JWKs a wallet proves possession with.

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/laurel-edu/laurel/internal/jose"
	"github.com/laurel-edu/laurel/issuance/openbadges"
)

// maxDIDLength bounds a holder DID (a did:jwk of a P-256 key is about 200
// characters).
const maxDIDLength = 1000

// ResolveDID returns the public key of a did:key (Ed25519 or P-256) or
// did:jwk DID, or of a DID URL naming its key (did:…#fragment). Other
// methods are an error: nothing is fetched.
func ResolveDID(didURL string) (did string, pub any, err error) {
	did, frag, _ := strings.Cut(didURL, "#")
	if len(did) > maxDIDLength {
		return "", nil, errors.New("the DID is too long")
	}
	switch {
	case strings.HasPrefix(did, "did:key:"):
		mb := strings.TrimPrefix(did, "did:key:")
		if frag != "" && frag != mb {
			return "", nil, errors.New("a did:key names its own key: the fragment must repeat the key")
		}
		pub, err := openbadges.ParseMultikey(mb)
		if err != nil {
			return "", nil, fmt.Errorf("did:key: %w", err)
		}
		return did, pub, nil
	case strings.HasPrefix(did, "did:jwk:"):
		if frag != "" && frag != "0" {
			return "", nil, errors.New("a did:jwk names its key as #0")
		}
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(did, "did:jwk:"))
		if err != nil {
			return "", nil, errors.New("did:jwk: the key is not base64url")
		}
		pub, err := jose.ParsePublicJWK(b)
		if err != nil {
			return "", nil, fmt.Errorf("did:jwk: %w", err)
		}
		return did, pub, nil
	}
	return "", nil, errors.New("only did:key and did:jwk holders are accepted")
}

// jwkDID is the did:jwk of a public key given as a JWK, so a holder that
// proves possession with a bare JWK still gets a DID as its subject.
func jwkDID(raw json.RawMessage) (string, any, error) {
	pub, err := jose.ParsePublicJWK(raw)
	if err != nil {
		return "", nil, err
	}
	// The DID holds only the public members, in a fixed order.
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", nil, err
	}
	keep := map[string]any{"kty": m["kty"], "crv": m["crv"], "x": m["x"]}
	switch pub.(type) {
	case *ecdsa.PublicKey:
		keep["y"] = m["y"]
	case ed25519.PublicKey:
	}
	b, err := json.Marshal(keep)
	if err != nil {
		return "", nil, err
	}
	return "did:jwk:" + base64.RawURLEncoding.EncodeToString(b), pub, nil
}

// IsHolderDID reports whether s looks like a DID Laurel binds credentials to.
func IsHolderDID(s string) bool {
	_, _, err := ResolveDID(strings.TrimSpace(s))
	return err == nil
}
