package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/mail"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/openbadges"
)

// mustPublishedGrace is seedOwnerAndCredential's credential published, with
// the organisation named, its publish email received and the catcher reset.
func mustPublishedGrace(t *testing.T, app *running) (issuance.Group, issuance.Credential) {
	t.Helper()
	ctx := context.Background()
	g, cr := seedOwnerAndCredential(t, app)
	if _, err := app.Issuance.UpdateOrganisation(ctx, "test", issuance.OrganisationUpdate{Organisation: issuance.Organisation{
		Name: "University of Example", Language: "en", TimeZone: "Europe/London"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Issuance.Publish(ctx, "test", issuance.Selection{IDs: []string{cr.ID}}); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Mail.WaitFor(1, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	app.Mail.Reset()
	cr, err := app.Issuance.Credential(ctx, cr.ID)
	if err != nil {
		t.Fatal(err)
	}
	return g, cr
}

// waitMail waits for an email to to whose subject contains subject.
func waitMail(t *testing.T, app *running, to, subject string) mail.Received {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range app.Mail.Messages() {
			if len(m.To) == 1 && m.To[0] == to && strings.Contains(m.Subject, subject) {
				return m
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no email to %s with subject %q; got %d emails", to, subject, app.Mail.Len())
	return mail.Received{}
}

var linkRe = regexp.MustCompile(`http://\S+/recipient/link\?token=\S+`)

// mustProve asks for a link on the credential's page as c, receives it at
// the credential's address and opens it: c is then the proven recipient.
// It returns the link's token.
func mustProve(t *testing.T, app *running, c *client, cr issuance.Credential) string {
	t.Helper()
	app.Mail.Reset()
	resp, body := c.form("/c/"+cr.ID+"/manage/link", nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("ask for a link: %d %s", resp.StatusCode, body)
	}
	m := waitMail(t, app, cr.Recipient.Email, "Your link to manage your credential")
	link := linkRe.FindString(m.Text)
	if link == "" {
		t.Fatalf("no link in:\n%s", m.Text)
	}
	u, _ := url.Parse(link)
	token := u.Query().Get("token")
	// Opening the link spends nothing: a mail scanner may open it.
	if resp, body := c.do("GET", u.RequestURI(), "", ""); resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="use-link"`) {
		t.Fatalf("open link: %d %s", resp.StatusCode, body)
	}
	if resp, body := c.do("GET", u.RequestURI(), "", ""); resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="use-link"`) {
		t.Fatalf("open link again: %d %s", resp.StatusCode, body)
	}
	resp, body = c.form("/recipient/link", url.Values{"token": {token}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/c/"+cr.ID+"/manage" {
		t.Fatalf("use link: %d %s %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	return token
}

// TestRecipientLinkIsOneTime: the emailed link proves the recipient once;
// a used, replaced or expired link proves nothing; the proof grants nothing
// on staff pages; the links per credential are limited.
func TestRecipientLinkIsOneTime(t *testing.T) {
	app := mustRun(t)
	_, cr := mustPublishedGrace(t, app)

	anon := newClient(t, app.URL)
	resp, body := anon.do("GET", "/c/"+cr.ID, "", "")
	if resp.StatusCode != 200 || !strings.Contains(body, "Are you Grace?") || !strings.Contains(body, `href="/c/`+cr.ID+`/manage"`) {
		t.Fatalf("public page offers no management: %d %s", resp.StatusCode, body)
	}
	resp, body = anon.do("GET", "/c/"+cr.ID+"/manage", "", "")
	if resp.StatusCode != 200 || !strings.Contains(body, "Email me a link") || strings.Contains(body, "hide-credential") {
		t.Fatalf("manage page for a stranger: %d %s", resp.StatusCode, body)
	}
	// A stranger cannot act without the link.
	if resp, _ := anon.form("/c/"+cr.ID+"/manage/hide", nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("stranger hides: %d", resp.StatusCode)
	}

	rc := newClient(t, app.URL)
	token := mustProve(t, app, rc, cr)
	resp, body = rc.do("GET", "/c/"+cr.ID+"/manage", "", "")
	if resp.StatusCode != 200 || !strings.Contains(body, `id="hide-credential"`) || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("manage page for the recipient: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	// Its forms refuse a cross-site post, and nothing changes.
	rc.header.Set("Sec-Fetch-Site", "cross-site")
	resp, _ = rc.form("/c/"+cr.ID+"/manage/hide", nil)
	rc.header.Del("Sec-Fetch-Site")
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site hide: %d", resp.StatusCode)
	}
	if n := count(t, app, "recipient_hidden"); n != 0 {
		t.Fatalf("a cross-site post hid the credential")
	}
	// The link works once, in any browser.
	other := newClient(t, app.URL)
	resp, body = other.form("/recipient/link", url.Values{"token": {token}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "expired or was already used") {
		t.Fatalf("second use: %d %s", resp.StatusCode, body)
	}
	if resp, _ := other.form("/c/"+cr.ID+"/manage/hide", nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("second user hides: %d", resp.StatusCode)
	}
	// A recipient session reaches no staff page.
	for _, path := range []string{"/groups", "/corrections", "/credentials/" + cr.ID, "/admin/mail"} {
		if resp, _ := rc.do("GET", path, "", ""); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
			t.Fatalf("recipient GET %s: %d %s", path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if resp, _ := rc.form("/credentials/"+cr.ID+"/revoke", url.Values{"reason": {"mine"}}); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("recipient POST to a staff route: %d", resp.StatusCode)
	}

	// A link expires: 31 minutes later it proves nothing.
	late := newClient(t, app.URL)
	app.Mail.Reset()
	if resp, body := late.form("/c/"+cr.ID+"/manage/link", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("ask for a second link: %d %s", resp.StatusCode, body)
	}
	m := waitMail(t, app, cr.Recipient.Email, "Your link")
	u, _ := url.Parse(linkRe.FindString(m.Text))
	real := app.Issuance.Now
	app.Issuance.Now = func() time.Time { return real().Add(31 * time.Minute) }
	resp, body = late.form("/recipient/link", url.Values{"token": {u.Query().Get("token")}})
	app.Issuance.Now = real
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "expired") {
		t.Fatalf("expired link: %d %s", resp.StatusCode, body)
	}
	// The third link in the hour is the last.
	if resp, body := late.form("/c/"+cr.ID+"/manage/link", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("third link: %d %s", resp.StatusCode, body)
	}
	resp, body = late.form("/c/"+cr.ID+"/manage/link", nil)
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "already emailed 3 times") {
		t.Fatalf("fourth link: %d %s", resp.StatusCode, body)
	}
}

// TestRecipientHidesCredential: a proven recipient hides their credential;
// the public then sees only that it is valid and cannot download it, while
// the signed Open Badges credential still verifies with an independent
// verifier; the recipient still sees and downloads everything; staff see the
// state and the history; showing it again restores the page.
func TestRecipientHidesCredential(t *testing.T) {
	app := mustRun(t)
	g, cr := mustPublishedGrace(t, app)
	rc := newClient(t, app.URL)
	mustProve(t, app, rc, cr)
	if resp, body := rc.form("/c/"+cr.ID+"/manage/hide", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("hide: %d %s", resp.StatusCode, body)
	}

	anon := newClient(t, app.URL)
	resp, body := anon.do("GET", "/c/"+cr.ID, "", "")
	if resp.StatusCode != 200 || !strings.Contains(body, "This credential is valid") || !strings.Contains(body, "Its holder has chosen not to show its details.") ||
		!strings.Contains(body, "University of Example") {
		t.Fatalf("hidden page: %d %s", resp.StatusCode, body)
	}
	for _, secret := range []string{"Grace", "Hopper", "Data Science Foundations", "DS 101", "grace@"} {
		if strings.Contains(body, secret) {
			t.Fatalf("hidden page shows %q:\n%s", secret, body)
		}
	}
	// Nor does the page where the holder asks for a link.
	resp, body = anon.do("GET", "/c/"+cr.ID+"/manage", "", "")
	if resp.StatusCode != 200 || !strings.Contains(body, "Is this your credential?") || strings.Contains(body, "Grace") || strings.Contains(body, "Data Science") {
		t.Fatalf("manage page of a hidden credential for a stranger: %d %s", resp.StatusCode, body)
	}
	resp, body = anon.do("GET", "/c/"+cr.ID+".pdf", "", "")
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(html.UnescapeString(body), "chosen not to show it publicly") {
		t.Fatalf("anonymous PDF of a hidden credential: %d %s", resp.StatusCode, body)
	}
	// The recipient sees their page and gets their PDF.
	resp, body = rc.do("GET", "/c/"+cr.ID, "", "")
	if resp.StatusCode != 200 || !strings.Contains(body, "Grace Hopper") || !strings.Contains(body, `id="hidden-from-public"`) ||
		resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("recipient's own page: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	resp, body = rc.do("GET", "/c/"+cr.ID+".pdf", "", "")
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "%PDF") {
		t.Fatalf("recipient's PDF: %d %.200s", resp.StatusCode, body)
	}
	// A badge design: the baked badge is refused to the public too.
	badge, err := app.Issuance.CreateDesign(context.Background(), "test", issuance.Design{Name: "Badge", Kind: issuance.Badge,
		Image: []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><circle cx="50" cy="50" r="40" fill="#1f3a5f"/></svg>`)})
	if err != nil {
		t.Fatal(err)
	}
	g.DesignID = badge.ID
	if _, err := app.Issuance.UpdateGroup(context.Background(), "test", g); err != nil {
		t.Fatal(err)
	}
	resp, body = anon.do("GET", "/c/"+cr.ID+"/badge", "", "")
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(html.UnescapeString(body), "chosen not to show it publicly") {
		t.Fatalf("anonymous badge of a hidden credential: %d %.300s", resp.StatusCode, body)
	}
	if resp, body := rc.do("GET", "/c/"+cr.ID+"/badge", "", ""); resp.StatusCode != 200 || !strings.Contains(body, "<svg") {
		t.Fatalf("recipient's badge: %d %.300s", resp.StatusCode, body)
	}
	// Verifiers still verify: the signed documents stay public.
	r := verifyIndependently(t, anon, cr.ID)
	if !r.Credential.Verified || !r.Status.Verified {
		t.Fatalf("the hidden credential no longer verifies: %+v", r)
	}
	// Staff see the state and who did it.
	owner := newClient(t, app.URL)
	if resp, body := owner.form("/login", url.Values{"email": {"it@uni.example.edu"}, "password": {ownerPassword}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %d %s", resp.StatusCode, body)
	}
	_, body = owner.do("GET", "/credentials/"+cr.ID, "", "")
	if !strings.Contains(body, `id="hidden-by-recipient"`) || !regexp.MustCompile(`Hidden from the public by the recipient on \d`).MatchString(body) {
		t.Fatalf("staff page lacks the hidden state or its history:\n%s", body)
	}

	if resp, body := rc.form("/c/"+cr.ID+"/manage/show", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("show: %d %s", resp.StatusCode, body)
	}
	_, body = anon.do("GET", "/c/"+cr.ID, "", "")
	if !strings.Contains(body, "Grace Hopper") || strings.Contains(body, "chosen not to show") {
		t.Fatalf("page after showing again:\n%s", body)
	}
	if resp, _ := anon.do("GET", "/c/"+cr.ID+"/badge", "", ""); resp.StatusCode != 200 {
		t.Fatalf("badge after showing again: %d", resp.StatusCode)
	}
	_, body = owner.do("GET", "/credentials/"+cr.ID, "", "")
	if strings.Contains(body, `id="hidden-by-recipient"`) || !regexp.MustCompile(`Shown to the public again by the recipient on \d`).MatchString(body) {
		t.Fatalf("staff page after showing again:\n%s", body)
	}
}

// TestNameCorrectionQueue: a proven recipient asks for a name correction;
// bad input names its field and changes nothing; staff approve (the name
// is amended and re-signed, the recipient emailed) or refuse with a reason
// (emailed); a team member outside the group does not see the request.
func TestNameCorrectionQueue(t *testing.T) {
	app := mustRun(t)
	ctx := context.Background()
	g, cr := mustPublishedGrace(t, app)
	rc := newClient(t, app.URL)
	mustProve(t, app, rc, cr)

	resp, body := rc.form("/c/"+cr.ID+"/manage/correction", url.Values{"name": {"  "}, "note": {"x"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `id="name-error"`) || !strings.Contains(body, "New name: Recipient name is required.") {
		t.Fatalf("empty name: %d %s", resp.StatusCode, body)
	}
	resp, body = rc.form("/c/"+cr.ID+"/manage/correction", url.Values{"name": {"Grace Brewster Hopper"}, "note": {strings.Repeat("n", 1001)}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `id="note-error"`) {
		t.Fatalf("long note: %d %s", resp.StatusCode, body)
	}
	if n := count(t, app, "name_corrections"); n != 0 {
		t.Fatalf("refused requests stored %d rows", n)
	}
	resp, body = rc.form("/c/"+cr.ID+"/manage/correction", url.Values{"name": {"Grace Brewster Hopper"}, "note": {"My middle name is missing."}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("request: %d %s", resp.StatusCode, body)
	}
	if _, body = rc.do("GET", "/c/"+cr.ID+"/manage", "", ""); !strings.Contains(body, `id="correction-pending"`) {
		t.Fatalf("pending request not shown:\n%s", body)
	}
	if resp, body := rc.form("/c/"+cr.ID+"/manage/correction", url.Values{"name": {"G. B. Hopper"}}); resp.StatusCode != http.StatusUnprocessableEntity ||
		!strings.Contains(body, "already waiting") {
		t.Fatalf("second request: %d %s", resp.StatusCode, body)
	}

	// A team member limited to another group sees none of it.
	other, err := app.Issuance.CreateGroup(ctx, "test", issuance.Group{Name: "Other", CourseName: "O 1", Language: "en"})
	if err != nil {
		t.Fatal(err)
	}
	tm := mustSignInLimited(t, app, "tm@uni.example.edu", other.ID)
	if _, body := tm.do("GET", "/corrections", "", ""); strings.Contains(body, "Grace Brewster Hopper") || !strings.Contains(body, `id="no-corrections"`) {
		t.Fatalf("a team member of another group sees the request:\n%s", body)
	}

	owner := newClient(t, app.URL)
	if resp, body := owner.form("/login", url.Values{"email": {"it@uni.example.edu"}, "password": {ownerPassword}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %d %s", resp.StatusCode, body)
	}
	_, body = owner.do("GET", "/corrections", "", "")
	id := regexp.MustCompile(`action="/corrections/(\d+)/approve"`).FindStringSubmatch(body)
	if id == nil || !strings.Contains(body, "Grace Brewster Hopper") || !strings.Contains(body, "My middle name is missing.") || !strings.Contains(body, g.Name) {
		t.Fatalf("queue:\n%s", body)
	}
	// The navigation counts the requests a staff member can decide.
	if _, body := owner.do("GET", "/groups", "", ""); !strings.Contains(body, `<a href="/corrections" id="nav-corrections">Name corrections (1)</a>`) {
		t.Fatalf("owner's navigation lacks the count:\n%s", body)
	}
	if _, body := tm.do("GET", "/groups", "", ""); strings.Contains(body, "nav-corrections") {
		t.Fatalf("a team member of another group is shown the count:\n%s", body)
	}
	if resp, _ := tm.form("/corrections/"+id[1]+"/approve", nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("team member of another group approves: %d", resp.StatusCode)
	}
	app.Mail.Reset()
	if resp, body := owner.form("/corrections/"+id[1]+"/approve", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("approve: %d %s", resp.StatusCode, body)
	}
	if resp, body := owner.form("/corrections/"+id[1]+"/approve", nil); resp.StatusCode != http.StatusConflict {
		t.Fatalf("approve twice: %d %s", resp.StatusCode, body)
	}
	m := waitMail(t, app, cr.Recipient.Email, "Your name was corrected")
	if !strings.Contains(m.Text, "It now reads: Grace Brewster Hopper") {
		t.Fatalf("approval email:\n%s", m.Text)
	}
	got, err := app.Issuance.Credential(ctx, cr.ID)
	if err != nil || got.Recipient.Name != "Grace Brewster Hopper" || got.State != issuance.Published {
		t.Fatalf("amended credential: %+v %v", got, err)
	}
	// Re-signed with the new name, and it verifies.
	anon := newClient(t, app.URL)
	if _, js := anon.do("GET", "/c/"+cr.ID+".json", "", ""); !strings.Contains(js, `"identityHash":"Grace Brewster Hopper"`) {
		t.Fatalf("signed credential not re-signed:\n%s", js)
	}
	if r := verifyIndependently(t, anon, cr.ID); !r.Credential.Verified {
		t.Fatalf("re-signed credential: %+v", r)
	}
	_, body = owner.do("GET", "/credentials/"+cr.ID, "", "")
	if !strings.Contains(body, "Name correction to “Grace Brewster Hopper” requested by the recipient on") {
		t.Fatalf("history lacks the request:\n%s", body)
	}

	// Refused with a reason.
	mustProve(t, app, rc, cr)
	if resp, body := rc.form("/c/"+cr.ID+"/manage/correction", url.Values{"name": {"Amazing Grace"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("second request: %d %s", resp.StatusCode, body)
	}
	_, body = owner.do("GET", "/corrections", "", "")
	id = regexp.MustCompile(`action="/corrections/(\d+)/refuse"`).FindStringSubmatch(body)
	if id == nil {
		t.Fatalf("queue:\n%s", body)
	}
	resp, body = owner.form("/corrections/"+id[1]+"/refuse", url.Values{"reason": {" "}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `id="reason-error-`+id[1]+`"`) || !strings.Contains(body, "Reason: say why") {
		t.Fatalf("refuse without a reason: %d %s", resp.StatusCode, body)
	}
	app.Mail.Reset()
	if resp, body := owner.form("/corrections/"+id[1]+"/refuse", url.Values{"reason": {"The registrar's record reads Grace Brewster Hopper."}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("refuse: %d %s", resp.StatusCode, body)
	}
	m = waitMail(t, app, cr.Recipient.Email, "Your name correction")
	if !strings.Contains(m.Text, "Their reason: The registrar's record reads Grace Brewster Hopper.") || !strings.Contains(m.Text, `"Amazing Grace"`) {
		t.Fatalf("refusal email:\n%s", m.Text)
	}
	if got, _ := app.Issuance.Credential(ctx, cr.ID); got.Recipient.Name != "Grace Brewster Hopper" {
		t.Fatalf("a refusal changed the name: %q", got.Recipient.Name)
	}
	if _, body := owner.do("GET", "/corrections", "", ""); !strings.Contains(body, `id="no-corrections"`) {
		t.Fatalf("queue not empty:\n%s", body)
	}
	if _, body := owner.do("GET", "/groups", "", ""); strings.Contains(body, "nav-corrections") {
		t.Fatalf("the navigation counts decided requests:\n%s", body)
	}

	// Erasing the person deletes the names and addresses self-service kept.
	if n := count(t, app, "name_corrections") + count(t, app, "recipient_mails"); n == 0 {
		t.Fatal("nothing to erase")
	}
	e, err := app.People.Erase(ctx, "test", cr.Recipient.Email)
	if err != nil || e.SelfService == 0 {
		t.Fatalf("erase: %+v %v", e, err)
	}
	if n := count(t, app, "name_corrections") + count(t, app, "recipient_mails") + count(t, app, "recipient_links"); n != 0 {
		t.Fatalf("%d self-service rows left after the erasure", n)
	}
	// The audit log keeps no name the recipient asked for, nor the reason
	// staff gave them.
	var left int
	if err := app.DB.GetContext(ctx, &left, `SELECT count(*) FROM audit_log WHERE strpos(coalesce(after::text, ''), 'Amazing Grace') > 0
		OR strpos(coalesce(after::text, ''), 'registrar''s record') > 0`); err != nil || left != 0 {
		t.Fatalf("%d audit entries keep the requested name or the reason (%v)", left, err)
	}
}

// TestStaffChangeRecipientEmail: staff change a published credential's
// email on its page and through the API; it is not revoked, the old and
// the new address each get a notice, the change is in the history, and a
// copy of the signed credential taken before the change still verifies.
func TestStaffChangeRecipientEmail(t *testing.T) {
	app := mustRun(t)
	ctx := context.Background()
	_, cr := mustPublishedGrace(t, app)
	anon := newClient(t, app.URL)
	_, before := anon.do("GET", "/c/"+cr.ID+".json", "", "")

	owner := newClient(t, app.URL)
	if resp, body := owner.form("/login", url.Values{"email": {"it@uni.example.edu"}, "password": {ownerPassword}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %d %s", resp.StatusCode, body)
	}
	resp, body := owner.form("/credentials/"+cr.ID, url.Values{"name": {cr.Recipient.Name}, "email": {"grace.hopper@alumni.example.org"},
		"issued_on": {"2026-11-20"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("change email: %d %s", resp.StatusCode, body)
	}
	oldMsg := waitMail(t, app, "grace@uni.example.edu", "email address of your credential")
	newMsg := waitMail(t, app, "grace.hopper@alumni.example.org", "email address of your credential")
	if strings.Contains(oldMsg.Text, "alumni.example.org") || !strings.Contains(oldMsg.Text, "still valid") {
		t.Fatalf("notice to the old address:\n%s", oldMsg.Text)
	}
	if !strings.Contains(newMsg.Text, "to this one, grace.hopper@alumni.example.org") || !strings.Contains(newMsg.Text, "/c/"+cr.ID) {
		t.Fatalf("notice to the new address:\n%s", newMsg.Text)
	}
	// The staff page tells the change and the notices' delivery (recorded
	// just after the mail server accepted them).
	var page string
	sent := regexp.MustCompile(`Notice of the changed email address \(old address\) to grace@uni\.example\.edu: sent on \d[^<]*</li>\s*` +
		`|Notice of the changed email address \(new address\) to grace\.hopper@alumni\.example\.org: sent on \d`)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, page = owner.do("GET", "/credentials/"+cr.ID, "", "")
		if len(sent.FindAllString(page, -1)) == 2 || time.Now().After(deadline) {
			break
		}
	}
	if n := len(sent.FindAllString(page, -1)); n != 2 {
		t.Fatalf("%d notices shown as sent on the staff page:\n%s", n, page)
	}
	if !strings.Contains(page, "Email changed from “grace@uni.example.edu” to “grace.hopper@alumni.example.org” by Iris Owner on") {
		t.Fatalf("history lacks the change:\n%s", page)
	}
	got, err := app.Issuance.Credential(ctx, cr.ID)
	if err != nil || got.State != issuance.Published || got.Recipient.Email != "grace.hopper@alumni.example.org" {
		t.Fatalf("after the change: %+v %v", got, err)
	}
	// The copy signed for the old address still verifies (its status bit
	// is not set); the served one is re-signed for the new address.
	if r := verifyDocument(t, anon, []byte(before)); !r.Credential.Verified || !r.Status.Verified {
		t.Fatalf("the credential signed before the change no longer verifies: %+v", r)
	}
	_, after := anon.do("GET", "/c/"+cr.ID+".json", "", "")
	if after == before {
		t.Fatal("the served credential was not re-signed with the new address")
	}
	if r := verifyDocument(t, anon, []byte(after)); !r.Credential.Verified {
		t.Fatalf("re-signed credential: %+v", r)
	}

	// Through the API too.
	api := mustToken(t, app)
	app.Mail.Reset()
	resp, body = api.do("PATCH", "/api/v1/credentials/"+cr.ID, "application/json", `{"recipient":{"email":"gh@example.net"}}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("API change: %d %s", resp.StatusCode, body)
	}
	waitMail(t, app, "grace.hopper@alumni.example.org", "email address")
	waitMail(t, app, "gh@example.net", "email address")
}

// mustSignInLimited signs in a new team member limited to group.
func mustSignInLimited(t *testing.T, app *running, email string, group int64) *client {
	t.Helper()
	if _, _, err := app.Accounts.CreateUser(context.Background(), email, "Tessa Member", "team_member", []int64{group}, ownerPassword); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, app.URL)
	if resp, body := c.form("/login", url.Values{"email": {email}, "password": {ownerPassword}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %d %s", resp.StatusCode, body)
	}
	return c
}

// verified is what the independent verifier (verify.mjs) answers.
type verified struct {
	Credential struct {
		Verified bool
		Error    string
	}
	Status struct {
		Verified, Revoked bool
		Error             string
	}
}

// verifyIndependently verifies credential id's signed Open Badges
// credential, as served now, with Digital Bazaar's verifier.
func verifyIndependently(t *testing.T, c *client, id string) verified {
	t.Helper()
	resp, js := c.do("GET", "/c/"+id+".json", "", "")
	if resp.StatusCode != 200 {
		t.Fatalf("signed credential: %d %s", resp.StatusCode, js)
	}
	return verifyDocument(t, c, []byte(js))
}

// verifyDocument runs issuance/openbadges/testdata/verify/verify.mjs on cred
// with the issuer's documents fetched through c.
func verifyDocument(t *testing.T, c *client, cred []byte) verified {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is required (make test installs it)")
		}
		t.Skip("node not installed")
	}
	dir, _ := filepath.Abs("../../issuance/openbadges/testdata/verify")
	var doc struct {
		Issuer struct {
			ID string `json:"id"`
		} `json:"issuer"`
		Status struct {
			List string `json:"statusListCredential"`
		} `json:"credentialStatus"`
	}
	if err := json.Unmarshal(cred, &doc); err != nil {
		t.Fatal(err)
	}
	get := func(u string) json.RawMessage {
		t.Helper()
		path := u
		if p, err := url.Parse(u); err == nil && p.Host != "" {
			path = p.RequestURI()
		}
		resp, b := c.do("GET", path, "", "")
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", u, resp.StatusCode, b)
		}
		return json.RawMessage(b)
	}
	pinned := map[string]json.RawMessage{}
	for u, b := range openbadges.Contexts() {
		pinned[u] = b
	}
	bundle, _ := json.Marshal(map[string]any{"credential": json.RawMessage(cred), "pinnedDocs": pinned,
		"documents": map[string]any{doc.Issuer.ID: get("/.well-known/did.json"), doc.Status.List: get(doc.Status.List)}})
	path := filepath.Join(t.TempDir(), "bundle.json")
	if err := os.WriteFile(path, bundle, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "verify.mjs", path)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node verify.mjs: %v\n%s", err, stderr.String())
	}
	var r verified
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("verifier output %q: %v", out, err)
	}
	return r
}

// seedSelfService readies the recipient's pages for the page checks: hide's
// recipient proves it, hides it and asks for a name correction (so the
// public sees the hidden page and the staff queue has a request), and a
// fresh link for link's credential is emailed and left unused; its path is
// returned.
func seedSelfService(t *testing.T, app *running, hide, link issuance.Credential) string {
	t.Helper()
	rc := newClient(t, app.URL)
	mustProve(t, app, rc, hide)
	if resp, body := rc.form("/c/"+hide.ID+"/manage/hide", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("hide: %d %s", resp.StatusCode, body)
	}
	if resp, body := rc.form("/c/"+hide.ID+"/manage/correction", url.Values{"name": {hide.Recipient.Name + " Jr"}, "note": {"Please add my suffix."}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("name correction: %d %s", resp.StatusCode, body)
	}
	app.Mail.Reset()
	if resp, body := newClient(t, app.URL).form("/c/"+link.ID+"/manage/link", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("ask for a link: %d %s", resp.StatusCode, body)
	}
	u, err := url.Parse(linkRe.FindString(waitMail(t, app, link.Recipient.Email, "Your link").Text))
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI()
}

// TestNameCorrectionAPI: the queue through the JSON API: list, a refusal
// without a reason names the field and changes nothing, refuse, approve.
func TestNameCorrectionAPI(t *testing.T) {
	app := mustRun(t)
	ctx := context.Background()
	_, cr := mustPublishedGrace(t, app)
	rc := newClient(t, app.URL)
	mustProve(t, app, rc, cr)
	ask := func(name string) {
		t.Helper()
		if resp, body := rc.form("/c/"+cr.ID+"/manage/correction", url.Values{"name": {name}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("request: %d %s", resp.StatusCode, body)
		}
	}
	ask("Grace B. Hopper")
	api := mustToken(t, app)
	list := func() []map[string]any {
		t.Helper()
		resp, body := api.do("GET", "/api/v1/corrections", "", "")
		var out struct{ Corrections []map[string]any }
		if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &out) != nil {
			t.Fatalf("list: %d %s", resp.StatusCode, body)
		}
		return out.Corrections
	}
	cs := list()
	if len(cs) != 1 || cs[0]["requested_name"] != "Grace B. Hopper" || cs[0]["credential_id"] != cr.ID || cs[0]["current_name"] != "Grace Hopper" {
		t.Fatalf("corrections: %v", cs)
	}
	id := strconv.FormatFloat(cs[0]["id"].(float64), 'f', 0, 64)
	resp, body := api.do("POST", "/api/v1/corrections/"+id+"/refuse", "application/json", `{"reason": ""}`)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `"field":"reason"`) {
		t.Fatalf("refuse without a reason: %d %s", resp.StatusCode, body)
	}
	if len(list()) != 1 {
		t.Fatal("a refused input decided the request")
	}
	if resp, body := api.do("POST", "/api/v1/corrections/"+id+"/refuse", "application/json", `{"reason": "Not on the register."}`); resp.StatusCode != 200 ||
		!strings.Contains(body, `"state":"refused"`) {
		t.Fatalf("refuse: %d %s", resp.StatusCode, body)
	}
	if resp, _ := api.do("POST", "/api/v1/corrections/"+id+"/approve", "", ""); resp.StatusCode != http.StatusConflict {
		t.Fatalf("approve a refused request: %d", resp.StatusCode)
	}
	ask("Grace B. Hopper")
	id = strconv.FormatFloat(list()[0]["id"].(float64), 'f', 0, 64)
	if resp, body := api.do("POST", "/api/v1/corrections/"+id+"/approve", "", ""); resp.StatusCode != 200 {
		t.Fatalf("approve: %d %s", resp.StatusCode, body)
	}
	if got, _ := app.Issuance.Credential(ctx, cr.ID); got.Recipient.Name != "Grace B. Hopper" {
		t.Fatalf("name after approval: %q", got.Recipient.Name)
	}
	if len(list()) != 0 {
		t.Fatal("decided requests still listed")
	}
}
