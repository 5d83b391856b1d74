package uitest

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/auth"
)

var rowRE = regexp.MustCompile(`<span class="recipient-name">([^<]*)</span>`)

func names(body string) []string {
	var out []string
	for _, m := range rowRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// Keyset pages of 50, newest first, with Next and Previous links; the
// Confirm page counts what will be published; "all in group" covers pages.
func TestReviewPaginationAndConfirm(t *testing.T) {
	e := mustEnv(t)
	e.seed(e.group.ID, 120)
	e.seed(e.other.ID, 5)
	c := e.signIn("owner@example.edu", auth.Owner)
	base := "/groups/" + gid(e.group) + "/unpublished"

	p1 := c.get(base)
	contains(t, p1.body, "120 unpublished credentials in this group.", `id="select-all-group"`, "Select all 120 unpublished")
	n1 := names(p1.body)
	if len(n1) != 50 || n1[0] != "Learner 120" || n1[49] != "Learner 71" {
		t.Fatalf("page 1: %d rows %v", len(n1), n1)
	}
	if strings.Contains(p1.body, `id="page-prev"`) {
		t.Error("page 1 has Previous")
	}
	next := html.UnescapeString(nextRE.FindStringSubmatch(p1.body)[1])
	p2 := c.get(next)
	n2 := names(p2.body)
	if len(n2) != 50 || n2[0] != "Learner 70" {
		t.Fatalf("page 2: %v", n2)
	}
	p3 := c.get(html.UnescapeString(nextRE.FindStringSubmatch(p2.body)[1]))
	n3 := names(p3.body)
	if len(n3) != 20 || n3[19] != "Learner 1" || strings.Contains(p3.body, `id="page-next"`) {
		t.Fatalf("page 3: %d rows, next link %v", len(n3), strings.Contains(p3.body, `id="page-next"`))
	}
	back := c.get(html.UnescapeString(prevRE.FindStringSubmatch(p3.body)[1]))
	if got := names(back.body); len(got) != 50 || got[0] != "Learner 70" {
		t.Fatalf("Previous from page 3: %v", got)
	}
	first := c.get(html.UnescapeString(prevRE.FindStringSubmatch(back.body)[1]))
	if got := names(first.body); len(got) != 50 || got[0] != "Learner 120" {
		t.Fatalf("Previous from page 2: %v", got)
	}
	if r := c.get(base + "?cursor=garbage"); r.code != http.StatusUnprocessableEntity || !strings.Contains(r.body, "no longer valid") {
		t.Errorf("bad cursor: %d", r.code)
	}

	// Confirm counts: three ticked; all in the group (not the other group's).
	ids := regexp.MustCompile(`name="ids" value="([a-z2-7]+)"`).FindAllStringSubmatch(p1.body, 3)
	sel := url.Values{}
	for _, m := range ids {
		sel.Add("ids", m[1])
	}
	r := c.post("/groups/"+gid(e.group)+"/publish/confirm", sel)
	contains(t, r.body, "Publish 3 credentials and send 3 emails?")
	r = c.post("/groups/"+gid(e.group)+"/publish/confirm", url.Values{"all": {"1"}, "ids": {ids[0][1]}})
	contains(t, r.body, "Publish 120 credentials and send 120 emails?", `name="all" value="1"`)
	// Nothing ticked: back to the list with a message, nothing published.
	r = c.post("/groups/"+gid(e.group)+"/publish/confirm", url.Values{})
	contains(t, c.follow(r).body, "Select at least one credential to publish.")
	if n := e.count(`SELECT count(*) FROM credentials WHERE state = 'published'`); n != 0 {
		t.Fatalf("confirming published %d", n)
	}

	r = c.post("/groups/"+gid(e.group)+"/publish", url.Values{"all": {"1"}})
	contains(t, c.follow(r).body, "Published 120 credentials; 120 emails queued for sending.", "0 unpublished credentials")
	if n := e.count(`SELECT count(*) FROM credentials WHERE state = 'published' AND group_id = $1`, e.group.ID); n != 120 {
		t.Fatalf("published %d, want 120", n)
	}
	if n := e.count(`SELECT count(*) FROM credentials WHERE state = 'unpublished' AND group_id = $1`, e.other.ID); n != 5 {
		t.Fatalf("the other group lost unpublished credentials: %d left", n)
	}
	if n := e.count(`SELECT count(*) FROM jobs WHERE kind = 'credential_email'`); n != 120 {
		t.Fatalf("%d email jobs, want 120", n)
	}
	// Publishing the same selection again publishes nothing more.
	r = c.post("/groups/"+gid(e.group)+"/publish/confirm", url.Values{"all": {"1"}})
	contains(t, c.follow(r).body, "None of the selected credentials can be published")
}

// Amending with a bad value re-renders with the message next to the field
// and changes nothing.
func TestAmendValidation(t *testing.T) {
	e := mustEnv(t)
	e.seed(e.group.ID, 2)
	c := e.signIn("owner@example.edu", auth.Owner)
	var id string
	if err := e.db.Get(&id, `SELECT id FROM credentials WHERE recipient_name = 'Learner 1'`); err != nil {
		t.Fatal(err)
	}
	good := func() url.Values {
		return url.Values{"name": {"Learner 1"}, "email": {"learner1@example.edu"}, "issued_on": {"2026-06-01"}, "expires_on": {""}, "attr_grade": {"A"}, "attr_hours": {""}}
	}
	cases := []struct{ name, field, value, errField, msg string }{
		{"empty name", "name", "", "name", "name"},
		{"bad email", "email", "nope", "email", "email"},
		{"taken email", "email", "learner2@example.edu", "email", "learner2@example.edu"},
		{"bad date", "issued_on", "June 1", "issued_on", "Issue date must be a date"},
		{"expiry before issue", "expires_on", "2020-01-01", "expires_on", "before the issue date"},
		{"required attribute", "attr_grade", "", "attr_grade", "Grade is required."},
		{"number attribute", "attr_hours", "lots", "attr_hours", "Hours must be a number"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot()
			f := good()
			f.Set(tc.field, tc.value)
			r := c.post("/credentials/"+id, f)
			if r.code != http.StatusUnprocessableEntity {
				t.Fatalf("status %d\n%s", r.code, r.body)
			}
			fieldError(t, r.body, tc.errField, tc.msg)
			if after := e.snapshot(); after != before {
				t.Fatalf("database changed")
			}
		})
	}
	// An unchanged form changes nothing and says so.
	r := c.post("/credentials/"+id, good())
	contains(t, c.follow(r).body, "Nothing changed.")
	if r := c.get("/credentials/nosuchcredentialidnosuchcredential"); r.code != http.StatusNotFound {
		t.Errorf("unknown credential: %d", r.code)
	}
}
