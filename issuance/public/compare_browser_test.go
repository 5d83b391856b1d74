package public_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"image"
	"image/png"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/browsertest"
	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/issuance"
)

// signatureSVG is a drawn signature, as staff would upload it.
const signatureSVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 60"><path d="M5 45 C30 5 45 55 70 25 S110 50 130 20 S170 40 195 15" fill="none" stroke="#0b2a6f" stroke-width="5"/></svg>`

// webCertificate is what the browser measured of the web certificate: the
// texts, whether each image loaded, and the vertical centres of the title,
// name and signature as fractions of the certificate's height.
type webCertificate struct {
	Left, Top                   float64 // where the certificate is on the page, px
	Title, Name, Date, Caption  string
	LogoLoaded, SignatureLoaded bool
	TitleY, NameY, SignatureY   float64
	SignatureX                  float64 // horizontal centre, fraction of the width
	Width, Height               float64
}

const measure = `(() => {
	const c = document.querySelector('.certificate'), r = c.getBoundingClientRect();
	const fy = el => { const b = el.getBoundingClientRect(); return (b.top + b.height / 2 - r.top) / r.height; };
	const fx = el => { const b = el.getBoundingClientRect(); return (b.left + b.width / 2 - r.left) / r.width; };
	const t = c.querySelector('.cert-title'), n = c.querySelector('.name'), logo = c.querySelector('img.logo'),
		sig = c.querySelector('.cert-slot img'), cap = c.querySelector('.cert-slot figcaption');
	return {Title: t.textContent.trim(), Name: n.textContent.trim(), Date: c.querySelector('.cert-date').textContent.trim(),
		Caption: cap ? cap.textContent.trim() : '', LogoLoaded: !!logo && logo.complete && logo.naturalWidth > 0,
		SignatureLoaded: !!sig && sig.complete && sig.naturalWidth > 0, TitleY: fy(t), NameY: fy(n),
		SignatureY: sig ? fy(sig) : -1, SignatureX: sig ? fx(sig) : -1, Width: r.width, Height: r.height,
		Left: r.left + window.scrollX, Top: r.top + window.scrollY};
})()`

// For each certificate layout, the PDF and the web certificate agree: the
// same title, name, date and signature caption (pdftotext / the DOM), the
// logo and the signature drawn (pdfimages / loaded images), a QR code that
// zbarimg decodes to the credential's page, and the title, name and
// signature at the same height (as a fraction of the page) within 6%, with
// the band or frame in the same colour at the same place.
// CERT_COMPARE_OUT=dir keeps both pictures of each layout.
func TestBrowserCertificateMatchesPDF(t *testing.T) {
	s, _ := mustService(t)
	setKeys(s, mustKeys(t))
	ctx := context.Background()
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	pub(s).Register(r, publicRenderer(t))
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	s.BaseURL = srv.URL
	bctx := browsertest.New(t, browsertest.Options{})
	axe := browsertest.AxeScript(t)

	logo := issuance.BadgeSVG(issuance.LayoutMedal, "#7a1f2b", "#d4a017")
	for i, tpl := range issuance.DesignTemplates(issuance.Certificate) {
		t.Run(string(tpl.Layout), func(t *testing.T) {
			d := tpl.Design()
			d.Name, d.Logo, d.ImageSlots = "Design "+tpl.Name, logo, map[string]string{"left": "signature"}
			des, err := s.CreateDesign(ctx, actor, d)
			if err != nil {
				t.Fatal(err)
			}
			g := mustGroup(t, s, func(g *issuance.Group) {
				g.Name, g.DesignID = "Data Science "+tpl.Name, des.ID
				g.Attributes = append(g.Attributes, issuance.Attribute{Key: "signature", Label: "Course director", Type: issuance.ImageAttr,
					Visibility: issuance.VisibilityPublic})
			})
			if err := s.SetGroupImage(ctx, actor, g.ID, "signature", []byte(signatureSVG)); err != nil {
				t.Fatal(err)
			}
			name := "Ada Lovelace"
			c := mustCreate(t, s, g.ID, item(name, fmt.Sprintf("ada%d@example.edu", i)))[0]
			if _, err := s.Publish(ctx, actor, issuance.Selection{IDs: []string{c.ID}}); err != nil {
				t.Fatal(err)
			}
			pageURL := s.CredentialURL(c.ID)
			date := c.IssuedOn.Format(issuance.HumanDate)

			// The PDF.
			status, body, _ := get(t, pageURL+".pdf")
			if status != http.StatusOK {
				t.Fatalf("PDF: %d\n%s", status, body)
			}
			pdf := []byte(body)
			text := testenv.PDFText(t, pdf)
			for _, want := range []string{tpl.Title, name, date, "Course director"} {
				if !strings.Contains(text, want) {
					t.Errorf("the PDF lacks %q:\n%s", want, text)
				}
			}
			dir := t.TempDir()
			pdfFile := filepath.Join(dir, "c.pdf")
			if err := os.WriteFile(pdfFile, pdf, 0o600); err != nil {
				t.Fatal(err)
			}
			if n := pdfImageCount(t, pdfFile); n != 3 {
				t.Errorf("pdfimages lists %d images; want the logo, the signature and the QR code", n)
			}
			pagePNG := filepath.Join(dir, "page.png")
			if out, err := exec.Command(testenv.Tool(t, "pdftoppm"), "-png", "-r", "110", "-singlefile", pdfFile, strings.TrimSuffix(pagePNG, ".png")).CombinedOutput(); err != nil {
				t.Fatalf("pdftoppm: %v: %s", err, out)
			}
			code, err := exec.Command(testenv.Tool(t, "zbarimg"), "--quiet", "--raw", pagePNG).Output()
			if err != nil || strings.TrimSpace(string(code)) != pageURL {
				t.Errorf("zbarimg read %q (%v); want %q", code, err, pageURL)
			}
			pdfY := pdfWordCentres(t, pdfFile)

			// The web certificate.
			var web webCertificate
			var shot []byte
			tctx, cancel := context.WithTimeout(bctx, 40*time.Second)
			defer cancel()
			// The page is ready when its fonts and images are; the picture
			// of the certificate is cut from a screenshot of the page.
			err = chromedp.Do(tctx, chromedp.EmulateViewport(1280, 1000), chromedp.Navigate(pageURL))
			for ready := false; err == nil && !ready; {
				ready, err = chromedp.Run(tctx, chromedp.Evaluate[bool](`document.readyState === 'complete' && document.fonts.status === 'loaded' && [...document.images].every(i => i.complete)`))
				if !ready {
					time.Sleep(100 * time.Millisecond)
				}
			}
			if err == nil {
				web, err = chromedp.Run(tctx, chromedp.Evaluate[webCertificate](measure))
			}
			if err == nil {
				shot, err = chromedp.Run(tctx, chromedp.FullScreenshot(100))
			}
			if err != nil {
				_, page, _ := get(t, pageURL)
				t.Fatalf("%v\n%s", err, page)
			}
			if web.Title != tpl.Title || web.Name != name || web.Date != date || web.Caption != "Course director" {
				t.Errorf("web certificate shows %+v; want title %q, name %q, date %q, caption Course director", web, tpl.Title, name, date)
			}
			if !web.LogoLoaded || !web.SignatureLoaded {
				t.Errorf("web certificate images: logo loaded %v, signature loaded %v", web.LogoLoaded, web.SignatureLoaded)
			}
			if ratio := web.Width / web.Height; math.Abs(ratio-297.0/210) > 0.03 {
				t.Errorf("web certificate is %.0f×%.0f px, not the PDF's A4 landscape proportions", web.Width, web.Height)
			}
			for _, p := range []struct {
				what      string
				web, want float64
			}{
				{"title", web.TitleY, pdfY[firstWord(tpl.Title)]},
				{"name", web.NameY, pdfY["Lovelace"]},
				{"signature image", web.SignatureY, pdfY["director"] - 0.06}, // the image sits just above its caption
			} {
				t.Logf("%s: %.3f of the web certificate's height, %.3f of the PDF page's", p.what, p.web, p.want)
				if math.Abs(p.web-p.want) > 0.06 {
					t.Errorf("%s at %.3f of the web certificate's height, %.3f of the PDF page's", p.what, p.web, p.want)
				}
			}
			if web.SignatureX > 0.34 {
				t.Errorf("the signature is not in the left third of the web certificate (%.2f)", web.SignatureX)
			}
			// The frame or band: the same colour at the same place in both.
			webImg, pdfImg := crop(decodePNG(t, shot), web), decodePNG(t, mustRead(t, pagePNG))
			for _, at := range [][2]float64{{0.5, 0.038}, {0.5, 0.1}, {0.03, 0.5}} {
				w, p := pixel(webImg, at), pixel(pdfImg, at)
				if dist(w, p) > 60 {
					t.Errorf("at %v the web certificate is %v, the PDF %v", at, w, p)
				}
			}
			// On a phone the certificate fits the screen and the page stays
			// axe-clean.
			if err := chromedp.Do(tctx, chromedp.EmulateViewport(390, 844), browsertest.Relayout); err != nil {
				t.Fatal(err)
			}
			if fits, err := chromedp.Run(tctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth && document.querySelector('.certificate').getBoundingClientRect().right <= window.innerWidth`)); err != nil || !fits {
				t.Errorf("at 390 px the certificate goes past the screen (%v)", err)
			}
			for _, w := range []int64{390, 1280} {
				if err := chromedp.Do(tctx, chromedp.EmulateViewport(w, 900), browsertest.Relayout); err != nil {
					t.Fatal(err)
				}
				vs, err := browsertest.Audit(tctx, axe)
				if err != nil {
					t.Fatal(err)
				}
				for _, v := range vs {
					t.Errorf("at %d px: axe: %s", w, v)
				}
			}
			if out := os.Getenv("CERT_COMPARE_OUT"); out != "" {
				if err := chromedp.Do(tctx, chromedp.EmulateViewport(390, 844)); err == nil {
					if phone, err := chromedp.Run(tctx, chromedp.FullScreenshot(100)); err == nil {
						_ = os.WriteFile(filepath.Join(out, string(tpl.Layout)+"-phone.png"), phone, 0o644)
					}
				}
				var b bytes.Buffer
				_ = png.Encode(&b, webImg)
				_ = os.WriteFile(filepath.Join(out, string(tpl.Layout)+"-web.png"), b.Bytes(), 0o644)
				_ = os.WriteFile(filepath.Join(out, string(tpl.Layout)+"-pdf.png"), mustRead(t, pagePNG), 0o644)
			}
		})
	}
}

func mustRead(t *testing.T, f string) []byte {
	t.Helper()
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func firstWord(s string) string { return strings.Fields(s)[0] }

// pdfImageCount counts the images (not their soft masks) pdfimages lists.
func pdfImageCount(t *testing.T, pdfFile string) int {
	t.Helper()
	out, err := exec.Command(testenv.Tool(t, "pdfimages"), "-list", pdfFile).Output()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[2] == "image" {
			n++
		}
	}
	return n
}

// pdfWordCentres maps each word pdftotext -bbox finds on the page to its
// vertical centre as a fraction of the page's height (the first time it
// occurs).
func pdfWordCentres(t *testing.T, pdfFile string) map[string]float64 {
	t.Helper()
	out, err := exec.Command(testenv.Tool(t, "pdftotext"), "-bbox", pdfFile, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Pages []struct {
			Height float64 `xml:"height,attr"`
			Words  []struct {
				YMin float64 `xml:"yMin,attr"`
				YMax float64 `xml:"yMax,attr"`
				Text string  `xml:",chardata"`
			} `xml:"word"`
		} `xml:"body>doc>page"`
	}
	dec := xml.NewDecoder(bytes.NewReader(out))
	dec.Strict = false
	dec.Entity = xml.HTMLEntity
	if err := dec.Decode(&doc); err != nil || len(doc.Pages) != 1 {
		t.Fatalf("pdftotext -bbox: %v (%d pages)", err, len(doc.Pages))
	}
	m := map[string]float64{}
	p := doc.Pages[0]
	for _, w := range p.Words {
		if _, ok := m[w.Text]; !ok {
			m[w.Text] = (w.YMin + w.YMax) / 2 / p.Height
		}
	}
	return m
}

func decodePNG(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// crop cuts the certificate out of a screenshot of its page.
func crop(page image.Image, w webCertificate) image.Image {
	r := image.Rect(int(w.Left), int(w.Top), int(w.Left+w.Width), int(w.Top+w.Height))
	return page.(interface {
		SubImage(image.Rectangle) image.Image
	}).SubImage(r)
}

// pixel is the colour at a point given as fractions of the width and height.
func pixel(img image.Image, at [2]float64) [3]int {
	b := img.Bounds()
	r, g, bl, _ := img.At(b.Min.X+int(at[0]*float64(b.Dx())), b.Min.Y+int(at[1]*float64(b.Dy()))).RGBA()
	return [3]int{int(r >> 8), int(g >> 8), int(bl >> 8)}
}

func dist(a, b [3]int) int {
	d := 0
	for i := range a {
		d = max(d, int(math.Abs(float64(a[i]-b[i]))))
	}
	return d
}
