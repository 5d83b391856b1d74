package uitest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/browsertest"
)

// checked is JS that is true once the checked import page shows option
// value (its prop) chosen in the select sel, as the server rendered it.
func checked(sel, prop, value string) string {
	return fmt.Sprintf(`(function(){var o=document.querySelector('%s option[selected]');return !!o && o.%s === '%s' && !!document.querySelector('#import-counts')})()`, sel, prop, value)
}

// In Chromium: a LibreOffice .xls whose roster is on its second sheet under
// a title row is read from the right sheet and row without being told;
// the chooser switches to the title row (every column unknown) and back;
// problems name columns as the user sees them.
func TestBrowserImportWorkbookChooser(t *testing.T) {
	e := mustEnv(t)
	e.runImportWorker()
	axe := browsertest.AxeScript(t)
	if _, _, err := e.accts.CreateUser(context.Background(), "owner@example.edu", "Olive Owner", auth.Owner, nil, password); err != nil {
		t.Fatal(err)
	}
	xls, err := filepath.Abs("../sheet/testdata/roster.xls")
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser(t, "owner@example.edu")
	b.run(chromedp.Navigate(b.base+"/groups/"+gid(e.group)+"/imports"), chromedp.WaitVisible("#upload-form"))
	b.checkPage("imports page", axe)
	b.run(chromedp.SetUploadFiles("#file", []string{xls}), chromedp.Click("#upload"), chromedp.WaitVisible("#layout-form"))
	note := b.text("#layout-note")
	for _, want := range []string{"Reading the sheet “Roster 2026”, whose column names match this group best", "row 3"} {
		if !strings.Contains(note, want) {
			t.Errorf("layout note lacks %q: %s", want, note)
		}
	}
	if !b.eval(`document.querySelector('#header_row option:checked').textContent === 'Row 3: Name · Email · Completion date · Score · Group'`) {
		t.Errorf("header row chosen: %s", b.text("#layout-form"))
	}
	// The group needs a grade, which the roster lacks: every row says so, in
	// the words of the mapping form.
	if got := b.text("#import-errors tbody tr:first-child .error-field"); got != "Grade" {
		t.Errorf("problem column %q", got)
	}
	if b.eval(`!!document.querySelector('#import-preview')`) {
		t.Errorf("no row is valid, yet a preview: %s", b.text("#import-preview"))
	}
	b.checkPage("import page", axe)

	b.run(chromedp.SetValue("#header_row", "1"), chromedp.Click("#change-layout"), chromedp.WaitVisible("#layout-form"))
	b.waitFor("the title row as header", checked("#header_row", "value", "1"))
	if errs := b.text("#import-errors"); !strings.Contains(errs, "No column is mapped to the recipient name") {
		t.Errorf("title row: %s", errs)
	}
	b.run(chromedp.SetValue("#layout_sheet", "Notes"), chromedp.Click("#change-layout"), chromedp.WaitVisible("#layout-form"))
	b.waitFor("the Notes sheet", checked("#layout_sheet", "textContent", "Notes"))
	b.run(chromedp.SetValue("#layout_sheet", "Roster 2026"), chromedp.Click("#change-layout"), chromedp.WaitVisible("#layout-form"))
	b.waitFor("the roster again", checked("#header_row", "value", "3"))
	if n := e.count(`SELECT count(*) FROM credentials`); n != 0 {
		t.Fatalf("%d credentials created", n)
	}
}

// In Chromium: a Windows-1252 CSV whose names Excel turned into "?" shows a
// warning naming the rows before commit, and commit needs a tick; a
// header-only file is refused at upload with the reason.
func TestBrowserImportLostLettersAndEmptyFile(t *testing.T) {
	e := mustEnv(t)
	e.runImportWorker()
	axe := browsertest.AxeScript(t)
	if _, _, err := e.accts.CreateUser(context.Background(), "owner@example.edu", "Olive Owner", auth.Owner, nil, password); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	lost := filepath.Join(dir, "roster.csv")
	csv := []byte("Name,Email,Issue date,Grade\r\nAna Lima,ana@example.edu,2026-06-30,A\r\nDmitri ???????,dmitri@example.edu,2026-06-30,B\r\nZo\xeb M\xfcller,zoe@example.edu,2026-06-30,A\r\n??,lina@example.edu,2026-06-30,A\r\n")
	if err := os.WriteFile(lost, csv, 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.csv")
	if err := os.WriteFile(empty, []byte("Name,Email,Issue date,Grade\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t, "owner@example.edu")
	b.run(chromedp.Navigate(b.base+"/groups/"+gid(e.group)+"/imports"), chromedp.WaitVisible("#upload-form"),
		chromedp.SetUploadFiles("#file", []string{empty}), chromedp.Click("#upload"), chromedp.WaitVisible("#upload-problem"))
	if got := b.text("#upload-problem"); !strings.Contains(got, "The file has column names on row 1 but no rows of recipients below them") {
		t.Errorf("empty file: %q", got)
	}
	b.run(chromedp.SetUploadFiles("#file", []string{lost}), chromedp.Click("#upload"), chromedp.WaitVisible("#lost-letters-warning"))
	if got := b.text("#lost-letters-warning"); !strings.Contains(got, "Rows 3, 5: names contain “?” where letters were probably lost") || !strings.Contains(got, "CSV UTF-8") {
		t.Errorf("warning: %q", got)
	}
	b.checkPage("import page with a warning", axe)
	b.run(chromedp.Click("#commit"), chromedp.WaitVisible("#import-problem"))
	if n := e.count(`SELECT count(*) FROM credentials`); n != 0 {
		t.Fatalf("committed without the tick: %d", n)
	}
	b.run(chromedp.Click("#confirm_lost"), chromedp.Click("#commit"), chromedp.WaitVisible("#import-committed"))
	if n := e.count(`SELECT count(*) FROM credentials WHERE recipient_name = 'Zoë Müller'`); n != 1 {
		t.Errorf("Zoë Müller created %d times", n)
	}
}

// In Chromium: Multiple Groups — a Team Member limited to one group uploads
// one file for two groups from the link on the imports page: the row for
// the other group and the unknown group are refused naming the row; the
// preview names each row's group; commit creates the valid rows.
func TestBrowserMultipleGroupsImport(t *testing.T) {
	e := mustEnv(t)
	e.runImportWorker()
	axe := browsertest.AxeScript(t)
	if _, _, err := e.accts.CreateUser(context.Background(), "tia@example.edu", "Tia Team", auth.TeamMember, []int64{e.group.ID}, password); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "all-groups.csv")
	csv := "Name,Email,Issue date,Group,Grade\r\n" +
		"Ada Lovelace,ada@example.edu,2026-06-30,data science 101,A\r\n" +
		"Bob Byte,bob@example.edu,2026-06-30,Other Course,\r\n" +
		"Cy Clone,cy@example.edu,2026-06-30,Nowhere,\r\n" +
		fmt.Sprintf("李娜,lina@example.edu,2026-06-30,%d,B\r\n", e.group.ID)
	if err := os.WriteFile(file, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t, "tia@example.edu")
	b.run(chromedp.Navigate(b.base+"/groups/"+gid(e.group)+"/imports"), chromedp.WaitVisible("#multi-link"),
		chromedp.Click("#multi-link a"), chromedp.WaitVisible("#upload-form"))
	b.checkPage("multiple groups page", axe)
	b.run(chromedp.SetUploadFiles("#file", []string{file}), chromedp.Click("#upload"), chromedp.WaitVisible("#commit"))
	if got := b.text("#count-valid"); got != "2" {
		t.Fatalf("valid %q\n%s", got, b.text("main"))
	}
	errs := b.text("#import-errors")
	for _, want := range []string{"3", `You may not create credentials in group "Other Course"`, "4", `No group is named "Nowhere"`, "Group (name or ID)"} {
		if !strings.Contains(errs, want) {
			t.Errorf("problems lack %q:\n%s", want, errs)
		}
	}
	if p := b.text("#import-preview"); !strings.Contains(p, "Data Science 101") || !strings.Contains(p, "李娜") {
		t.Errorf("preview: %s", p)
	}
	b.checkPage("multiple groups import page", axe)
	b.run(chromedp.Click("#commit"), chromedp.WaitVisible("#import-committed"))
	if n := e.count(`SELECT count(*) FROM credentials WHERE group_id = $1 AND source = 'csv'`, e.group.ID); n != 2 {
		t.Errorf("%d credentials in the group, want 2", n)
	}
	if n := e.count(`SELECT count(*) FROM credentials WHERE group_id = $1`, e.other.ID); n != 0 {
		t.Errorf("%d credentials in the group outside the limit", n)
	}
	b.run(chromedp.Click(".review-group-link"), chromedp.WaitVisible(".recipient-name"))
}
