package api_test

import (
	"fmt"
	"testing"

	"github.com/laurel-edu/laurel/internal/auth"
)

// The reminder settings by API: the defaults (30 and 7 days, an expired
// email, the default texts), a PATCH that names each bad field and stores
// nothing, a group's own settings and its return to the organisation's.
func TestReminderSettingsAPI(t *testing.T) {
	s, d := mustService(t)
	g := mustGroup(t, s, nil)
	principals := map[string]*auth.Principal{
		"owner":  {TokenID: 1, Name: "ci", Role: auth.Owner},
		"viewer": {TokenID: 2, Name: "v", Role: auth.Viewer},
	}
	api := apiClient{T: t, URL: apiServer(t, s, principals).URL}

	code, body := api.Do("owner", "GET", "/organisation/reminders", nil)
	if code != 200 || fmt.Sprint(body["offsets"]) != "[30 7]" || body["expired_email"] != true || body["renewal"] != false ||
		body["reminder_subject"] != "Your credential for {credential_name} expires on {expires_on}" {
		t.Fatalf("defaults: %d %v", code, body)
	}
	before := tableCounts(t, d)
	code, body = api.Do("owner", "PATCH", "/organisation/reminders", map[string]any{"offsets": []int{30, 0},
		"reminder_body": "Hi {name}", "expired_body": "Expired, sorry."})
	if code != 422 || errCode(body) != "invalid" {
		t.Fatalf("bad patch: %d %v", code, body)
	}
	var fields []string
	for _, fe := range body["errors"].([]any) {
		fields = append(fields, fe.(map[string]any)["field"].(string))
	}
	if fmt.Sprint(fields) != "[offsets reminder_body expired_body]" {
		t.Fatalf("bad patch errors %v", body["errors"])
	}
	assertUnchanged(t, d, before)
	if code, body = api.Do("owner", "GET", "/organisation/reminders", nil); fmt.Sprint(body["offsets"]) != "[30 7]" {
		t.Fatalf("after a refused patch: %d %v", code, body)
	}
	code, body = api.Do("owner", "PATCH", "/organisation/reminders", map[string]any{"offsets": []int{7, 60, 30, 7}, "renewal": true})
	if code != 200 || fmt.Sprint(body["offsets"]) != "[60 30 7]" || body["renewal"] != true {
		t.Fatalf("patch: %d %v", code, body)
	}

	path := fmt.Sprintf("/groups/%d/reminders", g.ID)
	if code, body = api.Do("viewer", "GET", path, nil); code != 200 || body["inherited"] != true || fmt.Sprint(body["offsets"]) != "[60 30 7]" {
		t.Fatalf("group, inherited: %d %v", code, body)
	}
	if code, body = api.Do("viewer", "PATCH", path, map[string]any{"offsets": []int{14}}); code != 403 {
		t.Fatalf("viewer patch: %d %v", code, body)
	}
	code, body = api.Do("owner", "PATCH", path, map[string]any{"offsets": []int{14}, "expired_email": false})
	if code != 200 || body["inherited"] != false || fmt.Sprint(body["offsets"]) != "[14]" || body["expired_email"] != false || body["renewal"] != true {
		t.Fatalf("group's own: %d %v", code, body)
	}
	if code, body = api.Do("owner", "PATCH", path, map[string]any{"inherited": true}); code != 200 || body["inherited"] != true || fmt.Sprint(body["offsets"]) != "[60 30 7]" {
		t.Fatalf("back to the organisation's: %d %v", code, body)
	}
	if code, body = api.Do("owner", "GET", fmt.Sprintf("/groups/%d/renewal_requests", g.ID), nil); code != 200 || fmt.Sprint(body["renewal_requests"]) != "[]" {
		t.Fatalf("renewal requests: %d %v", code, body)
	}
	if code, _ = api.Do("owner", "GET", "/groups/999999/reminders", nil); code != 404 {
		t.Fatalf("unknown group: %d", code)
	}
}
