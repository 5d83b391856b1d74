package cache_test

import (
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/cache"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func mustGet[K comparable, V comparable](t *testing.T, c *cache.TTL[K, V], k K, want V) {
	t.Helper()
	got, ok := c.Get(k)
	if !ok || got != want {
		t.Fatalf("Get(%v) = %v, %v; want %v, true", k, got, ok, want)
	}
}

func mustMiss[K comparable, V any](t *testing.T, c *cache.TTL[K, V], k K) {
	t.Helper()
	if got, ok := c.Get(k); ok {
		t.Fatalf("Get(%v) = %v, true; want a miss", k, got)
	}
}

func TestExpiry(t *testing.T) {
	clk := &clock{time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)}
	c := cache.New[string, int](5*time.Second, 0, clk.now)
	mustMiss(t, c, "a")
	c.Set("a", 1)
	mustGet(t, c, "a", 1)
	clk.t = clk.t.Add(5*time.Second - time.Nanosecond)
	mustGet(t, c, "a", 1)
	clk.t = clk.t.Add(time.Nanosecond)
	mustMiss(t, c, "a") // fresh while younger than the TTL
	c.Set("a", 2)
	mustGet(t, c, "a", 2)
	clk.t = clk.t.Add(-time.Second)
	mustMiss(t, c, "a") // the clock went back: never trust an entry from the future
}

func TestSetRenews(t *testing.T) {
	clk := &clock{time.Unix(0, 0)}
	c := cache.New[int, string](time.Minute, 0, clk.now)
	c.Set(1, "x")
	clk.t = clk.t.Add(50 * time.Second)
	c.Set(1, "y")
	clk.t = clk.t.Add(50 * time.Second)
	mustGet(t, c, 1, "y")
}

func TestDeleteAndInvalidate(t *testing.T) {
	c := cache.New[int, int](time.Hour, 0, nil)
	for i := range 3 {
		c.Set(i, i*10)
	}
	c.Delete(1)
	mustMiss(t, c, 1)
	mustGet(t, c, 0, 0)
	mustGet(t, c, 2, 20)
	c.Invalidate()
	mustMiss(t, c, 0)
	mustMiss(t, c, 2)
	c.Set(2, 21)
	mustGet(t, c, 2, 21)
}

func TestNoTTLKeepsUntilDeleted(t *testing.T) {
	clk := &clock{time.Unix(0, 0)}
	c := cache.New[string, int](0, 0, clk.now)
	c.Set("k", 7)
	clk.t = clk.t.Add(1000 * time.Hour)
	mustGet(t, c, "k", 7)
}

func TestBoundEvictsLeastRecentlyUsed(t *testing.T) {
	c := cache.New[int, int](0, 3, nil)
	c.Set(1, 1)
	c.Set(2, 2)
	c.Set(3, 3)
	mustGet(t, c, 1, 1) // 1 is now the most recent; 2 the least
	c.Set(4, 4)
	mustMiss(t, c, 2)
	mustGet(t, c, 1, 1)
	mustGet(t, c, 3, 3)
	mustGet(t, c, 4, 4)
	c.Set(3, 30) // a re-set is a use, not a new entry
	c.Set(5, 5)
	mustMiss(t, c, 1)
	mustGet(t, c, 3, 30)
	mustGet(t, c, 4, 4)
	mustGet(t, c, 5, 5)
	c.Delete(4)
	c.Set(6, 6)
	mustGet(t, c, 3, 30)
	mustGet(t, c, 5, 5)
	mustGet(t, c, 6, 6)
	c.Invalidate()
	c.Set(7, 7)
	mustGet(t, c, 7, 7)
}

func TestConcurrentUse(t *testing.T) {
	c := cache.New[int, int](time.Minute, 8, nil)
	done := make(chan bool)
	for g := range 4 {
		go func() {
			for i := range 1000 {
				c.Set(i%16, g)
				c.Get((i + 3) % 16)
				if i%100 == 0 {
					c.Invalidate()
				}
			}
			done <- true
		}()
	}
	for range 4 {
		<-done
	}
}
