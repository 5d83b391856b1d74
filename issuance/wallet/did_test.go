package wallet_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/issuance/internal/issuancetest"
	"github.com/laurel-edu/laurel/issuance/openbadges"
	"github.com/laurel-edu/laurel/issuance/wallet"
)

func TestResolveDID(t *testing.T) {
	for _, c := range []struct {
		did  string
		want string // "ed25519", "p256" or "" (refused)
	}{
		{"did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK", "ed25519"},
		{"did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK#z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK", "ed25519"},
		{"did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK#z6MkOther", ""},
		// The did:key specification's P-256 example.
		{"did:key:zDnaerDaTF5BXEavCrfRZEk316dpbLsfPDZ3WJ5hRTPFU2169", "p256"},
		{"did:web:example.edu", ""},
		{"did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme", ""}, // secp256k1: not accepted
		{"did:jwk:bm90IGpzb24", ""},
	} {
		_, pub, err := wallet.ResolveDID(c.did)
		got := ""
		switch pub.(type) {
		case ed25519.PublicKey:
			got = "ed25519"
		case *ecdsa.PublicKey:
			got = "p256"
		}
		if got != c.want {
			t.Errorf("%s: %s (%v), want %q", c.did, got, err, c.want)
		}
	}
}

// An ES256 proof naming its key as a jwk header: the credential is bound
// to that key's did:jwk.
func TestProofWithJWKHeader(t *testing.T) {
	e := mustEnv(t, nil)
	ctx := context.Background()
	o, err := e.Wallet.CreateOffer(ctx, issuancetest.Actor, e.Cred.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	pre, _ := offerCode(t, e, o)
	_, tok := do(t, "POST", e.URL+"/wallet/token", "application/x-www-form-urlencoded", form("grant_type", wallet.PreAuthGrant, "pre-authorized_code", pre), "")
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	raw, _ := priv.PublicKey.Bytes()
	enc := base64.RawURLEncoding
	jwk := map[string]string{"kty": "EC", "crv": "P-256", "x": enc.EncodeToString(raw[1:33]), "y": enc.EncodeToString(raw[33:])}
	hdr, _ := json.Marshal(map[string]any{"alg": "ES256", "typ": "openid4vci-proof+jwt", "jwk": jwk})
	pl, _ := json.Marshal(map[string]any{"aud": e.URL, "iat": time.Now().Unix(), "nonce": nonce(t, e)})
	in := enc.EncodeToString(hdr) + "." + enc.EncodeToString(pl)
	digest := sha256.Sum256([]byte(in))
	sig, _ := priv.Sign(rand.Reader, digest[:], nil)
	r, s := derToRS(t, sig)
	proof := in + "." + enc.EncodeToString(append(r, s...))
	body, _ := json.Marshal(map[string]any{"credential_configuration_id": wallet.ConfigJWT, "proofs": map[string]any{"jwt": []string{proof}}})
	code, out := do(t, "POST", e.URL+"/wallet/credential", "application/json", string(body), tok["access_token"].(string))
	if code != http.StatusOK {
		t.Fatalf("credential: %d %v", code, out)
	}
	jwt := out["credentials"].([]any)[0].(map[string]any)["credential"].(string)
	payload, _ := enc.DecodeString(strings.Split(jwt, ".")[1])
	var vc openbadges.Credential
	var claims struct{ Sub string }
	_ = json.Unmarshal(payload, &vc)
	_ = json.Unmarshal(payload, &claims)
	if !strings.HasPrefix(claims.Sub, "did:jwk:") || vc.CredentialSubject.ID != claims.Sub {
		t.Fatalf("sub %q, subject %q", claims.Sub, vc.CredentialSubject.ID)
	}
	if _, pub, err := wallet.ResolveDID(claims.Sub); err != nil || !pub.(*ecdsa.PublicKey).Equal(&priv.PublicKey) {
		t.Fatalf("the did:jwk does not resolve to the prover's key: %v", err)
	}
}

// derToRS splits an ASN.1 ECDSA signature into 32-byte r and s.
func derToRS(t *testing.T, der []byte) ([]byte, []byte) {
	t.Helper()
	// SEQUENCE { INTEGER r, INTEGER s }
	i := 2
	read := func() []byte {
		n := int(der[i+1])
		v := der[i+2 : i+2+n]
		i += 2 + n
		v = []byte(strings.TrimLeft(string(v), "\x00"))
		out := make([]byte, 32)
		copy(out[32-len(v):], v)
		return out
	}
	return read(), read()
}
