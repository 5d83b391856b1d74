package lti

import (
	"context"
	"crypto/rsa"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/jose"
	"github.com/laurel-edu/laurel/internal/keystore"
	"github.com/laurel-edu/laurel/internal/secret"
)

// KeyStore holds the tool's RS256 signing keys: generated on first use,
// stored sealed in tool_keys, all non-retired public keys published, the
// newest one signing. The custody (generation, sealing, the cache through
// which other instances see a rotation within toolKeysCacheFor) is
// internal/keystore's; this file owns the table.
type KeyStore struct {
	db    *sqlx.DB
	store *keystore.Store
}

// toolKeysCacheFor bounds how long an instance trusts its in-memory copy of
// the keys.
const toolKeysCacheFor = time.Minute

// ToolKeyInfo describes a key for `laurel keys` listings.
type ToolKeyInfo struct {
	KID       string     `json:"kid"`
	CreatedAt time.Time  `json:"created_at"`
	RetiredAt *time.Time `json:"retired_at,omitempty"`
}

// NewKeyStore returns the key store; keys seal the private keys.
func NewKeyStore(d *sqlx.DB, keys *secret.Keys) *KeyStore {
	return &KeyStore{db: d, store: keystore.New(toolKeyTable{d}, keys, keystore.Options{
		Name:      "tool key",
		Purpose:   "tool-key",
		Algs:      []string{keystore.RS256},
		KIDPrefix: map[string]string{keystore.RS256: "laurel"},
		PEM:       true,
		CacheFor:  toolKeysCacheFor,
	})}
}

// toolKeyTable is tool_keys as internal/keystore sees it: the non-retired
// keys are the active ones.
type toolKeyTable struct{ db *sqlx.DB }

func (t toolKeyTable) Insert(ctx context.Context, k keystore.Sealed) error {
	const q = `INSERT INTO tool_keys (kid, private_key_enc, created_at) VALUES ($1, $2, $3)`
	if _, err := t.db.ExecContext(ctx, q, k.KID, k.Enc, k.CreatedAt); err != nil {
		return fmt.Errorf("insert tool key %s: %w", k.KID, err)
	}
	return nil
}

func (t toolKeyTable) Active(ctx context.Context) ([]keystore.Sealed, error) {
	var rows []struct {
		KID       string    `db:"kid"`
		Enc       []byte    `db:"private_key_enc"`
		CreatedAt time.Time `db:"created_at"`
	}
	const q = `SELECT kid, private_key_enc, created_at FROM tool_keys WHERE retired_at IS NULL ORDER BY created_at, kid`
	if err := t.db.SelectContext(ctx, &rows, q); err != nil {
		return nil, fmt.Errorf("select tool keys: %w", err)
	}
	out := make([]keystore.Sealed, len(rows))
	for i, r := range rows {
		out[i] = keystore.Sealed{KID: r.KID, Alg: keystore.RS256, Enc: r.Enc, CreatedAt: r.CreatedAt}
	}
	return out, nil
}

// signing returns the active keys as the JOSE layer takes them, oldest
// first: the last one signs.
func (s *KeyStore) signing(ctx context.Context) ([]jose.SigningKey, error) {
	set, err := s.store.Active(ctx)
	if err != nil {
		return nil, err
	}
	all := set.All(keystore.RS256)
	out := make([]jose.SigningKey, len(all))
	for i, k := range all {
		out[i] = jose.SigningKey{KID: k.KID, Priv: k.Private.(*rsa.PrivateKey)}
	}
	return out, nil
}

// Now is the clock the store dates keys with, against which their age is
// measured.
func (s *KeyStore) Now() time.Time { return s.store.Now() }

// JWKS returns the JSON Web Key Set of every non-retired public key.
func (s *KeyStore) JWKS(ctx context.Context) ([]byte, error) {
	keys, err := s.signing(ctx)
	if err != nil {
		return nil, err
	}
	js, err := jose.JWKS(keys)
	if err != nil {
		return nil, fmt.Errorf("tool JWKS: %w", err)
	}
	return js, nil
}

// Sign signs claims as a compact JWT (RS256, typ JWT) with the newest key.
func (s *KeyStore) Sign(ctx context.Context, claims map[string]any) (string, error) {
	keys, err := s.signing(ctx)
	if err != nil {
		return "", err
	}
	return jose.SignJWT(keys[len(keys)-1], claims)
}

// RotateKeys adds a new signing key, which signs from now on; the previous
// keys stay published until RetireKeys retires them. It returns the new kid.
func (s *KeyStore) RotateKeys(ctx context.Context) (string, error) {
	return s.store.Add(ctx, keystore.RS256)
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
	if err := s.db.SelectContext(ctx, &kids, q, s.store.Now().Add(-olderThan)); err != nil {
		return nil, fmt.Errorf("retire tool keys older than %s: %w", olderThan, err)
	}
	s.store.Invalidate()
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
