package api_test

import (
	"testing"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/issuance/internal/issuancetest"
)

// TestOrganisationBeforeFirstCredential: until an owner names the
// organisation, publishing is a 409 conflict organisation_not_set; an owner
// token names it through PATCH /organisation (others 403), with one error per
// bad field, and publishing then works.
func TestOrganisationBeforeFirstCredential(t *testing.T) {
	s, d := mustService(t)
	issuancetest.Unname(t, d)
	g := mustGroup(t, s, nil)
	cs := issuancetest.MustCreate(t, s, g.ID, issuancetest.Item("Ada", "ada@example.edu"))
	principals := map[string]*auth.Principal{
		"owner": {TokenID: 1, Name: "ci", Role: auth.Owner},
		"admin": {TokenID: 2, Name: "adm", Role: auth.Admin},
	}
	api := apiClient{T: t, URL: apiServer(t, s, principals).URL}

	code, body := api.Do("owner", "POST", "/credentials/publish", map[string]any{"ids": []string{cs[0].ID}})
	e, _ := body["error"].(map[string]any)
	if code != 409 || errCode(body) != "conflict" || e["reason"] != "organisation_not_set" {
		t.Fatalf("publish before the organisation is named: %d %v", code, body)
	}
	if err := issuancetest.Contains(e["message"].(string), "/admin/organisation"); err != nil {
		t.Fatal(err)
	}
	if n := jobCount(t, d, "credential_email"); n != 0 {
		t.Fatalf("%d emails queued by a refused publish", n)
	}

	if code, body = api.Do("owner", "GET", "/organisation", nil); code != 200 || body["named"] != false || body["name"] != "Laurel" {
		t.Fatalf("get organisation: %d %v", code, body)
	}
	for _, m := range []string{"GET", "PATCH"} {
		if code, body = api.Do("admin", m, "/organisation", map[string]any{"name": "X"}); code != 403 || errCode(body) != "forbidden" {
			t.Fatalf("admin %s organisation: %d %v", m, code, body)
		}
	}
	if code, body = api.Do("", "GET", "/organisation", nil); code != 401 {
		t.Fatalf("anonymous: %d %v", code, body)
	}
	code, body = api.Do("owner", "PATCH", "/organisation", map[string]any{"name": " ", "website": "example.edu", "contact_email": "not an email"})
	if code != 422 || errCode(body) != "invalid" {
		t.Fatalf("bad patch: %d %v", code, body)
	}
	var fields []string
	for _, fe := range body["errors"].([]any) {
		fields = append(fields, fe.(map[string]any)["field"].(string))
	}
	if len(fields) != 3 || fields[0] != "name" || fields[1] != "website" || fields[2] != "contact_email" {
		t.Fatalf("bad patch errors %v", body["errors"])
	}
	if code, body = api.Do("owner", "PATCH", "/organisation", `{"nmae": "x"}`); code != 400 {
		t.Fatalf("unknown field: %d %v", code, body)
	}
	code, body = api.Do("owner", "PATCH", "/organisation", map[string]any{"name": "University of Example", "website": "https://www.example.edu"})
	if code != 200 || body["named"] != true || body["name"] != "University of Example" || body["website"] != "https://www.example.edu" ||
		body["language"] != "en" || body["instructors_may_publish"] != false {
		t.Fatalf("name the organisation: %d %v", code, body)
	}
	if code, body = api.Do("owner", "GET", "/organisation", nil); code != 200 || body["named"] != true || body["name"] != "University of Example" {
		t.Fatalf("get named organisation: %d %v", code, body)
	}
	if code, body = api.Do("owner", "POST", "/credentials/publish", map[string]any{"ids": []string{cs[0].ID}}); code != 200 || body["published"] != float64(1) {
		t.Fatalf("publish once named: %d %v", code, body)
	}
}
