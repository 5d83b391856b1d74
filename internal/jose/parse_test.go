package jose_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/laurel-edu/laurel/internal/jose"
)

// TestParseReadsHeadersAsEncodingJSON: Parse reads a header as
// encoding/json (the reader it replaced) does, so no header is read
// differently after the change: names matched without regard to case, the
// last duplicate winning ("alg":"RS256" followed by "ALG":"none" is
// alg none, refused), null and absent crit told apart, invalid UTF-8
// replaced; headers encoding/json refuses are refused.
func TestParseReadsHeadersAsEncodingJSON(t *testing.T) {
	type v1Header struct {
		Alg, Kid, Typ string
		JWK           json.RawMessage `json:"jwk"`
		Crit          json.RawMessage `json:"crit"`
	}
	for _, h := range []string{
		`{"alg":"RS256","kid":"k1","typ":"JWT"}`,
		`{"alg":"RS256","ALG":"none"}`,
		`{"Alg":"RS256","Kid":"K"}`,
		`{"alg":"RS256","crit":null}`,
		`{"alg":"RS256","crit":["exp"],"jwk":{"kty":"EC","crv":"P-256"}}`,
		"{\"alg\":\"RS\xff256\"}",
		`{"alg":"RS256","extra":{"nested":[1,2,{"a":null}]}}`,
		`{"alg":"\u0052S256"}`,
		`null`,
		`{"alg":256}`, `[]`, `{"alg":"RS256"`, `{"alg":"RS256"} {}`, `"RS256"`,
	} {
		var want v1Header
		v1err := json.Unmarshal([]byte(h), &want)
		tok := base64.RawURLEncoding.EncodeToString([]byte(h)) + "." + base64.RawURLEncoding.EncodeToString([]byte(`{}`)) + ".c2ln"
		got, _, err := jose.Parse([]byte(tok))
		if (err != nil) != (v1err != nil) {
			t.Errorf("header %s: Parse error %v, encoding/json error %v", h, err, v1err)
			continue
		}
		if err != nil {
			continue
		}
		if got.Alg != want.Alg || got.Kid != want.Kid || got.Typ != want.Typ ||
			!bytes.Equal(got.JWK, want.JWK) || !bytes.Equal(got.Crit, want.Crit) || (got.Crit == nil) != (want.Crit == nil) {
			t.Errorf("header %s: Parse read %+v, encoding/json %+v", h, got, want)
		}
	}
}
