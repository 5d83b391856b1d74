package uitest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/browsertest"
	"github.com/laurel-edu/laurel/issuance"
)

// In Chromium, at 1280 and 390 px, each bulk change from the list that
// offers it: resend and revoke from the published list (revoke refused
// without a reason), the expiry date for all matching on the Credentials
// tab, delete from the review page. Every confirmation names how many and
// who, and every page is axe-clean without sideways scrolling.
func TestBrowserBulkActions(t *testing.T) {
	e := mustEnv(t)
	ctx := context.Background()
	if _, _, err := e.accts.CreateUser(ctx, "owner@example.edu", "Olive Owner", auth.Owner, nil, password); err != nil {
		t.Fatal(err)
	}
	groups := map[int64]issuance.Group{1280: e.group, 390: e.other}
	for _, g := range groups {
		e.seed(g.ID, 6)
		// Learner 1–4 published; 5 and 6 wait for review.
		if _, err := e.db.Exec(`UPDATE credentials SET state = 'published', published_at = now()
			WHERE group_id = $1 AND recipient_name IN ('Learner 1', 'Learner 2', 'Learner 3', 'Learner 4')`, g.ID); err != nil {
			t.Fatal(err)
		}
	}
	b := e.browser(t, "owner@example.edu")
	axe := browsertest.AxeScript(t)
	idOf := func(g int64, name string) string {
		var id string
		if err := e.db.Get(&id, `SELECT id FROM credentials WHERE group_id = $1 AND recipient_name = $2`, g, name); err != nil {
			t.Fatal(err)
		}
		return id
	}
	for _, w := range []int64{1280, 390} {
		g := groups[w]
		at := fmt.Sprintf("at %d px: ", w)
		b.run(chromedp.EmulateViewport(w, 844))

		// Resend to two from the published list.
		b.run(chromedp.Navigate(b.base+"/groups/"+gid(g)+"/published"), chromedp.WaitVisible("#bulk-bar"))
		b.audit(at+"published list", axe)
		b.run(chromedp.Click("#select-"+idOf(g.ID, "Learner 1")), chromedp.Click("#select-"+idOf(g.ID, "Learner 2")),
			chromedp.SetValue("#bulk-action", "resend"), chromedp.Click("#bulk-continue"), chromedp.WaitVisible("#confirm-question"))
		if got := b.text("#confirm-question"); got != "Send the credential email again to 2 recipients?" {
			t.Errorf("%sresend question %q", at, got)
		}
		if got := b.text("#bulk-names"); got != "Learner 1 learner1@example.edu\nLearner 2 learner2@example.edu" {
			t.Errorf("%sresend names %q", at, got)
		}
		b.audit(at+"resend confirmation", axe)
		b.run(chromedp.Click("#confirm"), chromedp.WaitVisible("#flash"))
		if got := b.text("#flash"); got != "2 emails queued for sending." {
			t.Errorf("%sresend flash %q", at, got)
		}

		// Revoke one, first without a reason.
		b.run(chromedp.Click("#select-"+idOf(g.ID, "Learner 3")), chromedp.SetValue("#bulk-action", "revoke"),
			chromedp.Click("#bulk-continue"), chromedp.WaitVisible("#reason"))
		if got := b.text("#confirm-question"); got != "Revoke 1 credential?" {
			t.Errorf("%srevoke question %q", at, got)
		}
		b.audit(at+"revoke confirmation", axe)
		b.run(chromedp.Click("#confirm"), chromedp.WaitVisible("#reason-error"))
		b.audit(at+"revoke without a reason", axe)
		b.run(chromedp.SendKeys("#reason", "Awarded by mistake"), chromedp.Click("#confirm"), chromedp.WaitVisible("#flash"))
		if got := b.text("#flash"); got != "Revoked 1 credential." {
			t.Errorf("%srevoke flash %q", at, got)
		}

		// Expiry date for all matching the group on the Credentials tab.
		b.run(chromedp.Navigate(b.base+"/credentials?group="+gid(g)), chromedp.WaitVisible("#bulk-bar"))
		b.audit(at+"Credentials tab with bulk actions", axe)
		b.run(chromedp.Click("#bulk-all"), chromedp.SetValue("#bulk-action", "expiry"), chromedp.Click("#bulk-continue"),
			chromedp.WaitVisible("#expires_on"))
		if got := b.text("#bulk-selected"); got != "You selected all 6 credentials matching the filter (group: "+g.Name+")." {
			t.Errorf("%sexpiry selection %q", at, got)
		}
		if got := b.text("#bulk-skipped"); got != "1 is revoked and cannot be changed." {
			t.Errorf("%sexpiry skipped %q", at, got)
		}
		b.audit(at+"expiry confirmation", axe)
		b.run(chromedp.SetValue("#expires_on", "2030-01-31"), chromedp.Click("#confirm"), chromedp.WaitVisible("#flash"))
		if got := b.text("#flash"); got != "Changed the expiry date of 5 credentials." {
			t.Errorf("%sexpiry flash %q", at, got)
		}
		if n := e.count(`SELECT count(*) FROM credentials WHERE group_id = $1 AND expires_on = '2030-01-31'`, g.ID); n != 5 {
			t.Errorf("%s%d expire on the new date, want 5", at, n)
		}

		// Delete one unpublished from the review page.
		b.run(chromedp.Navigate(b.base+"/groups/"+gid(g)+"/unpublished"), chromedp.WaitVisible("#bulk-bar"))
		b.audit(at+"review list", axe)
		b.run(chromedp.Click("#select-"+idOf(g.ID, "Learner 5")), chromedp.SetValue("#bulk-action", "delete"),
			chromedp.Click("#bulk-continue"), chromedp.WaitVisible("#confirm-question"))
		if got := b.text("#confirm-question"); got != "Delete 1 unpublished credential?" {
			t.Errorf("%sdelete question %q", at, got)
		}
		b.audit(at+"delete confirmation", axe)
		b.run(chromedp.Click("#confirm"), chromedp.WaitVisible("#flash"))
		if got := b.text("#flash"); got != "Deleted 1 unpublished credential." {
			t.Errorf("%sdelete flash %q", at, got)
		}
	}
	if n := e.count(`SELECT count(*) FROM credentials`); n != 10 {
		t.Errorf("%d credentials left, want 10", n)
	}
	if v := b.csp(); len(v) > 0 {
		t.Errorf("CSP violations: %v", v)
	}
}

// In Chromium, at 1280 and 390 px: Update by spreadsheet takes a file,
// previews the change (old → new) and the problem (row and column), and
// applies it; every page is axe-clean without sideways scrolling.
func TestBrowserUpdateBySpreadsheet(t *testing.T) {
	e := mustEnv(t)
	ctx := context.Background()
	if _, _, err := e.accts.CreateUser(ctx, "owner@example.edu", "Olive Owner", auth.Owner, nil, password); err != nil {
		t.Fatal(err)
	}
	e.seed(e.group.ID, 3)
	b := e.browser(t, "owner@example.edu")
	axe := browsertest.AxeScript(t)
	for i, w := range []int64{1280, 390} {
		at := fmt.Sprintf("at %d px: ", w)
		b.run(chromedp.EmulateViewport(w, 844))
		name := fmt.Sprintf("Learner %d", i+1)
		var id, other string
		if err := e.db.Get(&id, `SELECT id FROM credentials WHERE recipient_name = $1`, name); err != nil {
			t.Fatal(err)
		}
		if err := e.db.Get(&other, `SELECT id FROM credentials WHERE recipient_name = 'Learner 3'`); err != nil {
			t.Fatal(err)
		}
		path := t.TempDir() + "/update.csv"
		csv := "Credential ID,Recipient Name,Recipient Email\n" + id + ",Renamed Person " + fmt.Sprint(w) + ",learner" + fmt.Sprint(i+1) + "@example.edu\n" +
			other + ",Learner 3,not an email\n"
		if err := os.WriteFile(path, []byte(csv), 0o600); err != nil {
			t.Fatal(err)
		}
		b.run(chromedp.Navigate(b.base+"/credentials?group="+gid(e.group)), chromedp.WaitVisible("#update-upload"), chromedp.Click("#update-upload"),
			chromedp.WaitVisible("#file"))
		b.audit(at+"upload page", axe)
		b.run(chromedp.SetUploadFiles("#file", []string{path}), chromedp.Click("#upload"), chromedp.WaitVisible("#update-summary"))
		if got := b.text("#update-summary"); got != "1 credential changes; 0 rows are unchanged; 1 row has a problem and is left out." {
			t.Errorf("%ssummary %q", at, got)
		}
		if got := b.text("#update-changes tbody"); !strings.Contains(got, name) || !strings.Contains(got, "Renamed Person "+fmt.Sprint(w)) {
			t.Errorf("%schanges %q", at, got)
		}
		if got := b.text("#problems tbody"); got != "3\tRecipient Email\t\"not an email\" is not a valid email address." {
			t.Errorf("%sproblems %q", at, got)
		}
		b.audit(at+"preview", axe)
		b.run(chromedp.Click("#apply"), chromedp.WaitVisible("#flash"))
		if got := b.text("#flash"); got != "Updated 1 credential." {
			t.Errorf("%sflash %q", at, got)
		}
		b.audit(at+"applied", axe)
	}
	if n := e.count(`SELECT count(*) FROM credentials WHERE recipient_name LIKE 'Renamed Person %'`); n != 2 {
		t.Errorf("%d renamed, want 2", n)
	}
	if v := b.csp(); len(v) > 0 {
		t.Errorf("CSP violations: %v", v)
	}
}
