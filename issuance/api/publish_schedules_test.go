package api_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/internal/issuancetest"
)

// POST /credentials/publish with publish_at schedules instead of
// publishing (202 with the schedule id); GET /publish/schedules lists it for
// those who may see its groups; DELETE cancels it (409 the second time); a
// bad or past publish_at is a 422 naming publish_at and changes nothing.
func TestAPIScheduledPublish(t *testing.T) {
	s, d := mustService(t)
	ctx := context.Background()
	g := mustGroup(t, s, nil)
	other := mustGroup(t, s, func(g *issuance.Group) { g.Name = "Other" })
	cs := issuancetest.MustCreate(t, s, g.ID, issuancetest.Item("Ada Lovelace", "ada@example.edu"), issuancetest.Item("Alan Turing", "alan@example.edu"))
	api := apiClient{T: t, URL: apiServer(t, s, map[string]*auth.Principal{
		"owner":   {TokenID: 1, Name: "ci", Role: auth.Owner},
		"limited": {UserID: 3, Email: "tm@example.edu", Role: auth.TeamMember, Groups: []int64{other.ID}},
	}).URL}

	before := tableCounts(t, d)
	for _, at := range []string{"tomorrow", "2020-01-01T09:00:00Z", time.Now().AddDate(2, 0, 0).UTC().Format(time.RFC3339)} {
		code, body := api.Do("owner", "POST", "/credentials/publish", map[string]any{"ids": []string{cs[0].ID}, "publish_at": at})
		errs, _ := body["errors"].([]any)
		if code != 422 || len(errs) != 1 || errs[0].(map[string]any)["field"] != "publish_at" {
			t.Errorf("publish_at %q: %d %v", at, code, body)
		}
	}
	assertUnchanged(t, d, before)

	at := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
	code, body := api.Do("owner", "POST", "/credentials/publish", map[string]any{"group_id": g.ID, "all_unpublished": true, "publish_at": at.Format(time.RFC3339)})
	if code != 202 || body["schedule_id"] == nil {
		t.Fatalf("schedule: %d %v", code, body)
	}
	id := fmt.Sprint(body["schedule_id"])
	sch := body["schedule"].(map[string]any)
	if sch["credentials"] != float64(2) || sch["publish_at"] != at.Format(time.RFC3339) || sch["state"] != "scheduled" {
		t.Errorf("schedule body %v", sch)
	}
	if n := jobCount(t, d, issuance.PublishScheduleJob); n != 1 {
		t.Errorf("%d jobs", n)
	}
	if code, body := api.Do("owner", "GET", "/publish/schedules", nil); code != 200 || len(body["schedules"].([]any)) != 1 {
		t.Errorf("list: %d %v", code, body)
	}
	// Someone limited to another group neither sees nor cancels it.
	if code, body := api.Do("limited", "GET", "/publish/schedules", nil); code != 200 || len(body["schedules"].([]any)) != 0 {
		t.Errorf("limited list: %d %v", code, body)
	}
	if code, _ := api.Do("limited", "DELETE", "/publish/schedules/"+id, nil); code != 404 {
		t.Errorf("limited cancel: %d", code)
	}
	if code, body := api.Do("owner", "DELETE", "/publish/schedules/"+id, nil); code != 200 || body["state"] != "cancelled" {
		t.Errorf("cancel: %d %v", code, body)
	}
	if code, body := api.Do("owner", "DELETE", "/publish/schedules/"+id, nil); code != 409 {
		t.Errorf("cancel again: %d %v", code, body)
	}
	if n := issuancetest.JobCount(t, d, issuance.EmailJob); n != 0 {
		t.Errorf("%d emails queued by a schedule", n)
	}
	_ = ctx
}
