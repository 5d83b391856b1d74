package app_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/laurel-edu/laurel/internal/browsertest"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/reminders"
)

// TestReminderSettingsInBrowser: in a real Chromium the owner previews and
// saves the organisation's expiry reminders (a bad list of days is named on
// the form and stores nothing), gives a group its own, sees them summed up
// on the group page; the settings pages and a recipient's renewal page are
// axe-clean and fit at 1280 and 390 px.
func TestReminderSettingsInBrowser(t *testing.T) {
	axe := browsertest.AxeScript(t)
	app := mustRun(t)
	ctx := context.Background()
	g, _ := seedOwnerAndCredential(t, app)
	o, err := app.Issuance.Organisation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	o.Name = "University of Example"
	if _, err := app.Issuance.UpdateOrganisation(ctx, "test", issuance.OrganisationUpdate{Organisation: o}); err != nil {
		t.Fatal(err)
	}
	b := browsertest.New(t, browsertest.Options{})
	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		browsertest.Step(t, b, name, actions...)
	}
	submit := func(sel string) int64 {
		t.Helper()
		sctx, cancel := context.WithTimeout(b, 30*time.Second)
		defer cancel()
		resp, err := chromedp.RunResponse(sctx, chromedp.Click(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("click %s: %v", sel, err)
		}
		return resp.Status
	}
	text := func(sel string) string { t.Helper(); return browsertest.Text(t, b, sel) }
	replace := func(sel, value string) chromedp.Action[chromedp.Void] {
		return chromedp.SetValue(chromedp.CSS(sel), value)
	}
	stored := func() string {
		t.Helper()
		var s string
		if err := app.DB.Get(&s, `SELECT coalesce(string_agg(row_to_json(r)::text, ',' ORDER BY group_id NULLS FIRST), '') FROM reminder_settings r`); err != nil {
			t.Fatal(err)
		}
		return s
	}
	audit := func(name string) {
		t.Helper()
		for _, w := range []int64{1280, 390} {
			step(name+": viewport", chromedp.EmulateViewport(w, 844), browsertest.Relayout)
			ov, err := chromedp.Run(b, chromedp.Evaluate[overflow](overflowJS))
			if err != nil {
				t.Fatal(err)
			}
			if ov.ScrollWidth > ov.InnerWidth {
				t.Errorf("%s at %d px scrolls sideways: %s", name, w, strings.Join(ov.Offenders, "; "))
			}
			vs, err := browsertest.Audit(b, axe)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			for _, v := range vs {
				t.Errorf("%s at %d px: axe: %s", name, w, v)
			}
		}
		step(name+": back to 1280", chromedp.EmulateViewport(1280, 844))
	}

	step("sign in and open the organisation's reminders",
		chromedp.EmulateViewport(1280, 844),
		chromedp.Navigate(app.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS("#email"), "it@uni.example.edu"),
		chromedp.SendKeys(chromedp.CSS("#password"), ownerPassword),
		chromedp.Click(chromedp.CSS("#sign-in")),
		chromedp.WaitVisible(chromedp.CSS("#groups")),
		chromedp.Navigate(app.URL+"/admin/organisation"),
		chromedp.Click(chromedp.CSS("#reminders-link a")),
		chromedp.WaitVisible(chromedp.CSS("#reminders-form")),
	)
	offsets, err := chromedp.Run(b, chromedp.Value(chromedp.CSS("#offsets")))
	if err != nil || offsets != "30, 7" {
		t.Fatalf("default days %q, %v", offsets, err)
	}
	audit("organisation reminders")

	// A bad list of days: named, nothing stored.
	before := stored()
	step("type a bad list", replace("#offsets", "30, soon"))
	if st := submit("#save-reminders"); st != http.StatusUnprocessableEntity {
		t.Fatalf("bad days: status %d", st)
	}
	if got := text("#offsets-error"); !strings.Contains(got, `"soon" is not a number of days`) {
		t.Fatalf("offsets error %q", got)
	}
	if stored() != before {
		t.Fatal("a refused form changed the settings")
	}
	audit("organisation reminders with an error")

	// The preview fills the placeholders, the expiry date included.
	step("write the reminder", replace("#offsets", "60, 30, 7"),
		replace("#reminder_subject", "{issuer_name}: {credential_name} ends on {expires_on}"),
		chromedp.Click(chromedp.CSS("#renewal")))
	if st := submit("#preview-reminder"); st != http.StatusOK {
		t.Fatalf("preview: status %d", st)
	}
	subj := text("#preview-subject")
	if !strings.HasPrefix(subj, "University of Example: Introduction to Data Science ends on ") || strings.Contains(subj, "{") {
		t.Fatalf("preview subject %q", subj)
	}
	if got := text("#preview-text"); !strings.Contains(got, "Ask to renew your credential") {
		t.Fatalf("preview without the renewal link: %q", got)
	}
	if stored() != before {
		t.Fatal("the preview changed the settings")
	}
	audit("organisation reminders preview")
	if st := submit("#save-reminders"); st != http.StatusOK {
		t.Fatalf("save: status %d", st)
	}
	if f := text("#flash"); !strings.Contains(f, "Expiry reminder settings saved.") {
		t.Fatalf("flash %q", f)
	}
	rs, err := app.Reminders.Organisation(ctx)
	if err != nil || fmt.Sprint(rs.Offsets) != "[60 30 7]" || !rs.Renewal || rs.ReminderSubject != "{issuer_name}: {credential_name} ends on {expires_on}" {
		t.Fatalf("stored %+v, %v", rs, err)
	}

	// The group: the organisation's settings until it has its own.
	gp := fmt.Sprintf("/groups/%d", g.ID)
	step("open the group", chromedp.Navigate(app.URL+gp), chromedp.WaitVisible(chromedp.CSS("#group-reminders")))
	if got := text("#reminders-summary"); got != "Reminders 60, 30 and 7 days before the expiry date; an email once it has expired; recipients may ask to renew. (the organisation's settings)" {
		t.Fatalf("group summary %q", got)
	}
	step("change the group's", chromedp.Click(chromedp.CSS("#edit-reminders")), chromedp.WaitVisible(chromedp.CSS("#reminders-form")))
	audit("group reminders")
	step("give the group its own", chromedp.Click(chromedp.CSS("#own-yes")), replace("#offsets", "14"), chromedp.Click(chromedp.CSS("#expired_email")))
	if st := submit("#save-reminders"); st != http.StatusOK {
		t.Fatalf("save the group's: status %d", st)
	}
	step("back to the group", chromedp.Navigate(app.URL+gp), chromedp.WaitVisible(chromedp.CSS("#group-reminders")))
	if got := text("#reminders-summary"); got != "Reminders 14 days before the expiry date; no email once it has expired; recipients may ask to renew." {
		t.Fatalf("group summary after its own %q", got)
	}

	// A recipient's renewal page, signed out.
	expires := reminders.Day(time.Now(), o.TimeZone).AddDate(0, 0, 10).Format(issuance.DateLayout)
	cs, err := app.Issuance.CreateCredentials(ctx, "test", g.ID, issuance.FromForm, []issuance.NewCredential{
		{Recipient: issuance.Recipient{Name: "Ada Lovelace", Email: "ada@uni.example.edu"}, IssuedOn: "2026-11-20", ExpiresOn: expires}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.Issuance.Publish(ctx, "test", issuance.Selection{IDs: []string{cs[0].ID}}); err != nil {
		t.Fatal(err)
	}
	step("sign out", chromedp.Navigate(app.URL+"/logout"))
	step("the public page links the renewal", chromedp.Navigate(app.URL+"/c/"+cs[0].ID), chromedp.WaitVisible(chromedp.CSS("#renew-link a")),
		chromedp.Click(chromedp.CSS("#renew-link a")), chromedp.WaitVisible(chromedp.CSS("#renew-ask")))
	audit("renewal page")
	if st := submit("#renew-ask"); st != http.StatusOK {
		t.Fatalf("ask: status %d", st)
	}
	if got := text("#renew-sent"); !strings.Contains(got, "Your request was sent to University of Example.") {
		t.Fatalf("after asking: %q", got)
	}
	audit("renewal sent")
}
