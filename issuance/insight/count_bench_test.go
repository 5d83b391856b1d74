package insight

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// BenchmarkCount is what counting adds to a public page: the counting
// rule and one increment in memory (no network), from 8 goroutines at
// once over 10,000 credentials.
func BenchmarkCount(b *testing.B) {
	s := &Service{Redis: redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), Now: time.Now}
	s.zone.Store(time.UTC)
	ids := make([]string, 10000)
	for i := range ids {
		ids[i] = "credential" + strconv.Itoa(i)
	}
	r := httptest.NewRequest(http.MethodGet, "/c/x", nil)
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			s.Count(r, ids[i%len(ids)], View)
			i++
		}
	})
}
