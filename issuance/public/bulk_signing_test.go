package public_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/laurel-edu/laurel/issuance"
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
