package app_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/laurel-edu/laurel/canvas"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/browsertest"
	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/wallet"
	"github.com/laurel-edu/laurel/lti"
	"github.com/laurel-edu/laurel/lti/course"
)

// overflowJS reports whether the page scrolls sideways and, if it does,
// the elements that stick out furthest to the right, leaving out those
// inside a container that scrolls (or clips) on its own, such as a table
// wrapper: they do not move the page.
const overflowJS = `(function () {
  var vw = window.innerWidth, doc = document.documentElement;
  var out = {scrollWidth: doc.scrollWidth, innerWidth: vw, offenders: []};
  if (doc.scrollWidth <= vw) { return out; }
  function contained(el) {
    // A positioned element escapes a scrolling ancestor that is not
    // positioned itself (visually hidden labels do): count it then.
    var pos = getComputedStyle(el).position;
    if (pos === "absolute" || pos === "fixed") { return false; }
    for (var p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      var o = getComputedStyle(p).overflowX;
      if (o === "auto" || o === "scroll" || o === "hidden" || o === "clip") { return true; }
    }
    return false;
  }
  function name(el) {
    var s = el.tagName.toLowerCase();
    if (el.id) { s += "#" + el.id; }
    if (el.classList.length) { s += "." + Array.prototype.join.call(el.classList, "."); }
    var text = (el.textContent || "").trim().replace(/\s+/g, " ").slice(0, 40);
    return s + (text ? " \"" + text + "\"" : "");
  }
  var all = document.body.querySelectorAll("*"), found = [];
  for (var i = 0; i < all.length; i++) {
    var r = all[i].getBoundingClientRect();
    if (r.right > vw + 0.5 && r.width > 0 && !contained(all[i])) { found.push({el: all[i], right: r.right}); }
  }
  // The innermost offenders name the cause; their ancestors only carry it.
  found = found.filter(function (f) { return !found.some(function (g) { return g !== f && f.el.contains(g.el); }); });
  found.sort(function (a, b) { return b.right - a.right; });
  out.offenders = found.slice(0, 5).map(function (f) { return name(f.el) + " right=" + Math.round(f.right); });
  return out;
})()`

// brokenIDsJS lists monospace IDs (a code element holding 16 or more
// letters, digits, - or _: credential IDs, key IDs, not URLs) that take more
// than two lines, as they do when a squeezed table cell lets them break
// anywhere.
const brokenIDsJS = `(function () {
  var out = [], codes = document.querySelectorAll("main code");
  for (var i = 0; i < codes.length; i++) {
    var text = codes[i].textContent.trim();
    if (!/^[A-Za-z0-9_-]{16,}$/.test(text)) { continue; }
    var tops = {}, n = 0, rects = codes[i].getClientRects();
    for (var j = 0; j < rects.length; j++) {
      var top = Math.round(rects[j].top);
      if (!tops[top]) { tops[top] = true; n++; }
    }
    if (n > 2) { out.push(text + " on " + n + " lines"); }
  }
  return out;
})()`

type overflow struct {
	ScrollWidth int      `json:"scrollWidth"`
	InnerWidth  int      `json:"innerWidth"`
	Offenders   []string `json:"offenders"`
}

// TestEveryPageFitsAPhoneAndPassesAxe opens every staff, LTI and public
// page in one Chromium at 1280×800 and at a phone's 390×844 and requires
// that no page scrolls sideways and that axe-core finds no WCAG 2.1 A/AA
// violation. Screenshots of each page at both widths go to the test's
// artifact directory (go test -artifacts keeps them).
func TestEveryPageFitsAPhoneAndPassesAxe(t *testing.T) {
	axe := browsertest.AxeScript(t)
	app := mustRun(t)
	ctx := context.Background()

	// Staff, groups, designs, credentials in every state.
	const password = "correct horse battery staple"
	_, _, err := app.Accounts.CreateUser(ctx, "registrar@uni.example.edu", "Rita Registrar-Montgomery", auth.Owner, nil, password)
	if err != nil {
		t.Fatal(err)
	}
	des, err := app.Issuance.CreateDesign(ctx, "test", issuance.Design{Name: "Classic certificate", Kind: issuance.Certificate,
		Title: "Certificate of Completion", PrimaryColor: "#1f3a5f", SecondaryColor: "#c9a227",
		PrintedAttributes: []string{"recipient_name", "issued_on", "grade"}, IsDefault: true})
	if err != nil {
		t.Fatal(err)
	}
	g, err := app.Issuance.CreateGroup(ctx, "test", issuance.Group{Name: "Introduction to Computational Data Science", CourseName: "DS 101",
		Language: "en", DesignID: des.ID, Description: "Foundations of data analysis.", CourseLink: "https://uni.example.edu/courses/ds101",
		Attributes: []issuance.Attribute{{Key: "grade", Label: "Grade", Type: issuance.TextAttr, Required: true}, {Key: "hours", Label: "Hours", Type: issuance.NumberAttr}}})
	if err != nil {
		t.Fatal(err)
	}
	creds, err := app.Issuance.CreateCredentials(ctx, "test", g.ID, issuance.FromAPI, []issuance.NewCredential{
		{Recipient: issuance.Recipient{Name: "Ada Lovelace", Email: "ada.lovelace@uni.example.edu"}, IssuedOn: "2026-01-02", Attributes: map[string]string{"grade": "A", "hours": "40"}},
		{Recipient: issuance.Recipient{Name: "Alan Turing", Email: "alan.turing@uni.example.edu"}, IssuedOn: "2026-01-02", Attributes: map[string]string{"grade": "B"}},
		{Recipient: issuance.Recipient{Name: "Emmy Noether", Email: "enoether@example.edu"}, IssuedOn: "2026-01-03", Attributes: map[string]string{"grade": "A"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.Issuance.Publish(ctx, "test", issuance.Selection{IDs: []string{creds[0].ID, creds[2].ID}}); err != nil {
		t.Fatal(err)
	}
	published, unpublished := creds[0], creds[1]
	// Claimed into a wallet (the staff page lists the DID), and a live
	// wallet link.
	claimIntoWallet(t, app, published.ID)
	offer, err := app.Wallet.CreateOffer(ctx, "test", published.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	staff, _, err := app.Accounts.CreateUser(ctx, "tia.team@uni.example.edu", "Tia Team", auth.TeamMember, []int64{g.ID}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.Accounts.CreateToken(ctx, "Registrar's import script", auth.Admin); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Accounts.InviteUser(ctx, "test", "vic.viewer@uni.example.edu", "Vic Viewer", auth.Viewer, nil); err != nil {
		t.Fatal(err)
	}
	// Two publish emails and the invitation.
	msgs, err := app.Mail.WaitFor(3, 30*time.Second)
	if err != nil {
		t.Fatalf("emails: %v", err)
	}
	var welcome string
	for _, m := range msgs {
		if l := regexp.MustCompile(regexp.QuoteMeta(app.URL) + `/account/welcome\?token=[A-Za-z0-9_%-]+`).FindString(m.Text); l != "" {
			welcome = strings.TrimPrefix(l, app.URL)
		}
	}
	if welcome == "" {
		t.Fatal("no invitation link in the emails")
	}
	recipientLink := seedSelfService(t, app, creds[2], published)

	// A Canvas with a mapped and an unmapped course.
	sim := canvassim.New()
	simSrv := httptest.NewServer(sim.Handler())
	t.Cleanup(simSrv.Close)
	sim.SetURL(simSrv.URL)
	sim.UseTool(app.URL+"/lti/login", app.URL+"/lti/launch", app.URL+"/lti/jwks")
	mappedCourse := sim.AddCourse(canvassim.Course{ID: "565", Title: "Introduction to Computational Data Science", Label: "DS 101"})
	freeCourse := sim.AddCourse(canvassim.Course{ID: "566", Title: "Marine Biology of the North Atlantic", Label: "MB 201"})
	teacher := sim.AddUser(canvassim.User{ID: "123", Name: "Isaac Newton", Email: "inewton@example.edu"})
	student := sim.AddUser(canvassim.User{ID: "124", Name: "Emmy Noether", Email: "enoether@example.edu"})
	for _, c := range []string{mappedCourse.ID, freeCourse.ID} {
		if err := sim.Enroll(c, teacher.ID, canvassim.Teacher); err != nil {
			t.Fatal(err)
		}
		if err := sim.Enroll(c, student.ID, canvassim.Student); err != nil {
			t.Fatal(err)
		}
	}
	// The unpublished credential's recipient is in the mapped course: its
	// instructor lists only the course's people (issue 16).
	alan := sim.AddUser(canvassim.User{ID: "125", Name: "Alan Turing", Email: "alan.turing@uni.example.edu"})
	if err := sim.Enroll(mappedCourse.ID, alan.ID, canvassim.Student); err != nil {
		t.Fatal(err)
	}
	plat, err := app.LTI.Registry().AddPlatform(ctx, lti.PlatformInput{
		Name: "Canvas", Issuer: sim.Issuer, ClientID: sim.ClientID, AuthURL: sim.AuthURL(), TokenURL: sim.TokenURL(),
		JWKSURL: sim.JWKSURL(), DeploymentIDs: []string{sim.DeploymentID}, Extra: canvas.PlatformExtra(sim.URL(), ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	rule := "canvas_completion"
	if _, err := app.Course.CreateMapping(ctx, "test", course.MappingInput{PlatformID: &plat.ID, GroupID: &g.ID,
		CanvasCourseID: &mappedCourse.ID, CompletionRule: &rule}); err != nil {
		t.Fatal(err)
	}

	// A Moodle course on Moodle course completion, checked once: its
	// teacher's view and /admin/events show each student's line.
	ml, moodleCourse, moodleTeacher := moodleFixture(t, app, g.ID)
	if _, err := app.Course.ReconcileAll(ctx, course.TriggerManual); err != nil {
		t.Fatal(err)
	}

	b := browsertest.New(t, browsertest.Options{})
	do := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(b, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			html, _ := chromedp.Run(b, chromedp.OuterHTML(chromedp.CSS("body")))
			t.Fatalf("%s: %v\npage: %.2000s", name, err, html)
		}
	}
	open := func(path string) func() { return func() { do(path, chromedp.Navigate(app.URL+path)) } }
	// An LTI launch at the top level (a course page would frame it; the
	// frame is as wide as the window here) without platform storage, so
	// the state cookie carries it.
	launch := func(u *canvassim.User, c *canvassim.Course, ready string, extra ...string) func() {
		return func() {
			q := url.Values{"user": {u.ID}, "course": {c.ID}, "storage": {"none"}}
			for i := 0; i+1 < len(extra); i += 2 {
				q.Set(extra[i], extra[i+1])
			}
			do("launch as "+u.Name+" in "+c.Title, chromedp.Navigate(sim.URL()+"/sim/login_init?"+q.Encode()),
				chromedp.WaitVisible(chromedp.CSS(ready)))
		}
	}
	launchMoodle := func(u *canvassim.User, c *canvassim.Course, ready string) func() {
		return func() {
			q := url.Values{"user": {u.ID}, "course": {c.ID}, "storage": {"none"}}
			do("launch as "+u.Name+" in "+c.Title, chromedp.Navigate(ml.URL()+"/sim/login_init?"+q.Encode()),
				chromedp.WaitVisible(chromedp.CSS(ready)))
		}
	}
	shots := t.ArtifactDir()

	type page struct {
		name  string
		visit func()
	}
	check := func(p page) {
		t.Helper()
		for _, size := range []struct{ w, h int64 }{{1280, 800}, {390, 844}} {
			do(p.name+": viewport", chromedp.EmulateViewport(size.w, size.h))
			if size.w == 1280 {
				p.visit() // the phone width reuses the page, laid out again
			} else {
				do(p.name+": relayout", browsertest.Relayout)
			}
			ov, err := chromedp.Run(b, chromedp.Evaluate[overflow](overflowJS))
			if err != nil {
				t.Fatalf("%s: overflow check: %v", p.name, err)
			}
			if ov.ScrollWidth > ov.InnerWidth {
				t.Errorf("%s at %d px scrolls sideways: scrollWidth %d > innerWidth %d; widest: %s",
					p.name, size.w, ov.ScrollWidth, ov.InnerWidth, strings.Join(ov.Offenders, "; "))
			}
			broken, err := chromedp.Run(b, chromedp.Evaluate[[]string](brokenIDsJS))
			if err != nil {
				t.Fatalf("%s: ID check: %v", p.name, err)
			}
			for _, id := range broken {
				t.Errorf("%s at %d px: the ID %s", p.name, size.w, id)
			}
			vs, err := browsertest.Audit(b, axe)
			if err != nil {
				t.Fatalf("%s: %v", p.name, err)
			}
			for _, v := range vs {
				t.Errorf("%s at %d px: axe: %s", p.name, size.w, v)
			}
			png, err := chromedp.Run(b, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatalf("%s: screenshot: %v", p.name, err)
			}
			file := fmt.Sprintf("%s-%d.png", strings.NewReplacer("/", "_", " ", "_", ":", "", "(", "", ")", "").Replace(p.name), size.w)
			if err := os.WriteFile(filepath.Join(shots, file), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}

	signedOut := []page{
		{"login", open("/login")},
		{"public credential", open("/c/" + published.ID)},
		{"public 404", open("/c/no-such-credential")},
		{"recipient manage (not yet proven)", open("/c/" + published.ID + "/manage")},
		{"public credential (hidden by its recipient)", open("/c/" + creds[2].ID)},
		{"recipient link", open(recipientLink)},
		{"recipient manage", func() {
			do("use the link", chromedp.Navigate(app.URL+recipientLink), chromedp.Click(chromedp.CSS("#continue")),
				chromedp.WaitVisible(chromedp.CSS("#hide-credential")))
		}},
		{"public credential (its recipient)", open("/c/" + published.ID)},
		{"wallet start (from the email)", open(strings.TrimPrefix(app.Wallet.EmailLink(published.ID, published.Recipient.Email), app.URL))},
		{"wallet link page", open(wallet.ClaimPath(offer.Token))},
		{"account welcome (invitation)", func() {
			do("welcome", chromedp.Navigate(app.URL+welcome), chromedp.WaitVisible(chromedp.CSS("#set-password-form")))
		}},
		{"LTI refused launch", func() {
			do("refused", chromedp.Navigate(app.URL+"/lti/login"), chromedp.WaitVisible(chromedp.CSS("#lti-refused")))
		}},
		{"LTI instructor mapping form", launch(teacher, freeCourse, `form[action="/lti/app/map"]`)},
		{"LTI instructor mapped view", launch(teacher, mappedCourse, "#count-unpublished")},
		{"LTI student view", launch(student, mappedCourse, "#status")},
		{"LTI Moodle instructor view", launchMoodle(moodleTeacher, moodleCourse, "td.rule-state")},
		{"LTI deep linking", launch(teacher, mappedCourse, `form[action="/lti/app/deeplink"]`, "type", "deep")},
		{"LTI course credentials", func() {
			launch(teacher, mappedCourse, "#review-link")()
			do("course credentials", chromedp.Click(chromedp.CSS("#review-link")), chromedp.WaitVisible(chromedp.CSS("#credentials")))
		}},
		{"LTI credential", func() {
			launch(teacher, mappedCourse, "#review-link")()
			do("course credential", chromedp.Click(chromedp.CSS("#review-link")), chromedp.WaitVisible(chromedp.CSS("#credentials")),
				chromedp.Click(chromedp.CSS("a.credential-link")), chromedp.WaitVisible(chromedp.CSS("#credential-id")))
		}},
	}
	for _, p := range signedOut {
		check(p)
	}

	do("sign in",
		chromedp.EmulateViewport(1280, 800),
		chromedp.Navigate(app.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS("#email"), "registrar@uni.example.edu"),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("#nav-groups")))
	gp := fmt.Sprintf("/groups/%d", g.ID)
	signedIn := []page{
		{"groups", open("/groups")},
		{"group new", open("/groups/new")},
		{"group", open(gp)},
		{"group edit", open(gp + "/edit")},
		{"group wallet settings", open(gp + "/wallet")},
		{"create credentials", open(gp + "/credentials/new")},
		{"review unpublished", open(gp + "/unpublished")},
		{"publish confirm", func() {
			do("publish confirm", chromedp.Navigate(app.URL+gp+"/unpublished"),
				chromedp.Click(chromedp.CSS("#select-all-group")), chromedp.Click(chromedp.CSS("#publish")),
				chromedp.WaitVisible(chromedp.CSS(`form[action$="/publish"] button[type=submit]`)))
		}},
		{"published", open(gp + "/published")},
		{"name corrections", open("/corrections")},
		{"credential (published)", open("/credentials/" + published.ID)},
		{"credential (unpublished)", open("/credentials/" + unpublished.ID)},
		{"credential preview", open("/credentials/" + unpublished.ID + "/preview")},
		{"designs", open("/designs")},
		{"design new", open("/designs/new")},
		{"design new from a certificate template", open("/designs/new?kind=certificate&template=modern")},
		{"design new from a badge template", open("/designs/new?kind=badge&template=ribbon")},
		{"design edit", open(fmt.Sprintf("/designs/%d/edit", des.ID))},
		{"attributes", open("/attributes")},
		{"admin platforms", open("/admin/platforms")},
		{"admin platform new", open("/admin/platforms/new")},
		{"admin platform edit", open(fmt.Sprintf("/admin/platforms/%d/edit", plat.ID))},
		{"admin keys", open("/admin/keys")},
		{"admin events", open("/admin/events")},
		{"admin mail", open("/admin/mail")},
		{"admin users", open("/admin/users")},
		{"admin user invite", open("/admin/users/invite")},
		{"admin user", open(fmt.Sprintf("/admin/users/%d", staff.ID))},
		{"admin tokens", open("/admin/tokens")},
		{"admin organisation", open("/admin/organisation")},
		{"account password", open("/account/password")},
		{"insights", open("/insights")},
		{"insights (group, tables open)", func() {
			do("insights tables", chromedp.Navigate(app.URL+fmt.Sprintf("/insights?group=%d", g.ID)),
				chromedp.Evaluate[chromedp.Void](`document.querySelectorAll("main details").forEach(function (d) { d.open = true; })`))
		}},
	}
	for _, p := range signedIn {
		check(p)
	}
}
