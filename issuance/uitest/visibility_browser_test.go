package uitest

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/issuance"
)

// In Chromium: on the group form, a row added with "Add attribute" starts
// with the picked variable's visibility and as no result; picking a
// variable of the Attributes section, Public and a result type there saves
// them, and the group page lists them.
func TestBrowserGroupFormVisibility(t *testing.T) {
	e := mustEnv(t)
	if _, _, err := e.accts.CreateUser(context.Background(), "owner@example.edu", "Olive Owner", auth.Owner, nil, password); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateAttributeVariable(context.Background(), "test", issuance.AttributeVariable{Key: "final_score", Label: "Final score", Type: issuance.NumberAttr}); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t, "owner@example.edu")
	gp := "/groups/" + sprint(e.group.ID)
	b.run(chromedp.Navigate(b.base+gp+"/edit"), chromedp.WaitVisible("#add-attribute"))
	n := len(e.group.Attributes) + 3 // the form's spare rows
	for range 2 {
		b.run(chromedp.Click("#add-attribute"))
	}
	last := sprint(n + 1)
	b.waitFor("the added row", `!!document.querySelector('#attr_visibility_`+last+`')`)
	if !b.eval(`document.querySelector('#attr_visibility_` + last + `').value === '' && document.querySelector('#attr_result_type_` + last + `').value === ''`) {
		t.Fatal("an added attribute row does not start with the variable's visibility and no result")
	}
	b.run(chromedp.SetValue("#attr_key_"+last, "final_score"),
		chromedp.SetValue("#attr_visibility_"+last, "public"),
		chromedp.SetValue("#attr_result_type_"+last, "RawScore"),
		chromedp.Click("#save-group"),
		chromedp.WaitVisible("#group-attributes"))
	txt := b.text("#group-attributes")
	for _, want := range []string{"Final score", "Public", "Raw score", "Recipient and staff only"} {
		if !strings.Contains(txt, want) {
			t.Fatalf("group page attributes lack %q: %s", want, txt)
		}
	}
	g, err := e.svc.Group(context.Background(), e.group.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := g.Attributes[len(g.Attributes)-1]
	if got.Key != "final_score" || got.Visibility != issuance.VisibilityPublic || got.ResultType != "RawScore" {
		t.Fatalf("saved attribute %+v", got)
	}
	if v := b.csp(); len(v) > 0 {
		t.Errorf("CSP violations: %v", v)
	}
}
