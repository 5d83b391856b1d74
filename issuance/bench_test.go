package issuance_test

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/benchcpu"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/internal/mail"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance"
)

// bulkCreate fills group gid with n unpublished credentials (10,000 per statement).
func bulkCreate(b *testing.B, s *issuance.Service, gid int64, n int, prefix string) {
	b.Helper()
	for start := 0; start < n; start += 10000 {
		var items []issuance.NewCredential
		for i := start; i < min(n, start+10000); i++ {
			items = append(items, item("Recipient "+itoa(i), prefix+itoa(i)+"@example.edu"))
		}
		if _, err := s.CreateCredentials(context.Background(), actor, gid, issuance.FromCSV, items); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublishAndDeliver10k publishes 10,000 unpublished credentials and
// waits until a real SMTP server (the catcher) has received all 10,000 emails.
func BenchmarkPublishAndDeliver10k(b *testing.B) {
	const n = 10000
	s, d := mustService(b)
	catcher := mustCatcher(b, "")
	sender, err := mail.NewSender(catcher.URL(), "Laurel <no-reply@laurel.test>", 8)
	if err != nil {
		b.Fatal(err)
	}
	defer sender.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := jobs.NewWorker(d, quiet)
	w.Concurrency, w.BatchSize, w.Poll = 8, 50, 50*time.Millisecond
	w.HandleBatch(issuance.EmailJob, s.SendEmailBatch(sender, "Laurel <no-reply@laurel.test>"))
	go w.Run(ctx)

	var total time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		g := mustGroup(b, s, func(g *issuance.Group) { g.Name = "Bench " + itoa(i) })
		bulkCreate(b, s, g.ID, n, "b"+itoa(i)+"-")
		catcher.Reset()
		b.StartTimer()
		start := time.Now()
		res, err := s.Publish(ctx, actor, issuance.Selection{GroupID: g.ID, AllUnpublished: true})
		if err != nil || res.Emails != n {
			b.Fatalf("publish: %+v %v", res, err)
		}
		published := time.Since(start)
		for deadline := time.Now().Add(120 * time.Second); catcher.Len() < n; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d emails after 120 s", catcher.Len(), n)
			}
		}
		took := time.Since(start)
		b.StopTimer()
		if msgs := catcher.Messages(); len(msgs) != n || !strings.Contains(msgs[n-1].Text, "https://laurel.test/c/") {
			b.Fatalf("%d messages; last text %q", len(msgs), msgs[len(msgs)-1].Text)
		}
		b.StartTimer()
		total += took
		b.Logf("published %d in %s; all %d emails delivered after %s", n, published, n, took)
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/10k-delivered")
	b.ReportMetric(0, "ns/op")
}

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
	s.RegisterAPI(api)
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
