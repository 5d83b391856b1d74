package uitest

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/auth"
)

// The seed workflow: Groups → group → "Create Credentials" with two rows →
// created unpublished (Post/Redirect/Get, flash) → review list → open one by
// ID → amend → select → Publish → Confirm → published with two emails.
func TestSeedWorkflow(t *testing.T) {
	e := mustEnv(t)
	c := e.signIn("owner@example.edu", auth.Owner)
	g := gid(e.group)

	r := c.get("/groups")
	contains(t, r.body, `href="/groups/`+g+`">Data Science 101</a>`, `href="/groups/new"`)

	r = c.get("/groups/" + g + "/credentials/new")
	if r.code != 200 {
		t.Fatalf("create form: %d", r.code)
	}
	contains(t, r.body, `id="name_0"`, `id="email_0"`, `id="issued_on_0"`, `id="attr_grade_0"`, `id="attr_hours_0"`,
		`id="add-recipient"`, `id="create-credentials"`, `>Recipient Name<`, `>Recipient Email<`, `>Issue Date<`, `>Grade *<`, `>Hours<`)

	r = c.post("/groups/"+g+"/credentials/new", url.Values{
		"action": {"create"},
		"name_0": {"Ada Lovelace"}, "email_0": {"ada@example.edu"}, "issued_on_0": {"2026-06-30"}, "attr_grade_0": {"A"}, "attr_hours_0": {"40"},
		"name_1": {"Alan Turing"}, "email_1": {"alan@example.edu"}, "issued_on_1": {"2026-06-30"}, "attr_grade_1": {"B"},
	})
	if r.code != http.StatusSeeOther || r.location != "/groups/"+g+"/unpublished" {
		t.Fatalf("create: %d %q\n%s", r.code, r.location, r.body)
	}
	if n := e.count(`SELECT count(*) FROM credentials WHERE state = 'unpublished' AND source = 'form'`); n != 2 {
		t.Fatalf("%d unpublished credentials, want 2", n)
	}
	if n := e.count(`SELECT count(*) FROM jobs`); n != 0 {
		t.Fatalf("creating queued %d jobs; nothing may be sent before publishing", n)
	}
	r = c.follow(r)
	contains(t, r.body, `id="flash"`, "2 credentials created (unpublished)", "Ada Lovelace", "alan@example.edu", `id="select-all"`, `id="publish"`, "2 unpublished credentials")
	// Reloading the list does not show the flash again (it was one-shot).
	if r2 := c.get("/groups/" + g + "/unpublished"); strings.Contains(r2.body, "credentials created") {
		t.Errorf("flash shown twice")
	}

	// Open Ada's credential by its ID and amend her name.
	var adaID string
	if err := e.db.Get(&adaID, `SELECT id FROM credentials WHERE recipient_email = 'ada@example.edu'`); err != nil {
		t.Fatal(err)
	}
	contains(t, r.body, `href="/credentials/`+adaID+`"`)
	r = c.get("/credentials/" + adaID)
	contains(t, r.body, "Certificate of Completion", "Ada Lovelace", `id="amend-form"`, `value="A"`, `id="publish-one"`)
	r = c.post("/credentials/"+adaID, url.Values{"name": {"Ada King"}, "email": {"ada@example.edu"}, "issued_on": {"2026-06-30"}, "attr_grade": {"A+"}, "attr_hours": {"40"}})
	if r.code != http.StatusSeeOther {
		t.Fatalf("amend: %d\n%s", r.code, r.body)
	}
	r = c.follow(r)
	// History: sentences naming the field by its label, who by name and
	// when in the organisation's words (never keys, codes or ISO times).
	contains(t, r.body, "Credential amended.", "Ada King", "A&#43;")
	if strings.Contains(r.body, "user:1:") {
		t.Error("history shows the raw actor")
	}
	if !regexp.MustCompile(`<li>Name changed from “Ada Lovelace” to “Ada King” by owner on \d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2}</li>`).MatchString(r.body) {
		t.Errorf("history does not read \"Name changed from “Ada Lovelace” to “Ada King” by owner on 1 Dec 2026, 14:05\":\n%s", r.body)
	}
	for _, code := range []string{"recipient.name", "attributes.grade", "issued_on"} {
		if strings.Contains(r.body, "<li>"+code) {
			t.Errorf("history names the field %s", code)
		}
	}

	// Select both, Publish → Confirm page with the counts → Confirm.
	var ids []string
	if err := e.db.Select(&ids, `SELECT id FROM credentials ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	r = c.post("/groups/"+g+"/publish/confirm", url.Values{"ids": ids})
	contains(t, r.body, "Publish 2 credentials and send 2 emails?", `id="confirm"`)
	if e.count(`SELECT count(*) FROM credentials WHERE state = 'published'`) != 0 {
		t.Fatal("the confirm page published")
	}
	r = c.post("/groups/"+g+"/publish", url.Values{"ids": ids})
	if r.code != http.StatusSeeOther {
		t.Fatalf("publish: %d\n%s", r.code, r.body)
	}
	r = c.follow(r)
	contains(t, r.body, "Published 2 credentials; 2 emails queued for sending.")
	if n := e.count(`SELECT count(*) FROM credentials WHERE state = 'published'`); n != 2 {
		t.Fatalf("%d published, want 2", n)
	}
	if n := e.count(`SELECT count(*) FROM credential_emails`); n != 2 {
		t.Fatalf("%d emails, want 2", n)
	}
	// The public page shows the amended name.
	pub := c.get("/c/" + adaID)
	contains(t, pub.body, "Ada King")

	// Published tab lists them; the credential page offers resend and revoke.
	contains(t, c.get("/groups/"+g+"/published").body, "Ada King", "Alan Turing")
	r = c.get("/credentials/" + adaID)
	contains(t, r.body, `id="resend"`, `id="revoke"`, "published")
	r = c.post("/credentials/"+adaID+"/revoke", url.Values{"reason": {""}})
	if r.code != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="reason-error"`) {
		t.Fatalf("revoke without reason: %d", r.code)
	}
	r = c.follow(c.post("/credentials/"+adaID+"/resend", nil))
	contains(t, r.body, "Email to ada@example.edu queued for sending.")
	// Revoking asks first: the first post only shows the reason to confirm.
	r = c.post("/credentials/"+adaID+"/revoke", url.Values{"reason": {"Issued in error"}})
	contains(t, r.body, `id="confirm-question"`, "Revoke the credential of Ada King?", `name="confirm" value="1"`, "Issued in error")
	if n := e.count(`SELECT count(*) FROM credentials WHERE state = 'revoked'`); n != 0 {
		t.Fatalf("revoked before confirming: %d", n)
	}
	r = c.follow(c.post("/credentials/"+adaID+"/revoke", url.Values{"reason": {"Issued in error"}, "confirm": {"1"}}))
	contains(t, r.body, "Credential revoked.", "Issued in error", "revoked")
	if n := e.count(`SELECT count(*) FROM credentials WHERE state = 'revoked'`); n != 1 {
		t.Fatalf("%d revoked", n)
	}
	contains(t, c.get("/groups/"+g+"/published?state=revoked").body, "Ada King")
}

// Without JavaScript, "Add Another Recipient" submits the form: the rows
// come back with their values plus an empty one, and nothing is created.
func TestAddRowWithoutJavaScript(t *testing.T) {
	e := mustEnv(t)
	c := e.signIn("owner@example.edu", auth.Owner)
	r := c.post("/groups/"+gid(e.group)+"/credentials/new", url.Values{
		"action": {"add-row"}, "name_0": {"Ada"}, "email_0": {"ada@example.edu"}, "issued_on_0": {"2026-06-30"}, "attr_grade_0": {"A"},
	})
	if r.code != 200 {
		t.Fatalf("add row: %d", r.code)
	}
	contains(t, r.body, `id="name_0" name="name_0" value="Ada"`, `value="ada@example.edu"`, `id="name_1"`, `id="email_1"`, `id="issued_on_1"`)
	if strings.Contains(r.body, `id="name_2"`) {
		t.Error("more than one row added")
	}
	if n := e.count(`SELECT count(*) FROM credentials`); n != 0 {
		t.Fatalf("add-row created %d credentials", n)
	}
}

// Each field's bad input: 422, the message next to that field of that row,
// every entered value kept, and nothing created.
func TestCreateCredentialsValidation(t *testing.T) {
	e := mustEnv(t)
	c := e.signIn("owner@example.edu", auth.Owner)
	g := gid(e.group)
	e.seed(e.group.ID, 1) // learner1@example.edu already holds one
	good := func(i string) url.Values {
		return url.Values{"name_" + i: {"Ada"}, "email_" + i: {"ada" + i + "@example.edu"}, "issued_on_" + i: {"2026-06-30"}, "attr_grade_" + i: {"A"}, "attr_hours_" + i: {"12"}}
	}
	cases := []struct {
		name  string
		field string // input id of row 1 that must carry the error
		value string
		msg   string
	}{
		{"missing name", "name_1", "", "name"},
		{"bad email", "email_1", "not-an-email", "email"},
		{"missing issue date", "issued_on_1", "", "Issue date is required."},
		{"unparseable date", "issued_on_1", "30/06/2026", "Issue date must be a date"},
		{"missing required attribute", "attr_grade_1", "", "Grade is required."},
		{"not a number", "attr_hours_1", "forty", "Hours must be a number"},
		{"already holds one", "email_1", "learner1@example.edu", "learner1@example.edu"},
		{"duplicate in form", "email_1", "ada0@example.edu", "appears more than once"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot()
			form := good("0")
			for k, v := range good("1") {
				form[k] = v
			}
			form.Set(tc.field, tc.value)
			form.Set("action", "create")
			r := c.post("/groups/"+g+"/credentials/new", form)
			if r.code != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422\n%s", r.code, r.body)
			}
			re := regexp.MustCompile(`<span class="field-error" id="` + tc.field + `-error">([^<]*)</span>`)
			m := re.FindStringSubmatch(r.body)
			if m == nil || !strings.Contains(html.UnescapeString(m[1]), tc.msg) {
				t.Fatalf("no error %q next to %s; got %v\n%s", tc.msg, tc.field, m, r.body)
			}
			if !strings.Contains(r.body, `aria-describedby="`+tc.field+`-error"`) {
				t.Errorf("%s is not described by its error", tc.field)
			}
			// Row 0 is fine and carries no error; its values are kept.
			if strings.Contains(r.body, `id="name_0-error"`) || strings.Contains(r.body, `id="email_0-error"`) {
				t.Errorf("row 0 marked wrong")
			}
			contains(t, r.body, `value="ada0@example.edu"`, "Nothing was created")
			if tc.value != "" {
				contains(t, r.body, `value="`+html.EscapeString(tc.value)+`"`)
			}
			if after := e.snapshot(); after != before {
				t.Fatalf("database changed:\n%s\n%s", before, after)
			}
		})
	}
	// A form with only empty rows creates nothing and says so.
	r := c.post("/groups/"+g+"/credentials/new", url.Values{"action": {"create"}, "name_0": {""}, "email_0": {""}, "issued_on_0": {"2026-06-30"}})
	if r.code != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="name_0-error">Enter at least one recipient.`) {
		t.Fatalf("empty form: %d\n%s", r.code, r.body)
	}
}
