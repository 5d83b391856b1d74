package uitest

import (
	"context"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/issuance"
)

// "Nothing to review" says what is true of the group: an empty group has no
// credentials (it does not claim every one is published), a group whose
// credentials are all published says so, and one with revoked credentials
// claims neither.
func TestReviewPageNothingToReviewWording(t *testing.T) {
	e := mustEnv(t)
	c := e.signIn("owner@example.edu", auth.Owner)
	page := func() string {
		t.Helper()
		r := c.get("/groups/" + gid(e.group) + "/unpublished")
		if r.code != 200 {
			t.Fatalf("review page: %d", r.code)
		}
		return r.body
	}
	const allPublished = "every credential in this group is published"

	body := page()
	contains(t, body, `id="nothing-to-review">This group has no credentials yet.`)
	if strings.Contains(body, allPublished) {
		t.Fatalf("an empty group claims %q", allPublished)
	}

	ctx := context.Background()
	e.seed(e.group.ID, 2)
	if _, err := e.svc.Publish(ctx, "test", issuance.Selection{GroupID: e.group.ID, AllUnpublished: true}); err != nil {
		t.Fatal(err)
	}
	contains(t, page(), "Nothing to review: "+allPublished+".")

	var id string
	if err := e.db.Get(&id, `SELECT id FROM credentials WHERE group_id = $1 ORDER BY seq LIMIT 1`, e.group.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Revoke(ctx, "test", id, "issued in error"); err != nil {
		t.Fatal(err)
	}
	body = page()
	contains(t, body, "Nothing to review: no credential in this group is waiting to be published.")
	if strings.Contains(body, allPublished) {
		t.Fatalf("a group with a revoked credential claims %q", allPublished)
	}
}
