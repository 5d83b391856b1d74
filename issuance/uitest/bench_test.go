package uitest

import (
	"html"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/auth"
)

// BenchmarkReviewUnpublishedPage serves "Review Unpublished Credentials" for
// a group holding 100,000 unpublished credentials, through the real stack
// (session in Redis, CSRF, staff guard, permission check, keyset page of 50,
// the group's count, template), cycling over the first 40 pages. It reports
// the server time per page: p50 and p95 (target: p95 ≤ 50 ms).
func BenchmarkReviewUnpublishedPage(b *testing.B) {
	e := mustEnv(b)
	start := time.Now()
	e.seed(e.group.ID, 100_000)
	if _, err := e.db.Exec(`VACUUM ANALYZE credentials`); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded 100,000 credentials in %v", time.Since(start).Round(time.Millisecond))
	c := e.signIn("owner@example.edu", auth.Owner)

	base := "/groups/" + gid(e.group) + "/unpublished"
	urls := []string{base}
	for len(urls) < 40 {
		r := c.get(urls[len(urls)-1])
		m := nextRE.FindStringSubmatch(r.body)
		if r.code != 200 || m == nil || len(names(r.body)) != 50 {
			b.Fatalf("page %d: %d, next %v", len(urls), r.code, m != nil)
		}
		urls = append(urls, html.UnescapeString(m[1]))
	}
	if !strings.Contains(c.get(base).body, "More than 10000 unpublished credentials") {
		b.Fatal("count missing")
	}

	e.mu.Lock()
	e.record, e.timings = true, nil
	e.mu.Unlock()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if r := c.get(urls[i%len(urls)]); r.code != 200 {
			b.Fatalf("status %d", r.code)
		}
	}
	b.StopTimer()
	e.mu.Lock()
	ts := slices.Clone(e.timings)
	e.record = false
	e.mu.Unlock()
	slices.Sort(ts)
	pct := func(p float64) float64 {
		return float64(ts[min(len(ts)-1, int(p*float64(len(ts))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50_ms/page")
	b.ReportMetric(pct(0.95), "p95_ms/page")
	b.ReportMetric(float64(ts[len(ts)-1].Microseconds())/1000, "max_ms/page")
}
