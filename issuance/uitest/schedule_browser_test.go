package uitest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/browsertest"
	"github.com/laurel-edu/laurel/issuance"
)

// setLimitedCreate sets the organisation setting that lets team members
// limited to some groups create groups.
func (e *env) setLimitedCreate(on bool) {
	e.t.Helper()
	ctx := context.Background()
	o, err := e.svc.Organisation(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	o.LimitedMembersCreateGroups = on
	if _, err := e.svc.UpdateOrganisation(ctx, "test", issuance.OrganisationUpdate{Organisation: o}); err != nil {
		e.t.Fatal(err)
	}
}

// In Chromium: the Confirm step names the first 20 recipients by name and
// counts the rest, shows the email the first of them will receive (the
// delivery template's text, escaped), and schedules the
// publish for a date and time; the group page then shows "Publishing N
// credentials on …" with Cancel, which cancels it. A time in the past is
// refused with its message and changes nothing. Axe-clean at 1280 and 390 px.
func TestBrowserConfirmNamesRecipientsPreviewsAndSchedules(t *testing.T) {
	axe := browsertest.AxeScript(t)
	e := mustEnv(t)
	ctx := context.Background()
	e.seed(e.group.ID, 22)
	if _, err := e.svc.CreateCredentials(ctx, "test", e.group.ID, issuance.FromForm, []issuance.NewCredential{
		{Recipient: issuance.Recipient{Name: "Aaron O'Brien & Søn <Jr>", Email: "aaron@example.edu"}, IssuedOn: "2026-06-30", Attributes: map[string]string{"grade": "A"}},
		{Recipient: issuance.Recipient{Name: "Zoë Zhang", Email: "zoe@example.edu"}, IssuedOn: "2026-06-30", Attributes: map[string]string{"grade": "B"}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.accts.CreateUser(ctx, "owner@example.edu", "Olive Owner", auth.Owner, nil, password); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t, "owner@example.edu")
	g := gid(e.group)
	b.run(chromedp.Navigate(b.base+"/groups/"+g+"/unpublished"), chromedp.WaitVisible("#select-all-group"),
		chromedp.Click("#select-all-group"), chromedp.Click("#publish"), chromedp.WaitVisible("#confirm-question"))
	if got := b.text("#confirm-question"); got != "Publish 24 credentials and send 24 emails?" {
		t.Errorf("question %q", got)
	}
	if !b.eval(`document.querySelectorAll('#recipients li').length === 20`) {
		t.Errorf("recipients listed: %s", b.text("#recipients"))
	}
	if got := b.text("#recipients li:first-child"); !strings.HasPrefix(got, "Aaron O'Brien & Søn <Jr>") {
		t.Errorf("first recipient %q (by name)", got)
	}
	if got := b.text("#recipients-more"); got != "and 4 more people." {
		t.Errorf("the rest: %q", got)
	}
	// The preview is the real email to the first recipient, the name
	// escaped as text (no element made of it), in a frame without scripts.
	if got := b.text("#preview-to"); got != "aaron@example.edu" {
		t.Errorf("preview to %q", got)
	}
	if got := b.text("#preview-subject"); !strings.Contains(got, "Data Science 101") {
		t.Errorf("preview subject %q", got)
	}
	// The text is the email's own (delivery's template), the name as text.
	if got := b.text("#preview-text"); !strings.HasPrefix(got, "Hello Aaron O'Brien & Søn <Jr>,") || !strings.Contains(got, "http://laurel.test/c/") {
		t.Errorf("email preview: %q", got)
	}
	if b.eval(`!!document.querySelector('#email-preview jr')`) {
		t.Error("the recipient's name became markup")
	}
	b.checkPage("confirm page", axe)

	// Publish on a date and time: tomorrow at 09:00, server time.
	at := time.Now().In(time.Local).AddDate(0, 0, 1)
	at = time.Date(at.Year(), at.Month(), at.Day(), 9, 0, 0, 0, time.Local)
	b.run(chromedp.SetValue("#publish_at", at.Format("2006-01-02T15:04")), chromedp.Click("#schedule-publish"), chromedp.WaitVisible("#schedules"))
	var sid int64
	if err := e.db.Get(&sid, `SELECT id FROM publish_schedules`); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("Publishing 24 credentials on %s", at.Format("2 Jan 2006, 15:04 MST"))
	if got := b.text(fmt.Sprintf("#schedule-%d", sid)); !strings.HasPrefix(got, want) || !strings.Contains(got, "Cancel") {
		t.Errorf("group page shows %q, want %q with Cancel", got, want)
	}
	if got := b.text("#flash"); !strings.Contains(got, "24 credentials will be published on "+at.Format("2 Jan 2006, 15:04")) {
		t.Errorf("flash %q", got)
	}
	if n := e.count(`SELECT count(*) FROM jobs WHERE kind = $1 AND run_at = $2 AND state = 'queued'`, issuance.PublishScheduleJob, at); n != 1 {
		t.Errorf("%d jobs due at %s", n, at)
	}
	if n := e.count(`SELECT count(*) FROM credentials WHERE state = 'published'`); n != 0 {
		t.Errorf("%d published at once", n)
	}
	b.checkPage("group page with a scheduled publish", axe)

	// A time in the past: the Confirm step again, with the message.
	c := e.signIn("owner2@example.edu", auth.Owner)
	before := e.snapshot()
	r := c.post("/groups/"+g+"/publish", url.Values{"all": {"1"}, "when": {"later"}, "publish_at": {"2020-01-01T09:00"}})
	if r.code != http.StatusUnprocessableEntity {
		t.Fatalf("past time: %d", r.code)
	}
	fieldError(t, r.body, "publish_at", "must be in the future")
	contains(t, r.body, `id="recipients"`, `id="preview-text"`)
	if after := e.snapshot(); after != before {
		t.Errorf("a refused schedule changed the database:\n%s\n%s", before, after)
	}

	// Cancel.
	b.run(chromedp.Click(fmt.Sprintf("#cancel-schedule-%d", sid)))
	b.waitFor("the cancelled schedule", fmt.Sprintf(`!document.querySelector('#cancel-schedule-%d') && !!document.querySelector('#schedule-%d')`, sid, sid))
	if got := b.text(fmt.Sprintf("#schedule-%d", sid)); !strings.HasPrefix(got, "Cancelled") {
		t.Errorf("after cancel the group page shows %q", got)
	}
	if s, _ := e.svc.PublishScheduleByID(ctx, sid); s.State != issuance.ScheduleCancelled {
		t.Errorf("schedule is %s after Cancel", s.State)
	}
	if len(b.csp()) > 0 {
		t.Errorf("CSP violations: %v", b.csp())
	}
}

// A team member limited to one group creates a group, as the Illinois guide
// has them do: it joins their groups in the same step (audited), so they
// work in it at once; with the owner's setting off they are not offered the
// action and the server refuses it.
func TestBrowserLimitedTeamMemberCreatesAGroup(t *testing.T) {
	axe := browsertest.AxeScript(t)
	e := mustEnv(t)
	ctx := context.Background()
	u, _, err := e.accts.CreateUser(ctx, "tia@example.edu", "Tia Team", auth.TeamMember, []int64{e.group.ID}, password)
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser(t, "tia@example.edu")
	b.run(chromedp.WaitVisible("#new-group"), chromedp.Click("#new-group"), chromedp.WaitVisible("#name"))
	b.checkPage("new group form for a limited member", axe)
	b.run(chromedp.SendKeys("#name", "Robotics Club"), chromedp.SendKeys("#course_name", "ROB 100"),
		chromedp.Submit("#name"), chromedp.WaitVisible("#group-name"))
	if got := b.text("#group-name"); got != "Robotics Club" {
		t.Fatalf("after creating: %q", got)
	}
	var gidNew int64
	if err := e.db.Get(&gidNew, `SELECT id FROM groups WHERE name = 'Robotics Club'`); err != nil {
		t.Fatal(err)
	}
	if n := e.count(`SELECT count(*) FROM user_groups WHERE user_id = $1 AND group_id = ANY(ARRAY[$2::bigint, $3::bigint])`, u.ID, e.group.ID, gidNew); n != 2 {
		t.Errorf("the member's groups hold %d of (old, new), want both", n)
	}
	if n := e.count(`SELECT count(*) FROM audit_log WHERE entity_type = 'user' AND entity_id = $1 AND after->'groups' @> to_jsonb($2::bigint)`, fmt.Sprint(u.ID), gidNew); n != 1 {
		t.Errorf("the limit change is audited %d times, want 1", n)
	}
	// Still limited: the other group stays out of reach.
	b.run(chromedp.Navigate(b.base+"/groups"), chromedp.WaitVisible("#groups"))
	if txt := b.text("#groups"); !strings.Contains(txt, "Robotics Club") || strings.Contains(txt, "Other Course") {
		t.Errorf("groups list %q", txt)
	}

	// The owner turns it off: no button, and the server refuses.
	e.setLimitedCreate(false)
	b.run(chromedp.Navigate(b.base+"/groups"), chromedp.WaitVisible("#groups"))
	if b.eval(`!!document.querySelector('#new-group')`) {
		t.Error("New group is offered while the owner does not allow it")
	}
	c := e.signIn("tom@example.edu", auth.TeamMember, e.group.ID)
	before := e.snapshot()
	forbidden(t, c.post("/groups/new", url.Values{"name": {"G"}, "course_name": {"C"}}), "creating a group with the setting off")
	if after := e.snapshot(); after != before {
		t.Errorf("refused creation changed the database")
	}
}

// The owner's organisation page carries the setting, on by default: saving
// the form without the box turns it off, with the box on again.
func TestOrganisationPageLimitedCreateSetting(t *testing.T) {
	e := mustEnv(t)
	owner := e.signIn("owner@example.edu", auth.Owner)
	r := owner.get("/admin/organisation")
	contains(t, r.body, `id="limited_members_create_groups" name="limited_members_create_groups" value="1" checked`)
	setting := func() bool {
		t.Helper()
		var on bool
		if err := e.db.Get(&on, `SELECT limited_members_create_groups FROM organisation`); err != nil {
			t.Fatal(err)
		}
		return on
	}
	form := map[string]string{"name": "University of Example", "language": "en", "email_subject": "", "email_body": ""}
	if r := owner.postMultipart("/admin/organisation", form, nil); r.code != http.StatusSeeOther || setting() {
		t.Fatalf("save without the box: %d, setting %v", r.code, setting())
	}
	if r := owner.get("/admin/organisation"); strings.Contains(r.body, `value="1" checked> Team members limited`) {
		t.Error("the box is still ticked")
	}
	form["limited_members_create_groups"] = "1"
	if r := owner.postMultipart("/admin/organisation", form, nil); r.code != http.StatusSeeOther || !setting() {
		t.Fatalf("save with the box: %d, setting %v", r.code, setting())
	}
}
