package keystore_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/keystore"
	"github.com/laurel-edu/laurel/internal/secret"
)

// memTable is a Table in memory: the store's logic does not depend on SQL,
// which its owners test against PostgreSQL.
type memTable struct {
	mu      sync.Mutex
	rows    []keystore.Sealed
	reads   int
	inserts int
}

func (m *memTable) Insert(_ context.Context, k keystore.Sealed) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.inserts++
	m.rows = append(m.rows, k)
	return nil
}

func (m *memTable) Active(context.Context) ([]keystore.Sealed, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	return append([]keystore.Sealed(nil), m.rows...), nil
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func mustSecret(t *testing.T) *secret.Keys {
	t.Helper()
	k, err := secret.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func credentialOptions(clk *clock) keystore.Options {
	return keystore.Options{
		Name: "credential key", Purpose: "credential-key",
		Algs:      []string{keystore.Ed25519, keystore.ES256},
		KIDPrefix: map[string]string{keystore.Ed25519: "ed", keystore.ES256: "es"},
		CacheFor:  time.Minute, Now: clk.now,
	}
}

func TestFirstUseGeneratesOneOfEach(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)}
	tab := &memTable{}
	s := keystore.New(tab, mustSecret(t), credentialOptions(clk))
	set, err := s.Active(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tab.inserts != 2 {
		t.Fatalf("inserted %d keys, want 2", tab.inserts)
	}
	ed, es := set.Newest(keystore.Ed25519), set.Newest(keystore.ES256)
	if _, ok := ed.Private.(ed25519.PrivateKey); !ok {
		t.Errorf("Ed25519 key is a %T", ed.Private)
	}
	if k, ok := es.Private.(*ecdsa.PrivateKey); !ok || k.Curve != elliptic.P256() {
		t.Errorf("ES256 key is a %T", es.Private)
	}
	for kid, re := range map[string]string{ed.KID: `^ed-20261207-[0-9a-f]{12}$`, es.KID: `^es-20261207-[0-9a-f]{12}$`} {
		if !regexp.MustCompile(re).MatchString(kid) {
			t.Errorf("kid %q does not match %s", kid, re)
		}
	}
	if k, ok := set.ByKID(es.KID); !ok || k.Alg != keystore.ES256 {
		t.Errorf("ByKID(%s) = %+v, %v", es.KID, k, ok)
	}
	if _, ok := set.ByKID("nope"); ok {
		t.Error("ByKID found an unknown kid")
	}
}

func TestCacheAndRotation(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)}
	tab := &memTable{}
	s := keystore.New(tab, mustSecret(t), credentialOptions(clk))
	first, err := s.Active(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reads := tab.reads
	if _, err := s.Active(ctx); err != nil || tab.reads != reads {
		t.Fatalf("a second load read the table (%d reads, was %d; err %v)", tab.reads, reads, err)
	}
	clk.add(time.Second)
	kids, err := s.Rotate(ctx)
	if err != nil || len(kids) != 2 {
		t.Fatalf("Rotate = %v, %v", kids, err)
	}
	set, err := s.Active(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if set.Newest(keystore.Ed25519).KID != kids[0] || set.Newest(keystore.ES256).KID != kids[1] {
		t.Fatalf("the rotated keys do not sign: %v", kids)
	}
	if all := set.All(keystore.ES256); len(all) != 2 || all[0].KID != first.Newest(keystore.ES256).KID {
		t.Fatalf("the old ES256 key is not kept, oldest first: %+v", all)
	}

	// Another instance's rotation shows once the cache expired.
	other := keystore.New(tab, mustSecret(t), credentialOptions(clk))
	if _, err := other.Add(ctx, keystore.ES256); err != nil {
		t.Fatal(err)
	}
	newest := tab.rows[len(tab.rows)-1].KID
	if set, _ := s.Active(ctx); set.Newest(keystore.ES256).KID == newest {
		t.Fatal("saw another instance's key before the cache expired")
	}
	clk.add(time.Minute)
	if set, _ := s.Active(ctx); set.Newest(keystore.ES256).KID != newest {
		t.Fatal("another instance's key not seen after the cache expired")
	}
}

func TestConcurrentFirstLoadGeneratesOnce(t *testing.T) {
	ctx := context.Background()
	tab := &memTable{}
	s := keystore.New(tab, mustSecret(t), keystore.Options{Name: "tool key", Purpose: "tool-key",
		Algs: []string{keystore.ES256}, KIDPrefix: map[string]string{keystore.ES256: "x"}, CacheFor: time.Minute})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Active(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if tab.inserts != 1 {
		t.Fatalf("%d keys generated, want 1", tab.inserts)
	}
}

// TestOpensStoredForms: keys stored before this package existed open —
// tool keys as a sealed PEM block, credential keys as sealed DER, each
// bound to its purpose and kid.
func TestOpensStoredForms(t *testing.T) {
	ctx := context.Background()
	sk := mustSecret(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	p := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	tool := &memTable{rows: []keystore.Sealed{{KID: "laurel-1", Alg: keystore.RS256, Enc: sk.Seal(p, "tool-key:laurel-1")}}}
	s := keystore.New(tool, sk, keystore.Options{Name: "tool key", Purpose: "tool-key", Algs: []string{keystore.RS256}, PEM: true})
	set, err := s.Active(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := set.Newest(keystore.RS256); !got.Private.(*rsa.PrivateKey).Equal(rsaKey) || tool.inserts != 0 {
		t.Fatalf("stored tool key not used (inserts %d)", tool.inserts)
	}

	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	edDER, _ := x509.MarshalPKCS8PrivateKey(edKey)
	cred := &memTable{rows: []keystore.Sealed{{KID: "ed-1", Alg: keystore.Ed25519, Enc: sk.Seal(edDER, "credential-key:ed-1")}}}
	cs := keystore.New(cred, sk, credentialOptions(&clock{t: time.Now()}))
	set, err = cs.Active(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !set.Newest(keystore.Ed25519).Private.(ed25519.PrivateKey).Equal(edKey) || cred.inserts != 1 {
		t.Fatalf("stored credential key not used, or ES256 not generated (inserts %d)", cred.inserts)
	}
}

func TestRefusesMisboundOrWrongKeys(t *testing.T) {
	ctx := context.Background()
	sk := mustSecret(t)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	edDER, _ := x509.MarshalPKCS8PrivateKey(edKey)
	for _, tc := range []struct {
		name string
		row  keystore.Sealed
		want string
	}{
		{"sealed for another kid", keystore.Sealed{KID: "ed-2", Alg: keystore.Ed25519, Enc: sk.Seal(edDER, "credential-key:ed-1")}, "open credential key ed-2"},
		{"sealed for another purpose", keystore.Sealed{KID: "ed-1", Alg: keystore.Ed25519, Enc: sk.Seal(edDER, "tool-key:ed-1")}, "open credential key ed-1"},
		{"not of its algorithm", keystore.Sealed{KID: "es-1", Alg: keystore.ES256, Enc: sk.Seal(edDER, "credential-key:es-1")}, "is not an ES256 key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := keystore.New(&memTable{rows: []keystore.Sealed{tc.row}}, sk, credentialOptions(&clock{t: time.Now()}))
			if _, err := s.Active(ctx); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Active = %v, want an error with %q", err, tc.want)
			}
		})
	}
}
