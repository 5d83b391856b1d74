package public_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/certpdf"
)

func getWith(t testing.TB, u string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

func TestCertificatePDF(t *testing.T) {
	s, _ := mustService(t)
	ctx := context.Background()
	srv := publicServer(t, s)
	cert, err := s.CreateDesign(ctx, actor, issuance.Design{Name: "Cert", Kind: issuance.Certificate, Title: "Certificate of Achievement",
		PrintedAttributes: []string{"recipient_name", "grade", "completed", "course_name"}})
	if err != nil {
		t.Fatal(err)
	}
	badge, err := s.CreateDesign(ctx, actor, issuance.Design{Name: "Badge", Kind: issuance.Badge, Image: pngBytes(t)})
	if err != nil {
		t.Fatal(err)
	}
	// The design prints grade and completed; only grade is public, so
	// completed is never drawn.
	g := mustGroup(t, s, func(g *issuance.Group) {
		g.DesignID = cert.ID
		g.ValidityMonths = intp(24)
		g.Attributes[0].Visibility = issuance.VisibilityPublic
	})
	bg := mustGroup(t, s, func(g *issuance.Group) { g.Name = "Badge Group"; g.DesignID = badge.ID })
	// A line that starts in Latin: pdftotext puts an Arabic run inside it
	// back into logical order (certpdf's tests cover lines that start in
	// Arabic on their own).
	name := "Zoë 王小明 محمد عبد الله"
	it := item(name, "m@example.edu")
	it.Attributes["completed"] = "2026-06-01"
	cs := mustCreate(t, s, g.ID, it, item("Unpublished", "u@example.edu"), item("Rev", "r@example.edu"))
	b := mustCreate(t, s, bg.ID, item("Bea", "bea@example.edu"))[0]
	if _, err := s.Publish(ctx, actor, issuance.Selection{IDs: []string{cs[0].ID, cs[2].ID, b.ID}}); err != nil {
		t.Fatal(err)
	}
	u := srv.URL + "/c/" + cs[0].ID + ".pdf"

	res, pdf := getWith(t, u, nil)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("status %d type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	text := testenv.PDFText(t, pdf)
	for _, want := range []string{norm.NFKC.String(name), "Certificate of Achievement", "Data Science Foundations", "DS 101",
		"Grade", "91.5", "Issued by Laurel · 30 June 2026 · Expires 30 June 2028",
		"Credential ID " + cs[0].ID, "https://laurel.test/c/" + cs[0].ID} {
		if !strings.Contains(text, want) {
			t.Fatalf("PDF text lacks %q:\n%s", want, text)
		}
	}
	for _, hidden := range []string{"Completed", "1 June 2026"} {
		if strings.Contains(text, hidden) {
			t.Fatalf("the PDF draws %q, an attribute for the recipient only:\n%s", hidden, text)
		}
	}

	t.Run("revalidation", func(t *testing.T) {
		etag := res.Header.Get("ETag")
		r2, body := getWith(t, u, map[string]string{"If-None-Match": etag})
		if etag == "" || r2.StatusCode != http.StatusNotModified || len(body) != 0 {
			t.Fatalf("etag %q: status %d", etag, r2.StatusCode)
		}
		if res.Header.Get("Cache-Control") != "no-cache" {
			t.Fatalf("cache-control %q", res.Header.Get("Cache-Control"))
		}
	})

	t.Run("amendment shows at once", func(t *testing.T) {
		if _, err := s.AmendCredential(ctx, actor, cs[0].ID, issuance.Amendment{Name: strp("Zoë Ñúñez-Öztürk")}); err != nil {
			t.Fatal(err)
		}
		r2, pdf := getWith(t, u, map[string]string{"If-None-Match": res.Header.Get("ETag")})
		if r2.StatusCode != 200 {
			t.Fatalf("status %d after an amendment", r2.StatusCode)
		}
		if text := testenv.PDFText(t, pdf); !strings.Contains(text, "Zoë Ñúñez-Öztürk") || strings.Contains(text, "王小明") {
			t.Fatalf("amended PDF:\n%s", text)
		}
	})

	t.Run("script the fonts lack", func(t *testing.T) {
		dev := mustCreate(t, s, g.ID, item("अनन्या शर्मा", "a@example.edu"))[0]
		if _, err := s.Publish(ctx, actor, issuance.Selection{IDs: []string{dev.ID}}); err != nil {
			t.Fatal(err)
		}
		code, body, _ := get(t, srv.URL+"/c/"+dev.ID+".pdf")
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, "cannot draw") || !strings.Contains(body, "/c/"+dev.ID) {
			t.Fatalf("status %d: %s", code, body)
		}
		_, page, _ := get(t, srv.URL+"/c/"+dev.ID)
		if !strings.Contains(page, "linkedin-add") || strings.Contains(page, dev.ID+".pdf") {
			t.Fatal("the page must offer LinkedIn but no PDF it cannot make")
		}
	})

	t.Run("not for everything", func(t *testing.T) {
		for _, id := range []string{cs[1].ID, strings.Repeat("b", 32), b.ID} { // unpublished, unknown, badge design
			code, body, _ := get(t, srv.URL+"/c/"+id+".pdf")
			if code != 404 || strings.Contains(body, "%PDF") {
				t.Fatalf("%s.pdf: status %d", id, code)
			}
		}
		if _, err := s.Revoke(ctx, actor, cs[2].ID, "issued in error"); err != nil {
			t.Fatal(err)
		}
		code, body, _ := get(t, srv.URL+"/c/"+cs[2].ID+".pdf")
		if code != http.StatusGone || !strings.Contains(body, "revoked") {
			t.Fatalf("revoked: status %d %s", code, body)
		}
	})
}

func TestPublicPageLinks(t *testing.T) {
	s, _ := mustService(t)
	setKeys(s, mustKeys(t))
	ctx := context.Background()
	srv := publicServer(t, s)
	if _, err := s.DefaultDesign(ctx); err != nil {
		t.Fatal(err)
	}
	badge, err := s.CreateDesign(ctx, actor, issuance.Design{Name: "Badge", Kind: issuance.Badge, Image: pngBytes(t)})
	if err != nil {
		t.Fatal(err)
	}
	g := mustGroup(t, s, func(g *issuance.Group) { g.ValidityMonths = intp(12) })
	bg := mustGroup(t, s, func(g *issuance.Group) { g.Name = "Badge & Co"; g.DesignID = badge.ID })
	c := mustCreate(t, s, g.ID, item("Ada Lovelace", "ada@example.edu"))[0]
	b := mustCreate(t, s, bg.ID, item("Bea", "bea@example.edu"))[0]
	if _, err := s.Publish(ctx, actor, issuance.Selection{IDs: []string{c.ID, b.ID}}); err != nil {
		t.Fatal(err)
	}
	hrefs := func(body, id string) []string {
		m := regexp.MustCompile(`(?s)<ul id="` + id + `">(.*?)</ul>`).FindStringSubmatch(body)
		if m == nil {
			return nil
		}
		var out []string
		for _, h := range regexp.MustCompile(`href="([^"]*)"`).FindAllStringSubmatch(m[1], -1) {
			out = append(out, html.UnescapeString(h[1]))
		}
		return out
	}

	_, body, _ := get(t, srv.URL+"/c/"+c.ID)
	m := regexp.MustCompile(`id="linkedin-add" href="([^"]*)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no LinkedIn button:\n%s", body)
	}
	lu, err := url.Parse(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	want := url.Values{"startTask": {"CERTIFICATION_NAME"}, "name": {"Data Science Foundations"}, "organizationName": {"Laurel"},
		"issueYear": {"2026"}, "issueMonth": {"6"}, "expirationYear": {"2027"}, "expirationMonth": {"6"},
		"certUrl": {"https://laurel.test/c/" + c.ID}, "certId": {c.ID}}
	if lu.Host != "www.linkedin.com" || lu.Path != "/profile/add" || lu.Query().Encode() != want.Encode() {
		t.Fatalf("LinkedIn link %s", lu)
	}
	share := hrefs(body, "share-links")
	if len(share) != 4 || !strings.Contains(share[0], url.QueryEscape("https://laurel.test/c/"+c.ID)) ||
		!strings.HasPrefix(share[3], "mailto:?subject=Ada%20Lovelace") {
		t.Fatalf("share links %q", share)
	}
	if dl := hrefs(body, "download-links"); len(dl) != 2 || dl[0] != "https://laurel.test/c/"+c.ID+".pdf" || dl[1] != "https://laurel.test/c/"+c.ID+".json" {
		t.Fatalf("certificate downloads %q", dl)
	}
	_, body, _ = get(t, srv.URL+"/c/"+b.ID)
	if dl := hrefs(body, "download-links"); len(dl) != 3 || dl[0] != "https://laurel.test/c/"+b.ID+"/badge?format=png" ||
		dl[1] != "https://laurel.test/c/"+b.ID+"/badge?format=svg" || dl[2] != "https://laurel.test/c/"+b.ID+".json" {
		t.Fatalf("badge downloads %q", dl)
	}
	// Every download link answers.
	for _, id := range []string{c.ID, b.ID} {
		_, body, _ := get(t, srv.URL+"/c/"+id)
		for _, u := range hrefs(body, "download-links") {
			if code, _, _ := get(t, strings.Replace(u, "https://laurel.test", srv.URL, 1)); code != 200 {
				t.Fatalf("%s: status %d", u, code)
			}
		}
	}
	// A revoked credential offers nothing to share or download.
	if _, err := s.Revoke(ctx, actor, c.ID, "error"); err != nil {
		t.Fatal(err)
	}
	_, body, _ = get(t, srv.URL+"/c/"+c.ID)
	if strings.Contains(body, "linkedin-add") || strings.Contains(body, "download-links") || strings.Contains(body, "share-links") {
		t.Fatal("revoked credential still offers LinkedIn, share or download links")
	}
}

func TestEmailLinksDownloads(t *testing.T) {
	s, d := mustService(t)
	setKeys(s, mustKeys(t))
	ctx := context.Background()
	catcher := mustCatcher(t, "")
	w := emailWorker(t, s, d, catcher.URL(), true)
	if _, err := s.DefaultDesign(ctx); err != nil {
		t.Fatal(err)
	}
	badge, err := s.CreateDesign(ctx, actor, issuance.Design{Name: "Badge", Kind: issuance.Badge, Image: pngBytes(t)})
	if err != nil {
		t.Fatal(err)
	}
	g := mustGroup(t, s, nil)
	bg := mustGroup(t, s, func(g *issuance.Group) { g.Name = "Badge Group"; g.DesignID = badge.ID })
	c := mustCreate(t, s, g.ID, item("Ada", "ada@example.edu"))[0]
	b := mustCreate(t, s, bg.ID, item("Bea", "bea@example.edu"))[0]
	if _, err := s.Publish(ctx, actor, issuance.Selection{IDs: []string{c.ID, b.ID}}); err != nil {
		t.Fatal(err)
	}
	drain(t, w)
	msgs, err := catcher.WaitFor(2, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		want := "https://laurel.test/c/" + c.ID + ".pdf"
		if m.To[0] == "bea@example.edu" {
			want = "https://laurel.test/c/" + b.ID + "/badge"
		}
		if !strings.Contains(m.Text, want) || !strings.Contains(m.HTML, `href="`+want+`"`) {
			t.Fatalf("email to %s lacks %s:\n%s\n%s", m.To[0], want, m.Text, m.HTML)
		}
		if raw := strings.ToLower(string(m.Raw)); strings.Contains(raw, "attachment") || strings.Contains(raw, "application/pdf") {
			t.Fatalf("email to %s attaches a file", m.To[0])
		}
	}
}

// BenchmarkCertificatePDF measures GET /c/:id.pdf through HTTP with the
// database: "cold" asks for a different credential each time (rendered, then
// cached), "cached" the same one again. Names mix Latin, CJK and Arabic, so
// both fonts are embedded.
func BenchmarkCertificatePDF(b *testing.B) {
	s, _ := mustService(b)
	ctx := context.Background()
	srv := publicServer(b, s)
	if _, err := s.DefaultDesign(ctx); err != nil {
		b.Fatal(err)
	}
	g := mustGroup(b, s, nil)
	const n = 300
	var items []issuance.NewCredential
	for i := range n {
		items = append(items, item("Zoë 王小明 محمد "+itoa(i), "r"+itoa(i)+"@example.edu"))
	}
	cs := mustCreate(b, s, g.ID, items...)
	ids := make([]string, n)
	for i, c := range cs {
		ids[i] = c.ID
	}
	if _, err := s.Publish(ctx, actor, issuance.Selection{IDs: ids}); err != nil {
		b.Fatal(err)
	}
	fetch := func(id string) {
		res, err := http.Get(srv.URL + "/c/" + id + ".pdf")
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			b.Fatalf("status %d", res.StatusCode)
		}
	}
	b.Run("cold", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if i == n {
				b.Fatalf("at most %d iterations (-benchtime %dx)", n, n)
			}
			fetch(ids[i])
			i++
		}
	})
	b.Run("cached", func(b *testing.B) {
		fetch(ids[0])
		for b.Loop() {
			fetch(ids[0])
		}
	})
}

// The web certificate is set in the PDF's typefaces: the page declares them
// and the fonts it names are served, byte for byte the PDF's.
func TestCertificateFontsServed(t *testing.T) {
	s, _ := mustService(t)
	srv := publicServer(t, s)
	for path, want := range map[string][]byte{"/fonts/certificate-serif.ttf": certpdf.SerifTTF, "/fonts/certificate-sans.ttf": certpdf.SansTTF} {
		code, body, hdr := get(t, srv.URL+path)
		if code != 200 || hdr.Get("Content-Type") != "font/ttf" || body != string(want) {
			t.Fatalf("%s: status %d type %q, %d bytes", path, code, hdr.Get("Content-Type"), len(body))
		}
	}
}
