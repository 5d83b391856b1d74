package api_test

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/benchcpu"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance"
	issuanceapi "github.com/laurel-edu/laurel/issuance/api"
	"github.com/laurel-edu/laurel/issuance/reminders"
)

// BenchmarkListUnpublished100k reads "Review Unpublished" pages of 50, at
// random depths, in a group holding 100,000 unpublished credentials, through
// the JSON API handler (server time, no network). It reports the p95.
func BenchmarkListUnpublished100k(b *testing.B) {
	s, d := mustService(b)
	g := mustGroup(b, s, nil)
	other := mustGroup(b, s, func(g *issuance.Group) { g.Name = "Noise" })
	bulkCreate(b, s, g.ID, 100000, "u")
	bulkCreate(b, s, other.ID, 20000, "o")
	if _, err := d.Exec(`ANALYZE credentials`); err != nil {
		b.Fatal(err)
	}
	// Cursors at random depths, collected by walking the pages once.
	var cursors []string
	cur := ""
	for {
		_, next, err := s.Credentials(context.Background(), g.ID, issuance.ListOptions{State: issuance.Unpublished, Cursor: cur, Limit: 500})
		if err != nil {
			b.Fatal(err)
		}
		if next == "" {
			break
		}
		cursors = append(cursors, next)
		cur = next
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	p := &auth.Principal{UserID: 1, Role: auth.Viewer}
	api := r.Group("/api/v1", func(c *gin.Context) { c.Set(web.UserKey, p) })
	issuanceapi.Register(api, s, reminders.New(s, nil))
	base := "/api/v1/groups/" + itoa(int(g.ID)) + "/credentials?state=unpublished&limit=50"

	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		url := base
		if i%10 != 0 { // one in ten is the first page
			url += "&cursor=" + cursors[rand.IntN(len(cursors))]
		}
		req := httptest.NewRequest(http.MethodGet, url, nil)
		rec := httptest.NewRecorder()
		start := time.Now()
		r.ServeHTTP(rec, req)
		lat = append(lat, time.Since(start))
		if rec.Code != 200 {
			b.Fatalf("%s: %d %s", url, rec.Code, rec.Body)
		}
	}
	b.StopTimer()
	b.ReportMetric(benchcpu.Percentile(lat, 0.95), "p95-ms")
	b.ReportMetric(benchcpu.Percentile(lat, 0.50), "p50-ms")
}
