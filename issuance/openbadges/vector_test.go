package openbadges_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/laurel-edu/laurel/issuance/openbadges"
)

// The 1EdTech key pair of the Open Badges 3.0 Data Integrity test vector.
const (
	vectorPublic  = "4bdeafde2ea8beefadd8c699b5c7e0704cf51154d52e17b20b71337ca04cc5a5"
	vectorPrivate = "6241a409e6707bb640a0140a8a32bc3d193c33a661747284d6adfa4ed4180be4" + vectorPublic
	vectorVM      = "https://example.edu/issuers/565049#z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi"
)

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func hexSHA(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// TestTestVector reproduces both published versions of the 1EdTech test
// vector with our Data Integrity signer: the canonical N-Quads of the
// document and of the proof, both hashes, and the proof value.
func TestTestVector(t *testing.T) {
	priv, _ := hex.DecodeString(vectorPrivate)
	pub, _ := hex.DecodeString(vectorPublic)
	if got := openbadges.PublicKeyMultibase(pub); got != "z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi" {
		t.Fatalf("multikey of the vector's key = %s", got)
	}
	v1Loader := openbadges.NewLoader(map[string][]byte{
		"https://www.w3.org/2018/credentials/v1":                         mustRead(t, "testdata/vector/credentials-v1.jsonld"),
		"https://purl.imsglobal.org/spec/ob/v3p0/context/ob_v3p0.jsonld": mustRead(t, "testdata/vector/ob-context-3.0.0.json"),
		"https://w3id.org/security/data-integrity/v1":                    mustRead(t, "testdata/vector/data-integrity-v1.jsonld"),
	})
	for _, tc := range []struct {
		name, prefix                   string
		loader                         *openbadges.Loader
		docHash, proofHash, proofValue string
	}{
		{"VC 2.0, OB 3.0.3", "", nil,
			"87f65a76d40146205e3b3e06cb0fbd153f97f9ce70372390f52566bb7f9e0773",
			"d34009cea0dbc1ca941e09dc01c8c9d3e3ce3c5b853f67ee44698dcea10f5d19",
			"z5x9aCBYovW3CQCbKdNyhEm7ffYSw1YpEdPywQJoNbzDD2gkzQDKJ1sYKJaWvqZtkMtSbz35HcbgXVEDYHxCzgkCr"},
		{"VC 1.1 (reference document)", "v1-", v1Loader,
			"d994aebd5e53f4af4495dbe9e1155410bae683811107c26acf83671075c163b3",
			"3cf3c265b6c8ebb29b4d5ea310b87d2f31c79b633eff8af561d2e8c97a85c8cb",
			"zUSD5bjo6mYV1n9i9E6ZwUiHuj4JyZDjCDfDqoJcPi9XJrc9LYstik9mdBvutdwBdquWXjWrwJDVGJrAarvRs8uD"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := mustRead(t, "testdata/vector/"+tc.prefix+"credential.json")
			created, _ := time.Parse(time.RFC3339, "2010-01-01T19:23:24Z")
			p := openbadges.NewProof(vectorVM, created)
			var loader *openbadges.Loader
			if tc.loader != nil {
				loader = tc.loader
			} else {
				loader = openbadges.NewLoader(nil)
			}
			signed, canonDoc, canonProof, err := openbadges.SignDocument(doc, p, ed25519.PrivateKey(priv), loader)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(string(mustRead(t, "testdata/vector/"+tc.prefix+"document-canon.nq")), canonDoc); d != "" {
				t.Errorf("document N-Quads differ (-published +ours):\n%s", d)
			}
			if d := cmp.Diff(string(mustRead(t, "testdata/vector/"+tc.prefix+"proof-canon.nq")), canonProof); d != "" {
				t.Errorf("proof N-Quads differ (-published +ours):\n%s", d)
			}
			if got := hexSHA(canonDoc); got != tc.docHash {
				t.Errorf("document hash = %s, published %s", got, tc.docHash)
			}
			if got := hexSHA(canonProof); got != tc.proofHash {
				t.Errorf("proof hash = %s, published %s", got, tc.proofHash)
			}
			var out struct{ Proof openbadges.Proof }
			if err := json.Unmarshal(signed, &out); err != nil {
				t.Fatalf("signed document is not JSON: %v\n%s", err, signed)
			}
			if out.Proof.ProofValue != tc.proofValue {
				t.Errorf("proofValue = %s, published %s", out.Proof.ProofValue, tc.proofValue)
			}
			hd := openbadges.HashData(canonProof, canonDoc)
			if err := openbadges.VerifyProofValue(ed25519.PublicKey(pub), hd, tc.proofValue); err != nil {
				t.Errorf("published proof does not verify: %v", err)
			}
		})
	}
}
