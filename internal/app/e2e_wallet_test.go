package app_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/openbadges"
	"github.com/laurel-edu/laurel/issuance/wallet"
)

// claimIntoWallet claims published credential id into a fresh did:key
// wallet through OpenID4VCI over HTTP, as a wallet app would, and returns
// the wallet's DID.
func claimIntoWallet(t *testing.T, app *running, id string) string {
	t.Helper()
	o, err := app.Wallet.CreateOffer(context.Background(), "test", id, false)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, app.URL)
	getJSON := func(resp *http.Response, body string) map[string]any {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal([]byte(body), &m); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", resp.Request.URL.Path, resp.StatusCode, body)
		}
		return m
	}
	offer := getJSON(c.do("GET", strings.TrimPrefix(app.Wallet.OfferURI(o.Token), app.URL), "", ""))
	pre := offer["grants"].(map[string]any)[wallet.PreAuthGrant].(map[string]any)["pre-authorized_code"].(string)
	tok := getJSON(c.form("/wallet/token", url.Values{"grant_type": {wallet.PreAuthGrant}, "pre-authorized_code": {pre}}))
	nonce := getJSON(c.do("POST", "/wallet/nonce", "", ""))["c_nonce"].(string)
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	mb := openbadges.PublicKeyMultibase(pub)
	did := "did:key:" + mb
	enc := base64.RawURLEncoding
	hdr, _ := json.Marshal(map[string]string{"alg": "EdDSA", "typ": "openid4vci-proof+jwt", "kid": did + "#" + mb})
	pl, _ := json.Marshal(map[string]any{"aud": app.URL, "iat": time.Now().Unix(), "nonce": nonce})
	in := enc.EncodeToString(hdr) + "." + enc.EncodeToString(pl)
	proof := in + "." + enc.EncodeToString(ed25519.Sign(priv, []byte(in)))
	body, _ := json.Marshal(map[string]any{"credential_configuration_id": wallet.ConfigLDP, "proofs": map[string]any{"jwt": []string{proof}}})
	c.header.Set("Authorization", "Bearer "+tok["access_token"].(string))
	getJSON(c.do("POST", "/wallet/credential", "application/json", string(body)))
	return did
}

// TestWalletClaimSeenByStaff: a claim shows on the staff credential page,
// the Credentials tab and the API find the credential by the wallet's DID,
// and a group's wallet settings are set through the page.
func TestWalletClaimSeenByStaff(t *testing.T) {
	app := mustRun(t)
	ctx := context.Background()
	g, grace := seedOwnerAndCredential(t, app)
	if _, err := app.Issuance.Publish(ctx, "test", issuance.Selection{IDs: []string{grace.ID}}); err != nil {
		t.Fatal(err)
	}
	did := claimIntoWallet(t, app, grace.ID)

	owner := mustSignIn(t, app, auth.Owner)
	_, page := owner.do("GET", "/credentials/"+grace.ID, "", "")
	if !strings.Contains(page, "Claimed into a wallet on") || !strings.Contains(page, did) {
		t.Fatalf("the staff credential page does not show the claim:\n%s", page)
	}
	_, tab := owner.do("GET", "/credentials?q="+url.QueryEscape(did), "", "")
	if !strings.Contains(tab, "/credentials/"+grace.ID) {
		t.Fatalf("the Credentials tab does not find the credential by DID:\n%s", tab)
	}
	_, none := owner.do("GET", "/credentials?q="+url.QueryEscape("did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"), "", "")
	if strings.Contains(none, "/credentials/"+grace.ID) {
		t.Fatal("another DID finds the credential")
	}

	token, err := app.Accounts.CreateToken(ctx, "registrar script", auth.Admin)
	if err != nil {
		t.Fatal(err)
	}
	api := newClient(t, app.URL)
	api.header.Set("Authorization", "Bearer "+token)
	resp, body := api.do("GET", "/api/v1/wallet/claims?holder="+url.QueryEscape(did), "", "")
	var out struct{ Claims []wallet.Claim }
	if err := json.Unmarshal([]byte(body), &out); err != nil || resp.StatusCode != http.StatusOK || len(out.Claims) != 1 ||
		out.Claims[0].CredentialID != grace.ID || out.Claims[0].Protocol != "oid4vci" {
		t.Fatalf("API claims by holder: %d %s", resp.StatusCode, body)
	}
	if resp, body := api.do("GET", "/api/v1/wallet/claims?holder=mailto:grace", "", ""); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `"holder"`) {
		t.Fatalf("API claims by a non-DID: %d %s", resp.StatusCode, body)
	}

	// Settings: a bad number is refused naming the field, and changes nothing.
	gp := fmt.Sprintf("/groups/%d/wallet", g.ID)
	if resp, body := owner.form(gp, url.Values{"offer_uses": {"11"}}); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "from 1 to 10") {
		t.Fatalf("bad uses: %d", resp.StatusCode)
	}
	if st, _ := app.Wallet.Settings(ctx, g.ID); st.Uses != 1 || st.TxCode {
		t.Fatalf("a refused form changed the settings: %+v", st)
	}
	if resp, _ := owner.form(gp, url.Values{"offer_uses": {"3"}, "tx_code": {"on"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save settings: %d", resp.StatusCode)
	}
	if st, _ := app.Wallet.Settings(ctx, g.ID); st.Uses != 3 || !st.TxCode {
		t.Fatalf("settings after save: %+v", st)
	}
	resp, body = api.do("GET", fmt.Sprintf("/api/v1/groups/%d/wallet", g.ID), "", "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"offer_uses":3`) {
		t.Fatalf("API settings: %d %s", resp.StatusCode, body)
	}
}

// TestPublishEmailWalletLink: the credential email links a page that makes
// a fresh offer for whoever holds the email; a group that asks for a
// transaction code gets it emailed separately.
func TestPublishEmailWalletLink(t *testing.T) {
	app := mustRun(t)
	ctx := context.Background()
	g, grace := seedOwnerAndCredential(t, app)
	if err := app.Wallet.SetSettings(ctx, "test", g.ID, wallet.GroupSettings{Uses: 1, TxCode: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Issuance.Publish(ctx, "test", issuance.Selection{IDs: []string{grace.ID}}); err != nil {
		t.Fatal(err)
	}
	msgs, err := app.Mail.WaitFor(1, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(msgs[0].Text, app.URL+"/c/"+grace.ID+"/wallet?k=")
	if i < 0 || !strings.Contains(msgs[0].HTML, "/c/"+grace.ID+"/wallet?k=") {
		t.Fatalf("the credential email has no wallet link:\n%s", msgs[0].Text)
	}
	link := strings.Fields(msgs[0].Text[i:])[0]
	path := strings.TrimPrefix(link, app.URL)
	c := newClient(t, app.URL)
	if resp, body := c.do("GET", path, "", ""); resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="wallet-start"`) {
		t.Fatalf("wallet start page: %d %s", resp.StatusCode, body)
	}
	key := path[strings.Index(path, "k=")+2:]
	wrong := key[:len(key)-1] + "A"
	if wrong == key {
		wrong = key[:len(key)-1] + "B"
	}
	if resp, _ := c.form("/c/"+grace.ID+"/wallet", url.Values{"k": {wrong}}); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a wrong key: %d, want 404", resp.StatusCode)
	}
	resp, _ := c.form("/c/"+grace.ID+"/wallet", url.Values{"k": {key}})
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/wallet/claim?t=") {
		t.Fatalf("make an offer: %d %s", resp.StatusCode, loc)
	}
	if resp, body := c.do("GET", loc, "", ""); resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="wallet-qr"`) || !strings.Contains(body, `id="wallet-txcode"`) {
		t.Fatalf("claim page: %d %s", resp.StatusCode, body)
	}
	msgs, err = app.Mail.WaitFor(2, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(msgs[1].Subject, "Your wallet code") || strings.Contains(msgs[1].Text, "/wallet/claim") {
		t.Fatalf("second email: %s\n%s", msgs[1].Subject, msgs[1].Text)
	}
	// A changed address ends the old links.
	email := "grace.hopper@alumni.example.org"
	if _, err := app.Issuance.AmendCredential(ctx, "test", grace.ID, issuance.Amendment{Email: &email}); err != nil {
		t.Fatal(err)
	}
	if resp, _ := c.do("GET", path, "", ""); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("old address's link after the change: %d", resp.StatusCode)
	}
}

// TestWalletClaimsInPersonRequest: a person's export lists their wallet
// claims, and erasing them forgets the holders' DIDs.
func TestWalletClaimsInPersonRequest(t *testing.T) {
	app := mustRun(t)
	ctx := context.Background()
	_, grace := seedOwnerAndCredential(t, app)
	if _, err := app.Issuance.Publish(ctx, "test", issuance.Selection{IDs: []string{grace.ID}}); err != nil {
		t.Fatal(err)
	}
	did := claimIntoWallet(t, app, grace.ID)
	r, err := app.People.Find(ctx, "grace@uni.example.edu")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.WalletClaims) != 1 || r.WalletClaims[0].Holder != did {
		t.Fatalf("export wallet claims: %+v", r.WalletClaims)
	}
	e, err := app.People.Erase(ctx, "test", "grace@uni.example.edu")
	if err != nil {
		t.Fatal(err)
	}
	if e.WalletClaims != 1 || !strings.Contains(e.Summary(), "1 wallet claim forgotten") {
		t.Fatalf("erasure: %+v %s", e, e.Summary())
	}
	if cs, _ := app.Wallet.Claims(ctx, grace.ID); len(cs) != 0 {
		t.Fatalf("claims after erasure: %+v", cs)
	}
	if ids, _ := app.Wallet.CredentialsOfHolder(ctx, did); len(ids) != 0 {
		t.Fatalf("the DID still finds the erased person's credential: %v", ids)
	}
	var n int
	if err := app.DB.Get(&n, `SELECT count(*) FROM audit_log WHERE after::text LIKE '%' || $1 || '%' OR actor LIKE '%' || $1 || '%'`, did); err != nil || n != 0 {
		t.Fatalf("%d audit entries still name the DID (%v)", n, err)
	}
}
