package public_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/browsertest"
	"github.com/laurel-edu/laurel/issuance"
)

// download is what the page's script saw when fetching one download link.
type download struct {
	Label, Href, Type string
	Status            int
	Head              string // the first bytes, as Latin-1 text
	Baked             bool   // the body holds an openbadgecredential chunk
}

// In a real Chromium: the credential page shows the LinkedIn button and
// share links, and every download link it offers answers with what it says.
func TestBrowserCredentialDownloads(t *testing.T) {
	s, _ := mustService(t)
	setKeys(s, mustKeys(t))
	ctx := context.Background()
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	pub(s).Register(r, publicRenderer(t))
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	s.BaseURL = srv.URL // links on the page point at this server

	cd, err := s.CreateDesign(ctx, actor, issuance.Design{Name: "Cert", Kind: issuance.Certificate, Title: "Certificate"})
	if err != nil {
		t.Fatal(err)
	}
	bd, err := s.CreateDesign(ctx, actor, issuance.Design{Name: "Badge", Kind: issuance.Badge, Image: pngBytes(t)})
	if err != nil {
		t.Fatal(err)
	}
	cg := mustGroup(t, s, func(g *issuance.Group) { g.DesignID = cd.ID })
	bg := mustGroup(t, s, func(g *issuance.Group) { g.Name = "Badge Group"; g.DesignID = bd.ID })
	c := mustCreate(t, s, cg.ID, item("Zoë 王小明", "z@example.edu"))[0]
	b := mustCreate(t, s, bg.ID, item("Bea", "b@example.edu"))[0]
	if _, err := s.Publish(ctx, actor, issuance.Selection{IDs: []string{c.ID, b.ID}}); err != nil {
		t.Fatal(err)
	}

	bctx := browsertest.New(t, browsertest.Options{})
	const fetchAll = `Promise.all([...document.querySelectorAll('#download-links a')].map(async a => {
		const r = await fetch(a.href);
		const bytes = new Uint8Array(await r.arrayBuffer());
		const latin = Array.from(bytes, x => String.fromCharCode(x)).join('');
		return {Label: a.textContent, Href: a.getAttribute('href'), Type: r.headers.get('content-type'), Status: r.status,
			Head: latin.slice(0, 5), Baked: latin.includes('openbadgecredential') || latin.includes('<openbadges:credential')};
	}))`
	visit := func(id string) []download {
		t.Helper()
		tctx, cancel := context.WithTimeout(bctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(tctx, chromedp.Navigate(srv.URL+"/c/"+id), chromedp.WaitVisible("#linkedin-add")); err != nil {
			t.Fatal(err)
		}
		if txt, err := chromedp.Run(tctx, chromedp.Text("#linkedin-add")); err != nil || txt != "Add to LinkedIn profile" {
			t.Fatalf("LinkedIn button %q (%v)", txt, err)
		}
		if share, err := chromedp.Run(tctx, chromedp.Text("#share-links")); err != nil || !strings.Contains(share, "LinkedIn") || !strings.Contains(share, "Email") {
			t.Fatalf("share links %q (%v)", share, err)
		}
		ds, err := chromedp.Run(tctx, chromedp.Evaluate[[]download](fetchAll, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}

	ds := visit(c.ID)
	if len(ds) != 2 || ds[0].Status != 200 || ds[0].Type != "application/pdf" || ds[0].Head != "%PDF-" ||
		ds[1].Status != 200 || !strings.Contains(ds[1].Type, "json") || ds[1].Head[0] != '{' {
		t.Fatalf("certificate downloads %+v", ds)
	}
	// A PNG badge design downloads as PNG and as SVG, both baked.
	ds = visit(b.ID)
	if len(ds) != 3 || ds[0].Status != 200 || ds[0].Type != "image/png" || ds[0].Head != "\u0089PNG\r" || !ds[0].Baked ||
		ds[1].Status != 200 || ds[1].Type != "image/svg+xml" || ds[1].Head != "<svg " || !ds[1].Baked ||
		ds[2].Status != 200 || !strings.Contains(ds[2].Type, "json") {
		t.Fatalf("badge downloads %+v", ds)
	}
}
