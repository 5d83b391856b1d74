package moodle_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/lti"
	"github.com/laurel-edu/laurel/lti/course"
	"github.com/laurel-edu/laurel/moodle"
)

// TestRealMoodle runs the emulator's cases against a real Moodle 4.5, which
// scripts/moodle-e2e.sh installs and prepares; it is skipped unless that
// script sets MOODLE_E2E_URL (not part of make test). The script's course
// MOODLE_E2E_COURSE has two students: MOODLE_E2E_DONE_EMAIL completed it
// on MOODLE_E2E_DONE_DAY (YYYY-MM-DD, UTC), the other did not.
// MOODLE_E2E_LIMITED_TOKEN's service lacks the completion function.
func TestRealMoodle(t *testing.T) {
	url := os.Getenv("MOODLE_E2E_URL")
	if url == "" {
		t.Skip("MOODLE_E2E_URL is not set: run scripts/moodle-e2e.sh")
	}
	e := newEnv(t)
	ctx := context.Background()
	set := func(tok string) {
		t.Helper()
		if _, err := e.registry.UpdatePlatform(ctx, e.platform.ID, lti.PlatformInput{Extra: moodle.PlatformExtra(url, tok)}); err != nil {
			t.Fatal(err)
		}
	}
	set(os.Getenv("MOODLE_E2E_TOKEN"))
	m := e.mustMap(os.Getenv("MOODLE_E2E_COURSE"))

	res, err := e.courses.Reconcile(ctx, m.ID, course.TriggerManual)
	if err != nil {
		t.Fatal(err)
	}
	got := e.credentials()
	if len(res.Created) != 1 || len(got) != 1 {
		t.Fatalf("first run created %d (%+v), want exactly one", len(res.Created), got)
	}
	if got[0].Email != os.Getenv("MOODLE_E2E_DONE_EMAIL") || got[0].IssuedOn != os.Getenv("MOODLE_E2E_DONE_DAY") || got[0].State != "unpublished" {
		t.Fatalf("credential %+v, want %s's dated %s, unpublished", got[0], os.Getenv("MOODLE_E2E_DONE_EMAIL"), os.Getenv("MOODLE_E2E_DONE_DAY"))
	}
	again, err := e.courses.Reconcile(ctx, m.ID, course.TriggerManual)
	if err != nil || len(again.Created) != 0 || len(e.credentials()) != 1 {
		t.Fatalf("second run created %d (%v)", len(again.Created), err)
	}

	set(os.Getenv("MOODLE_E2E_LIMITED_TOKEN"))
	_, err = e.courses.Reconcile(ctx, m.ID, course.TriggerManual)
	if !apperr.Is(err, apperr.Invalid) || !strings.Contains(apperr.Message(err), "core_completion_get_course_completion_status") {
		t.Fatalf("limited token: %v, want the message naming core_completion_get_course_completion_status", err)
	}
	t.Logf("limited token: %s", apperr.Message(err))
}
