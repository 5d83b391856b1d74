package wallet

// The Learner Credential Wallet: its direct request (a DIDAuth
// presentation POSTed to vc_request_url) and the VC-API exchange (POST {}
// for a DIDAuthentication request, then POST the signed presentation).
// Either way the presentation's proof, challenge and domain are verified,
// and a claim rotates the offer's challenge, so a presentation is never
// accepted twice.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/issuance/openbadges"
)

// Contexts a wallet's presentation may use beyond the pinned credential
// contexts: VC 1.1 and the Ed25519Signature2020 suite (LCW signs with it).
const (
	ContextVC1          = "https://www.w3.org/2018/credentials/v1"
	ContextEd25519v2020 = "https://w3id.org/security/suites/ed25519-2020/v1"
)

//go:embed contexts/*.jsonld
var contextFS embed.FS

// loader resolves the presentation contexts offline: a context not pinned
// is refused, never fetched.
var loader = func() *openbadges.Loader {
	extra := map[string][]byte{}
	for u, f := range map[string]string{ContextVC1: "contexts/credentials-v1.jsonld", ContextEd25519v2020: "contexts/ed25519-signature-2020-v1.jsonld"} {
		b, err := contextFS.ReadFile(f)
		if err != nil {
			panic(err) // embedded at compile time
		}
		extra[u] = b
	}
	return openbadges.NewLoader(extra)
}()

const maxPresentation = 64 << 10

// domain is what a VC-API exchange asks the wallet to sign for: this
// deployment's origin host.
func (s *Service) domain() string {
	u, err := url.Parse(s.Issuer())
	if err != nil {
		return s.Issuer()
	}
	return u.Host
}

// lcwDirect answers the direct request: a DIDAuth presentation for the
// credential bound to the presenter's DID.
func (s *Service) lcwDirect(c *gin.Context) error {
	return s.presentationClaim(c, "lcw", false)
}

// exchange is the VC-API exchange: POST {} starts it (a
// VerifiablePresentationRequest), POST {"verifiablePresentation": …} ends
// it with the credential.
func (s *Service) exchange(c *gin.Context) error {
	ctx := c.Request.Context()
	body, err := readBody(c, maxPresentation)
	if err != nil {
		return err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return apperr.Errorf(apperr.BadRequest, "The request is not a JSON object.")
	}
	if _, ok := m["verifiablePresentation"]; !ok {
		o, err := s.lcwOffer(ctx, s.DB, c.Query("t"), false)
		if err != nil {
			return err
		}
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, gin.H{"verifiablePresentationRequest": gin.H{
			"query":     []gin.H{{"type": "DIDAuthentication", "acceptedMethods": []gin.H{{"method": "key"}}, "acceptedCryptosuites": []gin.H{{"cryptosuite": "Ed25519Signature2020"}, {"cryptosuite": openbadges.Cryptosuite}}}},
			"challenge": o.Challenge,
			"domain":    s.domain(),
		}})
		return nil
	}
	return s.presentationClaimBody(c, "vcapi", true, m["verifiablePresentation"])
}

func (s *Service) presentationClaim(c *gin.Context, protocol string, needDomain bool) error {
	body, err := readBody(c, maxPresentation)
	if err != nil {
		return err
	}
	return s.presentationClaimBody(c, protocol, needDomain, body)
}

// presentationClaimBody verifies presentation vp against the offer of the
// request's token and answers the bound credential: the VC itself (direct)
// or {"verifiablePresentation": {…}} (VC-API).
func (s *Service) presentationClaimBody(c *gin.Context, protocol string, needDomain bool, vp []byte) error {
	ctx := c.Request.Context()
	token := c.Query("t")
	o, err := s.lcwOffer(ctx, s.DB, token, false)
	if err != nil {
		return err
	}
	domain := ""
	if needDomain {
		domain = s.domain()
	}
	holder, err := VerifyDIDAuth(vp, o.Challenge, domain)
	if err != nil {
		return err
	}
	cp, err := s.claim(ctx, o.CredentialID, holder, protocol, "ldp_vc", func(ctx context.Context, tx *sqlx.Tx) error {
		// The offer is re-read under its lock: a presentation for a
		// challenge that a concurrent claim just rotated is a replay.
		lo, err := s.lcwOffer(ctx, tx, token, true)
		if err != nil {
			return err
		}
		if lo.Challenge != o.Challenge {
			return apperr.Errorf(apperr.Forbidden, "This presentation has already been used: ask for a new one.")
		}
		const q = `UPDATE wallet_offers SET uses_left = uses_left - 1, challenge = $2 WHERE id = $1`
		if _, err := tx.ExecContext(ctx, q, lo.ID, randomToken()); err != nil {
			return fmt.Errorf("spend wallet offer %d: %w", lo.ID, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.Header("Cache-Control", "no-store")
	if protocol == "vcapi" {
		c.JSON(http.StatusOK, gin.H{"verifiablePresentation": gin.H{
			"@context": []string{openbadges.ContextVC2}, "type": []string{"VerifiablePresentation"},
			"verifiableCredential": []json.RawMessage{cp.JSON}}})
		return nil
	}
	c.Data(http.StatusOK, "application/json", cp.JSON)
	return nil
}

// lcwOffer is the live offer of token for the Learner Credential Wallet:
// an offer that needs a transaction code is for OpenID4VCI wallets only
// (LCW has no way to ask for the code).
func (s *Service) lcwOffer(ctx context.Context, q sqlx.QueryerContext, token string, lock bool) (offerRow, error) {
	o, err := s.liveOffer(ctx, q, token, lock)
	if err != nil {
		return o, err
	}
	if o.TxCodeHash != nil {
		return o, apperr.Errorf(apperr.Forbidden, "This credential's group asks for a transaction code, which only OpenID4VCI wallets can send.")
	}
	return o, nil
}

// VerifyDIDAuth checks a DIDAuth presentation: proof purpose
// authentication, the expected challenge (and domain, when not ""), a
// verification method of the holder's did:key, and its Ed25519Signature2020
// or eddsa-rdfc-2022 signature over the canonical presentation. It returns
// the holder's DID. Every refusal is Forbidden or BadRequest with the
// reason.
func VerifyDIDAuth(vp []byte, challenge, domain string) (string, error) {
	var doc map[string]any
	d := json.NewDecoder(bytes.NewReader(vp))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil {
		return "", apperr.Errorf(apperr.BadRequest, "The presentation is not a JSON object.")
	}
	proof, ok := doc["proof"].(map[string]any)
	if !ok {
		return "", apperr.Errorf(apperr.Forbidden, "The presentation has no single proof object.")
	}
	str := func(k string) string { v, _ := proof[k].(string); return v }
	switch {
	case str("type") == "Ed25519Signature2020":
	case str("type") == openbadges.ProofType && str("cryptosuite") == openbadges.Cryptosuite:
	default:
		return "", apperr.Errorf(apperr.Forbidden, "The presentation's proof is neither Ed25519Signature2020 nor eddsa-rdfc-2022.")
	}
	if str("proofPurpose") != "authentication" {
		return "", apperr.Errorf(apperr.Forbidden, "The presentation's proof purpose must be authentication.")
	}
	if challenge == "" || str("challenge") != challenge {
		return "", apperr.Errorf(apperr.Forbidden, "The presentation's challenge is not the one this link asked for (a replayed or stale presentation).")
	}
	if domain != "" && str("domain") != domain {
		return "", apperr.Errorf(apperr.Forbidden, "The presentation's domain must be %s.", domain)
	}
	holder, _ := doc["holder"].(string)
	if h, ok := doc["holder"].(map[string]any); ok {
		holder, _ = h["id"].(string)
	}
	did, pub, err := ResolveDID(str("verificationMethod"))
	if err != nil {
		return "", apperr.Errorf(apperr.Forbidden, "The presentation's verification method: %v.", err)
	}
	if holder != "" && holder != did {
		return "", apperr.Errorf(apperr.Forbidden, "The presentation is signed by a key of another DID than its holder.")
	}
	edPub, ok := pub.(ed25519.PublicKey)
	if !ok || !strings.HasPrefix(did, "did:key:") {
		return "", apperr.Errorf(apperr.Forbidden, "The presentation must be signed by an Ed25519 did:key.")
	}
	proofValue := str("proofValue")
	config := map[string]any{}
	for k, v := range proof {
		if k != "proofValue" && k != "jws" && k != "signatureValue" {
			config[k] = v
		}
	}
	config["@context"] = doc["@context"]
	delete(doc, "proof")
	docJSON, err := json.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("verify presentation: %w", err)
	}
	configJSON, err := json.Marshal(config)
	if err != nil {
		return "", fmt.Errorf("verify presentation: %w", err)
	}
	canonDoc, err := openbadges.Canonical(docJSON, loader)
	if err != nil {
		return "", apperr.Errorf(apperr.Forbidden, "The presentation cannot be read as JSON-LD with the accepted contexts (VC 1.1 or 2.0, Ed25519Signature2020).")
	}
	canonProof, err := openbadges.Canonical(configJSON, loader)
	if err != nil {
		return "", apperr.Errorf(apperr.Forbidden, "The presentation's proof cannot be read as JSON-LD.")
	}
	if err := openbadges.VerifyProofValue(edPub, openbadges.HashData(canonProof, canonDoc), proofValue); err != nil {
		return "", apperr.Errorf(apperr.Forbidden, "The presentation's signature does not verify.")
	}
	return did, nil
}
