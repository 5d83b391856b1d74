package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/locale"
	"github.com/laurel-edu/laurel/internal/web"
)

// TestRendererWritesDatesInTheRequestsLocale: the same page renders the same
// instant in each request's locale, also concurrently, and the older func
// names format through the locale too.
func TestRendererWritesDatesInTheRequestsLocale(t *testing.T) {
	page := fstest.MapFS{"when.html": {Data: []byte(`{{define "content"}}<p id="when">{{dateTime .Page}} · {{dayOf .Page}} · {{datetime .Page}} · {{localtime "xx" .Page}}</p>{{end}}`)}}
	rd, err := web.NewRenderer(nil, page)
	if err != nil {
		t.Fatal(err)
	}
	type key struct{}
	rd.Locale = func(ctx context.Context) locale.Locale { return ctx.Value(key{}).(locale.Locale) }
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	at := time.Date(2026, 12, 7, 23, 33, 0, 0, time.UTC)
	r.GET("/", func(c *gin.Context) {
		l := locale.New(c.Query("lang"), c.Query("zone"))
		c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), key{}, l))
		if err := rd.Render(c, http.StatusOK, "when.html", at); err != nil {
			t.Error(err)
		}
	})
	want := map[string]string{
		"lang=en&zone=UTC":                "7 Dec 2026, 23:33 · 7 Dec 2026 · 7 Dec 2026, 23:33 · 7 Dec 2026, 23:33",
		"lang=fr&zone=Europe/Paris":       "8 déc. 2026, 00:33 · 8 déc. 2026 · 8 déc. 2026, 00:33 · 8 déc. 2026, 00:33",
		"lang=en-US&zone=America/Chicago": "Dec 7, 2026, 5:33 PM · Dec 7, 2026 · Dec 7, 2026, 5:33 PM · Dec 7, 2026, 5:33 PM",
	}
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ {
		for q, w := range want {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rec := httptest.NewRecorder()
				r.ServeHTTP(rec, httptest.NewRequest("GET", "/?"+q, nil))
				if !strings.Contains(rec.Body.String(), `<p id="when">`+w+`</p>`) {
					t.Errorf("%s: want %q in\n%s", q, w, rec.Body.String())
				}
			}()
		}
	}
	wg.Wait()
}
