package certpdf_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/issuance/certpdf"
)

// The printed certificate can be verified from paper: a QR code that an
// independent decoder (zbar) reads as the verification page's address, the
// credential ID in print, and an SVG logo drawn (as an image pdfimages
// finds beside the QR code), not dropped.
func TestCertificateCarriesQRAndSVGLogo(t *testing.T) {
	c := sample("Ada Lovelace")
	c.LogoType = "image/svg+xml"
	c.Logo = []byte(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 60"><rect x="2" y="2" width="56" height="56" fill="#13294b"/><rect x="70" y="15" width="120" height="10" fill="#e84a27"/></svg>`)
	pdf, err := certpdf.Render(c)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := filepath.Join(dir, "c.pdf")
	if err := os.WriteFile(f, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	if text := testenv.PDFText(t, pdf); !strings.Contains(text, "Credential ID "+c.CredentialID) || !strings.Contains(text, "Verify at "+c.URL) {
		t.Fatalf("the ID or address is not in print:\n%s", text)
	}

	out, err := exec.Command(testenv.Tool(t, "pdftoppm"), "-r", "150", "-png", "-singlefile", f, filepath.Join(dir, "page")).CombinedOutput()
	if err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	out, err = exec.Command(testenv.Tool(t, "zbarimg"), "--quiet", "--raw", filepath.Join(dir, "page.png")).Output()
	if err != nil {
		t.Fatalf("zbarimg found no code: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got != c.URL {
		t.Fatalf("QR code reads %q, want %q", got, c.URL)
	}

	// pdfimages -list: the logo, drawn from the SVG at 800 px wide with its
	// 10:3 aspect, and the QR code.
	out, err = exec.Command(testenv.Tool(t, "pdfimages"), "-list", f).Output()
	if err != nil {
		t.Fatal(err)
	}
	var logo, qr bool
	for _, l := range strings.Split(string(out), "\n")[2:] {
		fs := strings.Fields(l)
		if len(fs) < 5 || fs[2] != "image" {
			continue
		}
		w, _ := strconv.Atoi(fs[3])
		h, _ := strconv.Atoi(fs[4])
		logo = logo || (w == 800 && h == 240)
		qr = qr || (w == h && w > 0)
	}
	if !logo || !qr {
		t.Fatalf("images (logo %v, QR %v):\n%s", logo, qr, out)
	}
}
