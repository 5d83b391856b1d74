// Package keystore is Laurel's one store of its own signing keys: it
// generates a key pair, seals the private key with LAUREL_SECRET_KEY
// (internal/secret), loads the active keys with a short cache, and adds a
// new key of each algorithm on rotation. It owns no table: each owner keeps
// its own (lti: tool_keys; credential signing: credential_keys) behind a
// small Table it implements with its own SQL, so the key custody is written
// once and the tables stay with their owners.
package keystore

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"sync"
	"time"

	"github.com/laurel-edu/laurel/internal/cache"
	"github.com/laurel-edu/laurel/internal/secret"
)

// Algorithms a store generates keys for.
const (
	RS256   = "RS256"   // RSA 2048 (LTI tool keys)
	Ed25519 = "Ed25519" // Data Integrity proofs
	ES256   = "ES256"   // ECDSA P-256 (VC-JWTs)
)

// Sealed is one stored key: its private key sealed, as the owner's table
// keeps it.
type Sealed struct {
	KID       string
	Alg       string
	Enc       []byte // the sealed private key
	CreatedAt time.Time
}

// Table is an owner's table of sealed keys.
type Table interface {
	// Insert stores a new key.
	Insert(ctx context.Context, k Sealed) error
	// Active returns the keys that may sign or are published, oldest first
	// (created_at, then kid).
	Active(ctx context.Context) ([]Sealed, error)
}

// Options describe an owner's keys.
type Options struct {
	// Name names the keys in errors ("tool key").
	Name string
	// Purpose binds a sealed key to its table and kid: the sealing's
	// additional data is Purpose+":"+kid, so a sealed key copied into
	// another row or table does not open.
	Purpose string
	// Algs are the algorithms of which one key signs; a store with none of
	// an algorithm generates one on first use, and Rotate adds one of each.
	Algs []string
	// KIDPrefix is a new kid's prefix by algorithm; the kid is
	// prefix-YYYYMMDD-<12 hex digits>.
	KIDPrefix map[string]string
	// PEM seals the PKCS #8 key wrapped in a PEM block rather than as DER
	// (tool_keys were stored so).
	PEM bool
	// CacheFor bounds how long the active keys are trusted from memory;
	// another instance's rotation shows within it (0: until this store
	// adds a key or Invalidate is called).
	CacheFor time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Key is one usable key.
type Key struct {
	KID       string
	Alg       string
	Private   crypto.Signer // *rsa.PrivateKey, ed25519.PrivateKey or *ecdsa.PrivateKey
	CreatedAt time.Time
}

// Set is one load of the active keys.
type Set struct {
	byAlg map[string][]Key // oldest first
	byKID map[string]Key
}

// Newest returns the key of alg that signs. A Set from Store.Active holds
// one of every algorithm of its Options.
func (s *Set) Newest(alg string) Key {
	ks := s.byAlg[alg]
	return ks[len(ks)-1]
}

// All returns the keys of alg, oldest first.
func (s *Set) All(alg string) []Key { return s.byAlg[alg] }

// ByKID returns the key kid.
func (s *Set) ByKID(kid string) (Key, bool) {
	k, ok := s.byKID[kid]
	return k, ok
}

// Store is the key custody of one owner's table.
type Store struct {
	table Table
	seal  *secret.Keys
	o     Options

	load sync.Mutex // one load at a time: the others wait for its result
	set  *cache.TTL[struct{}, *Set]
}

// New returns the store of table; seal seals the private keys.
func New(table Table, seal *secret.Keys, o Options) *Store {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Store{table: table, seal: seal, o: o, set: cache.New[struct{}, *Set](o.CacheFor, 0, o.Now)}
}

// Now is the store's clock.
func (s *Store) Now() time.Time { return s.o.Now() }

// Invalidate drops the cached keys (after the owner changed its table).
func (s *Store) Invalidate() { s.set.Invalidate() }

func (s *Store) newKID(alg string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return s.o.KIDPrefix[alg] + "-" + s.o.Now().UTC().Format("20060102") + "-" + hex.EncodeToString(b)
}

// Add generates a key of alg and stores it sealed; it signs from now on.
// It returns the new kid.
func (s *Store) Add(ctx context.Context, alg string) (string, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case Ed25519:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return "", fmt.Errorf("%s: unknown algorithm %q", s.o.Name, alg)
	}
	if err != nil {
		return "", fmt.Errorf("generate %s %s: %w", alg, s.o.Name, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", fmt.Errorf("marshal %s %s: %w", alg, s.o.Name, err)
	}
	if s.o.PEM {
		der = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	kid := s.newKID(alg)
	k := Sealed{KID: kid, Alg: alg, Enc: s.seal.Seal(der, s.o.Purpose+":"+kid), CreatedAt: s.o.Now()}
	if err := s.table.Insert(ctx, k); err != nil {
		return "", fmt.Errorf("store %s %s: %w", s.o.Name, kid, err)
	}
	s.Invalidate()
	return kid, nil
}

// Rotate adds a new key of each algorithm, in the order of Options.Algs,
// and returns their kids. The older keys stay in the table: the owner
// decides when they stop being published.
func (s *Store) Rotate(ctx context.Context) ([]string, error) {
	kids := make([]string, 0, len(s.o.Algs))
	for _, alg := range s.o.Algs {
		kid, err := s.Add(ctx, alg)
		if err != nil {
			return nil, err
		}
		kids = append(kids, kid)
	}
	return kids, nil
}

// Active returns the active keys, generating a first key of each algorithm
// that has none. Two instances starting together may each generate one;
// both are published and the newer signs, so that is harmless.
func (s *Store) Active(ctx context.Context) (*Set, error) {
	if set, ok := s.set.Get(struct{}{}); ok {
		return set, nil
	}
	s.load.Lock()
	defer s.load.Unlock()
	if set, ok := s.set.Get(struct{}{}); ok {
		return set, nil // loaded while this caller waited
	}
	for attempt := 0; attempt < 2; attempt++ {
		set, err := s.read(ctx)
		if err != nil {
			return nil, err
		}
		missing := 0
		for _, alg := range s.o.Algs {
			if len(set.byAlg[alg]) > 0 {
				continue
			}
			missing++
			if attempt == 0 {
				if _, err := s.Add(ctx, alg); err != nil {
					return nil, err
				}
			}
		}
		if missing == 0 {
			s.set.Set(struct{}{}, set)
			return set, nil
		}
	}
	return nil, fmt.Errorf("load %ss: none after generating them", s.o.Name)
}

// read loads and opens the table's active keys.
func (s *Store) read(ctx context.Context) (*Set, error) {
	rows, err := s.table.Active(ctx)
	if err != nil {
		return nil, fmt.Errorf("load %ss: %w", s.o.Name, err)
	}
	set := &Set{byAlg: map[string][]Key{}, byKID: map[string]Key{}}
	for _, r := range rows {
		priv, err := s.open(r)
		if err != nil {
			return nil, err
		}
		k := Key{KID: r.KID, Alg: r.Alg, Private: priv, CreatedAt: r.CreatedAt}
		set.byAlg[k.Alg] = append(set.byAlg[k.Alg], k)
		set.byKID[k.KID] = k
	}
	return set, nil
}

// open unseals r's private key and checks that it is of r's algorithm.
func (s *Store) open(r Sealed) (crypto.Signer, error) {
	der, err := s.seal.Open(r.Enc, s.o.Purpose+":"+r.KID)
	if err != nil {
		return nil, fmt.Errorf("open %s %s: %w", s.o.Name, r.KID, err)
	}
	if s.o.PEM {
		blk, _ := pem.Decode(der)
		if blk == nil {
			return nil, fmt.Errorf("%s %s: not PEM", s.o.Name, r.KID)
		}
		der = blk.Bytes
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", s.o.Name, r.KID, err)
	}
	var ok bool
	switch r.Alg {
	case RS256:
		_, ok = k.(*rsa.PrivateKey)
	case Ed25519:
		_, ok = k.(ed25519.PrivateKey)
	case ES256:
		var ec *ecdsa.PrivateKey
		ec, ok = k.(*ecdsa.PrivateKey)
		ok = ok && ec.Curve == elliptic.P256()
	}
	if !ok {
		return nil, fmt.Errorf("%s %s: a %T is not an %s key", s.o.Name, r.KID, k, r.Alg)
	}
	return k.(crypto.Signer), nil
}
