package uitest

import (
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/mail"
)

// bulkIDs are the IDs of group g's credentials in state, by name.
func (e *env) bulkIDs(g int64, state string) []string {
	e.t.Helper()
	var ids []string
	if err := e.db.Select(&ids, `SELECT id FROM credentials WHERE group_id = $1 AND state = $2 ORDER BY recipient_name`, g, state); err != nil {
		e.t.Fatal(err)
	}
	return ids
}

// "All matching" on the Credentials tab: the confirmation says how many
// match and in words which filter, names the first 20 by name with "and N
// more", and how many are skipped and why; revoking without a reason is
// refused on its field and changes nothing; with one, exactly the matching
// published ones are revoked and the list says so.
func TestBulkRevokeConfirmNamesCountAndFirst(t *testing.T) {
	e := mustEnv(t)
	e.seed(e.group.ID, 28)
	e.publishAll(e.group)
	e.seed(e.other.ID, 3) // unpublished, in the other group
	// Three of the group back to unpublished for the skip line.
	if _, err := e.db.Exec(`UPDATE credentials SET state = 'unpublished', published_at = NULL
		WHERE group_id = $1 AND recipient_name IN ('Learner 1', 'Learner 2', 'Learner 3')`, e.group.ID); err != nil {
		t.Fatal(err)
	}
	owner := e.signIn("owner@example.edu", auth.Owner)
	r := owner.get("/credentials?group=" + gid(e.group))
	contains(t, r.body, `id="bulk-select"`, `action="/credentials/bulk?group=`+gid(e.group)+`"`, `id="bulk-all"`, `value="revoke"`)

	q := "?group=" + gid(e.group)
	form := url.Values{"action": {"revoke"}, "all": {"1"}, "back": {"/credentials" + q}}
	r = owner.post("/credentials/bulk"+q, form)
	if r.code != 200 {
		t.Fatalf("confirm: %d\n%s", r.code, r.body)
	}
	contains(t, r.body, "Revoke 25 credentials?", "You selected all 28 credentials matching the filter (group: Data Science 101).",
		"and 5 more.", "3 are unpublished and cannot be revoked (delete them instead).", "Learner 10", "learner10@example.edu")
	if n := strings.Count(r.body[strings.Index(r.body, `id="bulk-names"`):strings.Index(r.body, `id="bulk-more"`)], "<li>"); n != 20 {
		t.Errorf("%d named, want 20", n)
	}

	before := e.snapshot()
	r = owner.post("/credentials/bulk/apply"+q, form)
	if r.code != 422 {
		t.Fatalf("without a reason: %d", r.code)
	}
	contains(t, r.body, `id="reason-error"`, "Enter the reason for revoking")
	if e.snapshot() != before {
		t.Fatal("a refused revocation changed the database")
	}

	form.Set("reason", "Course cancelled")
	r = owner.post("/credentials/bulk/apply"+q, form)
	if r.code != 303 || r.location != "/credentials"+q {
		t.Fatalf("apply: %d %s\n%s", r.code, r.location, r.body)
	}
	r = owner.follow(r)
	contains(t, r.body, "Revoked 25 credentials.")
	if n := e.count(`SELECT count(*) FROM credentials WHERE state = 'revoked' AND revocation_reason = 'Course cancelled'`); n != 25 {
		t.Errorf("%d revoked, want 25", n)
	}
	if n := e.count(`SELECT count(*) FROM audit_log WHERE action = 'revoke'`); n != 25 {
		t.Errorf("%d revoke entries, want 25", n)
	}
}

// A Team Member limited to one group cannot touch another group's
// credentials with a crafted POST, by filter or by ID; a viewer sees no
// bulk controls and is refused.
func TestBulkStaysInTheCallersGroups(t *testing.T) {
	e := mustEnv(t)
	e.seed(e.group.ID, 2)
	e.seed(e.other.ID, 3)
	e.publishAll(e.group)
	e.publishAll(e.other)
	member := e.signIn("member@example.edu", auth.TeamMember, e.group.ID)
	before := e.snapshot()
	other := e.bulkIDs(e.other.ID, "published")
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"/credentials/bulk/apply?group=" + gid(e.other), url.Values{"action": {"revoke"}, "all": {"1"}, "reason": {"x"}}},
		{"/credentials/bulk/apply", url.Values{"action": {"revoke"}, "ids": other, "reason": {"x"}}},
		{"/credentials/bulk/apply?state=published", url.Values{"action": {"expiry"}, "all": {"1"}, "expiry": {"clear"}}},
	} {
		r := member.post(tc.path, tc.form)
		if r.code != 303 && r.code != 200 {
			t.Fatalf("%s: %d\n%s", tc.path, r.code, r.body)
		}
	}
	if n := e.count(`SELECT count(*) FROM credentials WHERE group_id = $1 AND state = 'published'`, e.other.ID); n != 3 {
		t.Fatalf("the other group has %d published, want 3", n)
	}
	if n := e.count(`SELECT count(*) FROM audit_log a JOIN credentials c ON c.id = a.entity_id WHERE c.group_id = $1 AND a.action IN ('revoke', 'amend')`, e.other.ID); n != 0 {
		t.Fatalf("%d changes audited in the other group", n)
	}
	// The one request within scope (all published credentials) changed
	// only the member's group.
	if n := e.count(`SELECT count(*) FROM audit_log WHERE action = 'amend'`); n != 2 {
		t.Errorf("%d amended, want the member's 2", n)
	}
	r := member.post("/credentials/bulk?group="+gid(e.other), url.Values{"action": {"revoke"}, "all": {"1"}})
	contains(t, r.body, "Nothing to change", "You selected all 0 credentials")
	_ = before

	viewer := e.signIn("viewer@example.edu", auth.Viewer)
	r = viewer.get("/credentials")
	if strings.Contains(r.body, `id="bulk-select"`) || strings.Contains(r.body, `id="bulk-bar"`) {
		t.Error("a viewer is offered bulk changes on the Credentials tab")
	}
	r = viewer.get("/groups/" + gid(e.group) + "/published")
	if strings.Contains(r.body, `id="bulk-bar"`) || strings.Contains(r.body, `class="select-one"`) {
		t.Error("a viewer is offered bulk changes on the published list")
	}
	after := e.snapshot()
	if r := viewer.post("/credentials/bulk/apply", url.Values{"action": {"revoke"}, "all": {"1"}, "reason": {"x"}}); r.code != 403 {
		t.Errorf("viewer's bulk revoke: %d", r.code)
	}
	if e.snapshot() != after {
		t.Error("a viewer's bulk revoke changed the database")
	}
}

// Resend from the published list sends exactly one email per ticked
// credential through a real SMTP server.
func TestBulkResendSendsOneEmailEach(t *testing.T) {
	e := mustEnv(t)
	catcher, err := mail.NewCatcher("")
	if err != nil {
		t.Fatal(err)
	}
	defer catcher.Close()
	e.seed(e.group.ID, 5)
	e.publishAll(e.group)
	e.sendAll(catcher.URL())
	catcher.Reset()

	owner := e.signIn("owner@example.edu", auth.Owner)
	r := owner.get("/groups/" + gid(e.group) + "/published")
	contains(t, r.body, `id="bulk-bar"`, `value="resend"`, `action="/credentials/bulk?group=`+gid(e.group)+`&amp;state=published"`)
	ids := e.bulkIDs(e.group.ID, "published")[:3] // Learner 1, 2, 3
	path := "/credentials/bulk?group=" + gid(e.group) + "&state=published"
	form := url.Values{"action": {"resend"}, "ids": ids}
	r = owner.post(path, form)
	contains(t, r.body, "Send the credential email again to 3 recipients?", "learner1@example.edu", "learner3@example.edu")
	r = owner.post(strings.Replace(path, "/bulk", "/bulk/apply", 1), form)
	if r.code != 303 {
		t.Fatalf("apply: %d\n%s", r.code, r.body)
	}
	e.sendAll(catcher.URL())
	var to []string
	for _, m := range catcher.Messages() {
		to = append(to, m.To...)
	}
	sort.Strings(to)
	if strings.Join(to, ",") != "learner1@example.edu,learner2@example.edu,learner3@example.edu" {
		t.Errorf("emails to %v", to)
	}
}

// Delete from the review page deletes the ticked unpublished ones; the
// expiry change from the Credentials tab warns first about those issued
// after the new date, then changes the others.
func TestBulkDeleteAndExpiryFromTheLists(t *testing.T) {
	e := mustEnv(t)
	e.seed(e.group.ID, 4)
	owner := e.signIn("owner@example.edu", auth.Owner)
	r := owner.get("/groups/" + gid(e.group) + "/unpublished")
	contains(t, r.body, `id="bulk-bar"`, `value="delete"`, `formaction="/credentials/bulk?group=`+gid(e.group)+`&amp;state=unpublished"`)
	ids := e.bulkIDs(e.group.ID, "unpublished")
	path := "/credentials/bulk?group=" + gid(e.group) + "&state=unpublished"
	r = owner.post(path, url.Values{"action": {"delete"}, "ids": ids[:2]})
	contains(t, r.body, "Delete 2 unpublished credentials?", "Learner 1", "Learner 2")
	r = owner.post("/credentials/bulk/apply?group="+gid(e.group)+"&state=unpublished", url.Values{"action": {"delete"}, "ids": ids[:2], "back": {"/groups/" + gid(e.group) + "/unpublished"}})
	if r.code != 303 || e.count(`SELECT count(*) FROM credentials`) != 2 {
		t.Fatalf("delete: %d, %d left", r.code, e.count(`SELECT count(*) FROM credentials`))
	}

	if _, err := e.db.Exec(`UPDATE credentials SET issued_on = '2027-09-01' WHERE recipient_name = 'Learner 4'`); err != nil {
		t.Fatal(err)
	}
	form := url.Values{"action": {"expiry"}, "all": {"1"}, "expiry": {"set"}, "expires_on": {"2027-06-30"}}
	r = owner.post("/credentials/bulk/apply", form)
	if r.code != 200 {
		t.Fatalf("expiry with a skip: %d\n%s", r.code, r.body)
	}
	contains(t, r.body, "1 is issued after the new expiry date.", "Change 1 credential", `name="checked" value="2027-06-30"`)
	if e.count(`SELECT count(*) FROM credentials WHERE expires_on IS NOT NULL`) != 0 {
		t.Fatal("changed before the skips were shown")
	}
	form.Set("checked", "2027-06-30")
	r = owner.post("/credentials/bulk/apply", form)
	if r.code != 303 || e.count(`SELECT count(*) FROM credentials WHERE expires_on = '2027-06-30'`) != 1 {
		t.Fatalf("expiry: %d\n%s", r.code, r.body)
	}
	r = owner.follow(r)
	contains(t, r.body, "Changed the expiry date of 1 credential.")
}
