package app_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/browsertest"
)

// TestFirstSignInGoesToOrganisationSetup: while no owner has named the
// organisation, an owner's sign-in (in Chromium) lands on organisation
// setup instead of the groups, and an admin's does not; once the owner saves
// a name, the owner's next sign-in lands on the groups.
func TestFirstSignInGoesToOrganisationSetup(t *testing.T) {
	app := mustRun(t)
	seedOwnerAndCredential(t, app)
	if _, _, err := app.Accounts.CreateUser(context.Background(), "adm@uni.example.edu", "Ada Admin", auth.Admin, nil, ownerPassword); err != nil {
		t.Fatal(err)
	}
	// A fresh installation (test databases start named).
	if _, err := app.DB.Exec(`UPDATE organisation SET named_at = NULL`); err != nil {
		t.Fatal(err)
	}
	signIn := func(b context.Context, email, want string) string {
		t.Helper()
		browsertest.Step(t, b, "sign in as "+email,
			chromedp.Navigate(app.URL+"/login"),
			chromedp.SendKeys(chromedp.CSS("#email"), email),
			chromedp.SendKeys(chromedp.CSS("#password"), ownerPassword),
			chromedp.Click(chromedp.CSS("#sign-in")),
			chromedp.WaitVisible(chromedp.CSS(want)),
		)
		loc, err := chromedp.Run(b, chromedp.Evaluate[string](`location.pathname`))
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}
	owner := browsertest.New(t, browsertest.Options{})
	if loc := signIn(owner, "it@uni.example.edu", "#organisation-form"); !strings.HasSuffix(loc, "/admin/organisation") {
		t.Fatalf("owner's first sign-in landed on %s", loc)
	}
	admin := browsertest.New(t, browsertest.Options{})
	if loc := signIn(admin, "adm@uni.example.edu", "#groups"); !strings.HasSuffix(loc, "/groups") {
		t.Fatalf("admin's sign-in landed on %s", loc)
	}
	browsertest.Step(t, owner, "name the organisation",
		chromedp.SetValue(chromedp.CSS("#name"), "University of Example"),
		chromedp.Click(chromedp.CSS("#save-organisation")),
		chromedp.WaitVisible(chromedp.CSS("#flash")),
	)
	again := browsertest.New(t, browsertest.Options{})
	if loc := signIn(again, "it@uni.example.edu", "#groups"); !strings.HasSuffix(loc, "/groups") {
		t.Fatalf("owner's sign-in once named landed on %s", loc)
	}
}
