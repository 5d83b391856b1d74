package public_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/openbadges"
)

// A bulk revoke flips the credentials' status list bits at once (the
// published list changes and Verify says revoked); a bulk expiry change
// re-signs the published ones: a new signature carrying the new date, which
// verifies.
func TestBulkRevokeAndExpiryReachTheSignedCredentials(t *testing.T) {
	f := mustSigningFixture(t)
	ctx := context.Background()
	a, b := f.creds[0], f.creds[1]
	scope := issuance.AcrossOptions{Groups: []int64{f.group.ID}}

	before, beforeJWT, _ := sg(f.s).Signed(ctx, a.ID)
	res, err := f.s.ApplyBulk(ctx, actor, issuance.BulkRequest{Action: issuance.BulkExpiry, ExpiresOn: "2031-05-31",
		Selection: issuance.BulkSelection{IDs: []string{a.ID}, Filter: scope}})
	if err != nil || res.Changed != 1 {
		t.Fatalf("expiry: %+v, %v", res, err)
	}
	drain(t, f.w)
	after, afterJWT, err := sg(f.s).Signed(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(before, after) || afterJWT == beforeJWT || !bytes.Contains(after, []byte(`"validUntil":"2031-05-31`)) {
		t.Fatalf("not re-signed with the new expiry:\n%s", after)
	}
	if v, err := sg(f.s).Verify(ctx, mustCred(t, f.s, a.ID)); err != nil || !v.Valid {
		t.Fatalf("re-signed credential does not verify: %+v %v", v, err)
	}
	independentlyVerified(t, f, a.ID, `"validUntil":"2031-05-31`, `"validUntil":"2032-05-31`)

	_, list, _ := fetch(t, f.url+"/status/0", "")
	res, err = f.s.ApplyBulk(ctx, actor, issuance.BulkRequest{Action: issuance.BulkRevoke, Reason: "Issued in error",
		Selection: issuance.BulkSelection{All: true, Filter: scope}})
	if err != nil || res.Changed != 2 {
		t.Fatalf("revoke: %+v, %v", res, err)
	}
	code, now, _ := fetch(t, f.url+"/status/0", "")
	if code != 200 || bytes.Equal(list, now) {
		t.Fatalf("status list after the bulk revocation: %d, changed %v", code, !bytes.Equal(list, now))
	}
	for _, c := range []issuance.Credential{a, b} {
		v, err := sg(f.s).Verify(ctx, mustCred(t, f.s, c.ID))
		if err != nil || v.Valid || !v.Revoked {
			t.Errorf("%s after the bulk revocation: %+v %v", c.Recipient.Name, v, err)
		}
	}
}

// independentlyVerified checks credential id as Laurel serves it with the
// 1EdTech/Digital Bazaar verifier (issuance/openbadges/testdata/verify):
// it must verify, and fail once old is replaced by new in it.
func independentlyVerified(t *testing.T, f signingFixture, id, old, new string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is required (make test installs it)")
		}
		t.Skip("node not installed")
	}
	dir, _ := filepath.Abs("../openbadges/testdata/verify")
	get := func(path string) json.RawMessage {
		code, body, _ := fetch(t, f.url+path, "")
		if code != 200 {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		return body
	}
	cred := get("/c/" + id + ".json")
	jwt := string(get("/c/" + id + ".jwt"))
	tampered := strings.Replace(string(cred), old, new, 1)
	if tampered == string(cred) {
		t.Fatalf("the signed credential lacks %s:\n%s", old, cred)
	}
	h := map[string]string{}
	json.Unmarshal(must64(t, jwt), &h)
	pinned := map[string]json.RawMessage{}
	for u, b := range openbadges.Contexts() {
		pinned[u] = b
	}
	b, _ := json.Marshal(map[string]any{"documents": map[string]any{
		"did:web:laurel.test":          get("/.well-known/did.json"),
		h["kid"]:                       get(strings.TrimPrefix(h["kid"], "https://laurel.test")),
		"https://laurel.test/status/0": get("/status/0"),
	}, "credential": cred, "tampered": json.RawMessage(tampered), "jwt": jwt, "pinnedDocs": pinned})
	path := filepath.Join(t.TempDir(), "bundle.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "verify.mjs", path)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node verify.mjs: %v\n%s", err, stderr.String())
	}
	var r struct {
		Credential, Tampered struct {
			Verified bool
			Error    string
		}
		JWT struct{ Verified bool }
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("verifier output %q: %v", out, err)
	}
	if !r.Credential.Verified || r.Tampered.Verified || !r.JWT.Verified {
		t.Fatalf("independent verifier: %s", out)
	}
}
