package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/web"
)

// A rendered page, whole or a fragment, goes out with its length in
// Content-Length, not chunked, however large it is; a HEAD request gets the
// length and no body.
func TestRenderedPagesCarryTheirLength(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	pages := fstest.MapFS{"big.html": {Data: []byte(`{{define "title"}}Big{{end}}{{define "content"}}{{range .Page}}<p>{{.}}</p>{{end}}{{end}}{{define "rows"}}{{range .}}<li>{{.}}</li>{{end}}{{end}}`)}}
	rd, err := web.NewRenderer(nil, pages)
	if err != nil {
		t.Fatal(err)
	}
	lines := make([]string, 2000) // far over net/http's and bufio's buffers
	for i := range lines {
		lines[i] = "line & more"
	}
	r := gin.New()
	r.GET("/page", func(c *gin.Context) { rd.Render(c, http.StatusOK, "big.html", lines) })
	r.HEAD("/page", func(c *gin.Context) { rd.Render(c, http.StatusOK, "big.html", lines) })
	r.GET("/fragment", func(c *gin.Context) { rd.RenderFragment(c, http.StatusAccepted, "big.html", "rows", lines[:3]) })
	srv := httptest.NewServer(r)
	defer srv.Close()

	for _, tc := range []struct {
		method, path string
		status       int
		contains     string
	}{
		{"GET", "/page", http.StatusOK, "<p>line &amp; more</p>"},
		{"GET", "/fragment", http.StatusAccepted, "<li>line &amp; more</li>"},
		{"HEAD", "/page", http.StatusOK, ""},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != tc.status || len(resp.TransferEncoding) != 0 || resp.ContentLength <= 0 {
			t.Fatalf("%s %s: status %d, transfer encoding %v, length %d", tc.method, tc.path, resp.StatusCode, resp.TransferEncoding, resp.ContentLength)
		}
		if tc.method == "HEAD" {
			if len(body) != 0 {
				t.Fatalf("HEAD answered with a %d-byte body", len(body))
			}
			continue
		}
		if int64(len(body)) != resp.ContentLength || !strings.Contains(string(body), tc.contains) {
			t.Fatalf("%s: Content-Length %d for %d bytes: %.200s", tc.path, resp.ContentLength, len(body), body)
		}
	}
}
