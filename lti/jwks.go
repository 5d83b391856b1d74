package lti

import (
	"context"
	"crypto/rsa"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// JWKSMinRefetch is the least time between two fetches of one platform's
// JWKS: an unknown kid triggers a re-fetch (platforms rotate keys), but a
// flood of forged kids cannot make us hammer the platform.
var JWKSMinRefetch = 30 * time.Second

// jwksMaxAge makes a known-kid lookup refresh a set this old in passing.
const jwksMaxAge = 12 * time.Hour

// jwksCache holds each registration's platform keys, keyed on platform id.
type jwksCache struct {
	t  *Tool
	mu sync.Mutex
	m  map[int64]*platformKeys
}

type platformKeys struct {
	mu        sync.Mutex
	url       string
	keys      map[string]*rsa.PublicKey
	fetchedAt time.Time
	triedAt   time.Time
	fetches   int
}

func newJWKSCache(t *Tool) *jwksCache { return &jwksCache{t: t, m: map[int64]*platformKeys{}} }

func (c *jwksCache) entry(p *Platform) *platformKeys {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[p.ID]
	if e == nil || e.url != p.JWKSURL {
		e = &platformKeys{url: p.JWKSURL}
		c.m[p.ID] = e
	}
	return e
}

// Fetches reports how many times the platform's JWKS was fetched (tests).
func (t *Tool) JWKSFetches(platformID int64) int {
	t.jwks.mu.Lock()
	e := t.jwks.m[platformID]
	t.jwks.mu.Unlock()
	if e == nil {
		return 0
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.fetches
}

// fetch loads the set; call with e.mu held.
func (c *jwksCache) fetch(ctx context.Context, e *platformKeys) error {
	now := c.t.Now()
	e.triedAt = now
	e.fetches++
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.url, nil)
	if err != nil {
		return fmt.Errorf("fetch platform JWKS %s: %w", e.url, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.t.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetch platform JWKS %s: %w", e.url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("read platform JWKS %s: %w", e.url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch platform JWKS %s: status %d", e.url, resp.StatusCode)
	}
	set, err := jwk.Parse(body, jwk.WithIgnoreParseError(true))
	if err != nil {
		return fmt.Errorf("parse platform JWKS %s: %w", e.url, err)
	}
	keys := map[string]*rsa.PublicKey{}
	for i := 0; i < set.Len(); i++ {
		k, _ := set.Key(i)
		if use, ok := k.KeyUsage(); ok && use != "" && use != "sig" {
			continue
		}
		var pub rsa.PublicKey
		if err := jwk.Export(k, &pub); err != nil {
			continue // not an RSA public key
		}
		kid, _ := k.KeyID()
		keys[kid] = &pub
	}
	e.keys, e.fetchedAt = keys, now
	return nil
}

// key returns the key for kid, re-fetching when kid is unknown (at most once
// per JWKSMinRefetch) or the set is old.
func (c *jwksCache) key(ctx context.Context, p *Platform, kid string) (*rsa.PublicKey, error) {
	e := c.entry(p)
	e.mu.Lock()
	defer e.mu.Unlock()
	now := c.t.Now()
	lookup := func() *rsa.PublicKey {
		if kid == "" && len(e.keys) == 1 {
			for _, k := range e.keys {
				return k
			}
		}
		return e.keys[kid]
	}
	k := lookup()
	stale := !e.fetchedAt.IsZero() && now.Sub(e.fetchedAt) > jwksMaxAge
	if k == nil || stale {
		if e.triedAt.IsZero() || now.Sub(e.triedAt) >= JWKSMinRefetch || stale {
			if err := c.fetch(ctx, e); err != nil {
				c.t.log.WarnContext(ctx, "platform JWKS fetch failed", "platform_id", p.ID, "err", err)
				if k == nil && e.keys == nil {
					return nil, unauthorized(ReasonJWKS, "The platform's public keys could not be fetched from %s.", p.JWKSURL)
				}
			}
			if nk := lookup(); nk != nil {
				k = nk
			}
		}
	}
	if k == nil {
		if kid == "" {
			return nil, unauthorized(ReasonKid, "The id_token names no kid and the platform publishes %d keys.", len(e.keys))
		}
		return nil, unauthorized(ReasonKid, "The platform publishes no key with kid %q (its key set at %s was re-checked).", truncate(kid, 80), p.JWKSURL)
	}
	return k, nil
}

// refresh re-fetches after a signature failure (rate-limited) and returns
// the key for kid if it changed.
func (c *jwksCache) refresh(ctx context.Context, p *Platform, kid string) (*rsa.PublicKey, bool) {
	e := c.entry(p)
	e.mu.Lock()
	defer e.mu.Unlock()
	old := e.keys[kid]
	if !e.triedAt.IsZero() && c.t.Now().Sub(e.triedAt) < JWKSMinRefetch {
		return nil, false
	}
	if err := c.fetch(ctx, e); err != nil {
		return nil, false
	}
	k := e.keys[kid]
	if k == nil || (old != nil && k.Equal(old)) {
		return nil, false
	}
	return k, true
}
