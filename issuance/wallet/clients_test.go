package wallet_test

// The independent clients: an OpenID4VCI wallet (@openid4vc/openid4vci)
// and a DIDAuth presenter following the Learner Credential Wallet's
// exchange code (@digitalbazaar/vc), both from npm (testdata/wallets,
// installed by make test); the credentials they receive are verified with
// issuance/openbadges/testdata/verify/verify.mjs.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/internal/mail"
	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/issuance/internal/issuancetest"
	"github.com/laurel-edu/laurel/issuance/openbadges"
	"github.com/laurel-edu/laurel/issuance/wallet"
)

// mustNode is node and the absolute path of an npm directory whose
// packages must be installed.
func mustNode(t *testing.T, rel, pkg string) (string, string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is required (make test installs it)")
		}
		t.Skip("node not installed")
	}
	dir, _ := filepath.Abs(rel)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg)); err != nil {
		t.Fatalf("npm packages are not installed: run `npm ci` in %s (make test does)", dir)
	}
	return node, dir
}

// runNode runs script in dir with input as its JSON argument file and
// decodes its JSON output into out.
func runNode(t *testing.T, node, dir, script string, input any, out any) {
	t.Helper()
	b, _ := json.Marshal(input)
	path := filepath.Join(t.TempDir(), "input.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, script, path)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	o, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", script, err, stderr.String())
	}
	if err := json.Unmarshal(o, out); err != nil {
		t.Fatalf("node %s output %q: %v", script, o, err)
	}
}

// emailWorker sends the wallet emails to a fresh mail catcher.
func emailWorker(t *testing.T, e *env) (*jobs.Worker, *mail.Catcher) {
	t.Helper()
	catcher := issuancetest.MustCatcher(t, "")
	sender, err := mail.NewSender(catcher.URL(), "Laurel <no-reply@laurel.test>", 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sender.Close() })
	w := jobs.NewWorker(e.DB, issuancetest.Quiet)
	w.Handle(wallet.EmailJob, e.Wallet.SendOfferEmail(sender, "Laurel <no-reply@laurel.test>"))
	return w, catcher
}

func get(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	return b
}

// askForLink presses "Email me a wallet link" on the credential page and
// returns the emails that arrive: the link, and the code when asked for.
func askForLink(t *testing.T, e *env, want int) []mail.Received {
	t.Helper()
	w, catcher := emailWorker(t, e)
	page := string(get(t, e.URL+"/c/"+e.Cred.ID))
	if !strings.Contains(page, `action="/c/`+e.Cred.ID+`/wallet-link"`) {
		t.Fatalf("the credential page has no wallet link button:\n%s", page)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(e.URL+"/c/"+e.Cred.ID+"/wallet-link", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("wallet link: %d", resp.StatusCode)
	}
	if !strings.Contains(string(get(t, e.URL+resp.Header.Get("Location"))), "We emailed a wallet link") {
		t.Fatal("the credential page does not say the link was sent")
	}
	issuancetest.Drain(t, w)
	msgs, err := catcher.WaitFor(want, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if len(m.To) != 1 || m.To[0] != "ada@example.edu" {
			t.Fatalf("wallet email to %v, want the credential's address only", m.To)
		}
	}
	return msgs
}

var pageLink = regexp.MustCompile(`https?://\S+/wallet/claim\?t=[A-Za-z0-9_-]+`)

// offerFromEmail follows the email's link to the wallet page and returns
// the page, its offer link, and what its QR code decodes to.
func offerFromEmail(t *testing.T, m mail.Received) (page, offer, qrText string) {
	t.Helper()
	u := pageLink.FindString(m.Text)
	if u == "" {
		t.Fatalf("no wallet page link in the email:\n%s", m.Text)
	}
	page = string(get(t, u))
	om := regexp.MustCompile(`id="wallet-offer-link" href="([^"]+)"`).FindStringSubmatch(page)
	if om == nil {
		t.Fatalf("no offer link on the wallet page:\n%s", page)
	}
	offer = html.UnescapeString(om[1])
	png := get(t, strings.Replace(u, "/wallet/claim?", "/wallet/claim/qr.png?", 1))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "qr.png"), png, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(testenv.Tool(t, "zbarimg"), "--quiet", "--raw", filepath.Join(dir, "qr.png")).Output()
	if err != nil {
		t.Fatalf("zbarimg found no code: %v", err)
	}
	return page, offer, strings.TrimSpace(string(out))
}

// verified is what verify.mjs reports.
type verified struct {
	ContextMismatch []string `json:"contextMismatch"`
	Credential      struct {
		Verified bool
		Error    string
	}
	JWT struct {
		Verified       bool
		Error          string
		Sub            string
		SameCredential bool
	}
	Status struct {
		Verified, Revoked, ListVerified bool
		Error                           string
	}
}

// verifyIndependently runs verify.mjs on a wallet credential and its JWT
// form, with the issuer's documents as Laurel serves them.
func verifyIndependently(t *testing.T, e *env, cred json.RawMessage, jwt string) verified {
	t.Helper()
	node, dir := mustNode(t, "../openbadges/testdata/verify", "@digitalbazaar/vc")
	docs := map[string]json.RawMessage{}
	docs[e.Signing.DID()] = get(t, e.URL+"/.well-known/did.json")
	if jwt != "" {
		hb, _ := base64.RawURLEncoding.DecodeString(strings.Split(jwt, ".")[0])
		var h map[string]string
		_ = json.Unmarshal(hb, &h)
		docs[h["kid"]] = get(t, h["kid"])
	}
	var c openbadges.Credential
	if err := json.Unmarshal(cred, &c); err != nil {
		t.Fatal(err)
	}
	docs[c.CredentialStatus.StatusListCredential] = get(t, c.CredentialStatus.StatusListCredential)
	pinned := map[string]json.RawMessage{}
	for u, b := range openbadges.Contexts() {
		pinned[u] = b
	}
	var v verified
	bundle := map[string]any{"documents": docs, "credential": cred, "pinnedDocs": pinned}
	if jwt != "" {
		bundle["jwt"] = jwt
	}
	runNode(t, node, dir, "verify.mjs", bundle, &v)
	if len(v.ContextMismatch) > 0 {
		t.Fatalf("npm contexts differ from the pinned ones: %v", v.ContextMismatch)
	}
	return v
}

func TestOpenID4VCIClient(t *testing.T) {
	node, dir := mustNode(t, "testdata/wallets", "@openid4vc/openid4vci")
	e := mustEnv(t, nil)
	ctx := context.Background()
	// Two wallets may use one offer, with a code sent separately: the
	// client takes one credential in each configuration.
	if err := e.Wallet.SetSettings(ctx, issuancetest.Actor, e.Cred.GroupID, wallet.GroupSettings{Uses: 2, TxCode: true}); err != nil {
		t.Fatal(err)
	}
	msgs := askForLink(t, e, 2)
	var linkMail, codeMail mail.Received
	for _, m := range msgs {
		if strings.HasPrefix(m.Subject, "Your wallet code") {
			codeMail = m
		} else {
			linkMail = m
		}
	}
	code := regexp.MustCompile(`(?m)^(\d{6})\r?$`).FindStringSubmatch(codeMail.Text)
	if code == nil || strings.Contains(linkMail.Text, code[1]) {
		t.Fatalf("the code email lacks the code, or the link email carries it:\n%s\n---\n%s", codeMail.Text, linkMail.Text)
	}
	page, offer, qrText := offerFromEmail(t, linkMail)
	if qrText != offer || !strings.HasPrefix(offer, "openid-credential-offer://?credential_offer_uri=") {
		t.Fatalf("QR code %q, offer link %q", qrText, offer)
	}
	if strings.Contains(page, "wallet-lcw-link") {
		t.Fatal("an offer with a transaction code shows the Learner Credential Wallet link, which cannot send the code")
	}

	var out struct {
		Holder      string
		Credentials map[string]json.RawMessage
		Refusals    map[string]string
	}
	runNode(t, node, dir, "oid4vci.mjs", map[string]any{"offer": offer, "txCode": code[1], "refusals": true}, &out)
	t.Logf("refusals: %v", out.Refusals)
	for name, want := range map[string]string{"wrongTxCode": "invalid_grant", "replayedOffer": "invalid_grant",
		"missingNonce": "invalid_nonce", "staleNonce": "invalid_nonce", "otherKey": "invalid_proof"} {
		if out.Refusals[name] != want {
			t.Errorf("%s: %q, want %s", name, out.Refusals[name], want)
		}
	}
	ldp := out.Credentials[wallet.ConfigLDP]
	var jwt string
	if err := json.Unmarshal(out.Credentials[wallet.ConfigJWT], &jwt); err != nil {
		t.Fatalf("jwt_vc_json credential: %s", out.Credentials[wallet.ConfigJWT])
	}
	var c openbadges.Credential
	if err := json.Unmarshal(ldp, &c); err != nil || c.CredentialSubject.ID != out.Holder || !strings.HasPrefix(out.Holder, "did:key:z6Mk") {
		t.Fatalf("ldp_vc credential subject %q, wallet %q (%v)", c.CredentialSubject.ID, out.Holder, err)
	}
	v := verifyIndependently(t, e, ldp, jwt)
	if !v.Credential.Verified || !v.JWT.Verified || v.JWT.Sub != out.Holder || !v.JWT.SameCredential || v.Status.Revoked {
		t.Fatalf("independent verification: %+v", v)
	}
	if ids, _ := e.Wallet.CredentialsOfHolder(ctx, out.Holder); len(ids) != 1 || ids[0] != e.Cred.ID {
		t.Fatalf("credentials of the wallet's DID: %v", ids)
	}

	// Revoking the credential revokes the wallet's copy: the same status entry.
	if _, err := e.Core.Revoke(ctx, issuancetest.Actor, e.Cred.ID, "Issued in error"); err != nil {
		t.Fatal(err)
	}
	if v := verifyIndependently(t, e, ldp, ""); !v.Status.Revoked || v.Credential.Verified {
		t.Fatalf("after revocation: %+v", v.Status)
	}
}

func TestLearnerCredentialWallet(t *testing.T) {
	node, dir := mustNode(t, "testdata/wallets", "@digitalbazaar/vc")
	e := mustEnv(t, nil)
	ctx := context.Background()
	// Two wallets: one through the direct link, one through the exchange.
	if err := e.Wallet.SetSettings(ctx, issuancetest.Actor, e.Cred.GroupID, wallet.GroupSettings{Uses: 2}); err != nil {
		t.Fatal(err)
	}
	msgs := askForLink(t, e, 1)
	if strings.Contains(msgs[0].Text, "six-digit") {
		t.Fatal("the email promises a code the group does not ask for")
	}
	page, _, _ := offerFromEmail(t, msgs[0])
	m := regexp.MustCompile(`id="wallet-lcw-link" href="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no Learner Credential Wallet link on the page:\n%s", page)
	}
	direct := html.UnescapeString(m[1])
	token := pageLink.FindString(msgs[0].Text)
	token = token[strings.LastIndexByte(token, '=')+1:]

	type result struct {
		Holder       string
		Credential   json.RawMessage
		Status       int
		ReplayStatus int
	}
	var holders []string
	for _, in := range []map[string]string{{"direct": direct}, {"vcapi": e.Wallet.ExchangeURL(token)}} {
		var r result
		runNode(t, node, dir, "lcw.mjs", in, &r)
		// A replay is refused: its challenge was rotated (403), or, after
		// the last use, the offer is gone (404).
		if r.Status != http.StatusOK || (r.ReplayStatus != http.StatusForbidden && r.ReplayStatus != http.StatusNotFound) {
			t.Fatalf("%v: status %d, replay %d: %s", in, r.Status, r.ReplayStatus, r.Credential)
		}
		var c openbadges.Credential
		if err := json.Unmarshal(r.Credential, &c); err != nil || c.CredentialSubject.ID != r.Holder {
			t.Fatalf("%v: subject %q, holder %q (%v)", in, c.CredentialSubject.ID, r.Holder, err)
		}
		if v := verifyIndependently(t, e, r.Credential, ""); !v.Credential.Verified {
			t.Fatalf("%v: independent verification: %+v", in, v.Credential)
		}
		holders = append(holders, r.Holder)
	}
	claims, err := e.Wallet.Claims(ctx, e.Cred.ID)
	if err != nil || len(claims) != 2 || claims[0].Protocol != "lcw" || claims[1].Protocol != "vcapi" || claims[0].Holder != holders[0] || claims[1].Holder != holders[1] {
		t.Fatalf("claims %+v %v", claims, err)
	}
	// Both uses are spent: the link is gone.
	resp, err := http.Post(e.Wallet.ExchangeURL(token), "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("exchange of a used-up offer: %d", resp.StatusCode)
	}
}
