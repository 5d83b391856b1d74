package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"
)

// Tool returns the path of an installed command a test checks Laurel's
// output with (pdftotext, exiftool): like a missing server, a missing tool
// skips the test, and fails it when CI=true (make deps installs them).
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		unavailable(t, name+" (make deps installs it)", err)
	}
	return p
}

// PDFText is a PDF's text as poppler's pdftotext reads it, normalised for
// comparison: NFKC folds Arabic Presentation Forms back to the letters they
// show, the bidi marks and isolates pdftotext puts around right-to-left runs
// go, and whitespace is collapsed.
func PDFText(t testing.TB, pdf []byte) string {
	t.Helper()
	bin := Tool(t, "pdftotext")
	f := filepath.Join(t.TempDir(), "c.pdf")
	if err := os.WriteFile(f, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-enc", "UTF-8", f, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	s := strings.Map(func(r rune) rune {
		if r >= 0x202A && r <= 0x202E || r == 0x200E || r == 0x200F || r >= 0x2066 && r <= 0x2069 {
			return -1
		}
		return r
	}, norm.NFKC.String(string(out)))
	return strings.Join(strings.Fields(s), " ")
}
