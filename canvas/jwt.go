package canvas

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/laurel-edu/laurel/internal/jose"
	"github.com/laurel-edu/laurel/internal/text"
)

// The Live Events JWT is Canvas-only (Instructure's own JWKS, not an LTI
// platform's), so its claim rules live here; its form, alg, kid and
// signature are checked by the one JOSE layer, internal/jose, whose key-set
// cache re-fetches the JWKS on an unknown kid at most once per
// jose.DefaultMinRefetch (Instructure rotates the keys monthly and publishes
// previous, current and next keys).

// liveEventKeys is the Live Events JWKS in the shared key-set cache.
type liveEventKeys struct {
	url  string
	sets *jose.KeySets
}

// leeway tolerates clock skew between Canvas and us on exp/nbf/iat.
const leeway = 2 * time.Minute

// verifyJWT checks a compact JWS as a Live Events token — RS256 only, a kid
// the JWKS knows, a valid signature, exp/nbf/iat sane — and returns its
// decoded claims. Its refusals are refuse's, with a specific reason; an
// unreachable JWKS is a plain error (Canvas should retry: 5xx).
func (c *liveEventKeys) verifyJWT(ctx context.Context, token []byte, now time.Time) (map[string]any, []byte, error) {
	_, payload, err := c.sets.Verify(ctx, token, jose.VerifyOptions{URL: c.url})
	if err != nil {
		return nil, nil, tokenError(err)
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

// tokenError turns the JOSE layer's refusal into the webhook's.
func tokenError(err error) error {
	var je *jose.Error
	if !errors.As(err, &je) {
		return err
	}
	switch je.Kind {
	case jose.Malformed:
		return refuse("malformed_jwt", "body is neither JSON nor a compact JWT (header.payload.signature): %s", je.Message)
	case jose.Alg:
		if je.Alg != "RS256" {
			return refuse("bad_alg", "JWT alg %q refused: only RS256 is accepted", text.Truncate(je.Alg, 20))
		}
		return refuse("bad_alg", "JWT header has a crit parameter, which is not accepted")
	case jose.MissingKid:
		return refuse("missing_kid", "JWT header has no kid")
	case jose.UnknownKid:
		return refuse("unknown_kid", "JWT kid %q is not in the Live Events JWKS", text.Truncate(je.Kid, 60))
	case jose.NoSignature:
		return refuse("bad_signature", "JWT has no signature")
	case jose.Signature:
		return refuse("bad_signature", "JWT signature does not verify with kid %q", text.Truncate(je.Kid, 60))
	}
	return fmt.Errorf("live events JWKS: %w", err) // KeysUnavailable: our side
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
