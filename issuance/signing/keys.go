package signing

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/keystore"
	"github.com/laurel-edu/laurel/internal/secret"
)

// CredentialKeys holds the issuer's credential signing keys: one Ed25519
// key for Data Integrity proofs and one P-256 key for VC-JWTs, generated on
// first use, stored sealed with LAUREL_SECRET_KEY in credential_keys. The
// newest key of each algorithm signs; every key stays published, because a
// credential signed with an old key must still verify. The custody
// (generation, sealing, the cache through which other instances see a
// rotation within keysCacheFor) is internal/keystore's; this file owns the
// table.
type CredentialKeys struct {
	db    *sqlx.DB
	store *keystore.Store
}

const keysCacheFor = time.Minute

// CredentialKeyInfo describes a key for listings.
type CredentialKeyInfo struct {
	KID       string    `json:"kid"`
	Alg       string    `json:"alg"`
	CreatedAt time.Time `json:"created_at"`
}

// NewCredentialKeys returns the key store; keys seal the private keys.
func NewCredentialKeys(db *sqlx.DB, keys *secret.Keys) *CredentialKeys {
	return &CredentialKeys{db: db, store: keystore.New(credentialKeyTable{db}, keys, keystore.Options{
		Name: "credential key",
		// The sealing's additional data stays "credential-key:<kid>"
		// (migrations/0010), so the keys sealed before keystore still open.
		Purpose:   "credential-key",
		Algs:      []string{keystore.Ed25519, keystore.ES256},
		KIDPrefix: map[string]string{keystore.Ed25519: "ed", keystore.ES256: "es"},
		CacheFor:  keysCacheFor,
	})}
}

// credentialKeyTable is credential_keys as internal/keystore sees it: every
// key is active (published), none is retired.
type credentialKeyTable struct{ db *sqlx.DB }

func (t credentialKeyTable) Insert(ctx context.Context, k keystore.Sealed) error {
	const q = `INSERT INTO credential_keys (kid, alg, private_key_enc, created_at) VALUES ($1, $2, $3, $4)`
	if _, err := t.db.ExecContext(ctx, q, k.KID, k.Alg, k.Enc, k.CreatedAt); err != nil {
		return fmt.Errorf("insert credential key %s: %w", k.KID, err)
	}
	return nil
}

func (t credentialKeyTable) Active(ctx context.Context) ([]keystore.Sealed, error) {
	var rows []struct {
		KID       string    `db:"kid"`
		Alg       string    `db:"alg"`
		Enc       []byte    `db:"private_key_enc"`
		CreatedAt time.Time `db:"created_at"`
	}
	const q = `SELECT kid, alg, private_key_enc, created_at FROM credential_keys ORDER BY created_at, kid`
	if err := t.db.SelectContext(ctx, &rows, q); err != nil {
		return nil, fmt.Errorf("select credential keys: %w", err)
	}
	out := make([]keystore.Sealed, len(rows))
	for i, r := range rows {
		out[i] = keystore.Sealed{KID: r.KID, Alg: r.Alg, Enc: r.Enc, CreatedAt: r.CreatedAt}
	}
	return out, nil
}

// Rotate adds a new key of each algorithm, which sign from now on; older
// keys stay published. It returns the new kids (Ed25519, ES256).
func (k *CredentialKeys) Rotate(ctx context.Context) (string, string, error) {
	kids, err := k.store.Rotate(ctx)
	if err != nil {
		return "", "", err
	}
	return kids[0], kids[1], nil
}

// List describes every credential key, newest first.
func (k *CredentialKeys) List(ctx context.Context) ([]CredentialKeyInfo, error) {
	var out []CredentialKeyInfo
	const q = `SELECT kid, alg, created_at FROM credential_keys ORDER BY created_at DESC, kid DESC`
	rows, err := k.db.QueryxContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("list credential keys: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var i CredentialKeyInfo
		if err := rows.Scan(&i.KID, &i.Alg, &i.CreatedAt); err != nil {
			return nil, fmt.Errorf("list credential keys: %w", err)
		}
		out = append(out, i)
	}
	return out, rows.Err()
}
