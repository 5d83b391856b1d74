package certpdf_test

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	imgcolor "image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/issuance/certpdf"
)

func sample(name string) certpdf.Certificate {
	return certpdf.Certificate{Title: "Certificate of Completion", Recipient: name, Achievement: "Data Science Foundations",
		Course: "DS 101", Issuer: "Laurel", IssuedOn: "30 June 2026", ExpiresOn: "30 June 2027",
		Fields:       []certpdf.Field{{"Grade", "91.5"}, {"Course", "DS 101"}},
		CredentialID: "0123456789abcdef0123456789abcdef", URL: "https://laurel.test/c/0123456789abcdef0123456789abcdef",
		Primary: "#1f3a5f", Secondary: "#c9a227", Created: time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC)}
}

func TestRenderNames(t *testing.T) {
	for _, name := range []string{
		"Zoë Çelik-Ñúñez Øverås",  // Latin with accents
		"Łukasz Żółć",             // Polish
		"Αλέξανδρος Παπαδόπουλος", // Greek
		"Дмитрий Шостакович",      // Cyrillic
		"王小明",                     // Chinese
		"さくら 佐藤",                  // Japanese
		"김민준",                     // Korean
		"محمد عبد الله",           // Arabic (lam-alef ligature in الله)
		"فاطمة الزهراء",           // Arabic, right-joining letters
		"پرویز گلشیری",            // Persian letters
		"יעל כהן",                 // Hebrew
		"Nguyễn Thị Minh Khai",    // Vietnamese
		"Amélie 王 محمد",           // mixed in one line
	} {
		t.Run(name, func(t *testing.T) {
			pdf, err := certpdf.Render(sample(name))
			if err != nil {
				t.Fatal(err)
			}
			got := testenv.PDFText(t, pdf)
			want := strings.Join(strings.Fields(norm.NFKC.String(name)), " ")
			if !strings.Contains(got, want) {
				t.Fatalf("pdftotext does not show %q:\n%s", want, got)
			}
			for _, s := range []string{"Certificate of Completion", "This certifies that", "has earned Data Science Foundations for completing DS 101.",
				"Grade", "91.5", "Issued by Laurel · 30 June 2026 · Expires 30 June 2027",
				"Credential ID 0123456789abcdef0123456789abcdef", "https://laurel.test/c/0123456789abcdef0123456789abcdef"} {
				if !strings.Contains(got, s) {
					t.Fatalf("missing %q in:\n%s", s, got)
				}
			}
			if !certpdf.Covered(name) {
				t.Fatalf("Covered(%q) = false", name)
			}
		})
	}
}

// TestArabicIsShaped checks the drawn glyphs, not only the extracted text:
// pdftotext without NFKC must see Presentation Forms (connected letters),
// which unshaped text would not have.
func TestArabicIsShaped(t *testing.T) {
	pdf, err := certpdf.Render(sample("محمد"))
	if err != nil {
		t.Fatal(err)
	}
	bin := testenv.Tool(t, "pdftotext")
	f := filepath.Join(t.TempDir(), "c.pdf")
	os.WriteFile(f, pdf, 0o600)
	out, err := exec.Command(bin, "-enc", "UTF-8", f, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	// meem initial, hah medial, meem medial, dal final.
	if !bytes.Contains(out, []byte("\uFEE3\uFEA4\uFEE4\uFEAA")) {
		t.Fatalf("no shaped محمد in %q", out)
	}
}

func TestFontsEmbedded(t *testing.T) {
	pdf, err := certpdf.Render(sample("Zoë 王小明"))
	if err != nil {
		t.Fatal(err)
	}
	bin := testenv.Tool(t, "pdffonts")
	f := filepath.Join(t.TempDir(), "c.pdf")
	os.WriteFile(f, pdf, 0o600)
	out, err := exec.Command(bin, f).Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")[2:]
	if len(lines) != 3 {
		t.Fatalf("want 3 fonts (DejaVu Sans and Serif, Droid):\n%s", out)
	}
	for _, l := range lines {
		// columns: name type encoding emb sub uni object ID. fpdf subsets
		// without the "ABCDEF+" name prefix, so pdffonts says sub "no": the
		// size below shows the subsetting.
		fs := strings.Fields(l)
		if len(fs) < 7 || fs[len(fs)-5] != "yes" || fs[len(fs)-3] != "yes" {
			t.Fatalf("font not embedded with a Unicode map: %s\n%s", l, out)
		}
	}
	// Subsetting keeps a CJK certificate small although the font is 3.4 MB.
	if len(pdf) > 200_000 {
		t.Fatalf("PDF is %d bytes", len(pdf))
	}
}

func TestRenderDeterministicAndLogo(t *testing.T) {
	c := sample("Ada")
	a, _ := certpdf.Render(c)
	b, _ := certpdf.Render(c)
	if !bytes.Equal(a, b) {
		t.Fatal("two renders differ: the PDF cannot be cached")
	}
	c.Logo, c.LogoType = []byte("not a png"), "image/png"
	if _, err := certpdf.Render(c); err != nil {
		t.Fatalf("a broken logo must be left out, got %v", err)
	}
	c.Logo, c.LogoType = []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), "image/svg+xml"
	if _, err := certpdf.Render(c); err != nil {
		t.Fatalf("an SVG logo must be left out, got %v", err)
	}
	// A PNG logo (with alpha) is drawn: pdfimages lists it.
	img := image.NewNRGBA(image.Rect(0, 0, 40, 20))
	img.Set(3, 3, imgcolor.NRGBA{200, 0, 0, 128})
	var logo bytes.Buffer
	png.Encode(&logo, img)
	c.Logo, c.LogoType = logo.Bytes(), "image/png"
	pdf, err := certpdf.Render(c)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "c.pdf")
	os.WriteFile(f, pdf, 0o600)
	out, err := exec.Command(testenv.Tool(t, "pdfimages"), "-list", f).Output()
	if err != nil || !strings.Contains(string(out), "  40    20 ") {
		t.Fatalf("logo not in the PDF (%v):\n%s", err, out)
	}
}

// TestRenderRefusesUncovered: scripts the fonts lack (and that would need
// shaping we do not do) get an error naming the characters, not boxes.
func TestRenderRefusesUncovered(t *testing.T) {
	for _, name := range []string{"अनन्या", "สมชาย", "አበበ"} {
		_, err := certpdf.Render(sample(name))
		var unc *certpdf.UncoveredError
		if !errors.As(err, &unc) || string(unc.Runes) == "" || !strings.ContainsRune(name, unc.Runes[0]) {
			t.Errorf("%s: err = %v, want an UncoveredError naming its characters", name, err)
		}
		if certpdf.Covered(name) {
			t.Errorf("Covered(%q) = true", name)
		}
	}
}

// TestLongTextWraps: the longest name and group the forms accept (200
// characters each) wrap onto lines instead of running off the page, and
// every word is still there.
func TestLongTextWraps(t *testing.T) {
	var name, group []string
	for i := range 20 {
		name = append(name, fmt.Sprintf("Name%05d", i)) // 20 × 10 = 200 characters
		group = append(group, fmt.Sprintf("Group%04d", i))
	}
	c := sample(strings.Join(name, " "))
	c.Achievement = strings.Join(group, " ")
	c.Course = strings.Repeat("课", 60) // no spaces: breaks between characters
	pdf, err := certpdf.Render(c)
	if err != nil {
		t.Fatal(err)
	}
	got := testenv.PDFText(t, pdf)
	for _, w := range append(name, group...) {
		if !strings.Contains(got, w) {
			t.Fatalf("%q missing:\n%s", w, got)
		}
	}
	if n := strings.Count(strings.ReplaceAll(got, " ", ""), "课"); n != 60 {
		t.Fatalf("%d of 60 course characters", n)
	}
	// pdftotext -bbox gives every word's box: none may leave the page.
	bin := testenv.Tool(t, "pdftotext")
	f := filepath.Join(t.TempDir(), "c.pdf")
	os.WriteFile(f, pdf, 0o600)
	out, err := exec.Command(bin, "-bbox", f, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`<word xMin="([0-9.]+)" yMin="([0-9.]+)" xMax="([0-9.]+)" yMax="([0-9.]+)"`)
	words := re.FindAllStringSubmatch(string(out), -1)
	if len(words) < 40 {
		t.Fatalf("%d words", len(words))
	}
	const w, h = 841.89, 595.28 // A4 landscape in points
	for _, m := range words {
		x0, _ := strconv.ParseFloat(m[1], 64)
		x1, _ := strconv.ParseFloat(m[3], 64)
		y1, _ := strconv.ParseFloat(m[4], 64)
		if x0 < 40 || x1 > w-40 || y1 > h-40 {
			t.Fatalf("a word leaves the frame: %s", m[0])
		}
	}
}
