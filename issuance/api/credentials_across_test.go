package api_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/internal/issuancetest"
)

// GET /api/v1/credentials lists across the groups the caller may see, with
// the same search (every script) and filters, cursor-paged; a token
// limited to a group sees only it; a bad filter is a 422 naming its field.
func TestAPICredentialsAcross(t *testing.T) {
	s, _ := mustService(t)
	ctx := context.Background()
	a, b := mustGroup(t, s, nil), mustGroup(t, s, nil)
	for _, x := range []struct {
		g     int64
		name  string
		email string
	}{{a.ID, "Dmitri Соколов", "dmitri@example.ru"}, {a.ID, "李娜", "lina@example.cn"}, {b.ID, "Ní Bhriain", "aine@example.ie"}} {
		if _, err := s.CreateCredentials(ctx, issuancetest.Actor, x.g, issuance.FromAPI, []issuance.NewCredential{issuancetest.Item(x.name, x.email)}); err != nil {
			t.Fatal(err)
		}
	}
	srv := apiServer(t, s, map[string]*auth.Principal{
		"viewer":  {TokenID: 2, Name: "ro", Role: auth.Viewer},
		"limited": {TokenID: 3, Name: "one group", Role: auth.Viewer, Groups: []int64{b.ID}},
	})
	api := apiClient{T: t, URL: srv.URL}
	list := func(as string, q url.Values) []string {
		t.Helper()
		var out []string
		for {
			code, body := api.Do(as, "GET", "/credentials?"+q.Encode(), nil)
			if code != 200 {
				t.Fatalf("%s %v: %d %v", as, q, code, body)
			}
			for _, c := range body["credentials"].([]any) {
				out = append(out, c.(map[string]any)["recipient"].(map[string]any)["name"].(string))
			}
			next, _ := body["next_cursor"].(string)
			if next == "" {
				return out
			}
			q.Set("cursor", next)
		}
	}
	for _, tc := range []struct {
		as   string
		q    url.Values
		want []string
	}{
		{"viewer", url.Values{"limit": {"1"}}, []string{"Ní Bhriain", "李娜", "Dmitri Соколов"}},
		{"viewer", url.Values{"q": {"соколов"}}, []string{"Dmitri Соколов"}},
		{"viewer", url.Values{"q": {"娜"}}, []string{"李娜"}},
		{"viewer", url.Values{"q": {"ni bhriain"}}, []string{"Ní Bhriain"}},
		{"viewer", url.Values{"group_id": {itoa(int(a.ID))}, "sort": {"name"}, "limit": {"1"}}, []string{"李娜", "Dmitri Соколов"}}, // other scripts before Latin
		{"limited", url.Values{}, []string{"Ní Bhriain"}},
		{"limited", url.Values{"group_id": {itoa(int(a.ID))}}, nil},
	} {
		if diff := cmp.Diff(tc.want, list(tc.as, tc.q)); diff != "" {
			t.Errorf("%s %v (-want +got)\n%s", tc.as, tc.q, diff)
		}
	}
	for q, field := range map[string]string{"sort=cheapest": "sort", "expires_to=tomorrow": "expires_to", "group_id=x": "group_id", "q=ab": "q", "limit=0": "limit"} {
		code, body := api.Do("viewer", "GET", "/credentials?"+q, nil)
		if errs, _ := body["errors"].([]any); code != 422 || len(errs) != 1 || errs[0].(map[string]any)["field"] != field {
			t.Errorf("%s: %d %v", q, code, body)
		}
	}
	if code, _ := api.Do("nobody", "GET", "/credentials", nil); code != 401 {
		t.Errorf("anonymous: %d", code)
	}
}
