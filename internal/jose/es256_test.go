package jose_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/laurel-edu/laurel/internal/jose"
)

func TestES256SignVerify(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jose.SignES256(jose.ES256Key{KID: "https://laurel.test/issuer/keys/k1", Priv: priv}, "JWT", []byte(`{"iss":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	// jwx, an independent implementation, accepts it.
	if got, err := jws.Verify([]byte(tok), jws.WithKey(jwa.ES256(), &priv.PublicKey)); err != nil || string(got) != `{"iss":"x"}` {
		t.Fatalf("jwx refuses the token: %s %v", got, err)
	}
	h, payload, err := jose.VerifyES256(tok, &priv.PublicKey)
	if err != nil || h.Alg != "ES256" || h.Kid != "https://laurel.test/issuer/keys/k1" || h.Typ != "JWT" || string(payload) != `{"iss":"x"}` {
		t.Fatalf("verify = %+v %s %v", h, payload, err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if _, _, err := jose.VerifyES256(tok, &other.PublicKey); kindOf(err) != jose.Signature {
		t.Fatalf("another key: err = %v", err)
	}
	parts := strings.Split(tok, ".")
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"y"}`)) + "." + parts[2]
	if _, _, err := jose.VerifyES256(forged, &priv.PublicKey); kindOf(err) != jose.Signature {
		t.Fatalf("changed payload: err = %v", err)
	}
	js, err := jose.PublicJWKES256("k1", &priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(js, &m); err != nil || m["kty"] != "EC" || m["crv"] != "P-256" || m["alg"] != "ES256" || m["kid"] != "k1" || m["d"] != "" {
		t.Fatalf("JWK = %s (%v)", js, err)
	}
}
