package course_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestMappingAPI(t *testing.T) {
	e := newEnv(t)
	admin := e.token("admin")
	viewer := e.token("viewer")
	create := func(tok, body string) (int, string) { return e.api("POST", "/mappings", tok, body) }

	if st, b := e.api("GET", "/mappings", "", ""); st != 401 {
		t.Fatalf("no token: %d %s", st, b)
	}
	if st, b := create(viewer, fmt.Sprintf(`{"platform_id":%d,"group_id":%d,"canvas_course_id":"1"}`, e.platform.ID, e.group.ID)); st != 403 {
		t.Fatalf("viewer create: %d %s", st, b)
	}
	if st, b := e.api("GET", "/mappings", viewer, ""); st != 403 {
		t.Fatalf("viewer list: %d %s", st, b)
	}

	bad := []struct {
		body   string
		fields []string
	}{
		{`{}`, []string{"platform_id", "group_id", "canvas_course_id"}},
		{fmt.Sprintf(`{"platform_id":%d,"group_id":%d}`, e.platform.ID, e.group.ID), []string{"canvas_course_id"}},
		{fmt.Sprintf(`{"platform_id":%d,"group_id":%d,"canvas_course_id":"abc"}`, e.platform.ID, e.group.ID), []string{"canvas_course_id"}},
		{fmt.Sprintf(`{"platform_id":%d,"group_id":%d,"context_id":"c1","completion_rule":"sometimes"}`, e.platform.ID, e.group.ID), []string{"completion_rule"}},
		{fmt.Sprintf(`{"platform_id":%d,"group_id":999999,"context_id":"c1"}`, e.platform.ID), []string{"group_id"}},
		{fmt.Sprintf(`{"platform_id":999999,"group_id":%d,"context_id":"c1"}`, e.group.ID), []string{"platform_id"}},
		{`{"platform_id":"x","group_id":true,"canvas_course_id":"1"}`, []string{"platform_id", "group_id"}},
		{fmt.Sprintf(`{"platform_id":%d,"group_id":%d,"context_id":"c1","auto_publish":"yes"}`, e.platform.ID, e.group.ID), []string{"auto_publish"}},
	}
	for _, tc := range bad {
		st, b := create(admin, tc.body)
		if st != 422 {
			t.Fatalf("%s: %d %s, want 422", tc.body, st, b)
		}
		for _, f := range tc.fields {
			if !strings.Contains(b, `"field":"`+f+`"`) {
				t.Fatalf("%s: %s does not name field %s", tc.body, b, f)
			}
		}
	}
	if n := e.count(`SELECT count(*) FROM course_mappings`); n != 0 {
		t.Fatalf("refused creates left %d mappings", n)
	}

	st, b := create(admin, fmt.Sprintf(`{"platform_id":%d,"group_id":%d,"canvas_course_id":565,"context_id":"ctx-565"}`, e.platform.ID, e.group.ID))
	if st != 201 {
		t.Fatalf("create: %d %s", st, b)
	}
	var m struct {
		ID             int64  `json:"id"`
		PlatformID     int64  `json:"platform_id"`
		CanvasCourseID string `json:"canvas_course_id"`
		ContextID      string `json:"context_id"`
		GroupID        int64  `json:"group_id"`
		CompletionRule string `json:"completion_rule"`
		AutoPublish    bool   `json:"auto_publish"`
	}
	json.Unmarshal([]byte(b), &m)
	if m.ID == 0 || m.CanvasCourseID != "565" || m.ContextID != "ctx-565" || m.CompletionRule != "canvas_completion" || m.AutoPublish {
		t.Fatalf("created %s", b)
	}
	if st, b := create(admin, fmt.Sprintf(`{"platform_id":%d,"group_id":%d,"canvas_course_id":"565"}`, e.platform.ID, e.group.ID)); st != http.StatusConflict {
		t.Fatalf("duplicate course: %d %s", st, b)
	}
	if st, b := create(admin, fmt.Sprintf(`{"platform_id":%d,"group_id":%d,"context_id":"ctx-565"}`, e.platform.ID, e.group.ID)); st != http.StatusConflict {
		t.Fatalf("duplicate context: %d %s", st, b)
	}
	path := fmt.Sprintf("/mappings/%d", m.ID)
	if st, b := e.api("GET", path, admin, ""); st != 200 || !strings.Contains(b, `"canvas_course_id":"565"`) {
		t.Fatalf("get: %d %s", st, b)
	}
	if st, b := e.api("GET", path, viewer, ""); st != 403 {
		t.Fatalf("viewer get: %d %s", st, b)
	}
	if st, b := e.api("PATCH", path, admin, `{"completion_rule":"manual","auto_publish":true}`); st != 200 || !strings.Contains(b, `"completion_rule":"manual"`) || !strings.Contains(b, `"auto_publish":true`) || !strings.Contains(b, `"context_id":"ctx-565"`) {
		t.Fatalf("patch: %d %s", st, b)
	}
	if st, b := e.api("PATCH", path, admin, `{"completion_rule":"never"}`); st != 422 || !strings.Contains(b, "completion_rule") {
		t.Fatalf("bad patch: %d %s", st, b)
	}
	if st, b := e.api("GET", "/mappings?platform_id="+fmt.Sprint(e.platform.ID), admin, ""); st != 200 || !strings.Contains(b, fmt.Sprintf(`"id":%d`, m.ID)) {
		t.Fatalf("list: %d %s", st, b)
	}
	if st, b := e.api("POST", path+"/reconcile", admin, ""); st != 422 || !strings.Contains(b, "manual issuing only") {
		t.Fatalf("reconcile manual mapping: %d %s", st, b)
	}
	if st, b := e.api("DELETE", path, viewer, ""); st != 403 {
		t.Fatalf("viewer delete: %d %s", st, b)
	}
	if st, b := e.api("DELETE", path, admin, ""); st != 204 {
		t.Fatalf("delete: %d %s", st, b)
	}
	if st, b := e.api("GET", path, admin, ""); st != 404 {
		t.Fatalf("get deleted: %d %s", st, b)
	}
	if st, b := e.api("GET", "/mappings/abc", admin, ""); st != 404 {
		t.Fatalf("get bad id: %d %s", st, b)
	}
}
