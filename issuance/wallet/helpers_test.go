package wallet_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/internal/issuancetest"
	"github.com/laurel-edu/laurel/issuance/openbadges"
	"github.com/laurel-edu/laurel/issuance/public"
	"github.com/laurel-edu/laurel/issuance/reminders"
	"github.com/laurel-edu/laurel/issuance/signing"
	"github.com/laurel-edu/laurel/issuance/wallet"
)

// env is a running wallet room over a fresh database: its HTTP server,
// and one published credential.
type env struct {
	Core    *issuance.Service
	DB      *sqlx.DB
	Signing *signing.Service
	Wallet  *wallet.Service
	URL     string
	Cred    issuance.Credential
	Creds   []issuance.Credential
}

func mustEnv(t testing.TB, mod func(*issuance.Group)) *env {
	return mustEnvN(t, mod, 1)
}

// mustEnvN is mustEnv with n published credentials (Cred is the first).
func mustEnvN(t testing.TB, mod func(*issuance.Group), n int) *env {
	t.Helper()
	s, d := issuancetest.MustService(t)
	h := &handler{}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	s.BaseURL = srv.URL
	keys := issuancetest.MustKeys(t)
	sg := signing.New(s, keys)
	w := wallet.New(s, sg, testenv.Redis(t), keys)
	rd, err := web.NewRenderer(nil, wallet.Templates, public.Templates)
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	w.Register(r, rd)
	pub := public.New(s, reminders.New(s, nil), sg)
	pub.Wallets = true
	pub.Register(r, rd)
	h.h = r
	g := issuancetest.MustGroup(t, s, mod)
	items := []issuance.NewCredential{issuancetest.Item("Ada Lovelace", "ada@example.edu")}
	for i := 1; i < n; i++ {
		items = append(items, issuancetest.Item(fmt.Sprintf("Recipient %d", i), fmt.Sprintf("r%d@example.edu", i)))
	}
	cs := issuancetest.MustCreate(t, s, g.ID, items...)
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	if _, err := s.Publish(context.Background(), issuancetest.Actor, issuance.Selection{IDs: ids}); err != nil {
		t.Fatal(err)
	}
	return &env{Core: s, DB: d, Signing: sg, Wallet: w, URL: srv.URL, Cred: cs[0], Creds: cs}
}

type handler struct{ h http.Handler }

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.h.ServeHTTP(w, r) }

// holder is a wallet's key and its did:key.
type holder struct {
	Priv ed25519.PrivateKey
	DID  string
}

func newHolder(t testing.TB) holder {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return holder{Priv: priv, DID: "did:key:" + openbadges.PublicKeyMultibase(pub)}
}

// proof is a jwt proof of possession by h for aud and nonce, issued at iat.
func (h holder) proof(t testing.TB, aud, nonce string, iat time.Time) string {
	t.Helper()
	mb := strings.TrimPrefix(h.DID, "did:key:")
	hdr, _ := json.Marshal(map[string]string{"alg": "EdDSA", "typ": "openid4vci-proof+jwt", "kid": h.DID + "#" + mb})
	claims := map[string]any{"aud": aud, "iat": iat.Unix()}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	pl, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding
	input := enc.EncodeToString(hdr) + "." + enc.EncodeToString(pl)
	return input + "." + enc.EncodeToString(ed25519.Sign(h.Priv, []byte(input)))
}

// do sends a request and decodes a JSON answer.
func do(t *testing.T, method, u, contentType, body, bearer string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

func form(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v.Encode()
}
