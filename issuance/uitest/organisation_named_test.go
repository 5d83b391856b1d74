package uitest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/issuance/internal/issuancetest"
)

// TestPublishWaitsForOrganisationPage: before the organisation is named the
// publish confirm step and the publish itself answer 409 with a message and
// a link to /admin/organisation, and nothing is published; once an owner
// saves the settings, the same publish goes through.
func TestPublishWaitsForOrganisationPage(t *testing.T) {
	e := mustEnv(t)
	issuancetest.Unname(t, e.db)
	e.seed(e.group.ID, 2)
	c := e.signIn("owner@example.edu", auth.Owner)
	for _, path := range []string{"/publish/confirm", "/publish"} {
		r := c.post("/groups/"+gid(e.group)+path, url.Values{"all": {"1"}})
		if r.code != 409 {
			t.Fatalf("%s before the organisation is named: %d", path, r.code)
		}
		contains(t, r.body, "Nothing can be published until an owner has set up the organisation", `href="/admin/organisation"`)
	}
	if n := e.count(`SELECT count(*) FROM credentials WHERE state = 'published'`); n != 0 {
		t.Fatalf("%d published before the organisation is named", n)
	}
	r := c.postMultipart("/admin/organisation", map[string]string{"name": "University of Example", "language": "en"}, nil)
	if r.code != 303 {
		t.Fatalf("save organisation: %d %s", r.code, r.body)
	}
	r = c.post("/groups/"+gid(e.group)+"/publish", url.Values{"all": {"1"}})
	contains(t, c.follow(r).body, "Published 2 credentials")

	// The public page's header names the organisation; "Laurel" is left
	// to the footer, as the software's name.
	var id string
	if err := e.db.Get(&id, `SELECT id FROM credentials WHERE state = 'published' LIMIT 1`); err != nil {
		t.Fatal(err)
	}
	anon := &client{e: e, hc: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	page := anon.get("/c/" + id)
	contains(t, page.body, `<strong id="issuer-brand">University of Example</strong>`, `id="software">Credential page served by Laurel`)
	header := page.body[strings.Index(page.body, `<header`):strings.Index(page.body, `</header>`)]
	if strings.Contains(header, "Laurel") {
		t.Fatalf("the public page's header names the software:\n%s", header)
	}
}
