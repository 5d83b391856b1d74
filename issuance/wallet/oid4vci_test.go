package wallet_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/issuance/internal/issuancetest"
	"github.com/laurel-edu/laurel/issuance/openbadges"
	"github.com/laurel-edu/laurel/issuance/wallet"
)

// offerCode reads the pre-authorized code from the offer the link names,
// as a wallet does.
func offerCode(t *testing.T, e *env, o wallet.Offer) (string, map[string]any) {
	t.Helper()
	link, err := url.Parse(e.Wallet.OfferLink(o.Token))
	if err != nil || link.Scheme != "openid-credential-offer" {
		t.Fatalf("offer link %q", e.Wallet.OfferLink(o.Token))
	}
	code, offer := do(t, "GET", link.Query().Get("credential_offer_uri"), "", "", "")
	if code != http.StatusOK {
		t.Fatalf("offer: %d %v", code, offer)
	}
	grant := offer["grants"].(map[string]any)[wallet.PreAuthGrant].(map[string]any)
	return grant["pre-authorized_code"].(string), grant
}

func nonce(t *testing.T, e *env) string {
	t.Helper()
	code, body := do(t, "POST", e.URL+"/wallet/nonce", "", "", "")
	if code != http.StatusOK || body["c_nonce"] == "" {
		t.Fatalf("nonce: %d %v", code, body)
	}
	return body["c_nonce"].(string)
}

func TestPreAuthorizedFlow(t *testing.T) {
	e := mustEnv(t, nil)
	ctx := context.Background()
	o, err := e.Wallet.CreateOffer(ctx, issuancetest.Actor, e.Cred.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	pre, grant := offerCode(t, e, o)
	if _, ok := grant["tx_code"]; ok {
		t.Fatalf("no transaction code was asked for, yet the offer names one: %v", grant)
	}
	code, tok := do(t, "POST", e.URL+"/wallet/token", "application/x-www-form-urlencoded", form("grant_type", wallet.PreAuthGrant, "pre-authorized_code", pre), "")
	if code != http.StatusOK || tok["token_type"] != "Bearer" {
		t.Fatalf("token: %d %v", code, tok)
	}
	access := tok["access_token"].(string)

	// The offer is used once: a second token request is invalid_grant.
	code, body := do(t, "POST", e.URL+"/wallet/token", "application/x-www-form-urlencoded", form("grant_type", wallet.PreAuthGrant, "pre-authorized_code", pre), "")
	if code != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("replayed offer: %d %v", code, body)
	}

	h := newHolder(t)
	req := func(proof string) string {
		b, _ := json.Marshal(map[string]any{"credential_configuration_id": wallet.ConfigLDP, "proofs": map[string]any{"jwt": []string{proof}}})
		return string(b)
	}
	now := time.Now()
	for name, c := range map[string]struct {
		proof, want string
	}{
		"no nonce":      {h.proof(t, e.URL, "", now), "invalid_nonce"},
		"unknown nonce": {h.proof(t, e.URL, "made-up", now), "invalid_nonce"},
		"wrong aud":     {h.proof(t, "https://elsewhere.example", nonce(t, e), now), "invalid_proof"},
		"stale iat":     {h.proof(t, e.URL, nonce(t, e), now.Add(-time.Hour)), "invalid_proof"},
		"another key": {func() string {
			other := newHolder(t)
			p := other.proof(t, e.URL, nonce(t, e), now)
			// Header naming h's DID, signed by other's key.
			good := h.proof(t, e.URL, "x", now)
			return good[:strings.IndexByte(good, '.')] + p[strings.IndexByte(p, '.'):]
		}(), "invalid_proof"},
	} {
		code, body := do(t, "POST", e.URL+"/wallet/credential", "application/json", req(c.proof), access)
		if code != http.StatusBadRequest || body["error"] != c.want {
			t.Errorf("%s: %d %v, want %s", name, code, body, c.want)
		}
	}
	if cs, _ := e.Wallet.Claims(ctx, e.Cred.ID); len(cs) != 0 {
		t.Fatalf("refused requests recorded claims: %v", cs)
	}

	n := nonce(t, e)
	code, body = do(t, "POST", e.URL+"/wallet/credential", "application/json", req(h.proof(t, e.URL, n, now)), access)
	if code != http.StatusOK {
		t.Fatalf("credential: %d %v", code, body)
	}
	raw, _ := json.Marshal(body["credentials"].([]any)[0].(map[string]any)["credential"])
	var vc openbadges.Credential
	if err := json.Unmarshal(raw, &vc); err != nil {
		t.Fatal(err)
	}
	if vc.CredentialSubject.ID != h.DID {
		t.Errorf("subject %q, want the holder %q", vc.CredentialSubject.ID, h.DID)
	}
	pubJSON, _, err := e.Signing.Signed(ctx, e.Cred.ID)
	if err != nil {
		t.Fatal(err)
	}
	var published openbadges.Credential
	_ = json.Unmarshal(pubJSON, &published)
	if vc.CredentialStatus != published.CredentialStatus || vc.CredentialSubject.Achievement.ID != published.CredentialSubject.Achievement.ID || vc.ValidFrom != published.ValidFrom {
		t.Errorf("wallet copy differs from the published credential:\n%+v\n%+v", vc, published)
	}

	// The nonce and the token are spent.
	code, body = do(t, "POST", e.URL+"/wallet/credential", "application/json", req(h.proof(t, e.URL, n, now)), access)
	if code != http.StatusUnauthorized || body["error"] != "invalid_token" {
		t.Fatalf("spent token: %d %v", code, body)
	}
	lines, err := e.Wallet.ClaimLines(ctx, e.Cred.ID)
	if err != nil || len(lines) != 1 || !strings.Contains(lines[0], "Claimed into a wallet on") || !strings.Contains(lines[0], h.DID) {
		t.Fatalf("claim lines %q %v", lines, err)
	}
	ids, err := e.Wallet.CredentialsOfHolder(ctx, h.DID+"#whatever")
	if err != nil || len(ids) != 1 || ids[0] != e.Cred.ID {
		t.Fatalf("credentials of holder: %v %v", ids, err)
	}

	// A revoked credential offers nothing more.
	if _, err := e.Core.Revoke(ctx, issuancetest.Actor, e.Cred.ID, "Issued in error"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Wallet.CreateOffer(ctx, issuancetest.Actor, e.Cred.ID, false); err == nil {
		t.Fatal("an offer of a revoked credential was made")
	}
}

func TestTransactionCode(t *testing.T) {
	e := mustEnv(t, nil)
	ctx := context.Background()
	if err := e.Wallet.SetSettings(ctx, issuancetest.Actor, e.Cred.GroupID, wallet.GroupSettings{Uses: 0}); err == nil {
		t.Fatal("0 uses accepted")
	}
	if err := e.Wallet.SetSettings(ctx, issuancetest.Actor, e.Cred.GroupID, wallet.GroupSettings{Uses: 2, TxCode: true}); err != nil {
		t.Fatal(err)
	}
	o, err := e.Wallet.CreateOffer(ctx, issuancetest.Actor, e.Cred.ID, false)
	if err != nil || len(o.TxCode) != 6 {
		t.Fatalf("offer %+v %v", o, err)
	}
	pre, grant := offerCode(t, e, o)
	if tc, ok := grant["tx_code"].(map[string]any); !ok || tc["length"] != float64(6) {
		t.Fatalf("offer grant %v", grant)
	}
	wrong := "000000"
	if o.TxCode == wrong {
		wrong = "111111"
	}
	for _, tx := range []string{"", wrong} {
		code, body := do(t, "POST", e.URL+"/wallet/token", "application/x-www-form-urlencoded", form("grant_type", wallet.PreAuthGrant, "pre-authorized_code", pre, "tx_code", tx), "")
		if code != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("tx_code %q: %d %v", tx, code, body)
		}
	}
	// The LCW links are not offered: LCW cannot send the code.
	code, _ := do(t, "POST", e.Wallet.ExchangeURL(o.Token), "application/json", "{}", "")
	if code != http.StatusForbidden {
		t.Fatalf("exchange of a tx_code offer: %d", code)
	}
	// Two uses allowed: two tokens, then invalid_grant.
	for i := range 3 {
		code, body := do(t, "POST", e.URL+"/wallet/token", "application/x-www-form-urlencoded", form("grant_type", wallet.PreAuthGrant, "pre-authorized_code", pre, "tx_code", o.TxCode), "")
		if want := i < 2; want != (code == http.StatusOK) {
			t.Fatalf("use %d: %d %v", i+1, code, body)
		}
	}
}
