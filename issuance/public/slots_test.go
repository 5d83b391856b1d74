package public_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/issuance"
)

// A certificate draws a placed image only while its attribute is public
// (Group.Visible): otherwise the page, its image link and the PDF all leave
// it out.
func TestPlacedImageOnlyWhenPublic(t *testing.T) {
	s, _ := mustService(t)
	setKeys(s, mustKeys(t))
	ctx := context.Background()
	srv := publicServer(t, s)
	des, err := s.CreateDesign(ctx, actor, issuance.Design{Name: "Signed", Kind: issuance.Certificate, Title: "Certificate",
		Layout: issuance.LayoutMinimal, ImageSlots: map[string]string{"right": "signature"}})
	if err != nil {
		t.Fatal(err)
	}
	g := mustGroup(t, s, func(g *issuance.Group) {
		g.DesignID = des.ID
		g.Attributes = append(g.Attributes, issuance.Attribute{Key: "signature", Label: "Dean of Studies", Type: issuance.ImageAttr,
			Visibility: issuance.VisibilityRecipient})
	})
	if err := s.SetGroupImage(ctx, actor, g.ID, "signature", []byte(signatureSVG)); err != nil {
		t.Fatal(err)
	}
	c := mustCreate(t, s, g.ID, item("Ada Lovelace", "ada@example.edu"))[0]
	if _, err := s.Publish(ctx, actor, issuance.Selection{IDs: []string{c.ID}}); err != nil {
		t.Fatal(err)
	}
	page := srv.URL + "/c/" + c.ID
	check := func(public bool) {
		t.Helper()
		_, body, _ := get(t, page)
		if got := strings.Contains(body, `class="cert-slot slot-right"`) && strings.Contains(body, "Dean of Studies"); got != public {
			t.Errorf("public %v: the page draws the signature: %v", public, got)
		}
		code, img, hdr := get(t, page+"/images/signature")
		if public && (code != http.StatusOK || img != signatureSVG || !strings.Contains(hdr.Get("Content-Security-Policy"), "sandbox")) {
			t.Errorf("public signature: %d %q", code, hdr.Get("Content-Type"))
		}
		if !public && code != http.StatusNotFound {
			t.Errorf("a non-public signature is served: %d", code)
		}
		code, pdf, _ := get(t, page+".pdf")
		if code != http.StatusOK {
			t.Fatalf("PDF: %d", code)
		}
		if got := strings.Contains(testenv.PDFText(t, []byte(pdf)), "Dean of Studies"); got != public {
			t.Errorf("public %v: the PDF prints the caption: %v", public, got)
		}
	}
	check(false)
	g.Attributes[len(g.Attributes)-1].Visibility = issuance.VisibilityPublic
	if _, err := s.UpdateGroup(ctx, actor, g); err != nil {
		t.Fatal(err)
	}
	check(true)
}
