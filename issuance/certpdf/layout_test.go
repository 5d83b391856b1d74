package certpdf_test

import (
	"bytes"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/issuance/certpdf"
)

// signaturePNG is a small drawn "signature" (a PNG made here, so the test
// needs no file).
func signaturePNG(t *testing.T) []byte {
	t.Helper()
	svg := `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 60"><path d="M5 45 C30 5 45 55 70 25 S110 50 130 20 S170 40 195 15" fill="none" stroke="#0b2a6f" stroke-width="4"/></svg>`
	return []byte(svg)
}

// pagePNG renders the PDF's page with pdftoppm at dpi.
func pagePNG(t *testing.T, pdf []byte, dpi string) []byte {
	t.Helper()
	dir := t.TempDir()
	f := filepath.Join(dir, "c.pdf")
	if err := os.WriteFile(f, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(testenv.Tool(t, "pdftoppm"), "-png", "-r", dpi, "-singlefile", f, filepath.Join(dir, "p")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v: %s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "p.png"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLayoutsDiffer renders each layout with a signature slot: every one
// prints the same texts and the slot's caption, draws the signature
// (pdfimages), and looks different from the others. CERTPDF_OUT=dir keeps
// the pages as PNGs to look at.
func TestLayoutsDiffer(t *testing.T) {
	pages := map[string][]byte{}
	for _, layout := range []string{"classic", "modern", "minimal"} {
		c := sample("Ada Lovelace")
		c.Layout = layout
		c.Slots = []certpdf.Slot{{Position: "left", Caption: "Course director", Image: signaturePNG(t), Type: "image/svg+xml"}}
		pdf, err := certpdf.Render(c)
		if err != nil {
			t.Fatal(err)
		}
		text := testenv.PDFText(t, pdf)
		for _, s := range []string{"Certificate of Completion", "Ada Lovelace", "Course director", "30 June 2026"} {
			if !strings.Contains(text, s) {
				t.Errorf("%s: pdftotext lacks %q:\n%s", layout, s, text)
			}
		}
		f := filepath.Join(t.TempDir(), "c.pdf")
		if err := os.WriteFile(f, pdf, 0o600); err != nil {
			t.Fatal(err)
		}
		list, err := exec.Command(testenv.Tool(t, "pdfimages"), "-list", f).Output()
		if err != nil {
			t.Fatal(err)
		}
		// The QR code and the signature.
		n := 0
		for _, l := range strings.Split(string(list), "\n") {
			if f := strings.Fields(l); len(f) > 2 && f[2] == "image" {
				n++
			}
		}
		if n != 2 {
			t.Errorf("%s: pdfimages lists %d images, want the QR code and the signature:\n%s", layout, n, list)
		}
		img := pagePNG(t, pdf, "40")
		if _, err := png.Decode(bytes.NewReader(img)); err != nil {
			t.Fatal(err)
		}
		pages[layout] = img
		if dir := os.Getenv("CERTPDF_OUT"); dir != "" {
			_ = os.WriteFile(filepath.Join(dir, layout+".png"), pagePNG(t, pdf, "72"), 0o644)
		}
	}
	if bytes.Equal(pages["classic"], pages["modern"]) || bytes.Equal(pages["classic"], pages["minimal"]) || bytes.Equal(pages["modern"], pages["minimal"]) {
		t.Fatal("two layouts render the same page")
	}
}
