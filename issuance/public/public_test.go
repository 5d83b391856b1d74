package public_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/public"
)

// publicRenderer parses the public pages (and the partial they share) only.
func publicRenderer(t testing.TB) *web.Renderer {
	t.Helper()
	rd, err := web.NewRenderer(nil, public.Templates)
	if err != nil {
		t.Fatal(err)
	}
	return rd
}

func publicServer(t testing.TB, s *issuance.Service) *httptest.Server {
	t.Helper()
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	pub(s).Register(r, publicRenderer(t))
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

func get(t testing.TB, url string) (int, string, http.Header) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header
}

func TestPublicCredentialPage(t *testing.T) {
	s, _ := mustService(t)
	setKeys(s, mustKeys(t))
	ctx := context.Background()
	srv := publicServer(t, s)
	if _, err := s.DefaultDesign(ctx); err != nil { // the built-in certificate
		t.Fatal(err)
	}
	badge, err := s.CreateDesign(ctx, actor, issuance.Design{Name: "Badge", Kind: issuance.Badge, Image: pngBytes(t), PrimaryColor: "#123456"})
	if err != nil {
		t.Fatal(err)
	}
	// Grade is public; completed is for the recipient only.
	cert := mustGroup(t, s, func(g *issuance.Group) {
		g.ValidityMonths = intp(12)
		g.Attributes[0].Visibility = issuance.VisibilityPublic
	})
	bg := mustGroup(t, s, func(g *issuance.Group) { g.Name = "Badge Group"; g.DesignID = badge.ID })
	it := item(`Ada <script>alert(1)</script>`, "ada@example.edu")
	it.Attributes["completed"] = "2026-06-01"
	cs := mustCreate(t, s, cert.ID, it, item("Unpub", "u@example.edu"))
	old := item("Old Timer", "old@example.edu")
	old.IssuedOn, old.ExpiresOn = "2020-01-01", "2021-01-01"
	exp := mustCreate(t, s, cert.ID, old)[0]
	b := mustCreate(t, s, bg.ID, item("Bea", "bea@example.edu"))[0]
	if _, err := s.Publish(ctx, actor, issuance.Selection{IDs: []string{cs[0].ID, exp.ID, b.ID}}); err != nil {
		t.Fatal(err)
	}

	t.Run("published", func(t *testing.T) {
		code, body, hdr := get(t, srv.URL+"/c/"+cs[0].ID)
		if code != 200 {
			t.Fatalf("status %d", code)
		}
		if err := contains(body, "Ada &lt;script&gt;alert(1)&lt;/script&gt;", "Data Science Foundations", "DS 101",
			"Issued by", "Laurel", "30 June 2026", "30 June 2027", "Grade", "91.5",
			"Verified: signed by Laurel", "Data Integrity proof: passed", "VC-JWT: passed", "Revocation status: passed",
			"Validity dates: passed", cs[0].ID, "https://laurel.test/c/"+cs[0].ID, "Certificate of Completion", "Status: valid"); err != nil {
			t.Fatalf("%v\n%s", err, body)
		}
		if strings.Contains(body, "Completed") || strings.Contains(body, "1 June 2026") {
			t.Fatal("the public page shows an attribute for the recipient only")
		}
		if strings.Contains(body, "<script>alert") || strings.Contains(body, "Sign out") {
			t.Fatal("unescaped name or staff header on the public page")
		}
		if hdr.Get("Cache-Control") != "no-cache" {
			t.Fatalf("cache-control %q", hdr.Get("Cache-Control"))
		}
	})

	t.Run("badge design with image", func(t *testing.T) {
		code, body, _ := get(t, srv.URL+"/c/"+b.ID)
		if code != 200 || !strings.Contains(body, `src="/c/`+b.ID+`/image"`) || !strings.Contains(body, "#123456") {
			t.Fatalf("status %d body %s", code, body)
		}
		code, img, hdr := get(t, srv.URL+"/c/"+b.ID+"/image")
		if code != 200 || hdr.Get("Content-Type") != "image/png" || len(img) != len(pngBytes(t)) {
			t.Fatalf("image: %d %s %d bytes", code, hdr.Get("Content-Type"), len(img))
		}
	})

	t.Run("unpublished and unknown look the same", func(t *testing.T) {
		c1, b1, _ := get(t, srv.URL+"/c/"+cs[1].ID)
		c2, b2, _ := get(t, srv.URL+"/c/"+strings.Repeat("a", 32))
		c3, b3, _ := get(t, srv.URL+"/c/not-even-an-id")
		c4, b4, _ := get(t, srv.URL+"/c/"+cs[1].ID+"/image")
		if c1 != 404 || c2 != 404 || c3 != 404 || c4 != 404 {
			t.Fatalf("statuses %d %d %d %d", c1, c2, c3, c4)
		}
		if b1 != b2 || b2 != b3 || b3 != b4 {
			t.Fatal("404 bodies differ: an unpublished ID can be told from an unknown one")
		}
		if strings.Contains(b1, "Unpub") || strings.Contains(b1, cs[1].ID) {
			t.Fatal("404 page leaks the credential")
		}
	})

	t.Run("expired", func(t *testing.T) {
		code, body, _ := get(t, srv.URL+"/c/"+exp.ID)
		if code != 200 || contains(body, "This credential expired on 1 January 2021", "Status: expired") != nil || strings.Contains(body, "Verified") {
			t.Fatalf("status %d body %s", code, body)
		}
	})

	t.Run("amended shows at once", func(t *testing.T) {
		if _, err := s.AmendCredential(ctx, actor, cs[0].ID, issuance.Amendment{Name: strp("Ada King")}); err != nil {
			t.Fatal(err)
		}
		_, body, _ := get(t, srv.URL+"/c/"+cs[0].ID)
		if !strings.Contains(body, "Ada King") {
			t.Fatal("amendment not shown")
		}
	})

	t.Run("revoked", func(t *testing.T) {
		if _, err := s.Revoke(ctx, actor, cs[0].ID, "Issued in error <b>"); err != nil {
			t.Fatal(err)
		}
		code, body, _ := get(t, srv.URL+"/c/"+cs[0].ID)
		if code != 200 || contains(body, "This credential was revoked", "Reason: Issued in error &lt;b&gt;", "Status: revoked") != nil || strings.Contains(body, "Verified") {
			t.Fatalf("status %d body %s", code, body)
		}
	})
	_ = time.Now
}
