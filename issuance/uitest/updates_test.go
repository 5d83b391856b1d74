package uitest

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/locale"
	"github.com/laurel-edu/laurel/issuance"
)

var updateURLRE = regexp.MustCompile(`^/credentials/updates/\d+$`)

// updateEnv: in Data Science 101, Learner 1–4 published (Learner 4 then
// revoked) and Learner 5 unpublished; one credential in Other Course.
func updateEnv(t *testing.T) *env {
	e := mustEnv(t)
	e.seed(e.group.ID, 5)
	e.seed(e.other.ID, 1)
	if _, err := e.db.Exec(`UPDATE credentials SET state = 'published', published_at = now()
		WHERE group_id = $1 AND recipient_name <> 'Learner 5'`, e.group.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Revoke(context.Background(), "test", e.bulkID("Learner 4", e.group.ID), "Duplicate"); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) bulkID(name string, g int64) string {
	e.t.Helper()
	var id string
	if err := e.db.Get(&id, `SELECT id FROM credentials WHERE recipient_name = $1 AND group_id = $2`, name, g); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// Download for update gives the credential ID and the editable columns of
// the filter's credentials (the group's own columns by their labels, dates
// as date cells); the changed file's preview lists every change per
// credential, old → new, and every problem naming its row and column
// (unknown ID, another group's, revoked, a bad email, a required value
// emptied), counting unchanged rows; Apply changes exactly the listed
// credentials through the amend rules, audited (the history reads
// "… changed … by … on …"), re-signing the published ones, emailing nobody
// unless asked; a second Apply is refused.
func TestUpdateBySpreadsheet(t *testing.T) {
	e := updateEnv(t)
	// A team member limited to Data Science 101 updates it.
	owner := e.signIn("member@example.edu", auth.TeamMember, e.group.ID)
	r := owner.get("/credentials?group=" + gid(e.group))
	contains(t, r.body, `id="update-xlsx"`, `href="/credentials/updates"`)
	r = owner.get("/credentials/export?format=xlsx&for=update&group=" + gid(e.group))
	if r.code != 200 {
		t.Fatalf("download: %d\n%s", r.code, r.body)
	}
	f, err := excelize.OpenReader(strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := f.GetRows("Sheet1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"Credential ID", "Group", "Recipient Name", "Recipient Email", "Issue Date", "Expiry Date", "Grade", "Hours"}, rows[0]); diff != "" {
		t.Fatalf("header (-want +got):\n%s", diff)
	}
	if len(rows) != 6 {
		t.Fatalf("%d rows, want the header and 5", len(rows))
	}
	// Edit the downloaded workbook as a person would: by the row of each name.
	rowOf := map[string]int{}
	for i, row := range rows[1:] {
		rowOf[row[2]] = i + 2
	}
	set := func(name, col string, v any) {
		t.Helper()
		if err := f.SetCellValue("Sheet1", col+strings.TrimSpace(sprint(rowOf[name])), v); err != nil {
			t.Fatal(err)
		}
	}
	set("Learner 1", "C", "Learner One")    // name
	set("Learner 1", "G", "B+")             // Grade
	set("Learner 2", "F", "2030-06-30")     // expiry, as text
	set("Learner 3", "D", "not an email")   // problem: email
	set("Learner 4", "C", "Revoked Person") // problem: revoked
	set("Learner 5", "G", "")               // problem: Grade is required
	if err := f.SetSheetRow("Sheet1", "A7", &[]any{"zzzzzzzzzzzzzzzzzzzz", "", "Nobody"}); err != nil {
		t.Fatal(err)
	}
	if err := f.SetSheetRow("Sheet1", "A8", &[]any{e.bulkID("Learner 1", e.other.ID), "", "Other Renamed"}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	r = owner.upload("/credentials/updates", "changed.xlsx", buf.Bytes())
	if r.code != 303 || !updateURLRE.MatchString(r.location) {
		t.Fatalf("upload: %d %s\n%s", r.code, r.location, r.body)
	}
	preview := r.location
	r = owner.get(preview)
	l := locale.Default()
	row := func(name string) string { return "<td>" + sprint(rowOf[name]) + "</td>" }
	contains(t, r.body, "2 credentials change; 0 rows are unchanged; 5 rows have problems and are left out.",
		"<td>Recipient Name</td><td>Learner 1</td><td>Learner One</td>", "<td>Grade</td><td>A</td><td>B&#43;</td>",
		"<td>Expiry Date</td><td>(empty)</td><td>"+l.Date(issuance.DateOnly(mustDate(t, "2030-06-30")))+"</td>",
		row("Learner 3")+"<td>Recipient Email</td><td>&#34;not an email&#34; is not a valid email address.</td>",
		row("Learner 4")+"<td>Credential ID</td><td>This credential is revoked and cannot be changed.</td>",
		row("Learner 5")+"<td>Grade</td><td>Grade is required.</td>",
		"<td>7</td><td>Credential ID</td><td>No credential with this ID is in your groups.</td>",
		"<td>8</td><td>Credential ID</td><td>No credential with this ID is in your groups.</td>",
		`id="apply"`, `id="notify"`)
	if e.count(`SELECT count(*) FROM credentials WHERE recipient_name = 'Learner One'`) != 0 {
		t.Fatal("changed before Apply")
	}

	// Another staff member, even an owner, sees neither the preview nor
	// applies it.
	member := e.signIn("owner@example.edu", auth.Owner)
	if r := member.get(preview); r.code != 404 {
		t.Errorf("another user's preview: %d", r.code)
	}
	if r := member.post(preview+"/apply", url.Values{}); r.code != 404 {
		t.Errorf("another user's apply: %d", r.code)
	}

	signs := e.count(`SELECT count(*) FROM jobs WHERE kind = $1`, issuance.ChangedJob)
	emails := e.count(`SELECT count(*) FROM credential_emails`)
	r = owner.post(preview+"/apply", url.Values{})
	if r.code != 303 {
		t.Fatalf("apply: %d\n%s", r.code, r.body)
	}
	r = owner.follow(r)
	contains(t, r.body, "Updated 2 credentials.", `id="update-applied"`)
	if e.count(`SELECT count(*) FROM credentials WHERE recipient_name = 'Learner One' AND attributes->>'grade' = 'B+'`) != 1 ||
		e.count(`SELECT count(*) FROM credentials WHERE recipient_name = 'Learner 2' AND expires_on = '2030-06-30'`) != 1 ||
		e.count(`SELECT count(*) FROM credentials WHERE recipient_name = 'Other Renamed' OR recipient_name = 'Revoked Person'`) != 0 {
		t.Fatal("the credentials are not as the preview said")
	}
	if e.count(`SELECT count(*) FROM jobs WHERE kind = $1`, issuance.ChangedJob) <= signs {
		t.Error("the published credentials were not queued for signing again")
	}
	if e.count(`SELECT count(*) FROM credential_emails`) != emails {
		t.Error("recipients were emailed without being asked")
	}
	r = owner.get("/credentials/" + e.bulkID("Learner One", e.group.ID))
	contains(t, r.body, "Name changed from “Learner 1” to “Learner One” by member on ")
	if r := owner.post(preview+"/apply", url.Values{}); r.code != 303 || !strings.Contains(owner.follow(r).body, "This update was applied already.") {
		t.Errorf("second apply: %d", r.code)
	}
}

// A CSV download for update round-trips: uploaded unchanged it changes
// nothing; with "email recipients" ticked, each changed published
// credential's recipient gets one email. A file without the ID column is
// refused with the reason and nothing kept.
func TestUpdateBySpreadsheetCSV(t *testing.T) {
	e := updateEnv(t)
	owner := e.signIn("owner@example.edu", auth.Owner)
	r := owner.get("/credentials/export?format=csv&for=update&group=" + gid(e.group))
	if r.code != 200 {
		t.Fatalf("download: %d", r.code)
	}
	up := owner.upload("/credentials/updates", "same.csv", []byte(r.body))
	r2 := owner.get(up.location)
	contains(t, r2.body, "0 credentials change; 4 rows are unchanged; 1 row has a problem", `id="nothing-to-apply"`)

	recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(r.body, "\ufeff"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs[1:] {
		if rec[2] == "Learner 2" {
			rec[3] = "learner2.new@example.edu"
		}
	}
	var b strings.Builder
	w := csv.NewWriter(&b)
	w.WriteAll(recs)
	up = owner.upload("/credentials/updates", "changed.csv", []byte(b.String()))
	emails := e.count(`SELECT count(*) FROM credential_emails`)
	r = owner.post(up.location+"/apply", url.Values{"notify": {"1"}})
	contains(t, owner.follow(r).body, "Updated 1 credential. 1 email queued for sending.")
	if e.count(`SELECT count(*) FROM credential_emails WHERE to_address = 'learner2.new@example.edu'`) != 1 || e.count(`SELECT count(*) FROM credential_emails`) != emails+1 {
		t.Error("want one email to the new address")
	}

	// Ticked rows of a list download for update on their own; one of
	// another group in the request is not a team member's to download.
	member := e.signIn("member@example.edu", auth.TeamMember, e.group.ID)
	r = member.post("/credentials/bulk?group="+gid(e.group)+"&state=published", url.Values{"action": {"download"},
		"ids": {e.bulkID("Learner 1", e.group.ID), e.bulkID("Learner 3", e.group.ID), e.bulkID("Learner 1", e.other.ID)}})
	if r.code != 303 || !strings.HasPrefix(r.location, "/credentials/export?") {
		t.Fatalf("download ticked: %d %s", r.code, r.location)
	}
	r = member.follow(r)
	xf, err := excelize.OpenReader(strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := xf.GetRows("Sheet1")
	if len(got) != 3 || got[1][2] != "Learner 1" || got[2][2] != "Learner 3" {
		t.Errorf("ticked download: %v", got)
	}

	before := e.snapshot()
	n := e.count(`SELECT count(*) FROM credential_updates`)
	r = owner.upload("/credentials/updates", "wrong.csv", []byte("Name,Email\nAda,ada@example.edu\n"))
	if r.code != 422 {
		t.Fatalf("file without IDs: %d", r.code)
	}
	contains(t, r.body, "The file has no “Credential ID” column.")
	if e.snapshot() != before || e.count(`SELECT count(*) FROM credential_updates`) != n {
		t.Error("a refused file changed the database")
	}
}

func mustDate(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := time.Parse(issuance.DateLayout, s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
