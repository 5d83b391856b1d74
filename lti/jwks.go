package lti

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/laurel-edu/laurel/internal/jose"
	"github.com/laurel-edu/laurel/internal/text"
)

// Platform keys come from the one key-set cache in internal/jose (keyed on
// the JWKS URL, so platforms sharing Canvas's JWKS share one copy). Its
// re-fetch limit: an unknown kid re-fetches a set at most once per
// jose.DefaultMinRefetch (5 s), single-flight, never holding a lock across
// the HTTP request.

func newPlatformKeys(t *Tool) *jose.KeySets {
	client := &http.Client{Transport: toolTransport{t}}
	return jose.NewKeySets(client, func() time.Time { return t.Now() }, t.log)
}

// toolTransport fetches with the Tool's HTTPClient as it is at fetch time
// (it may be replaced after New).
type toolTransport struct{ t *Tool }

func (tr toolTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return tr.t.HTTPClient.Do(r)
}

// KeySets is the Tool's cache of remote key sets (platform JWKS), for the
// other verifiers of the process to share (canvas.Options.KeySets).
func (t *Tool) KeySets() *jose.KeySets { return t.jwks }

// platformVerifier returns the signature check of a launch from p.
func (t *Tool) platformVerifier(ctx context.Context, p *Platform) func(token []byte, h jose.Header) error {
	return func(token []byte, h jose.Header) error {
		err := t.jwks.VerifySignature(ctx, token, h, jose.VerifyOptions{URL: p.JWKSURL, AnyKid: true})
		return keyError(err, p.JWKSURL)
	}
}

// keyError turns the JOSE layer's refusal into the launch's.
func keyError(err error, url string) error {
	var je *jose.Error
	if !errors.As(err, &je) {
		return err
	}
	switch je.Kind {
	case jose.KeysUnavailable:
		return unauthorized(ReasonJWKS, "The platform's public keys could not be fetched from %s.", url)
	case jose.MissingKid:
		return unauthorized(ReasonKid, "The id_token names no kid and %s.", strings.TrimPrefix(je.Message, "the token names no kid and "))
	case jose.UnknownKid:
		return unauthorized(ReasonKid, "The platform publishes no key with kid %q (its key set at %s was re-checked).", text.Truncate(je.Kid, 80), url)
	case jose.NoSignature:
		return badRequest(ReasonMalformed, "The id_token's signature is missing or not base64url.")
	case jose.Signature:
		return unauthorized(ReasonSignature, "The id_token's signature does not verify with the platform's key %q.", text.Truncate(je.Kid, 80))
	case jose.Alg:
		if je.Alg != "RS256" {
			alg := je.Alg
			if alg == "" {
				alg = "(missing)"
			}
			return unauthorized(ReasonAlg, "The id_token is signed with alg %q; only RS256 is accepted.", text.Truncate(alg, 20))
		}
		return unauthorized(ReasonAlg, "The id_token's header has a crit parameter, which LTI does not use.")
	}
	msg := strings.Replace(je.Message, "the token", "the id_token", 1)
	return badRequest(ReasonMalformed, "%s.", strings.ToUpper(msg[:1])+msg[1:])
}
