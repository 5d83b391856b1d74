package lti

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/jose"
	"github.com/laurel-edu/laurel/internal/web"
)

// The fuzz targets check that no input makes the launch validator panic, and
// that every refusal is an *apperr.Error with a reason and a 4xx status. The
// seed corpus under testdata/fuzz holds valid and broken tokens signed with
// testdata/fuzz_key.pem (a test-only key) at fuzzNow.

var (
	fuzzKeyOnce sync.Once
	fuzzKey     *rsa.PrivateKey
	fuzzNow     = time.Unix(1_800_000_000, 0)
)

func loadFuzzKey(t testing.TB) *rsa.PrivateKey {
	fuzzKeyOnce.Do(func() {
		b, err := os.ReadFile("testdata/fuzz_key.pem")
		if err != nil {
			panic(err)
		}
		blk, _ := pem.Decode(b)
		fuzzKey, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
		if err != nil {
			panic(err)
		}
	})
	return fuzzKey
}

// fuzzJWKSURL is where fuzzKeySets finds the fuzz key.
const fuzzJWKSURL = "https://canvas.example/api/lti/security/jwks"

var (
	fuzzSetsOnce sync.Once
	fuzzSets     *jose.KeySets
)

// fuzzKeySets is the key-set cache a launch verifies with, its JWKS (the
// fuzz key) served from memory.
func fuzzKeySets(t testing.TB) *jose.KeySets {
	fuzzSetsOnce.Do(func() {
		js, err := jose.JWKS([]jose.SigningKey{{KID: "fuzz", Priv: loadFuzzKey(t)}})
		if err != nil {
			panic(err)
		}
		client := &http.Client{Transport: jwksFromMemory(js)}
		fuzzSets = jose.NewKeySets(client, func() time.Time { return fuzzNow }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	})
	return fuzzSets
}

// jwksFromMemory answers every request with its JWKS.
type jwksFromMemory []byte

func (b jwksFromMemory) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(b)), Request: r}, nil
}

func fuzzOptions(t testing.TB) ValidateOptions {
	return ValidateOptions{
		Issuer: "https://canvas.example", ClientID: "10000000000001", Nonce: "n-123", Now: fuzzNow, Leeway: 2 * time.Minute,
		Verify: func(token []byte, h jose.Header) error {
			if h.Kid != "fuzz" {
				return unauthorized(ReasonKid, "no key %q", h.Kid)
			}
			err := fuzzKeySets(t).VerifySignature(context.Background(), token, h, jose.VerifyOptions{URL: fuzzJWKSURL})
			return keyError(err, fuzzJWKSURL)
		},
		Deployment: func(id string) (bool, error) { return id == "1:dep", nil },
	}
}

func fuzzSign(t testing.TB, header map[string]any, payload []byte) string {
	h, _ := json.Marshal(header)
	in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(payload)
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, loadFuzzKey(t), crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func fuzzClaims() map[string]any {
	return map[string]any{
		"iss": "https://canvas.example", "aud": "10000000000001", "azp": "10000000000001", "sub": "u-1",
		"exp": fuzzNow.Add(time.Hour).Unix(), "iat": fuzzNow.Unix(), "nonce": "n-123",
		ClaimDeploymentID: "1:dep", ClaimVersion: Version, ClaimMessageType: MessageResourceLink,
		ClaimResourceLink:       map[string]any{"id": "rl-1"},
		ClaimRoles:              []any{RoleInstructor},
		ClaimContext:            map[string]any{"id": "ctx", "title": "Course", "type": []any{"CourseOffering"}},
		ClaimCustom:             map[string]any{"canvas_user_id": "5", "n": 3.5, "o": map[string]any{"a": 1}},
		ClaimNRPS:               map[string]any{"context_memberships_url": "https://canvas.example/nrps", "service_versions": []any{"2.0"}},
		ClaimLaunchPresentation: map[string]any{"height": 1e300, "width": -5},
	}
}

func checkResult(t *testing.T, l *Launch, err error) {
	if err != nil {
		var le *apperr.Error
		if st := web.Status(apperr.Code(err)); !errors.As(err, &le) || le.Reason == "" || st < 400 || st > 403 || le.Message == "" {
			t.Fatalf("refusal is not a proper launch refusal: %#v", err)
		}
		return
	}
	if l.Sub == "" || l.Roles == nil || l.DeploymentID != "1:dep" || (l.MessageType == MessageResourceLink && l.ResourceLinkID == "") {
		t.Fatalf("accepted an incomplete launch: %+v", l)
	}
	if _, err := json.Marshal(l); err != nil {
		t.Fatalf("launch does not serialize: %v", err)
	}
}

func TestFuzzSeedsValid(t *testing.T) {
	valid, _ := json.Marshal(fuzzClaims())
	l, err := ValidateIDToken(fuzzSign(t, map[string]any{"alg": "RS256", "kid": "fuzz"}, valid), fuzzOptions(t))
	if err != nil || !l.IsInstructor() || l.Custom["n"] != "3.5" {
		t.Fatalf("seed launch: %+v %v", l, err)
	}
	if os.Getenv("LAUREL_WRITE_FUZZ_CORPUS") == "1" {
		writeCorpus(t)
	}
}

// FuzzValidateIDToken feeds arbitrary id_token strings.
func FuzzValidateIDToken(f *testing.F) {
	valid, _ := json.Marshal(fuzzClaims())
	f.Add(fuzzSign(f, map[string]any{"alg": "RS256", "kid": "fuzz"}, valid))
	f.Add("")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, raw string) {
		l, err := ValidateIDToken(raw, fuzzOptions(t))
		checkResult(t, l, err)
	})
}

// FuzzLaunchClaims signs arbitrary payloads validly, to reach the claim
// checks behind the signature.
func FuzzLaunchClaims(f *testing.F) {
	valid, _ := json.Marshal(fuzzClaims())
	f.Add(valid)
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		tok := fuzzSign(t, map[string]any{"alg": "RS256", "kid": "fuzz"}, payload)
		l, err := ValidateIDToken(tok, fuzzOptions(t))
		checkResult(t, l, err)
	})
}

// writeCorpus regenerates the committed seed corpus.
func writeCorpus(t *testing.T) {
	hdr := map[string]any{"alg": "RS256", "kid": "fuzz"}
	mut := func(f func(map[string]any)) []byte {
		c := fuzzClaims()
		f(c)
		b, _ := json.Marshal(c)
		return b
	}
	payloads := map[string][]byte{
		"valid": mut(func(map[string]any) {}),
		"deep_linking": mut(func(c map[string]any) {
			c[ClaimMessageType] = MessageDeepLinking
			c[ClaimDeepLinking] = map[string]any{"deep_link_return_url": "https://x/r", "data": "d"}
		}),
		"aud_list":     mut(func(c map[string]any) { c["aud"] = []any{"10000000000001", "x"} }),
		"no_roles":     mut(func(c map[string]any) { delete(c, ClaimRoles) }),
		"roles_mixed":  mut(func(c map[string]any) { c[ClaimRoles] = []any{"a", 1, nil} }),
		"exp_float":    mut(func(c map[string]any) { c["exp"] = 1.8e9 + 3600.5 }),
		"exp_string":   mut(func(c map[string]any) { c["exp"] = "tomorrow" }),
		"deep_nesting": []byte(`{"a":[[[[[[[[[[[[[[[[[[[[{}]]]]]]]]]]]]]]]]]]]]}`),
	}
	dir := filepath.Join("testdata", "fuzz")
	for name, p := range payloads {
		writeSeed(t, filepath.Join(dir, "FuzzLaunchClaims", name), fmt.Sprintf("[]byte(%q)", p))
		writeSeed(t, filepath.Join(dir, "FuzzValidateIDToken", name), fmt.Sprintf("string(%q)", fuzzSign(t, hdr, p)))
	}
	valid := payloads["valid"]
	for name, h := range map[string]map[string]any{
		"alg_none": {"alg": "none", "kid": "fuzz"}, "alg_hs256": {"alg": "HS256", "kid": "fuzz"},
		"no_kid": {"alg": "RS256"}, "crit": {"alg": "RS256", "kid": "fuzz", "crit": []any{"b64"}, "b64": false},
	} {
		writeSeed(t, filepath.Join(dir, "FuzzValidateIDToken", name), fmt.Sprintf("string(%q)", fuzzSign(t, h, valid)))
	}
	writeSeed(t, filepath.Join(dir, "FuzzValidateIDToken", "two_parts"), `string("eyJhbGciOiJSUzI1NiJ9.e30")`)
}

func writeSeed(t *testing.T, path, value string) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("go test fuzz v1\n"+value+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A claim given twice is refused (RFC 7519 §4 lets a parser refuse or take
// the last), at the top and inside a claim: the platform's signature covers
// both values, and Laurel does not guess which one it meant.
func TestDuplicateClaimNamesRefused(t *testing.T) {
	js, err := json.Marshal(fuzzClaims())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ValidateIDToken(fuzzSign(t, map[string]any{"alg": "RS256", "kid": "fuzz", "typ": "JWT"}, js), fuzzOptions(t)); err != nil {
		t.Fatalf("the claims without duplicates were refused: %v", err)
	}
	for name, payload := range map[string]string{
		"sub twice":            `{"sub":"u-2",` + string(js[1:]),
		"twice inside context": strings.Replace(string(js), `"id":"ctx"`, `"id":"ctx","id":"other"`, 1),
	} {
		_, err := ValidateIDToken(fuzzSign(t, map[string]any{"alg": "RS256", "kid": "fuzz", "typ": "JWT"}, []byte(payload)), fuzzOptions(t))
		if apperr.Reason(err) != ReasonMalformed || !strings.Contains(apperr.Message(err), "distinct claim names") {
			t.Errorf("%s: %v (reason %q), want a %s refusal naming distinct claim names", name, err, apperr.Reason(err), ReasonMalformed)
		}
	}
}
