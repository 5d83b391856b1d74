// Package jose is Laurel's one JOSE layer: the cache of remote JSON Web Key
// Sets (LTI platforms, Canvas Live Events), the RS256 compact-JWS verifier
// that uses it, and the signer and JWKS publisher of Laurel's own keys. Every
// call into the JOSE library (jwx) lives here, so an upgrade touches one
// package. Claim rules stay with their owners (package lti checks id_token
// claims, package canvas Live Events claims): this package checks the
// token's form, its alg, its kid and its signature, nothing else.
//
// The key-set cache is ours rather than jwx's jwk.Cache: jwk.Cache refreshes
// registered URLs on its own schedule in background goroutines on the wall
// clock, and its refresh fetches unconditionally, so it has no "unknown kid →
// re-fetch soon, but at most once per interval, single-flight" rule and
// cannot run on an injected clock in tests. jwx parses and exports the keys
// (jwk.Parse) and signs (jws.Sign); an RS256 signature is verified with the
// standard library, after this package checked the token's form and alg.
package jose

import (
	"context"
	"crypto/rsa"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// Re-fetch limits of a key set.
//
// MinRefetch is the least time between two fetches of one set: an unknown
// kid re-fetches the set (platforms rotate keys and may start signing with a
// new one seconds after publishing it), but a flood of forged kids costs the
// platform at most one request per MinRefetch (12 a minute), which no JWKS
// endpoint notices. 5 s keeps a platform that rotates right after our
// fetch locked out for at most 5 s (a user's retry), where the two drifted
// copies this replaced used 10 s and 30 s.
//
// The limit counts only fetches an unknown kid (or a failed signature)
// caused: a refresh that a known kid caused (MaxAge) spends none of it, so
// a platform that rotates right after such a refresh is fetched again at
// once. Refreshes of a known kid have their own MinRefetch (they repeat only
// while fetches fail).
//
// MaxAge makes a lookup of a known kid refresh a set this old in passing
// (one caller fetches; the others keep using the cached keys meanwhile).
const (
	DefaultMinRefetch = 5 * time.Second
	defaultMaxAge     = 6 * time.Hour
	fetchTimeout      = 10 * time.Second
	maxSetBytes       = 1 << 20
)

// KeySets caches remote JWKS by URL. Lookups of a cached kid take a read
// lock and never wait for the network; fetches are single-flight per URL and
// no lock is held across one.
type KeySets struct {
	client *http.Client
	now    func() time.Time
	log    *slog.Logger

	// MinRefetch and MaxAge: see DefaultMinRefetch. Set before first use.
	MinRefetch time.Duration
	MaxAge     time.Duration

	mu   sync.Mutex
	sets map[string]*keySet
}

type keySet struct {
	url string

	mu        sync.RWMutex
	keys      map[string]*rsa.PublicKey // nil until the first successful fetch
	fetchedAt time.Time                 // last successful fetch
	startedAt time.Time                 // start of the last attempt
	triedAt   [2]time.Time              // last attempt, by fetchCause
	inflight  chan struct{}             // closed when the running fetch ends
	cause     fetchCause                // what started the last attempt
	failed    bool                      // the last fetch failed
}

// fetchCause is what made a fetch: each cause has its own MinRefetch, so
// refreshes of known kids never use up the unknown kids' allowance.
type fetchCause int

const (
	byUnknownKid fetchCause = iota // an unknown kid, a failed signature, the first fetch
	byStaleSet                     // a known kid in a set older than MaxAge
)

// NewKeySets returns an empty cache fetching with client (nil: a client with
// a 10 s timeout) on the clock now (nil: time.Now).
func NewKeySets(client *http.Client, now func() time.Time, log *slog.Logger) *KeySets {
	if client == nil {
		client = &http.Client{Timeout: fetchTimeout}
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return &KeySets{client: client, now: now, log: log, MinRefetch: DefaultMinRefetch, MaxAge: defaultMaxAge, sets: map[string]*keySet{}}
}

func (c *KeySets) set(url string) *keySet {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sets[url]
	if s == nil {
		s = &keySet{url: url}
		c.sets[url] = s
	}
	return s
}

// lookup returns the key for kid; kid "" matches the only key of a
// one-key set when anyKid is set.
func (s *keySet) lookup(kid string, anyKid bool) *rsa.PublicKey {
	if kid == "" && anyKid && len(s.keys) == 1 {
		for _, k := range s.keys {
			return k
		}
	}
	return s.keys[kid]
}

// key returns the RS256 key with kid from the set at url. An unknown kid
// re-fetches the set unless an unknown kid did less than MinRefetch ago; a set
// older than MaxAge is re-fetched in passing. kid "" is accepted when
// anyKid and the set holds exactly one key. Errors: *Error of kind
// UnknownKid, or KeysUnavailable when the set cannot be fetched and holds
// no such key.
func (c *KeySets) key(ctx context.Context, url, kid string, anyKid bool) (*rsa.PublicKey, error) {
	s := c.set(url)
	now := c.now()
	s.mu.RLock()
	k := s.lookup(kid, anyKid)
	fresh := !s.fetchedAt.IsZero() && now.Sub(s.fetchedAt) <= c.MaxAge
	s.mu.RUnlock()
	if k != nil && fresh {
		return k, nil
	}
	if k != nil {
		// Known but old: refresh, but never make this caller wait for it.
		if done, ok := c.startFetch(s, now, byStaleSet); ok {
			go func() {
				ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
				defer cancel()
				c.runFetch(ctx, s, done)
			}()
		}
		return k, nil
	}
	ended, cause := c.fetchOrWait(ctx, s, now)
	if ended && cause == byStaleSet {
		// The fetch this caller waited for was a known kid's refresh,
		// started before the kid arrived perhaps: look, then fetch once
		// more on the unknown kids' own allowance.
		s.mu.RLock()
		k = s.lookup(kid, anyKid)
		s.mu.RUnlock()
		if k != nil {
			return k, nil
		}
		ended, _ = c.fetchOrWait(ctx, s, c.now())
	}
	if !ended {
		s.mu.RLock()
		k, have := s.lookup(kid, anyKid), s.keys != nil
		s.mu.RUnlock()
		if k != nil {
			return k, nil
		}
		if !have {
			return nil, &Error{Kind: KeysUnavailable, Message: fmt.Sprintf("the key set at %s could not be fetched", url)}
		}
		return nil, unknownKid(kid, len(s.keys))
	}
	s.mu.RLock()
	k, have := s.lookup(kid, anyKid), s.keys != nil
	n := len(s.keys)
	failed := s.failed
	s.mu.RUnlock()
	switch {
	case k != nil:
		return k, nil
	case !have || failed:
		return nil, &Error{Kind: KeysUnavailable, Message: fmt.Sprintf("the key set at %s could not be fetched", url)}
	}
	return nil, unknownKid(kid, n)
}

func unknownKid(kid string, n int) *Error {
	if kid == "" {
		return &Error{Kind: MissingKid, Message: fmt.Sprintf("the token names no kid and the key set holds %d keys", n)}
	}
	return &Error{Kind: UnknownKid, Message: "no key in the set has the token's kid", Kid: kid}
}

// refresh re-fetches the set at url after a signature failed with its key
// for kid (a platform replaced a key under the same kid), within the same
// limit as key, and returns the key for kid if it changed.
func (c *KeySets) refresh(ctx context.Context, url, kid string, anyKid bool) (*rsa.PublicKey, bool) {
	s := c.set(url)
	s.mu.RLock()
	old := s.lookup(kid, anyKid)
	s.mu.RUnlock()
	if ended, _ := c.fetchOrWait(ctx, s, c.now()); !ended {
		return nil, false
	}
	s.mu.RLock()
	k := s.lookup(kid, anyKid)
	s.mu.RUnlock()
	if k == nil || (old != nil && k.Equal(old)) {
		return nil, false
	}
	return k, true
}

// startFetch claims the next fetch of s if cause's limit allows one and
// none is running. It returns the channel to close when done.
func (c *KeySets) startFetch(s *keySet, now time.Time, cause fetchCause) (chan struct{}, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight != nil || (!s.triedAt[cause].IsZero() && now.Sub(s.triedAt[cause]) < c.MinRefetch) {
		return nil, false
	}
	s.triedAt[cause], s.startedAt, s.cause = now, now, cause
	s.inflight = make(chan struct{})
	return s.inflight, true
}

// fetchOrWait fetches s for an unknown kid if allowed, or waits for a fetch
// already running. It reports whether a fetch ended while it ran (false:
// rate-limited) and what had started that fetch.
func (c *KeySets) fetchOrWait(ctx context.Context, s *keySet, now time.Time) (bool, fetchCause) {
	if done, ok := c.startFetch(s, now, byUnknownKid); ok {
		c.runFetch(ctx, s, done)
		return true, byUnknownKid
	}
	s.mu.RLock()
	wait, cause := s.inflight, s.cause
	s.mu.RUnlock()
	if wait == nil {
		return false, byUnknownKid
	}
	select {
	case <-wait:
		return true, cause
	case <-ctx.Done():
		return false, cause
	}
}

func (c *KeySets) runFetch(ctx context.Context, s *keySet, done chan struct{}) {
	keys, err := c.fetch(ctx, s.url)
	s.mu.Lock()
	if err == nil {
		s.keys, s.fetchedAt = keys, s.startedAt
	}
	s.failed = err != nil
	s.inflight = nil
	close(done)
	s.mu.Unlock()
	if err != nil {
		c.log.WarnContext(ctx, "JWKS fetch failed", "url", s.url, "err", err)
	}
}

// fetch loads the set and keeps the keys usable for RS256 signatures: RSA,
// use absent or "sig", alg absent or RS256.
func (c *KeySets) fetch(ctx context.Context, url string) (map[string]*rsa.PublicKey, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS %s: %w", url, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSetBytes))
	if err != nil {
		return nil, fmt.Errorf("read JWKS %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch JWKS %s: status %d", url, resp.StatusCode)
	}
	return parseSet(body)
}

func parseSet(body []byte) (map[string]*rsa.PublicKey, error) {
	set, err := jwk.Parse(body, jwk.WithIgnoreParseError(true))
	if err != nil {
		return nil, fmt.Errorf("parse JWKS: %w", err)
	}
	keys := map[string]*rsa.PublicKey{}
	for i := range set.Len() {
		k, _ := set.Key(i)
		if use, ok := k.KeyUsage(); ok && use != "" && use != "sig" {
			continue
		}
		if alg, ok := k.Algorithm(); ok && alg.String() != jwa.RS256().String() {
			continue
		}
		var pub rsa.PublicKey
		if err := jwk.Export(k, &pub); err != nil {
			continue // not an RSA public key: never usable for RS256
		}
		kid, _ := k.KeyID()
		keys[kid] = &pub
	}
	return keys, nil
}

// ErrorKind says which check of a token failed.
type ErrorKind int

// Kinds of *Error. Owners map them to their own refusal reasons.
const (
	Malformed       ErrorKind = iota + 1 // not a compact JWS with JSON header
	Alg                                  // alg not RS256, or a crit header
	MissingKid                           // no kid where one is needed
	UnknownKid                           // the set has no key with this kid
	KeysUnavailable                      // the set could not be fetched
	NoSignature                          // the signature part is empty or not base64url
	Signature                            // the signature does not verify
)

// Error is a refused token: Kind names the check, Message says what was
// wrong (safe to show: it holds no key material, no token and no input, so
// owners that echo the offending value add Kid or Alg themselves, cut to a
// length of their choosing).
type Error struct {
	Kind    ErrorKind
	Message string
	Kid     string // the header's kid (UnknownKid, Signature)
	Alg     string // the header's alg (Alg)
}

func (e *Error) Error() string { return "jose: " + e.Message }
