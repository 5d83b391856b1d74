package signing

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/secret"
)

// CredentialKeys holds the issuer's credential signing keys: one Ed25519
// key for Data Integrity proofs and one P-256 key for VC-JWTs, generated on
// first use, stored sealed with LAUREL_SECRET_KEY in credential_keys. The
// newest key of each algorithm signs; every key stays published, because a
// credential signed with an old key must still verify. Other instances see
// a rotation within keysCacheFor.
type CredentialKeys struct {
	db   *sqlx.DB
	keys *secret.Keys
	now  func() time.Time

	mu       sync.Mutex
	loadedAt time.Time
	set      *keySet
}

const keysCacheFor = time.Minute

// keySet is one load of credential_keys.
type keySet struct {
	ed    []edKey // oldest first
	es    []esKey // oldest first
	byKID map[string]any
}

type edKey struct {
	kid       string
	priv      ed25519.PrivateKey
	createdAt time.Time
}

type esKey struct {
	kid       string
	priv      *ecdsa.PrivateKey
	createdAt time.Time
}

// CredentialKeyInfo describes a key for listings.
type CredentialKeyInfo struct {
	KID       string    `json:"kid"`
	Alg       string    `json:"alg"`
	CreatedAt time.Time `json:"created_at"`
}

// NewCredentialKeys returns the key store; keys seal the private keys.
func NewCredentialKeys(db *sqlx.DB, keys *secret.Keys) *CredentialKeys {
	return &CredentialKeys{db: db, keys: keys, now: time.Now}
}

func newCredentialKID(alg string, now time.Time) string {
	b := make([]byte, 6)
	rand.Read(b)
	prefix := "ed"
	if alg == "ES256" {
		prefix = "es"
	}
	return prefix + "-" + now.UTC().Format("20060102") + "-" + hex.EncodeToString(b)
}

// add generates a key of alg and stores it sealed, returning its kid.
func (k *CredentialKeys) add(ctx context.Context, alg string) (string, error) {
	var der []byte
	var err error
	switch alg {
	case "Ed25519":
		_, priv, gerr := ed25519.GenerateKey(rand.Reader)
		if gerr != nil {
			return "", fmt.Errorf("generate %s credential key: %w", alg, gerr)
		}
		der, err = x509.MarshalPKCS8PrivateKey(priv)
	case "ES256":
		priv, gerr := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if gerr != nil {
			return "", fmt.Errorf("generate %s credential key: %w", alg, gerr)
		}
		der, err = x509.MarshalPKCS8PrivateKey(priv)
	default:
		return "", fmt.Errorf("credential key: unknown algorithm %q", alg)
	}
	if err != nil {
		return "", fmt.Errorf("marshal %s credential key: %w", alg, err)
	}
	kid := newCredentialKID(alg, k.now())
	const q = `INSERT INTO credential_keys (kid, alg, private_key_enc, created_at) VALUES ($1, $2, $3, $4)`
	if _, err := k.db.ExecContext(ctx, q, kid, alg, k.keys.Seal(der, "credential-key:"+kid), k.now()); err != nil {
		return "", fmt.Errorf("store credential key %s: %w", kid, err)
	}
	k.invalidate()
	return kid, nil
}

func (k *CredentialKeys) invalidate() {
	k.mu.Lock()
	k.loadedAt = time.Time{}
	k.mu.Unlock()
}

// Rotate adds a new key of each algorithm, which sign from now on; older
// keys stay published. It returns the new kids (Ed25519, ES256).
func (k *CredentialKeys) Rotate(ctx context.Context) (string, string, error) {
	ed, err := k.add(ctx, "Ed25519")
	if err != nil {
		return "", "", err
	}
	es, err := k.add(ctx, "ES256")
	if err != nil {
		return "", "", err
	}
	return ed, es, nil
}

// load returns the keys, generating the first key of each algorithm when
// there is none. Two instances starting together may each generate one;
// both are published and the newest signs, so that is harmless.
func (k *CredentialKeys) load(ctx context.Context) (*keySet, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.set != nil && k.now().Sub(k.loadedAt) < keysCacheFor {
		return k.set, nil
	}
	for attempt := 0; attempt < 2; attempt++ {
		var rows []struct {
			KID       string    `db:"kid"`
			Alg       string    `db:"alg"`
			Enc       []byte    `db:"private_key_enc"`
			CreatedAt time.Time `db:"created_at"`
		}
		const q = `SELECT kid, alg, private_key_enc, created_at FROM credential_keys ORDER BY created_at, kid`
		if err := k.db.SelectContext(ctx, &rows, q); err != nil {
			return nil, fmt.Errorf("load credential keys: %w", err)
		}
		set := &keySet{byKID: map[string]any{}}
		for _, r := range rows {
			der, err := k.keys.Open(r.Enc, "credential-key:"+r.KID)
			if err != nil {
				return nil, fmt.Errorf("open credential key %s: %w", r.KID, err)
			}
			priv, err := x509.ParsePKCS8PrivateKey(der)
			if err != nil {
				return nil, fmt.Errorf("credential key %s: %w", r.KID, err)
			}
			switch p := priv.(type) {
			case ed25519.PrivateKey:
				set.ed = append(set.ed, edKey{r.KID, p, r.CreatedAt})
				set.byKID[r.KID] = p.Public()
			case *ecdsa.PrivateKey:
				set.es = append(set.es, esKey{r.KID, p, r.CreatedAt})
				set.byKID[r.KID] = &p.PublicKey
			default:
				return nil, fmt.Errorf("credential key %s: unexpected key type %T", r.KID, priv)
			}
		}
		if len(set.ed) > 0 && len(set.es) > 0 {
			k.set, k.loadedAt = set, k.now()
			return set, nil
		}
		if attempt == 1 {
			break
		}
		k.mu.Unlock()
		var err error
		if len(set.ed) == 0 {
			_, err = k.add(ctx, "Ed25519")
		}
		if err == nil && len(set.es) == 0 {
			_, err = k.add(ctx, "ES256")
		}
		k.mu.Lock()
		if err != nil {
			return nil, err
		}
	}
	return nil, errors.New("load credential keys: none after generating them")
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
