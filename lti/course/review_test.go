package course_test

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/laurel-edu/laurel/internal/browsertest"
	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/issuance"
)

// mapByTeacher maps the course onto a new group through the teacher's
// form, as in the course, and returns the group's id.
func (e *launchEnv) mapByTeacher(t *testing.T) int64 {
	t.Helper()
	tok := ltik(t, mustLaunch(t, e, e.teacher.ID))
	d, err := e.iss.DefaultDesign(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	st, page := e.post("/lti/app/map", url.Values{"ltik": {tok}, "group": {"new"}, "group_name": {"Astronomy 101"},
		"course_name": {"Astronomy 101"}, "design_id": {itoa(d.ID)}, "completion_rule": {"canvas_completion"}, "auto_publish": {"0"}})
	if st != 200 {
		t.Fatalf("map: %d %s", st, page)
	}
	var gid int64
	if err := e.db.Get(&gid, `SELECT group_id FROM course_mappings WHERE platform_id = $1`, e.ltiPlat.ID); err != nil {
		t.Fatal(err)
	}
	return gid
}

// mustCredentials creates unpublished credentials in group gid, one per
// user, and returns their ids in the same order.
func (e *launchEnv) mustCredentials(t *testing.T, gid int64, users ...*canvassim.User) []string {
	t.Helper()
	var items []issuance.NewCredential
	for _, u := range users {
		items = append(items, issuance.NewCredential{Recipient: issuance.Recipient{Name: u.Name, Email: u.Email}, IssuedOn: "2026-11-30"})
	}
	cs, err := e.iss.CreateCredentials(context.Background(), "test", gid, issuance.FromForm, items)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	return ids
}

// dbState is everything a refused review request must leave alone.
func (e *launchEnv) dbState(t *testing.T) string {
	t.Helper()
	var rows []string
	if err := e.db.Select(&rows, `SELECT id || ' ' || state || ' ' || recipient_name || ' ' || recipient_email || ' ' || issued_on::text || ' ' || updated_at::text
		FROM credentials ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%v emails=%d jobs=%d audit=%d", rows, e.count(`SELECT count(*) FROM credential_emails`),
		e.count(`SELECT count(*) FROM jobs`), e.count(`SELECT count(*) FROM audit_log`))
}

// TestInstructorPublishesFromLMSWhenAllowed: with the organisation setting
// on, the teacher reviews the course group's credentials inside Canvas's
// iframe (Chromium, third-party site), ticks one, confirms (the Confirm step
// states credentials and emails), and it is published with its email
// queued; the teacher also amends another. Both are audited with the
// teacher as actor. Nothing outside the course's group can be touched.
func TestInstructorPublishesFromLMSWhenAllowed(t *testing.T) {
	e := newLaunchEnvOn(t, true)
	e.org.mayPublish.Store(true)
	gid := e.mapByTeacher(t)
	ids := e.mustCredentials(t, gid, e.student, e.other)
	sam, olga := ids[0], ids[1]
	elsewhere := e.mustCredentials(t, e.group.ID, e.student)[0] // a group of no course here

	b := browsertest.New(t, browsertest.Options{})
	if err := chromedp.Do(b, chromedp.Navigate(e.sim.LaunchPageURL(e.teacher.ID, e.course.ID, false))); err != nil {
		t.Fatal(err)
	}
	frame := toolFrame(t, b, e.app.URL)
	browsertest.Step(t, frame, "the course view offers review", chromedp.WaitVisible(chromedp.CSS("#review-link")))
	if got := frameText(t, frame, chromedp.Text(chromedp.CSS("#review-link"))); got != "Review and publish credentials" {
		t.Fatalf("review button %q", got)
	}
	browsertest.Step(t, frame, "open the review list",
		chromedp.Click(chromedp.CSS("#review-link")),
		chromedp.WaitVisible(chromedp.CSS("#cred-"+sam)),
		chromedp.WaitVisible(chromedp.CSS("#cred-"+olga)))
	browsertest.Step(t, frame, "tick Sam's credential and publish",
		chromedp.Click(chromedp.CSS("#select-"+sam)),
		chromedp.Click(chromedp.CSS("#publish")),
		chromedp.WaitVisible(chromedp.CSS("#confirm-question")))
	if q := frameText(t, frame, chromedp.Text(chromedp.CSS("#confirm-question"))); q != "Publish 1 credential and send 1 email?" {
		t.Fatalf("confirm step asks %q", q)
	}
	// It names the recipient and shows the email they will receive.
	if got := frameText(t, frame, chromedp.Text(chromedp.CSS("#recipients"))); !strings.Contains(got, "sam@example.edu") {
		t.Errorf("confirm step lists %q", got)
	}
	if got := frameText(t, frame, chromedp.Text(chromedp.CSS("#preview-to"))); got != "sam@example.edu" {
		t.Errorf("email preview to %q", got)
	}
	if got := e.count(`SELECT count(*) FROM credentials WHERE state = 'published'`); got != 0 {
		t.Fatalf("%d credentials published before Confirm", got)
	}
	browsertest.Step(t, frame, "confirm",
		chromedp.Click(chromedp.CSS("#confirm")),
		chromedp.WaitVisible(chromedp.CSS("#notice")))
	if n := frameText(t, frame, chromedp.Text(chromedp.CSS("#notice"))); n != "Published 1 credential; 1 email queued for sending." {
		t.Fatalf("notice %q", n)
	}
	var states []string
	if err := e.db.Select(&states, `SELECT id || '=' || state FROM credentials ORDER BY seq`); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprint([]string{sam + "=published", olga + "=unpublished", elsewhere + "=unpublished"})
	if fmt.Sprint(states) != want {
		t.Fatalf("states %v, want %v", states, want)
	}
	if n := e.count(`SELECT count(*) FROM credential_emails WHERE credential_id = $1 AND to_address = 'sam@example.edu'`, sam); n != 1 {
		t.Fatalf("%d emails queued for the published credential", n)
	}
	actor := fmt.Sprintf("lti:%d:%s:Tina Teacher <tina@example.edu>", e.ltiPlat.ID, e.teacher.LTIID)
	if n := e.count(`SELECT count(*) FROM audit_log WHERE action = 'publish' AND entity_id = $1 AND actor = $2`, sam, actor); n != 1 {
		var got []string
		_ = e.db.Select(&got, `SELECT actor FROM audit_log WHERE action = 'publish'`)
		t.Fatalf("publish audited by %v, want %q", got, actor)
	}

	// Amend Olga's credential from the list.
	browsertest.Step(t, frame, "open Olga's credential",
		chromedp.Click(chromedp.CSS("#tab-unpublished")),
		chromedp.WaitVisible(chromedp.CSS("#cred-"+olga+" a.credential-link")),
		chromedp.Click(chromedp.CSS("#cred-"+olga+" a.credential-link")),
		chromedp.WaitVisible(chromedp.CSS("#amend-form")))
	browsertest.Step(t, frame, "amend the name",
		chromedp.SetValue(chromedp.CSS("#name"), "Olga O. Other"),
		chromedp.Click(chromedp.CSS("#save-credential")),
		chromedp.WaitVisible(chromedp.CSS("#notice")))
	if n := frameText(t, frame, chromedp.Text(chromedp.CSS("#notice"))); n != "Credential amended." {
		t.Fatalf("notice %q", n)
	}
	var name string
	if err := e.db.Get(&name, `SELECT recipient_name FROM credentials WHERE id = $1`, olga); err != nil || name != "Olga O. Other" {
		t.Fatalf("amended name %q (%v)", name, err)
	}
	if n := e.count(`SELECT count(*) FROM audit_log WHERE action = 'amend' AND entity_id = $1 AND actor = $2`, olga, actor); n != 1 {
		t.Fatalf("amendment audited %d times as %q", n, actor)
	}

	// A bad amendment is named and changes nothing.
	tok := ltik(t, mustLaunch(t, e, e.teacher.ID))
	before := e.dbState(t)
	st, page := e.post("/lti/app/credentials/"+olga, url.Values{"ltik": {tok}, "name": {"Olga O. Other"}, "email": {"not-an-email"}, "issued_on": {"2026-11-30"}})
	if st != 422 || !strings.Contains(page, `id="email-error"`) {
		t.Fatalf("bad email: %d %s", st, page)
	}
	if after := e.dbState(t); after != before {
		t.Fatalf("a refused amendment changed the database:\n%s\n%s", before, after)
	}

	// Outside the course's group: not found, and never published.
	if st, _ := e.post("/lti/app/credentials/"+elsewhere, url.Values{"ltik": {tok}, "name": {"X"}}); st != 404 {
		t.Fatalf("amend a credential of another group: %d, want 404", st)
	}
	// A forged id in the publish form is not found either (issue 16: it
	// used to publish nothing and answer "None of the selected ...").
	if st, page := e.post("/lti/app/publish", url.Values{"ltik": {tok}, "ids": {elsewhere}}); st != 404 || !strings.Contains(page, "is not one of this course") {
		t.Fatalf("publish another group's credential: %d %s", st, page)
	}
	if after := e.dbState(t); after != before {
		t.Fatalf("touching another group's credential changed the database:\n%s\n%s", before, after)
	}

	// The TA's launch may not publish or amend, even allowed (a TA carries
	// the Instructor role too).
	taTok := ltik(t, mustLaunch(t, e, e.ta.ID))
	if st, _ := e.post("/lti/app/publish", url.Values{"ltik": {taTok}, "ids": {olga}}); st != 403 {
		t.Fatalf("TA publishes: %d, want 403", st)
	}
	if st, _ := e.post("/lti/app/credentials/"+olga, url.Values{"ltik": {taTok}, "name": {"TA was here"}}); st != 403 {
		t.Fatalf("TA amends: %d, want 403", st)
	}
	if after := e.dbState(t); after != before {
		t.Fatalf("a refused publish changed the database:\n%s\n%s", before, after)
	}
}

// TestInstructorRefusedInLMSWhenNotAllowed: with the setting off (the
// default), the teacher sees the course's credentials and their state, read
// only, and is told who reviews them; a forged amend or publish from the
// course's launch is a 403 that changes nothing.
func TestInstructorRefusedInLMSWhenNotAllowed(t *testing.T) {
	e := newLaunchEnvOn(t, true)
	gid := e.mapByTeacher(t)
	ids := e.mustCredentials(t, gid, e.student, e.other)
	sam := ids[0]

	b := browsertest.New(t, browsertest.Options{})
	if err := chromedp.Do(b, chromedp.Navigate(e.sim.LaunchPageURL(e.teacher.ID, e.course.ID, false))); err != nil {
		t.Fatal(err)
	}
	frame := toolFrame(t, b, e.app.URL)
	browsertest.Step(t, frame, "the course view says who reviews", chromedp.WaitVisible(chromedp.CSS("#who-reviews")))
	if got := frameText(t, frame, chromedp.Text(chromedp.CSS("#who-reviews"))); got != "Staff at Example University review and publish these credentials." {
		t.Fatalf("who reviews: %q", got)
	}
	if got := frameText(t, frame, chromedp.Text(chromedp.CSS("#review-link"))); got != "See the credentials" {
		t.Fatalf("review button %q", got)
	}
	browsertest.Step(t, frame, "open the list", chromedp.Click(chromedp.CSS("#review-link")), chromedp.WaitVisible(chromedp.CSS("#cred-"+sam)))
	if controls := frameCount(t, frame, `input.select-one, #publish, #select-all-group, form[action^="/lti/app/publish"]`); controls != 0 {
		t.Fatalf("%d publish controls offered to an instructor who may not publish", controls)
	}
	if got := frameText(t, frame, chromedp.Text(chromedp.CSS("#cred-"+sam+" .state"))); got != "Unpublished" {
		t.Fatalf("state shown %q", got)
	}
	browsertest.Step(t, frame, "open a credential",
		chromedp.Click(chromedp.CSS("#cred-"+sam+" a.credential-link")),
		chromedp.WaitVisible(chromedp.CSS("#details")))
	if controls := frameCount(t, frame, `#amend-form, #publish-one`); controls != 0 {
		t.Fatalf("%d amend/publish controls offered to an instructor who may not publish", controls)
	}
	if links := frameCount(t, frame, `a[href^="/groups"], a[href^="/login"], a[href^="/credentials"]`); links != 0 {
		t.Fatalf("%d links to staff pages inside the course", links)
	}

	// Forged requests with the teacher's own launch token.
	tok := ltik(t, mustLaunch(t, e, e.teacher.ID))
	before := e.dbState(t)
	for _, f := range []struct {
		path string
		form url.Values
	}{
		{"/lti/app/publish", url.Values{"ltik": {tok}, "ids": {sam}}},
		{"/lti/app/publish", url.Values{"ltik": {tok}, "all": {"1"}}},
		{"/lti/app/publish/confirm", url.Values{"ltik": {tok}, "ids": {sam}}},
		{"/lti/app/credentials/" + sam, url.Values{"ltik": {tok}, "name": {"Mallory"}, "email": {"sam@example.edu"}, "issued_on": {"2026-11-30"}}},
	} {
		st, page := e.post(f.path, f.form)
		if st != 403 || !strings.Contains(page, "staff at Example University review and publish them") {
			t.Fatalf("forged POST %s: %d, want 403 naming who reviews:\n%s", f.path, st, page)
		}
	}
	if after := e.dbState(t); after != before {
		t.Fatalf("a refused request changed the database:\n%s\n%s", before, after)
	}
	// Switching the setting on lets the same launch publish: the refusal
	// was the setting's.
	e.org.mayPublish.Store(true)
	if st, page := e.post("/lti/app/publish", url.Values{"ltik": {tok}, "ids": {sam}}); st != 200 || !strings.Contains(page, "Published 1 credential") {
		t.Fatalf("publish once allowed: %d %s", st, page)
	}
}

// TestStudentSeesAwaitingReview: a student whose credential exists but is
// unpublished sees it awaiting review (not "not yet earned"), and after
// publishing sees it with its link.
func TestStudentSeesAwaitingReview(t *testing.T) {
	e := newLaunchEnv(t)
	gid := e.mapByTeacher(t)
	_, page := e.launch(e.student.ID, canvassim.LaunchOptions{})
	mustContain(t, page, "Not yet earned")
	id := e.mustCredentials(t, gid, e.student)[0]

	_, page = e.launch(e.student.ID, canvassim.LaunchOptions{})
	mustContain(t, page, `<p id="status"><strong>Awaiting review.</strong>`, "Staff at Example University review credentials before they are published.")
	if strings.Contains(page, "Not yet earned") || strings.Contains(page, "/c/"+id) {
		t.Fatalf("awaiting review: %s", page)
	}
	// With instructors allowed, the page says they review too.
	e.org.mayPublish.Store(true)
	_, page = e.launch(e.student.ID, canvassim.LaunchOptions{})
	mustContain(t, page, "The course&#39;s teachers and staff at Example University review credentials")
	// Another student of the course still has nothing.
	_, page = e.launch(e.other.ID, canvassim.LaunchOptions{})
	mustContain(t, page, "Not yet earned")

	if _, err := e.iss.Publish(context.Background(), "test", issuance.Selection{IDs: []string{id}}); err != nil {
		t.Fatal(err)
	}
	_, page = e.launch(e.student.ID, canvassim.LaunchOptions{})
	mustContain(t, page, "You have earned", "/c/"+id)
	// Revoked: no longer shown as earned or awaiting.
	if _, err := e.iss.Revoke(context.Background(), "test", id, "issued in error"); err != nil {
		t.Fatal(err)
	}
	_, page = e.launch(e.student.ID, canvassim.LaunchOptions{})
	if strings.Contains(page, "Awaiting review") || strings.Contains(page, "You have earned") {
		t.Fatalf("revoked credential shown as live: %s", page)
	}
}

// TestMappingFormPreselectsCourseGroup: when the course already has a group
// (created for it at an earlier mapping, or made by staff with its name),
// the mapping form selects it rather than "create a group".
func TestMappingFormPreselectsCourseGroup(t *testing.T) {
	e := newLaunchEnv(t)
	// A fresh course with no group: "create" is the default.
	page := mustLaunch(t, e, e.teacher.ID)
	mustContain(t, page, `name="group" value="new" checked`)

	// Mapped, then unmapped: the group made for the course is preselected.
	gid := e.mapByTeacher(t)
	mid := mustMappingID(t, e, e.ltiPlat.ID, e.course.ContextID)
	if err := e.courses.DeleteMapping(context.Background(), mid); err != nil {
		t.Fatal(err)
	}
	page = mustLaunch(t, e, e.teacher.ID)
	mustContain(t, page, groupRadio(gid)+` checked`)
	if strings.Contains(page, `name="group" value="new" checked`) {
		t.Fatal("the form still defaults to creating a second group for the course")
	}
	// Submitting the default maps onto the existing group: no second group.
	groups := e.count(`SELECT count(*) FROM groups`)
	tok := ltik(t, page)
	if st, p := e.post("/lti/app/map", url.Values{"ltik": {tok}, "group": {itoa(gid)}, "completion_rule": {"canvas_completion"}, "auto_publish": {"0"}}); st != 200 {
		t.Fatalf("map onto the existing group: %d %s", st, p)
	}
	if n := e.count(`SELECT count(*) FROM groups`); n != groups {
		t.Fatalf("%d groups after mapping onto the existing one, want %d", n, groups)
	}

	// Another course: a staff group made available with its title is the
	// default there.
	f := newLaunchEnv(t)
	named := staffGroup(t, f.env, "Astronomy 101", true, false)
	staffGroup(t, f.env, "Astrophysics", true, false)
	page = mustLaunch(t, f, f.teacher.ID)
	mustContain(t, page, groupRadio(named.ID)+` checked`)
}

// toolFrame waits for Laurel's iframe inside the platform page to finish
// the launch and returns a context attached to it (a cross-site iframe
// runs as its own target).
func toolFrame(t *testing.T, b context.Context, toolURL string) context.Context {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		infos, err := chromedp.Targets(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, info := range infos {
			if info.Type == "iframe" && strings.HasPrefix(info.URL, toolURL+"/lti/launch") {
				return attachTarget(t, b, info.TargetID)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the launch never reached %s/lti/launch", toolURL)
	return nil
}

func attachTarget(t *testing.T, b context.Context, id target.ID) context.Context {
	t.Helper()
	fctx, cancel := chromedp.NewContext(b, chromedp.WithTargetID(id))
	t.Cleanup(cancel)
	if err := chromedp.Do(fctx); err != nil {
		t.Fatalf("attach to the tool's frame: %v", err)
	}
	return fctx
}

func frameText(t *testing.T, ctx context.Context, a chromedp.Action[string]) string {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		t.Fatalf("read from the tool's frame: %v", err)
	}
	return v
}

// frameCount counts the elements matching a CSS selector in the frame.
func frameCount(t *testing.T, ctx context.Context, selector string) int {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	n, err := chromedp.Run(sctx, chromedp.Evaluate[int](`document.querySelectorAll(`+strconv.Quote(selector)+`).length`))
	if err != nil {
		t.Fatalf("count %s: %v", selector, err)
	}
	return n
}

// TestInstructorPublishWaitsForOrganisation: an instructor who may publish
// is refused (409, the reason and the setup link) while no owner has named
// the organisation, at the confirm step and on publish, and nothing
// changes; once it is named the same publish goes through.
func TestInstructorPublishWaitsForOrganisation(t *testing.T) {
	e := newLaunchEnv(t)
	gid := e.mapByTeacher(t)
	sam := e.mustCredentials(t, gid, e.student)[0]
	e.org.mayPublish.Store(true)
	// A fresh installation (test databases start named).
	if _, err := e.db.Exec(`UPDATE organisation SET named_at = NULL`); err != nil {
		t.Fatal(err)
	}
	page := mustLaunch(t, e, e.teacher.ID)
	mustContain(t, page, `id="organisation-unset"`, `href="/admin/organisation"`)
	tok := ltik(t, page)
	before := e.dbState(t)
	for _, path := range []string{"/lti/app/publish/confirm", "/lti/app/publish"} {
		st, page := e.post(path, url.Values{"ltik": {tok}, "ids": {sam}})
		if st != 409 || !strings.Contains(page, "Nothing can be published until an owner has set up the organisation") ||
			!strings.Contains(page, `href="/admin/organisation"`) {
			t.Fatalf("%s before the organisation is named: %d\n%s", path, st, page)
		}
	}
	if after := e.dbState(t); after != before {
		t.Fatalf("a refused publish changed the database:\n%s\n%s", before, after)
	}
	o, err := e.iss.Organisation(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	o.Name = "Example University"
	if _, err := e.iss.UpdateOrganisation(context.Background(), "test", issuance.OrganisationUpdate{Organisation: o}); err != nil {
		t.Fatal(err)
	}
	if st, page := e.post("/lti/app/publish", url.Values{"ltik": {tok}, "ids": {sam}}); st != 200 || !strings.Contains(page, "Published 1 credential") {
		t.Fatalf("publish once named: %d %s", st, page)
	}
	if page := mustLaunch(t, e, e.teacher.ID); strings.Contains(page, "organisation-unset") {
		t.Fatal("the course page still says the organisation is not set up")
	}
}
