package uitest

import (
	"context"
	"html"
	"net/http"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/issuance"
)

// The group page takes the one image of each image attribute: a refused
// file re-renders the page with the reason next to its upload and stores
// nothing; a good one is shown, served inert, and can be removed. A
// viewer may look but not upload.
func TestGroupPageImageUpload(t *testing.T) {
	e := mustEnv(t)
	g := e.group
	g.Attributes = append(g.Attributes, issuance.Attribute{Key: "signature", Label: "Director's signature", Type: issuance.ImageAttr})
	if _, err := e.svc.UpdateGroup(context.Background(), "test", g); err != nil {
		t.Fatal(err)
	}
	c := e.signIn("tm@example.edu", auth.TeamMember)
	gp := "/groups/" + gid(g)
	r := c.get(gp)
	contains(t, r.body, `id="group-images"`, "Director&#39;s signature", "No image yet.", `action="`+gp+`/images/signature"`,
		"This attribute is not public, so certificates do not draw it.")

	before := e.snapshot()
	r = c.postMultipart(gp+"/images/signature", nil, map[string][]byte{"image": []byte("GIF89a not allowed")})
	if r.code != http.StatusUnprocessableEntity {
		t.Fatalf("bad file: %d", r.code)
	}
	fieldError(t, r.body, "image-signature", "must be a PNG, JPEG or SVG file")
	if e.snapshot() != before {
		t.Fatal("a refused image changed the database")
	}
	r = c.postMultipart(gp+"/images/signature", nil, nil)
	fieldError(t, r.body, "image-signature", "Choose an image file")

	if r = c.postMultipart(gp+"/images/signature", nil, map[string][]byte{"image": pngBytes}); r.code != http.StatusSeeOther {
		t.Fatalf("upload: %d\n%s", r.code, r.body)
	}
	r = c.get(gp)
	contains(t, r.body, `src="`+gp+`/images/signature?v=`, `id="remove-signature"`)
	img := c.get(gp + "/images/signature")
	if img.code != http.StatusOK || img.header.Get("Content-Type") != "image/png" || img.body != string(pngBytes) {
		t.Fatalf("stored image: %d %s", img.code, img.header.Get("Content-Type"))
	}

	v := e.signIn("viewer@example.edu", auth.Viewer)
	if r := v.get(gp); r.code != http.StatusOK || html.UnescapeString(r.body) == "" {
		t.Fatalf("viewer group page: %d", r.code)
	} else if strings.Contains(r.body, `id="upload-signature"`) {
		t.Error("a viewer is offered the upload")
	}
	forbidden(t, v.postMultipart(gp+"/images/signature", nil, map[string][]byte{"image": pngBytes}), "viewer upload")
	forbidden(t, v.post(gp+"/images/signature/remove", nil), "viewer remove")

	if r := c.post(gp+"/images/signature/remove", nil); r.code != http.StatusSeeOther {
		t.Fatalf("remove: %d", r.code)
	}
	if r := c.get(gp + "/images/signature"); r.code != http.StatusNotFound {
		t.Fatalf("after removal: %d", r.code)
	}
}
