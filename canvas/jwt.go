package canvas

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// The Live Events JWT is the one token Laurel verifies outside package lti:
// it is Canvas-only (Instructure's own JWKS, not an LTI platform's), so its
// verifier lives here, in this one file.

// jwksCache holds the Live Events signing keys. Instructure rotates them
// monthly and publishes previous, current and next keys, so an unknown kid
// triggers a re-fetch — at most one per minRefetch, so a flood of forged kids
// cannot make us hammer the JWKS endpoint.
type jwksCache struct {
	url        string
	client     *http.Client
	now        func() time.Time
	minRefetch time.Duration
	maxAge     time.Duration

	// mu guards the keys; fetchMu makes fetches single-flight, so a slow
	// JWKS endpoint never blocks deliveries signed with a known, fresh key.
	mu        sync.RWMutex
	fetchMu   sync.Mutex
	keys      map[string]*rsa.PublicKey
	fetchedAt time.Time // last successful fetch
	triedAt   time.Time // last attempt
}

func newJWKSCache(url string, client *http.Client, now func() time.Time) *jwksCache {
	return &jwksCache{url: url, client: client, now: now, minRefetch: 10 * time.Second, maxAge: 6 * time.Hour}
}

var errUnknownKid = errors.New("unknown kid")

// cached returns the key with this kid and whether the set is fresh.
func (c *jwksCache) cached(kid string) (*rsa.PublicKey, bool, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	k, ok := c.keys[kid]
	fresh := !c.fetchedAt.IsZero() && c.now().Sub(c.fetchedAt) <= c.maxAge
	return k, ok, fresh
}

// key returns the RS256 key with this kid, fetching the JWKS when the kid is
// unknown or the cached set is old.
func (c *jwksCache) key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	if k, ok, fresh := c.cached(kid); ok && fresh {
		return k, nil
	}
	c.fetchMu.Lock()
	defer c.fetchMu.Unlock()
	// Another request may have fetched while this one waited.
	k, ok, fresh := c.cached(kid)
	if ok && fresh {
		return k, nil
	}
	c.mu.RLock()
	tried := c.triedAt
	c.mu.RUnlock()
	now := c.now()
	if now.Sub(tried) < c.minRefetch {
		if ok {
			return k, nil
		}
		return nil, errUnknownKid
	}
	c.mu.Lock()
	c.triedAt = now
	c.mu.Unlock()
	keys, err := c.fetch(ctx)
	if err != nil {
		slog.WarnContext(ctx, "live events jwks fetch failed", "url", c.url, "err", err)
		if ok {
			return k, nil // a stale key beats refusing every event while the JWKS is down
		}
		return nil, fmt.Errorf("fetch live events JWKS: %w", err)
	}
	c.mu.Lock()
	c.keys, c.fetchedAt = keys, now
	c.mu.Unlock()
	if k, ok = keys[kid]; !ok {
		return nil, errUnknownKid
	}
	return k, nil
}

func (c *jwksCache) fetch(ctx context.Context) (map[string]*rsa.PublicKey, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d", c.url, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	set, err := jwk.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("parse JWKS: %w", err)
	}
	keys := map[string]*rsa.PublicKey{}
	for i := range set.Len() {
		k, _ := set.Key(i)
		kid, ok := k.KeyID()
		if !ok || kid == "" {
			continue
		}
		if alg, ok := k.Algorithm(); ok && alg.String() != jwa.RS256().String() {
			continue
		}
		if use, ok := k.KeyUsage(); ok && use != "" && use != "sig" {
			continue
		}
		var pub rsa.PublicKey
		if err := jwk.Export(k, &pub); err != nil {
			continue // not an RSA public key: never usable for RS256
		}
		keys[kid] = &pub
	}
	return keys, nil
}

// leeway tolerates clock skew between Canvas and us on exp/nbf/iat.
const leeway = 2 * time.Minute

// verifyJWT checks a compact JWS as a Live Events token — RS256 only, a kid
// the JWKS knows, a valid signature, exp/nbf/iat sane — and returns its
// decoded claims. Its errors are *eventError with a specific reason.
func (c *jwksCache) verifyJWT(ctx context.Context, token []byte, now time.Time) (map[string]any, []byte, error) {
	parts := bytes.Split(token, []byte("."))
	if len(parts) != 3 || len(parts[0]) == 0 || len(parts[1]) == 0 {
		return nil, nil, refuse("malformed_jwt", "body is neither JSON nor a compact JWT (header.payload.signature)")
	}
	hb, err := base64.RawURLEncoding.DecodeString(string(parts[0]))
	if err != nil {
		return nil, nil, refuse("malformed_jwt", "JWT header is not base64url")
	}
	var hdr struct {
		Alg  string          `json:"alg"`
		Kid  string          `json:"kid"`
		Crit json.RawMessage `json:"crit"`
	}
	if err := json.Unmarshal(hb, &hdr); err != nil {
		return nil, nil, refuse("malformed_jwt", "JWT header is not a JSON object")
	}
	if hdr.Alg != "RS256" {
		return nil, nil, refuse("bad_alg", "JWT alg %q refused: only RS256 is accepted", truncate(hdr.Alg, 20))
	}
	if len(parts[2]) == 0 {
		return nil, nil, refuse("bad_signature", "JWT has no signature")
	}
	if hdr.Kid == "" {
		return nil, nil, refuse("missing_kid", "JWT header has no kid")
	}
	key, err := c.key(ctx, hdr.Kid)
	if errors.Is(err, errUnknownKid) {
		return nil, nil, refuse("unknown_kid", "JWT kid %q is not in the Live Events JWKS", truncate(hdr.Kid, 60))
	}
	if err != nil {
		return nil, nil, err // JWKS unreachable: our problem, Canvas should retry (5xx)
	}
	payload, err := jws.VerifyCompactFast(key, token, jwa.RS256())
	if err != nil {
		return nil, nil, refuse("bad_signature", "JWT signature does not verify with kid %q", truncate(hdr.Kid, 60))
	}
	var claims map[string]any
	if err := decode(payload, &claims); err != nil || claims == nil {
		return nil, nil, refuse("malformed_jwt", "JWT payload is not a JSON object")
	}
	if err := checkTimes(claims, now); err != nil {
		return nil, nil, err
	}
	return claims, payload, nil
}

func checkTimes(claims map[string]any, now time.Time) error {
	num := func(name string) (time.Time, bool, error) {
		v, ok := claims[name]
		if !ok || v == nil {
			return time.Time{}, false, nil
		}
		n, ok := v.(json.Number)
		if !ok {
			return time.Time{}, false, refuse("malformed_jwt", "JWT claim %s must be a number", name)
		}
		f, err := n.Float64()
		if err != nil {
			return time.Time{}, false, refuse("malformed_jwt", "JWT claim %s must be a number", name)
		}
		return time.Unix(int64(f), 0), true, nil
	}
	exp, ok, err := num("exp")
	if err != nil {
		return err
	}
	if ok && now.After(exp.Add(leeway)) {
		return refuse("expired", "JWT expired at %s", exp.UTC().Format(time.RFC3339))
	}
	nbf, ok, err := num("nbf")
	if err != nil {
		return err
	}
	if ok && now.Add(leeway).Before(nbf) {
		return refuse("not_yet_valid", "JWT not valid before %s", nbf.UTC().Format(time.RFC3339))
	}
	iat, ok, err := num("iat")
	if err != nil {
		return err
	}
	if ok && now.Add(leeway).Before(iat) {
		return refuse("not_yet_valid", "JWT issued in the future (%s)", iat.UTC().Format(time.RFC3339))
	}
	return nil
}
