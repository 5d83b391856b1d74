package delivery_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/internal/issuancetest"
)

// waits until a real SMTP server (the catcher) has received all 10,000 emails.
func BenchmarkPublishAndDeliver10k(b *testing.B) {
	const n = 10000
	s, d := mustService(b)
	w, catcher := issuancetest.BenchEmailWorker(b, s, d, quiet, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
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
