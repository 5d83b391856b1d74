package uitest

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/issuance"
)

// POST /designs/preview draws the form as it stands through the
// credential's partial and saves nothing; an image chosen but not saved
// comes back as the marker the page's script fills in; a viewer is refused.
func TestDesignPreviewEndpoint(t *testing.T) {
	e := mustEnv(t)
	c := e.signIn("owner@example.edu", auth.Owner)
	// Hours is public; grade stays for the recipient and staff only.
	g := e.group
	g.Attributes[1].Visibility = issuance.VisibilityPublic
	if _, err := e.svc.UpdateGroup(context.Background(), "test", g); err != nil {
		t.Fatal(err)
	}
	des := e.group.DesignID
	before := e.designRow(des)
	r := c.postMultipart("/designs/preview", map[string]string{"design_id": sprint(des), "name": "Classic", "kind": "certificate",
		"title": "Diploma of Testing", "primary_color": "#aa3300", "secondary_color": "#00ff00", "print_recipient_name": "1", "print_attr": "hours"}, nil)
	if r.code != http.StatusOK {
		t.Fatalf("preview: %d\n%s", r.code, r.body)
	}
	contains(t, r.body, `class="certificate layout-classic"`, "Diploma of Testing", "--c1: #aa3300", "Alex Example", "<dt>Hours</dt>")
	if strings.Contains(r.body, "<html") || strings.Contains(r.body, "<dt>Grade</dt>") {
		t.Errorf("not just the design, or grade printed though unticked:\n%s", r.body)
	}
	// Grade ticked: a group where it is not public never draws it, and the
	// form says so.
	r = c.postMultipart("/designs/preview", map[string]string{"design_id": sprint(des), "name": "Classic", "kind": "certificate",
		"title": "Diploma of Testing", "primary_color": "#aa3300", "secondary_color": "#00ff00", "print_recipient_name": "1", "print_attr": "grade"}, nil)
	if r.code != http.StatusOK || strings.Contains(r.body, "<dt>Grade</dt>") {
		t.Errorf("a non-public attribute drawn in the preview: %d\n%s", r.code, r.body)
	}
	r = c.get("/designs/" + sprint(des) + "/edit")
	contains(t, r.body, `id="printed-public-note"`, "(not public in "+e.group.Name+": never drawn there)")
	r = c.postMultipart("/designs/preview", map[string]string{"name": "New", "kind": "badge", "primary_color": "#123456", "secondary_color": "#654321"},
		map[string][]byte{"image": pngBytes})
	contains(t, r.body, `class="badge card"`, `src="/designs/preview/chosen-image"`)
	// The layout chosen redraws the preview in it.
	r = c.postMultipart("/designs/preview", map[string]string{"design_id": sprint(des), "name": "Classic", "kind": "certificate",
		"title": "Diploma of Testing", "layout": "modern", "primary_color": "#aa3300", "secondary_color": "#00ff00"}, nil)
	contains(t, r.body, `class="certificate layout-modern"`, `<div class="cert-band"><h2 class="cert-title">Diploma of Testing</h2></div>`)
	// A new badge without a file shows its template's image in its colours.
	r = c.postMultipart("/designs/preview", map[string]string{"name": "New", "kind": "badge", "layout": "medal", "primary_color": "#123456", "secondary_color": "#654321"}, nil)
	contains(t, r.body, `src="/designs/templates/medal/preview.svg?primary=%23123456&amp;secondary=%23654321"`)
	if after := e.designRow(des); after != before {
		t.Fatal("the preview changed the design")
	}
	if n := e.count(`SELECT count(*) FROM designs`); n != 1 {
		t.Fatalf("%d designs after previews", n)
	}
	v := e.signIn("viewer@example.edu", auth.Viewer)
	forbidden(t, v.postMultipart("/designs/preview", map[string]string{"kind": "badge"}, nil), "viewer preview")
}
