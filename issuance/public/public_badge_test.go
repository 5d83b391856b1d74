package public_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/issuance"
)

// exiftoolCredential unbakes a PNG with exiftool (Debian's
// libimage-exiftool-perl), a reader that shares no code with ours.
func exiftoolCredential(t testing.TB, png []byte) string {
	t.Helper()
	bin := testenv.Tool(t, "exiftool")
	f := filepath.Join(t.TempDir(), "badge.png")
	if err := os.WriteFile(f, png, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-b", "-PNG:Openbadgecredential", f).Output()
	if err != nil {
		t.Fatalf("exiftool: %v", err)
	}
	return string(out)
}

// svgCredential unbakes an SVG with encoding/xml: the text of the first
// credential element in the Open Badges 3.0 namespace.
func svgCredential(t testing.TB, svg []byte) string {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(svg))
	for {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("no openbadges:credential element: %v", err)
		}
		if e, ok := tok.(xml.StartElement); ok && e.Name.Space == "https://purl.imsglobal.org/ob/v3p0" && e.Name.Local == "credential" {
			var v struct {
				Text string `xml:",chardata"`
			}
			if err := dec.DecodeElement(&v, &e); err != nil {
				t.Fatal(err)
			}
			return v.Text
		}
	}
}

const badgeSVG = `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100"><circle cx="50" cy="50" r="40" fill="#c9a227"/></svg>`

func TestBakedBadge(t *testing.T) {
	s, _ := mustService(t)
	setKeys(s, mustKeys(t))
	ctx := context.Background()
	srv := publicServer(t, s)
	pngDesign, err := s.CreateDesign(ctx, actor, issuance.Design{Name: "PNG badge", Kind: issuance.Badge, Image: pngBytes(t)})
	if err != nil {
		t.Fatal(err)
	}
	svgDesign, err := s.CreateDesign(ctx, actor, issuance.Design{Name: "SVG badge", Kind: issuance.Badge, Image: []byte(badgeSVG)})
	if err != nil {
		t.Fatal(err)
	}
	pg := mustGroup(t, s, func(g *issuance.Group) { g.Name = "PNG Group"; g.DesignID = pngDesign.ID })
	sg := mustGroup(t, s, func(g *issuance.Group) { g.Name = "SVG Group"; g.DesignID = svgDesign.ID })
	p := mustCreate(t, s, pg.ID, item("Zoë ]]> <b>王</b>", "z@example.edu"))[0]
	v := mustCreate(t, s, sg.ID, item("Zoë ]]> <b>王</b>", "v@example.edu"))[0]
	if _, err := s.Publish(ctx, actor, issuance.Selection{IDs: []string{p.ID, v.ID}}); err != nil {
		t.Fatal(err)
	}
	credJSON := func(id string) string {
		code, body, hdr := get(t, srv.URL+"/c/"+id+".json")
		if code != 200 || !strings.Contains(hdr.Get("Content-Type"), "json") {
			t.Fatalf("%s.json: status %d %s", id, code, hdr.Get("Content-Type"))
		}
		return body
	}

	t.Run("png", func(t *testing.T) {
		code, img, hdr := get(t, srv.URL+"/c/"+p.ID+"/badge")
		if code != 200 || hdr.Get("Content-Type") != "image/png" ||
			hdr.Get("Content-Disposition") != `attachment; filename="badge-`+p.ID+`.png"` {
			t.Fatalf("status %d type %q disposition %q", code, hdr.Get("Content-Type"), hdr.Get("Content-Disposition"))
		}
		got, want := exiftoolCredential(t, []byte(img)), credJSON(p.ID)
		if got != want {
			t.Fatalf("unbaked PNG differs from /c/:id.json:\n got %s\nwant %s", got, want)
		}
		if !strings.Contains(want, "proof") {
			t.Fatal("the baked credential carries no proof")
		}
	})

	t.Run("svg", func(t *testing.T) {
		code, img, hdr := get(t, srv.URL+"/c/"+v.ID+"/badge")
		if code != 200 || hdr.Get("Content-Type") != "image/svg+xml" || !strings.Contains(hdr.Get("Content-Security-Policy"), "sandbox") {
			t.Fatalf("status %d type %q csp %q", code, hdr.Get("Content-Type"), hdr.Get("Content-Security-Policy"))
		}
		if got, want := svgCredential(t, []byte(img)), credJSON(v.ID); got != want {
			t.Fatalf("unbaked SVG differs from /c/:id.json:\n got %s\nwant %s", got, want)
		}
	})

	// Each design downloads as the other kind too, baked as well: an SVG
	// design drawn as a PNG of badgePNGSide (exiftool unbakes it), a PNG
	// design wrapped in an SVG that shows it.
	t.Run("svg design as png", func(t *testing.T) {
		code, img, hdr := get(t, srv.URL+"/c/"+v.ID+"/badge?format=png")
		if code != 200 || hdr.Get("Content-Type") != "image/png" || hdr.Get("Content-Disposition") != `attachment; filename="badge-`+v.ID+`.png"` {
			t.Fatalf("status %d type %q disposition %q", code, hdr.Get("Content-Type"), hdr.Get("Content-Disposition"))
		}
		cfg, err := png.DecodeConfig(strings.NewReader(img))
		if err != nil || cfg.Width != 600 || cfg.Height != 600 {
			t.Fatalf("png %+v (%v), want 600×600", cfg, err)
		}
		if got, want := exiftoolCredential(t, []byte(img)), credJSON(v.ID); got != want {
			t.Fatalf("unbaked PNG differs from /c/:id.json:\n got %s\nwant %s", got, want)
		}
	})
	t.Run("png design as svg", func(t *testing.T) {
		code, img, hdr := get(t, srv.URL+"/c/"+p.ID+"/badge?format=svg")
		if code != 200 || hdr.Get("Content-Type") != "image/svg+xml" || !strings.Contains(img, base64.StdEncoding.EncodeToString(pngBytes(t))) {
			t.Fatalf("status %d type %q: %.200s", code, hdr.Get("Content-Type"), img)
		}
		if got, want := svgCredential(t, []byte(img)), credJSON(p.ID); got != want {
			t.Fatalf("unbaked SVG differs from /c/:id.json:\n got %s\nwant %s", got, want)
		}
		if code, _, _ := get(t, srv.URL+"/c/"+p.ID+"/badge?format=gif"); code != http.StatusBadRequest {
			t.Fatalf("format=gif: status %d", code)
		}
	})

	t.Run("amendment re-bakes", func(t *testing.T) {
		_, before, hdr := get(t, srv.URL+"/c/"+p.ID+"/badge")
		if _, err := s.AmendCredential(ctx, actor, p.ID, issuance.Amendment{Name: strp("Zoë Amended")}); err != nil {
			t.Fatal(err)
		}
		res, after := getWith(t, srv.URL+"/c/"+p.ID+"/badge", map[string]string{"If-None-Match": hdr.Get("ETag")})
		if res.StatusCode != 200 || string(after) == before {
			t.Fatalf("status %d: the badge did not change after an amendment", res.StatusCode)
		}
		got := exiftoolCredential(t, after)
		if got != credJSON(p.ID) || !strings.Contains(got, "Zoë Amended") {
			t.Fatalf("re-baked credential %s", got)
		}
	})

	t.Run("only where it exists", func(t *testing.T) {
		cd, err := s.CreateDesign(ctx, actor, issuance.Design{Name: "Cert", Kind: issuance.Certificate})
		if err != nil {
			t.Fatal(err)
		}
		cg := mustGroup(t, s, func(g *issuance.Group) { g.DesignID = cd.ID })
		c := mustCreate(t, s, cg.ID, item("Cert", "c@example.edu"), item("Unpub", "u@example.edu"))
		if _, err := s.Publish(ctx, actor, issuance.Selection{IDs: []string{c[0].ID}}); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{c[0].ID, c[1].ID, strings.Repeat("c", 32)} { // certificate, unpublished, unknown
			if code, body, _ := get(t, srv.URL+"/c/"+id+"/badge"); code != 404 || strings.Contains(body, "PNG") {
				t.Fatalf("%s/badge: status %d", id, code)
			}
		}
		// A deployment without signing keys has nothing to bake.
		unsigned := issuance.New(s.DB, s.BaseURL)
		unsigned.Log = quiet
		srv2 := publicServer(t, unsigned)
		u := mustCreate(t, unsigned, sg.ID, item("Never signed", "n@example.edu"))[0]
		if _, err := unsigned.Publish(ctx, actor, issuance.Selection{IDs: []string{u.ID}}); err != nil {
			t.Fatal(err)
		}
		if code, _, _ := get(t, srv2.URL+"/c/"+u.ID+"/badge"); code != 404 {
			t.Fatalf("unsigned: status %d", code)
		}
		if _, page, _ := get(t, srv2.URL+"/c/"+u.ID); strings.Contains(page, "/badge") {
			t.Fatal("the page offers a badge that cannot be baked")
		}
		if _, err := s.Revoke(ctx, actor, v.ID, "error"); err != nil {
			t.Fatal(err)
		}
		if code, _, _ := get(t, srv.URL+"/c/"+v.ID+"/badge"); code != http.StatusGone {
			t.Fatalf("revoked: status %d", code)
		}
	})
}
