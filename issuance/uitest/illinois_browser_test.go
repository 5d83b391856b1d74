package uitest

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/browsertest"
	"github.com/laurel-edu/laurel/internal/mail"
	"github.com/laurel-edu/laurel/issuance"
)

// isoDateRE is a date or time as a machine writes it (2026-12-07T07:33).
var isoDateRE = regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}\b`)

// The University of Illinois guide (the seed's PRODUCT.md), steps 1–8
// as written, by a new Team Member in a real Chromium and through the pages
// only: find the attribute variables in the Attributes section and create
// one; save a CSV with names, emails, issue date and that variable; create
// a certificate design from a template; create a group with that design and
// variable; Credentials tab → Create Credentials → Single Group → upload
// the CSV (column matching names the variable) and → the form for one more;
// review, open one by its ID and amend it, select all and Publish; confirm
// (recipients named, email previewed): every recipient gets exactly one
// email with the link to their live credential, whose public page shows the
// name and the public variable. Every main page is axe-clean and fits at
// 1280 and 390 px. Run twice: by a team member of every group, and by one
// limited to another group (the group they create joins their limit).
func TestBrowserIllinoisGuide(t *testing.T) {
	t.Run("team member of every group", func(t *testing.T) { illinoisGuide(t, false) })
	t.Run("team member limited to another group", func(t *testing.T) { illinoisGuide(t, true) })
}

func illinoisGuide(t *testing.T, limited bool) {
	axe := browsertest.AxeScript(t)
	e := mustEnv(t) // it holds "Data Science 101" with a Grade: the guide's new variable is another one
	e.runImportWorker()
	catcher, err := mail.NewCatcher("")
	if err != nil {
		t.Fatal(err)
	}
	defer catcher.Close()
	ctx := context.Background()
	// The owner has named the organisation (its page is not the guide's).
	org, err := e.svc.Organisation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	org.Name = "University of Illinois Example"
	if _, err := e.svc.UpdateOrganisation(ctx, "test", issuance.OrganisationUpdate{Organisation: org}); err != nil {
		t.Fatal(err)
	}
	// A team member, as an owner invites one.
	var limit []int64
	if limited {
		limit = []int64{e.other.ID}
	}
	if _, _, err := e.accts.CreateUser(ctx, "tess@example.edu", "Tess Team", auth.TeamMember, limit, password); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t, "tess@example.edu")
	b.run(chromedp.EmulateViewport(1280, 844))

	// 1. "attribute variables … in the Attributes section of your dashboard".
	b.run(chromedp.Click("#nav-attributes"), chromedp.WaitVisible("#standard-attributes"))
	if h := b.text("h1"); h != "Attributes" {
		t.Fatalf("step 1: heading %q", h)
	}
	label := func(key string) string {
		t.Helper()
		return b.text("#attr-" + key + " td:first-child")
	}
	nameCol, emailCol, dateCol := label("recipient_name"), label("recipient_email"), label("issued_on")
	if nameCol == "" || emailCol == "" || dateCol == "" {
		t.Fatalf("step 1: standard variables %q %q %q", nameCol, emailCol, dateCol)
	}
	if got := b.text("#attr-grade"); !strings.Contains(got, "Grade") || strings.Contains(got, "Data Science 101") != !limited {
		t.Errorf("step 1: the existing variable and where it is used: %q", got)
	}
	b.checkPage("attributes section", axe)
	b.run(chromedp.SendKeys("#new-label", "Final Grade"),
		chromedp.SetValue("#new-type", "text"),
		chromedp.SetValue("#new-visibility", "public"),
		chromedp.Click("#create-attribute"),
		chromedp.WaitVisible("#attr-final_grade"))
	if got := b.text("#attr-final_grade"); !strings.Contains(got, "Final Grade") || !strings.Contains(got, "Text") || !strings.Contains(got, "Public") {
		t.Errorf("step 1: created variable reads %q", got)
	}

	// 2. The CSV with names, emails, issue date "and any attribute
	// variables", its headers as the Attributes section names them.
	csvPath := filepath.Join(t.TempDir(), "spring-cohort.csv")
	csv := nameCol + "," + emailCol + "," + dateCol + ",Final Grade\r\n" +
		"Ada Lovelace,ada@example.edu,2026-06-30,A\r\n" +
		"Alan Turing,alan@example.edu,2026-06-30,B+\r\n" +
		"Grace Hopper,grace@example.edu,2026-06-30,A-\r\n"
	if err := os.WriteFile(csvPath, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}

	// 3. "Create Certificate Design": a template from the gallery, saved.
	b.run(chromedp.Click("#nav-designs"), chromedp.WaitVisible("#create-certificate-design"),
		chromedp.Click("#create-certificate-design"), chromedp.WaitVisible("#templates-certificate"))
	if h := b.text("h1"); h != "Create Certificate Design" {
		t.Errorf("step 3: gallery heading %q", h)
	}
	b.checkPage("certificate gallery", axe)
	b.run(chromedp.Click("#use-classic"), chromedp.WaitVisible("#design-form"), chromedp.SendKeys("#name", "Spring certificate"))
	// The new variable can be placed before any group uses it.
	if got := b.text(`label:has(#print_attr_final_grade)`); !strings.Contains(got, "Final Grade") || !strings.Contains(got, "none of your groups uses it yet") {
		t.Errorf("step 3: the design form offers the new variable as %q", got)
	}
	b.run(chromedp.Click("#print_attr_final_grade"))
	b.waitFor("the variable in the preview", `(document.querySelector('#design-preview .certificate')||{textContent:''}).textContent.includes('(Final Grade)')`)
	b.checkPage("certificate design form", axe)
	b.run(chromedp.Click("#save-design"), chromedp.WaitVisible("#designs"))
	if got := b.text("#designs"); !strings.Contains(got, "Spring certificate") {
		t.Fatalf("step 3: designs list %q", got)
	}
	var designID int64
	if err := e.db.Get(&designID, `SELECT id FROM designs WHERE name = 'Spring certificate' AND 'final_grade' = ANY(printed_attributes)`); err != nil {
		t.Fatalf("step 3: the design printing Final Grade: %v", err)
	}

	// 4. A group with that design, picking the new variable.
	b.run(chromedp.Click("#nav-groups"), chromedp.WaitVisible("#new-group"), chromedp.Click("#new-group"), chromedp.WaitVisible("#group-form"))
	if !b.eval(`[...document.querySelectorAll('#design_id option')].some(o => o.textContent.startsWith('Spring certificate'))`) {
		t.Fatalf("step 4: the design is not offered: %s", b.text("#design_id"))
	}
	if !b.eval(`[...document.querySelectorAll('#attr_key_0 option')].some(o => o.value === 'final_grade' && o.textContent.startsWith('Final Grade'))`) {
		t.Fatalf("step 4: the variable is not offered: %s", b.text("#attr_key_0"))
	}
	// Result types read as words, as in the Attributes section.
	if !b.eval(`[...document.querySelectorAll('#attr_result_type_0 option')].some(o => o.value === 'LetterGrade' && o.textContent === 'Letter grade')`) ||
		b.eval(`[...document.querySelectorAll('#group-form option')].some(o => /[a-z][A-Z]/.test(o.textContent))`) {
		t.Errorf("step 4: the form offers codes: %s", b.text("#attr_result_type_0"))
	}
	b.checkPage("new group form", axe)
	b.run(chromedp.EmulateViewport(1280, 844),
		chromedp.SendKeys("#name", "Spring Cohort 2026"), chromedp.SendKeys("#course_name", "CS 101"),
		chromedp.SetValue("#design_id", sprint(designID)),
		chromedp.SetValue("#attr_key_0", "final_grade"),
		chromedp.Click("#attr_required_0"),
		chromedp.SetValue("#attr_result_type_0", "LetterGrade"),
		chromedp.Click("#save-group"), chromedp.WaitVisible("#group-name"))
	if got := b.text("#group-name"); got != "Spring Cohort 2026" {
		t.Fatalf("step 4: group page %q", got)
	}
	var groupID int64
	if err := e.db.Get(&groupID, `SELECT id FROM groups WHERE name = 'Spring Cohort 2026' AND design_id = $1`, designID); err != nil {
		t.Fatalf("step 4: the group with the design: %v", err)
	}
	if got := b.text("#group-attributes"); !strings.Contains(got, "Final Grade") || !strings.Contains(got, "Letter grade") {
		t.Errorf("step 4: the group's attributes %q", got)
	}
	if got := b.text("#group-language"); got != "English" {
		t.Errorf("step 4: the group's language reads %q", got)
	}
	b.checkPage("group page", axe)

	// 5. Credentials tab → Create Credentials → Single Group → the group →
	// upload the CSV; column matching names the variable; create.
	b.run(chromedp.Click("#nav-credentials"), chromedp.WaitVisible("#create-credentials"))
	b.checkPage("credentials tab", axe)
	b.run(chromedp.Click("#create-credentials"), chromedp.WaitVisible("#single-group-form"))
	if got := b.text("#single-group-title"); got != "Single Group" {
		t.Errorf("step 5: %q", got)
	}
	b.checkPage("create credentials", axe)
	if !b.eval(`!!document.querySelector('#group option[value="`+sprint(groupID)+`"]')`) ||
		b.eval(`[...document.querySelectorAll('#group option')].some(o => o.textContent === 'Data Science 101')`) != !limited {
		t.Errorf("step 5: the groups offered: %s", b.text("#group"))
	}
	b.run(chromedp.SetValue("#group", sprint(groupID)), chromedp.Click("#single-upload"), chromedp.WaitVisible("#upload-form"))
	if got := b.text("main"); !strings.Contains(got, "Spring Cohort 2026") {
		t.Errorf("step 5: the upload page does not name the group: %q", got)
	}
	b.checkPage("upload page", axe)
	b.run(chromedp.SetUploadFiles("#file", []string{csvPath}), chromedp.Click("#upload"), chromedp.WaitVisible("#mapping-form"))
	b.waitFor("the checked file", `!!document.querySelector('#commit')`)
	// Every column is matched to what the Attributes section calls it.
	matched := b.text("#mapping")
	for _, want := range []string{nameCol, emailCol, dateCol, "Final Grade"} {
		if !strings.Contains(matched, want) {
			t.Errorf("step 5: column matching lacks %q: %s", want, matched)
		}
	}
	if !b.eval(`[...document.querySelectorAll('#mapping select')].some(s => s.dataset.header === 'Final Grade' && s.options[s.selectedIndex].textContent.includes('Final Grade'))`) {
		t.Errorf("step 5: the Final Grade column is not matched to the variable: %s", matched)
	}
	if got := b.text("#count-valid"); got != "3" {
		t.Errorf("step 5: %s valid rows, want 3: %s", got, b.text("main"))
	}
	if got := b.text("#import-preview"); !strings.Contains(got, "Grace Hopper") || !strings.Contains(got, "B+") {
		t.Errorf("step 5: preview %q", got)
	}
	b.checkPage("column matching", axe)
	b.run(chromedp.Click("#commit"), chromedp.WaitVisible("#import-committed"))
	if n := e.count(`SELECT count(*) FROM credentials WHERE group_id = $1 AND state = 'unpublished'`, groupID); n != 3 {
		t.Fatalf("step 5: %d unpublished credentials, want 3", n)
	}

	// 6. "Create Credentials via Form" for one more recipient.
	b.run(chromedp.Click("#nav-credentials"), chromedp.WaitVisible("#create-credentials"), chromedp.Click("#create-credentials"),
		chromedp.WaitVisible("#single-group-form"), chromedp.SetValue("#group", sprint(groupID)), chromedp.Click("#single-form"),
		chromedp.WaitVisible("#name_0"))
	b.checkPage("form", axe)
	b.run(chromedp.EmulateViewport(1280, 844),
		chromedp.SendKeys("#name_0", "Katherine Johnson"), chromedp.SendKeys("#email_0", "katherine@example.edu"),
		chromedp.SetValue("#issued_on_0", "2026-06-30"), chromedp.SendKeys("#attr_final_grade_0", "A+"),
		chromedp.Click("#create-credentials"), chromedp.WaitVisible("#flash"))
	if got := b.text("#flash"); !strings.Contains(got, "1 credential created (unpublished)") {
		t.Errorf("step 6: flash %q", got)
	}

	// 7. Review Unpublished: open one by its ID, amend it; select all,
	// Publish.
	b.run(chromedp.Click("#tab-unpublished"), chromedp.WaitVisible("#credentials"))
	if got := b.text("#unpublished-total"); got != "4 unpublished credentials in this group." {
		t.Errorf("step 7: %q", got)
	}
	b.checkPage("review unpublished", axe)
	var alanID string
	if err := e.db.Get(&alanID, `SELECT id FROM credentials WHERE recipient_email = 'alan@example.edu'`); err != nil {
		t.Fatal(err)
	}
	b.run(chromedp.EmulateViewport(1280, 844), chromedp.Click(`#cred-`+alanID+` .credential-link`), chromedp.WaitVisible("#amend-form"))
	if got := b.text("#credential-id"); got != alanID {
		t.Errorf("step 7: opened %q, want %q", got, alanID)
	}
	b.checkPage("credential page", axe)
	b.run(chromedp.EmulateViewport(1280, 844), chromedp.SetValue("#name", "Alan M. Turing"), chromedp.Click("#save-credential"),
		chromedp.WaitVisible("#flash"))
	if n := e.count(`SELECT count(*) FROM credentials WHERE id = $1 AND recipient_name = 'Alan M. Turing'`, alanID); n != 1 {
		t.Fatalf("step 7: the amendment was not saved: %s", b.text("main"))
	}
	if got := b.text("#flash"); got != "Credential amended." {
		t.Errorf("step 7: after amending: %q", got)
	}
	// The history says who changed what, in words and the organisation's
	// date format.
	if got := b.text("#history"); !strings.Contains(got, "Tess Team") || !strings.Contains(got, "Alan M. Turing") || isoDateRE.MatchString(got) {
		t.Errorf("step 7: history %q", got)
	}
	// Back to the list by the page's own trail.
	b.run(chromedp.Click(`main p.muted a[href="/groups/`+sprint(groupID)+`/unpublished"]`), chromedp.WaitVisible("#select-all-group"),
		chromedp.Click("#select-all-group"), chromedp.Click("#publish"), chromedp.WaitVisible("#confirm-question"))

	// 8. Confirm: the recipients by name and the email one of them gets.
	if got := b.text("#confirm-question"); got != "Publish 4 credentials and send 4 emails?" {
		t.Errorf("step 8: %q", got)
	}
	recipients := b.text("#recipients")
	for _, n := range []string{"Ada Lovelace", "Alan M. Turing", "Grace Hopper", "Katherine Johnson"} {
		if !strings.Contains(recipients, n) {
			t.Errorf("step 8: the confirm page does not name %s: %s", n, recipients)
		}
	}
	if got := b.text("#preview-text"); !strings.HasPrefix(got, "Hello ") || !strings.Contains(got, "/c/") || !strings.Contains(got, "University of Illinois Example") {
		t.Errorf("step 8: email preview %q", got)
	}
	b.checkPage("confirm page", axe)
	if n := e.count(`SELECT count(*) FROM jobs WHERE kind = $1`, issuance.EmailJob); n != 0 {
		t.Errorf("step 8: %d emails queued before the confirm", n)
	}
	b.run(chromedp.EmulateViewport(1280, 844), chromedp.Click("#confirm"), chromedp.WaitVisible("#flash"))
	if got := b.text("#flash"); !strings.Contains(got, "Published 4 credentials") {
		t.Errorf("step 8: flash %q", got)
	}
	e.sendAll(catcher.URL())
	msgs, err := catcher.WaitFor(4, 10*time.Second)
	if err != nil {
		t.Fatalf("step 8: %v (%d emails)", err, catcher.Len())
	}
	linkRE := regexp.MustCompile(`http://laurel\.test(/c/[A-Za-z0-9_-]+)`)
	perRecipient := map[string]int{}
	links := map[string]string{}
	for _, m := range msgs {
		for _, to := range m.To {
			perRecipient[to]++
		}
		l := linkRE.FindStringSubmatch(m.Text)
		if l == nil {
			t.Errorf("step 8: the email to %v has no link to the credential:\n%s", m.To, m.Text)
			continue
		}
		links[m.To[0]] = l[1]
		if m.To[0] == "alan@example.edu" && (!strings.Contains(m.Text, "Hello Alan M. Turing,") || !strings.Contains(m.Text, "Final Grade: B+")) {
			t.Errorf("step 8: Alan's email does not carry the amended name and his grade:\n%s", m.Text)
		}
	}
	var ids = map[string]string{}
	rows, err := e.db.Query(`SELECT recipient_email, id FROM credentials WHERE group_id = $1`, groupID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var em, id string
		if err := rows.Scan(&em, &id); err != nil {
			t.Fatal(err)
		}
		ids[em] = id
	}
	rows.Close()
	for _, to := range []string{"ada@example.edu", "alan@example.edu", "grace@example.edu", "katherine@example.edu"} {
		if perRecipient[to] != 1 {
			t.Errorf("step 8: %s got %d emails, want 1", to, perRecipient[to])
		}
		if links[to] != "/c/"+ids[to] {
			t.Errorf("step 8: %s's link %q, want /c/%s", to, links[to], ids[to])
		}
	}
	e.sendAll(catcher.URL()) // a second pass of the mail worker sends nothing more
	if len(msgs) != 4 || catcher.Len() != 4 {
		t.Errorf("step 8: %d emails sent, then %d, want 4", len(msgs), catcher.Len())
	}
	// The live credential, as Alan opens it from his email.
	b.run(chromedp.Navigate(b.base+links["alan@example.edu"]), chromedp.WaitVisible("main"))
	page := b.text("main")
	for _, want := range []string{"Alan M. Turing", "Final Grade", "B+", "Spring Cohort 2026", "University of Illinois Example"} {
		if !strings.Contains(page, want) {
			t.Errorf("step 8: the public page lacks %q: %s", want, page)
		}
	}
	if got := b.text(".certificate"); !strings.Contains(got, "B+") {
		t.Errorf("step 8: the certificate does not draw the grade: %s", got)
	}
	b.checkPage("public credential page", axe)
	if v := b.csp(); len(v) > 0 {
		t.Errorf("CSP violations: %v", v)
	}
}
