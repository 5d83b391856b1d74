package lti

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/jose"
	"github.com/laurel-edu/laurel/internal/secret"
)

// KeyStore holds the tool's RS256 signing keys: generated on first use,
// stored sealed in tool_keys, all non-retired public keys published, the
// newest one signing. Other instances see a rotation within cacheFor.
type KeyStore struct {
	db   *sqlx.DB
	keys *secret.Keys
	now  func() time.Time

	mu       sync.Mutex
	loadedAt time.Time
	active   []toolKey // non-retired, oldest first
	jwksJSON []byte
}

// cacheFor bounds how long an instance trusts its in-memory copy of the keys.
const cacheFor = time.Minute

type toolKey struct {
	kid       string
	priv      *rsa.PrivateKey
	createdAt time.Time
}

// ToolKeyInfo describes a key for `laurel keys` listings.
type ToolKeyInfo struct {
	KID       string     `json:"kid"`
	CreatedAt time.Time  `json:"created_at"`
	RetiredAt *time.Time `json:"retired_at,omitempty"`
}

// NewKeyStore returns the key store; keys seal the private keys.
func NewKeyStore(d *sqlx.DB, keys *secret.Keys) *KeyStore {
	return &KeyStore{db: d, keys: keys, now: time.Now}
}

func newKID(now time.Time) string {
	b := make([]byte, 6)
	rand.Read(b)
	return "laurel-" + now.UTC().Format("20060102") + "-" + hex.EncodeToString(b)
}

// addKey generates a key pair and stores it sealed.
func (s *KeyStore) addKey(ctx context.Context) (string, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", fmt.Errorf("generate tool key: %w", err)
	}
	kid := newKID(s.now())
	p := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: mustPKCS8(priv)})
	sealed := s.keys.Seal(p, "tool-key:"+kid)
	const q = `INSERT INTO tool_keys (kid, private_key_enc, created_at) VALUES ($1, $2, $3)`
	if _, err := s.db.ExecContext(ctx, q, kid, sealed, s.now()); err != nil {
		return "", fmt.Errorf("store tool key %s: %w", kid, err)
	}
	s.invalidate()
	return kid, nil
}

func mustPKCS8(k *rsa.PrivateKey) []byte {
	b, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic(err) // an RSA key always marshals
	}
	return b
}

func (s *KeyStore) invalidate() {
	s.mu.Lock()
	s.loadedAt = time.Time{}
	s.mu.Unlock()
}

// load returns the active keys, generating the first one when there is none.
func (s *KeyStore) load(ctx context.Context) ([]toolKey, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.loadedAt.IsZero() && s.now().Sub(s.loadedAt) < cacheFor && len(s.active) > 0 {
		return s.active, s.jwksJSON, nil
	}
	for attempt := 0; attempt < 2; attempt++ {
		var rows []struct {
			KID       string    `db:"kid"`
			Enc       []byte    `db:"private_key_enc"`
			CreatedAt time.Time `db:"created_at"`
		}
		const q = `SELECT kid, private_key_enc, created_at FROM tool_keys WHERE retired_at IS NULL ORDER BY created_at, kid`
		if err := s.db.SelectContext(ctx, &rows, q); err != nil {
			return nil, nil, fmt.Errorf("load tool keys: %w", err)
		}
		if len(rows) == 0 {
			if attempt == 1 {
				return nil, nil, errors.New("load tool keys: none after generating one")
			}
			s.mu.Unlock()
			_, err := s.addKey(ctx)
			s.mu.Lock()
			if err != nil {
				return nil, nil, err
			}
			continue
		}
		active := make([]toolKey, 0, len(rows))
		signing := make([]jose.SigningKey, 0, len(rows))
		for _, r := range rows {
			p, err := s.keys.Open(r.Enc, "tool-key:"+r.KID)
			if err != nil {
				return nil, nil, fmt.Errorf("open tool key %s: %w", r.KID, err)
			}
			blk, _ := pem.Decode(p)
			if blk == nil {
				return nil, nil, fmt.Errorf("tool key %s: not PEM", r.KID)
			}
			k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("tool key %s: %w", r.KID, err)
			}
			priv, ok := k.(*rsa.PrivateKey)
			if !ok {
				return nil, nil, fmt.Errorf("tool key %s: not RSA", r.KID)
			}
			active = append(active, toolKey{kid: r.KID, priv: priv, createdAt: r.CreatedAt})
			signing = append(signing, jose.SigningKey{KID: r.KID, Priv: priv})
		}
		js, err := jose.JWKS(signing)
		if err != nil {
			return nil, nil, fmt.Errorf("tool JWKS: %w", err)
		}
		s.active, s.jwksJSON, s.loadedAt = active, js, s.now()
		return active, js, nil
	}
	return nil, nil, errors.New("load tool keys: unreachable")
}

// JWKS returns the JSON Web Key Set of every non-retired public key.
func (s *KeyStore) JWKS(ctx context.Context) ([]byte, error) {
	_, js, err := s.load(ctx)
	return js, err
}

// PublicJWK returns the newest public key as a JWK JSON object (for a
// platform configuration that wants one key rather than a URL).
func (s *KeyStore) PublicJWK(ctx context.Context) (json.RawMessage, error) {
	act, _, err := s.load(ctx)
	if err != nil {
		return nil, err
	}
	k := act[len(act)-1]
	return jose.PublicJWK(k.kid, &k.priv.PublicKey)
}

// Sign signs claims as a compact JWT (RS256, typ JWT) with the newest key.
func (s *KeyStore) Sign(ctx context.Context, claims map[string]any) (string, error) {
	act, _, err := s.load(ctx)
	if err != nil {
		return "", err
	}
	k := act[len(act)-1]
	return jose.SignJWT(jose.SigningKey{KID: k.kid, Priv: k.priv}, claims)
}

// RotateKeys adds a new signing key, which signs from now on; the previous
// keys stay published until RetireKeys retires them. It returns the new kid.
func (s *KeyStore) RotateKeys(ctx context.Context) (string, error) {
	return s.addKey(ctx)
}

// RetireKeys retires every key created more than olderThan ago except the
// newest one, removing them from /lti/jwks. Platforms cache JWKS, so keep a
// grace period of at least a day after a rotation. It returns the retired kids.
func (s *KeyStore) RetireKeys(ctx context.Context, olderThan time.Duration) ([]string, error) {
	var kids []string
	const q = `UPDATE tool_keys SET retired_at = now()
		WHERE retired_at IS NULL AND created_at < $1
		  AND kid <> (SELECT kid FROM tool_keys WHERE retired_at IS NULL ORDER BY created_at DESC, kid DESC LIMIT 1)
		RETURNING kid`
	if err := s.db.SelectContext(ctx, &kids, q, s.now().Add(-olderThan)); err != nil {
		return nil, fmt.Errorf("retire tool keys older than %s: %w", olderThan, err)
	}
	s.invalidate()
	return kids, nil
}

// List describes every key, newest first.
func (s *KeyStore) List(ctx context.Context) ([]ToolKeyInfo, error) {
	var rows []struct {
		KID       string     `db:"kid"`
		CreatedAt time.Time  `db:"created_at"`
		RetiredAt *time.Time `db:"retired_at"`
	}
	const q = `SELECT kid, created_at, retired_at FROM tool_keys ORDER BY created_at DESC, kid DESC`
	if err := s.db.SelectContext(ctx, &rows, q); err != nil {
		return nil, fmt.Errorf("list tool keys: %w", err)
	}
	out := make([]ToolKeyInfo, len(rows))
	for i, r := range rows {
		out[i] = ToolKeyInfo{KID: r.KID, CreatedAt: r.CreatedAt, RetiredAt: r.RetiredAt}
	}
	return out, nil
}

// RotateKeys adds a new tool signing key (`laurel keys rotate`).
func (t *Tool) RotateKeys(ctx context.Context) (string, error) { return t.toolKeys.RotateKeys(ctx) }

// RetireKeys retires tool keys older than olderThan except the newest.
func (t *Tool) RetireKeys(ctx context.Context, olderThan time.Duration) ([]string, error) {
	return t.toolKeys.RetireKeys(ctx, olderThan)
}
