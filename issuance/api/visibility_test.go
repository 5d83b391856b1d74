package api_test

import (
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/auth"
)

// TestAPIAttributeVisibility: group attributes carry a visibility (new ones
// default to recipient) and a result type; a bad one is named by its field
// and changes nothing; staff read every attribute's value.
func TestAPIAttributeVisibility(t *testing.T) {
	s, d := mustService(t)
	srv := apiServer(t, s, map[string]*auth.Principal{"owner": {TokenID: 1, Name: "ci", Role: auth.Owner}})
	api := apiClient{T: t, URL: srv.URL}
	attrs := func(v2, rt0 string) []map[string]any {
		return []map[string]any{
			{"key": "grade", "label": "Grade", "result_type": rt0, "visibility": "public"},
			{"key": "remark", "label": "Remark"},
			{"key": "advisor_note", "label": "Advisor note", "visibility": v2},
		}
	}
	for _, tc := range []struct{ v2, rt0, field, msg string }{
		{"everyone", "LetterGrade", "attributes[2].visibility", `Visibility "everyone" must be public, recipient or staff.`},
		{"staff", "Grade", "attributes[0].result_type", `Result type "Grade" must be one of`},
	} {
		snap := tableCounts(t, d)
		code, body := api.Do("owner", "POST", "/groups", map[string]any{"name": "Vis", "course_name": "V 1", "attributes": attrs(tc.v2, tc.rt0)})
		if code != 422 || errCode(body) != "invalid" {
			t.Fatalf("%s: %d %v", tc.field, code, body)
		}
		errs := body["errors"].([]any)
		if len(errs) != 1 || errs[0].(map[string]any)["field"] != tc.field || !strings.Contains(errs[0].(map[string]any)["message"].(string), tc.msg) {
			t.Fatalf("%s: errors %v", tc.field, errs)
		}
		assertUnchanged(t, d, snap)
	}
	dated := attrs("staff", "LetterGrade")
	dated[0]["type"] = "date"
	if code, body := api.Do("owner", "POST", "/groups", map[string]any{"name": "Vis", "course_name": "V 1", "attributes": dated}); code != 422 ||
		body["errors"].([]any)[0].(map[string]any)["field"] != "attributes[0].result_type" {
		t.Fatalf("a date as a result: %d %v", code, body)
	}
	code, body := api.Do("owner", "POST", "/groups", map[string]any{"name": "Vis", "course_name": "V 1", "attributes": attrs("staff", "LetterGrade")})
	if code != 201 {
		t.Fatalf("create: %d %v", code, body)
	}
	got := body["attributes"].([]any)
	for i, want := range [][2]string{{"public", "LetterGrade"}, {"recipient", ""}, {"staff", ""}} {
		a := got[i].(map[string]any)
		if a["visibility"] != want[0] || a["result_type"] != want[1] {
			t.Fatalf("attributes[%d] = %v, want visibility %q result_type %q", i, a, want[0], want[1])
		}
	}
	gp := "/groups/" + itoa(int(body["id"].(float64)))
	// A PATCH that lists the attributes in another order without their
	// visibility keeps each one's, by key; a new one gets the default.
	code, body = api.Do("owner", "PATCH", gp, map[string]any{"attributes": []map[string]any{
		{"key": "advisor_note", "label": "Advisor note"}, {"key": "grade", "label": "Grade", "result_type": "LetterGrade"},
		{"key": "remark", "label": "Remark"}, {"key": "credits", "label": "Credits", "type": "number"}}})
	if code != 200 {
		t.Fatalf("patch: %d %v", code, body)
	}
	var order []string
	for _, a := range body["attributes"].([]any) {
		m := a.(map[string]any)
		order = append(order, m["key"].(string)+":"+m["visibility"].(string)+":"+m["result_type"].(string))
	}
	if got := strings.Join(order, " "); got != "advisor_note:staff: grade:public:LetterGrade remark:recipient: credits:recipient:" {
		t.Fatalf("attributes after the patch: %s", got)
	}
	code, body = api.Do("owner", "POST", gp+"/credentials", map[string]any{"credentials": []map[string]any{
		{"recipient": map[string]any{"name": "Ada", "email": "ada@example.edu"}, "issued_on": "2026-06-30",
			"attributes": map[string]any{"grade": "A", "remark": "Well done", "advisor_note": "Staff only"}}}})
	if code != 201 {
		t.Fatalf("create credential: %d %v", code, body)
	}
	id := body["credentials"].([]any)[0].(map[string]any)["id"].(string)
	code, body = api.Do("owner", "GET", "/credentials/"+id, nil)
	if code != 200 {
		t.Fatalf("get credential: %d %v", code, body)
	}
	vals := body["attributes"].(map[string]any)
	if vals["grade"] != "A" || vals["remark"] != "Well done" || vals["advisor_note"] != "Staff only" {
		t.Fatalf("staff read attributes %v", vals)
	}
}
