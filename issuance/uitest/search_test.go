package uitest

import (
	"html"
	"net/http"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/auth"
)

// The review list's search over HTTP: pages keep the search in their links;
// a bad search or filter is a 422 with the problem next to its field and no
// list; the published list searches too.
func TestReviewSearchPagesAndBadFilters(t *testing.T) {
	e := mustEnv(t)
	e.seed(e.group.ID, 120) // "Learner 1".."Learner 120"
	c := e.signIn("owner@example.edu", auth.Owner)
	base := "/groups/" + gid(e.group) + "/unpublished"

	r := c.get(base + "?q=learner1")
	// learner1, learner10..19, learner100..120: 32 emails.
	n1 := names(r.body)
	if r.code != 200 || len(n1) != 32 || n1[0] != "Learner 120" {
		t.Fatalf("search: %d %v", r.code, n1)
	}
	contains(t, r.body, "32 credentials match the search.", `id="clear-filter"`, `value="learner1"`)

	r = c.get(base + "?q=learner")
	contains(t, r.body, "More than 50 credentials match the search; the newest are first.")
	next := html.UnescapeString(nextRE.FindStringSubmatch(r.body)[1])
	if !strings.Contains(next, "q=learner") {
		t.Fatalf("next link %q drops the search", next)
	}
	if got := names(c.get(next).body); len(got) != 50 || got[0] != "Learner 70" {
		t.Fatalf("page 2 of the search: %v", got)
	}

	for _, tc := range []struct{ query, field, msg string }{
		{"?q=ab", "q", "Type at least 3 letters of the name or email (one Chinese, Japanese or Korean character is enough)."},
		{"?source=fax", "source", "must be completion, reconciliation, form, csv or api"},
		{"?issued_from=2026-02-30", "issued_from", "is not a date"},
		{"?issued_from=2026-06-02&issued_to=2026-06-01", "issued_to", "before the start date"},
	} {
		r := c.get(base + tc.query)
		if r.code != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d, want 422", tc.query, r.code)
			continue
		}
		contains(t, r.body, `id="`+tc.field+`-error"`, tc.msg, `id="filter-problem"`)
		if len(names(r.body)) != 0 {
			t.Errorf("%s: a refused search still lists credentials", tc.query)
		}
	}

	// Published list: search by email.
	if _, err := e.db.Exec(`UPDATE credentials SET state = 'published', published_at = now() WHERE recipient_name IN ('Learner 7', 'Learner 8')`); err != nil {
		t.Fatal(err)
	}
	r = c.get("/groups/" + gid(e.group) + "/published?q=learner7@")
	if got := names(r.body); r.code != 200 || len(got) != 1 || got[0] != "Learner 7" {
		t.Fatalf("published search: %d %v", r.code, got)
	}
}
