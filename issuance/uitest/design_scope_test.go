package uitest

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/browsertest"
	"github.com/laurel-edu/laurel/issuance"
)

// A team member limited to groups A and A2 manages a design only where every
// group using it is theirs: the organisation's default design, which A and
// group B use, is shown read-only with the reason and a POST to it is a 403
// page that changes nothing; a design used only by A2 stays editable.
func TestTeamMemberDesignScope(t *testing.T) {
	e := mustEnv(t)
	ctx := context.Background()
	var shared int64 // the default design, used by e.group (A) and e.other (B)
	if err := e.db.Get(&shared, `SELECT id FROM designs WHERE is_default`); err != nil {
		t.Fatal(err)
	}
	own, err := e.svc.CreateDesign(ctx, "test", issuance.Design{Name: "Data Science seal", Kind: issuance.Certificate, Title: "Certificate",
		PrimaryColor: "#112233", SecondaryColor: "#445566"})
	if err != nil {
		t.Fatal(err)
	}
	// A second group of the member's uses "own" alone.
	a2, err := e.svc.CreateGroup(ctx, "test", issuance.Group{Name: "Data Science 102", CourseName: "DS 102", Language: "en", DesignID: own.ID})
	if err != nil {
		t.Fatal(err)
	}
	tm := e.signIn("tm@example.edu", auth.TeamMember, e.group.ID, a2.ID)

	list := tm.get("/designs")
	contains(t, list.body, `id="view-design-`+sprint(shared)+`"`, `id="edit-design-`+sprint(own.ID)+`"`)
	if strings.Contains(list.body, `id="edit-design-`+sprint(shared)+`"`) {
		t.Error("the shared design is offered for editing")
	}

	form := tm.get("/designs/" + sprint(shared) + "/edit")
	if form.code != http.StatusOK {
		t.Fatalf("read-only form: %d\n%s", form.code, form.body)
	}
	contains(t, form.body, `id="design-readonly"`, "also used by 1 group you do not work in", " disabled>")
	if strings.Contains(form.body, `id="save-design"`) {
		t.Error("the read-only form has a save button")
	}

	edit := map[string]string{"name": "Hijacked", "kind": "certificate", "title": "Changed", "primary_color": "#000000", "secondary_color": "#ffffff"}
	before, beforeDesign := e.snapshot(), e.designRow(shared)
	forbidden(t, tm.postMultipart("/designs/"+sprint(shared)+"/edit", edit, nil), "edit a design group B uses")
	// Even an invalid form is refused as forbidden, not validated.
	forbidden(t, tm.postMultipart("/designs/"+sprint(shared)+"/edit", map[string]string{"name": ""}, nil), "invalid edit of a design group B uses")
	if after := e.snapshot(); after != before {
		t.Fatalf("refused edit changed the database:\n%s\n%s", before, after)
	}
	if after := e.designRow(shared); after != beforeDesign {
		t.Fatalf("refused edit changed the design:\n%s\n%s", beforeDesign, after)
	}

	// The design only A uses is theirs to change.
	ok := tm.get("/designs/" + sprint(own.ID) + "/edit")
	if ok.code != http.StatusOK || strings.Contains(ok.body, `id="design-readonly"`) || !strings.Contains(ok.body, `id="save-design"`) {
		t.Fatalf("own design form: %d\n%s", ok.code, ok.body)
	}
	edit["name"] = "Data Science seal v2"
	if r := tm.postMultipart("/designs/"+sprint(own.ID)+"/edit", edit, nil); r.code != http.StatusSeeOther {
		t.Fatalf("edit own design: %d\n%s", r.code, r.body)
	}
	if n := e.count(`SELECT count(*) FROM designs WHERE id = $1 AND name = 'Data Science seal v2'`, own.ID); n != 1 {
		t.Fatal("own design not saved")
	}

	// An unlimited team member still edits the shared design.
	all := e.signIn("all@example.edu", auth.TeamMember)
	if r := all.get("/designs/" + sprint(shared) + "/edit"); strings.Contains(r.body, `id="design-readonly"`) {
		t.Error("unlimited team member sees the shared design read-only")
	}
	edit["name"] = "Classic v2"
	if r := all.postMultipart("/designs/"+sprint(shared)+"/edit", edit, nil); r.code != http.StatusSeeOther {
		t.Fatalf("unlimited edit: %d\n%s", r.code, r.body)
	}
}

// designRow is every stored field of design id, as text.
func (e *env) designRow(id int64) string {
	e.t.Helper()
	var s string
	if err := e.db.Get(&s, `SELECT row_to_json(d)::text FROM designs d WHERE id = $1`, id); err != nil {
		e.t.Fatal(err)
	}
	return s
}

// In a real Chromium the read-only design form cannot be edited or saved:
// every input is disabled, there is no save button, and submitting the form
// by script anyway gets the 403 page and changes nothing.
func TestBrowserReadOnlyDesign(t *testing.T) {
	e := mustEnv(t)
	var shared int64
	if err := e.db.Get(&shared, `SELECT id FROM designs WHERE is_default`); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.accts.CreateUser(context.Background(), "tm@example.edu", "TM", auth.TeamMember, []int64{e.group.ID}, password); err != nil {
		t.Fatal(err)
	}
	before := e.designRow(shared)
	bctx := browsertest.New(t, browsertest.Options{})
	ctx, cancel := context.WithTimeout(bctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.srv.URL+"/designs/"+sprint(shared)+"/edit"),
		chromedp.WaitVisible("#email"),
		chromedp.SendKeys("#email", "tm@example.edu"),
		chromedp.SendKeys("#password", password),
		chromedp.Click("#sign-in"),
		chromedp.WaitVisible("#design-readonly"),
	); err != nil {
		t.Fatal(err)
	}
	locked, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`[...document.querySelectorAll('#design-form input')].every(i => i.matches(':disabled')) &&
		document.querySelectorAll('#design-form input').length > 5 && !document.querySelector('#save-design')`))
	if err != nil || !locked {
		t.Fatalf("read-only form: inputs all disabled and no save button = %v (%v)", locked, err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`setTimeout(() => document.querySelector('#design-form').submit(), 0), true`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(`div[role="alert"] h1`)); err != nil {
		t.Fatal(err)
	}
	body, err := chromedp.Run(ctx, chromedp.Text("body"))
	if err != nil || !strings.Contains(body, "403") {
		t.Fatalf("scripted submit of the read-only form: %q (%v), want the 403 page", body, err)
	}
	if after := e.designRow(shared); after != before {
		t.Fatalf("the design changed:\n%s\n%s", before, after)
	}
}
