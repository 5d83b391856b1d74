package openbadges

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/piprate/json-gold/ld"
)

// Data Integrity constants (eddsa-rdfc-2022).
const (
	ProofType      = "DataIntegrityProof"
	Cryptosuite    = "eddsa-rdfc-2022"
	AssertionProof = "assertionMethod"
)

// Proof is an embedded DataIntegrityProof.
type Proof struct {
	Type               string `json:"type"`
	Created            string `json:"created"`
	VerificationMethod string `json:"verificationMethod"`
	Cryptosuite        string `json:"cryptosuite"`
	ProofPurpose       string `json:"proofPurpose"`
	ProofValue         string `json:"proofValue,omitempty"`
}

// NewProof returns the proof options for a signature by verificationMethod
// at created (second precision, UTC), without a proofValue.
func NewProof(verificationMethod string, created time.Time) Proof {
	return Proof{Type: ProofType, Created: created.UTC().Truncate(time.Second).Format(time.RFC3339),
		VerificationMethod: verificationMethod, Cryptosuite: Cryptosuite, ProofPurpose: AssertionProof}
}

// HashData is the eddsa-rdfc-2022 input to the signature: SHA-256 of the
// canonical proof configuration followed by SHA-256 of the canonical
// document.
func HashData(canonicalProof, canonicalDoc string) []byte {
	return hashData(canonicalProof, sha256.Sum256([]byte(canonicalDoc)))
}

// hashData is HashData of a canonical document whose hash is docSum (Sign
// hashes the document's lines where they lie).
func hashData(canonicalProof string, docSum [sha256.Size]byte) []byte {
	h := make([]byte, 0, 2*sha256.Size)
	p := sha256.Sum256([]byte(canonicalProof))
	return append(append(h, p[:]...), docSum[:]...)
}

// ProofValue signs hashData with priv and encodes the signature as
// multibase base58btc.
func ProofValue(priv ed25519.PrivateKey, hashData []byte) string {
	return "z" + base58Encode(ed25519.Sign(priv, hashData))
}

// VerifyProofValue checks proofValue over hashData with pub.
func VerifyProofValue(pub ed25519.PublicKey, hashData []byte, proofValue string) error {
	if !strings.HasPrefix(proofValue, "z") {
		return errors.New("proofValue is not base58btc multibase")
	}
	sig, err := base58Decode(proofValue[1:])
	if err != nil {
		return fmt.Errorf("proofValue: %w", err)
	}
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, hashData, sig) {
		return errors.New("the Ed25519 signature does not match the document")
	}
	return nil
}

// proofConfig is the proof options as a JSON-LD document of its own: the
// proof without proofValue under the signed document's @context.
func proofConfig(context []string, p Proof) ([]byte, error) {
	p.ProofValue = ""
	return json.Marshal(struct {
		Context []string `json:"@context"`
		Proof
	}{context, p})
}

// SignDocument adds a Data Integrity proof to any JSON-LD document (a JSON
// object without "proof") through the general canonicalisation path, with
// contexts from loader (nil: the pinned ones). It returns the signed
// document and the two canonical forms it hashed.
func SignDocument(doc []byte, p Proof, priv ed25519.PrivateKey, loader ld.DocumentLoader) (signed []byte, canonDoc, canonProof string, err error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(doc, &m); err != nil {
		return nil, "", "", fmt.Errorf("sign document: %w", err)
	}
	if _, ok := m["proof"]; ok {
		return nil, "", "", errors.New("sign document: it already has a proof")
	}
	var ctx []string
	if err := json.Unmarshal(m["@context"], &ctx); err != nil {
		return nil, "", "", fmt.Errorf("sign document: @context must be a list of URLs: %w", err)
	}
	if canonDoc, err = Canonical(doc, loader); err != nil {
		return nil, "", "", err
	}
	pc, err := proofConfig(ctx, p)
	if err != nil {
		return nil, "", "", err
	}
	if canonProof, err = Canonical(pc, loader); err != nil {
		return nil, "", "", err
	}
	p.ProofValue = ProofValue(priv, HashData(canonProof, canonDoc))
	pj, err := json.Marshal(p)
	if err != nil {
		return nil, "", "", err
	}
	// Append the proof as the last member, keeping the document's bytes.
	trimmed := strings.TrimRight(string(doc), " \n\r\t")
	if !strings.HasSuffix(trimmed, "}") {
		return nil, "", "", errors.New("sign document: not a JSON object")
	}
	out := trimmed[:len(trimmed)-1] + `,"proof":` + string(pj) + "}"
	return []byte(out), canonDoc, canonProof, nil
}

// VerifyDocument checks the Data Integrity proof of any signed JSON-LD
// document through the general canonicalisation path, with the key the
// caller resolved from the proof's verificationMethod (passed to resolve).
func VerifyDocument(signed []byte, resolve func(verificationMethod string) (ed25519.PublicKey, error), loader ld.DocumentLoader) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(signed, &m); err != nil {
		return fmt.Errorf("verify document: %w", err)
	}
	var p Proof
	if err := json.Unmarshal(m["proof"], &p); err != nil || p.ProofValue == "" {
		return errors.New("verify document: no proof")
	}
	if p.Type != ProofType || p.Cryptosuite != Cryptosuite || p.ProofPurpose != AssertionProof {
		return errors.New("verify document: not an eddsa-rdfc-2022 assertion proof")
	}
	var ctx []string
	if err := json.Unmarshal(m["@context"], &ctx); err != nil {
		return fmt.Errorf("verify document: @context: %w", err)
	}
	delete(m, "proof")
	doc, err := json.Marshal(m)
	if err != nil {
		return err
	}
	canonDoc, err := Canonical(doc, loader)
	if err != nil {
		return err
	}
	pc, err := proofConfig(ctx, p)
	if err != nil {
		return err
	}
	canonProof, err := Canonical(pc, loader)
	if err != nil {
		return err
	}
	pub, err := resolve(p.VerificationMethod)
	if err != nil {
		return err
	}
	return VerifyProofValue(pub, HashData(canonProof, canonDoc), p.ProofValue)
}
