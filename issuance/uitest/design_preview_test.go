package uitest

import (
	"net/http"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/auth"
)

// POST /designs/preview draws the form as it stands through the
// credential's partial and saves nothing; an image chosen but not saved
// comes back as the marker the page's script fills in; a viewer is refused.
func TestDesignPreviewEndpoint(t *testing.T) {
	e := mustEnv(t)
	c := e.signIn("owner@example.edu", auth.Owner)
	des := e.group.DesignID
	before := e.designRow(des)
	r := c.postMultipart("/designs/preview", map[string]string{"design_id": sprint(des), "name": "Classic", "kind": "certificate",
		"title": "Diploma of Testing", "primary_color": "#aa3300", "secondary_color": "#00ff00", "print_recipient_name": "1", "print_attr": "hours"}, nil)
	if r.code != http.StatusOK {
		t.Fatalf("preview: %d\n%s", r.code, r.body)
	}
	contains(t, r.body, `class="certificate"`, "Diploma of Testing", "--c1: #aa3300", "Alex Example", "<dt>Hours</dt>")
	if strings.Contains(r.body, "<html") || strings.Contains(r.body, "<dt>Grade</dt>") {
		t.Errorf("not just the design, or grade printed though unticked:\n%s", r.body)
	}
	r = c.postMultipart("/designs/preview", map[string]string{"name": "New", "kind": "badge", "primary_color": "#123456", "secondary_color": "#654321"},
		map[string][]byte{"image": pngBytes})
	contains(t, r.body, `class="badge card"`, `src="/designs/preview/chosen-image"`)
	if after := e.designRow(des); after != before {
		t.Fatal("the preview changed the design")
	}
	if n := e.count(`SELECT count(*) FROM designs`); n != 1 {
		t.Fatalf("%d designs after previews", n)
	}
	v := e.signIn("viewer@example.edu", auth.Viewer)
	forbidden(t, v.postMultipart("/designs/preview", map[string]string{"kind": "badge"}, nil), "viewer preview")
}
