package jose_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/jose"
)

// kindOf returns err's kind, 0 when err is not a *jose.Error.
func kindOf(err error) jose.ErrorKind {
	var e *jose.Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

// platform publishes a JWKS over real HTTP and signs with its keys.
type platform struct {
	t       *testing.T
	srv     *httptest.Server
	mu      sync.Mutex
	keys    []jose.SigningKey
	fetches atomic.Int64
	delay   chan struct{} // when set, a fetch blocks until it is closed
}

func newPlatform(t *testing.T) *platform {
	p := &platform{t: t}
	p.addKey("k1")
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.fetches.Add(1)
		p.mu.Lock()
		keys, delay := append([]jose.SigningKey(nil), p.keys...), p.delay
		p.mu.Unlock()
		if delay != nil {
			<-delay
		}
		js, err := jose.JWKS(keys)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Write(js)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

var (
	keyMu    sync.Mutex
	keyCache = map[string]*rsa.PrivateKey{}
)

func mustKey(t *testing.T, name string) *rsa.PrivateKey {
	t.Helper()
	keyMu.Lock()
	defer keyMu.Unlock()
	if k := keyCache[name]; k != nil {
		return k
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyCache[name] = k
	return k
}

func (p *platform) addKey(kid string) jose.SigningKey {
	k := jose.SigningKey{KID: kid, Priv: mustKey(p.t, kid)}
	p.mu.Lock()
	p.keys = append(p.keys, k)
	p.mu.Unlock()
	return k
}

func (p *platform) sign(k jose.SigningKey) []byte {
	p.t.Helper()
	tok, err := jose.SignJWT(k, map[string]any{"sub": "x"})
	if err != nil {
		p.t.Fatal(err)
	}
	return []byte(tok)
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newCache(p *platform) (*jose.KeySets, *clock) {
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	return jose.NewKeySets(p.srv.Client(), clk.Now, nil), clk
}

func verify(c *jose.KeySets, p *platform, tok []byte) error {
	_, _, err := c.Verify(context.Background(), tok, jose.VerifyOptions{URL: p.srv.URL})
	return err
}

// A platform that publishes a key and signs with it 5 s after Laurel fetched
// its set is accepted (the limit this replaced refused it for 30 s).
func TestNewKidFiveSecondsAfterFetchAccepted(t *testing.T) {
	p := newPlatform(t)
	c, clk := newCache(p)
	if err := verify(c, p, p.sign(p.keys[0])); err != nil {
		t.Fatalf("first token: %v", err)
	}
	k2 := p.addKey("k2")
	clk.Advance(5 * time.Second)
	if err := verify(c, p, p.sign(k2)); err != nil {
		t.Fatalf("new kid 5 s after the fetch: %v", err)
	}
	if n := p.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
}

// Inside the limit an unknown kid is refused without a fetch.
func TestNewKidInsideLimitRefusedWithoutFetch(t *testing.T) {
	p := newPlatform(t)
	c, clk := newCache(p)
	if err := verify(c, p, p.sign(p.keys[0])); err != nil {
		t.Fatal(err)
	}
	k2 := p.addKey("k2")
	clk.Advance(jose.DefaultMinRefetch - time.Second)
	err := verify(c, p, p.sign(k2))
	if kindOf(err) != jose.UnknownKid {
		t.Fatalf("err = %v, want UnknownKid", err)
	}
	if n := p.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
}

// A refresh that a known kid caused (the set was older than MaxAge) does not
// use up the unknown kids' allowance: a platform that rotates right after it
// is fetched again at once, and a random kid after that still waits its
// MinRefetch.
func TestNewKidRightAfterKnownKidRefreshFetchesAtOnce(t *testing.T) {
	p := newPlatform(t)
	c, clk := newCache(p)
	if err := verify(c, p, p.sign(p.keys[0])); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	p.mu.Lock()
	p.delay = release
	p.mu.Unlock()
	clk.Advance(c.MaxAge + time.Second)
	if err := verify(c, p, p.sign(p.keys[0])); err != nil {
		t.Fatalf("known kid in an old set: %v", err)
	}
	for p.fetches.Load() < 2 { // the refresh in passing has read the set
		time.Sleep(time.Millisecond)
	}
	p.mu.Lock()
	p.delay = nil
	p.mu.Unlock()
	k2 := p.addKey("k2") // rotated just after that refresh read the set
	close(release)
	clk.Advance(time.Second)
	if err := verify(c, p, p.sign(k2)); err != nil {
		t.Fatalf("new kid 1 s after a known kid's refresh: %v", err)
	}
	if n := p.fetches.Load(); n != 3 {
		t.Fatalf("%d fetches, want 3", n)
	}
	clk.Advance(time.Second)
	forger := jose.SigningKey{KID: "forged", Priv: mustKey(t, "forger")}
	if err := verify(c, p, p.sign(forger)); kindOf(err) != jose.UnknownKid {
		t.Fatalf("random kid: %v, want UnknownKid", err)
	}
	if n := p.fetches.Load(); n != 3 {
		t.Fatalf("%d fetches after a random kid inside the limit, want still 3", n)
	}
}

// 1,000 random kids, sent concurrently and spread over 20 s of clock, cost
// the platform at most one fetch per MinRefetch.
func TestRandomKidFloodBounded(t *testing.T) {
	p := newPlatform(t)
	c, clk := newCache(p)
	if err := verify(c, p, p.sign(p.keys[0])); err != nil {
		t.Fatal(err)
	}
	forger := jose.SigningKey{Priv: mustKey(t, "forger")}
	var wg sync.WaitGroup
	var refused atomic.Int64
	for i := range 1000 {
		if i%50 == 0 {
			clk.Advance(time.Second) // 20 s in all
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := forger
			k.KID = fmt.Sprintf("forged-%d-%d", i, time.Now().UnixNano())
			if kindOf(verify(c, p, p.sign(k))) == jose.UnknownKid {
				refused.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := refused.Load(); n != 1000 {
		t.Fatalf("%d of 1000 forged kids refused as unknown", n)
	}
	// 20 s of flood at one fetch per 5 s: at most 4 more, plus the first.
	if n := p.fetches.Load(); n > 5 {
		t.Fatalf("%d fetches for 1,000 random kids, want at most 5", n)
	}
}

// A slow fetch is single-flight and holds no lock: tokens with a known kid
// verify while it runs, and concurrent unknown kids share the one fetch.
func TestSlowFetchBlocksNoKnownKid(t *testing.T) {
	p := newPlatform(t)
	c, clk := newCache(p)
	if err := verify(c, p, p.sign(p.keys[0])); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	p.mu.Lock()
	p.delay = release
	p.mu.Unlock()
	k2 := p.addKey("k2")
	clk.Advance(jose.DefaultMinRefetch)
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = verify(c, p, p.sign(k2)) }()
	}
	// Wait until the fetch is running, then verify a known kid.
	for p.fetches.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	done := make(chan error, 1)
	go func() { done <- verify(c, p, p.sign(p.keys[0])) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("known kid during a slow fetch: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a known kid waited for a running JWKS fetch")
	}
	close(release)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("waiter %d: %v", i, err)
		}
	}
	if n := p.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2 (one shared by the waiters)", n)
	}
}

// Refusals name the check that failed.
func TestRefusals(t *testing.T) {
	p := newPlatform(t)
	c, _ := newCache(p)
	good := p.sign(p.keys[0])
	other := jose.SigningKey{KID: "k1", Priv: mustKey(t, "forger")}
	hs := []byte("eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ4In0.c2ln")
	none := []byte("eyJhbGciOiJub25lIiwia2lkIjoiazEifQ.eyJzdWIiOiJ4In0.")
	crit := []byte("eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIiwiY3JpdCI6WyJleHAiXX0.eyJzdWIiOiJ4In0.c2ln")
	noKid := []byte("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")
	cases := []struct {
		name string
		tok  []byte
		kind jose.ErrorKind
	}{
		{"two parts", []byte("abc.def"), jose.Malformed},
		{"header not base64", []byte("%%%.e30.c2ln"), jose.Malformed},
		{"header not JSON", []byte("bm90.e30.c2ln"), jose.Malformed},
		{"HS256", hs, jose.Alg},
		{"alg none, no signature", none, jose.Alg},
		{"crit", crit, jose.Alg},
		{"no kid", noKid, jose.MissingKid},
		{"other key under the kid", p.sign(other), jose.Signature},
		{"no signature", good[:lastDot(good)+1], jose.NoSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if k := kindOf(verify(c, p, tc.tok)); k != tc.kind {
				t.Fatalf("kind = %d, want %d", k, tc.kind)
			}
		})
	}
	if err := verify(c, p, good); err != nil {
		t.Fatalf("good token: %v", err)
	}
}

func lastDot(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '.' {
			return i
		}
	}
	return -1
}

// A set that cannot be fetched is KeysUnavailable, not an unknown kid.
func TestKeysUnavailable(t *testing.T) {
	p := newPlatform(t)
	c, _ := newCache(p)
	tok := p.sign(p.keys[0])
	p.srv.Close()
	if k := kindOf(verify(c, p, tok)); k != jose.KeysUnavailable {
		t.Fatalf("kind = %d, want KeysUnavailable", k)
	}
}

// Keys whose alg is not RS256 or whose use is not sig are never used.
func TestSetFiltersKeysByAlgAndUse(t *testing.T) {
	priv := mustKey(t, "k1")
	js, err := jose.JWKS([]jose.SigningKey{{KID: "k1", Priv: priv}})
	if err != nil {
		t.Fatal(err)
	}
	var published struct{ Keys []json.RawMessage }
	if err := json.Unmarshal(js, &published); err != nil || len(published.Keys) != 1 {
		t.Fatalf("JWKS = %s, %v", js, err)
	}
	pub := published.Keys[0]
	for _, field := range []string{"alg", "use"} {
		t.Run(field, func(t *testing.T) {
			var m map[string]any
			json.Unmarshal(pub, &m)
			m[field] = map[string]string{"alg": "RS512", "use": "enc"}[field]
			set, _ := json.Marshal(map[string]any{"keys": []any{m}})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(set) }))
			defer srv.Close()
			c := jose.NewKeySets(srv.Client(), nil, nil)
			tok, _ := jose.SignJWT(jose.SigningKey{KID: "k1", Priv: priv}, map[string]any{})
			_, _, err := c.Verify(context.Background(), []byte(tok), jose.VerifyOptions{URL: srv.URL})
			if kindOf(err) != jose.UnknownKid {
				t.Fatalf("err = %v, want UnknownKid", err)
			}
		})
	}
}
