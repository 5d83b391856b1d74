// Package cache is Laurel's one in-memory cache: TTL, a map whose entries
// expire a fixed time after they were set, on an injected clock, optionally
// bounded in size. It owns no tables. Laurel caches what PostgreSQL holds
// (platforms, keys, settings) for a few seconds to save a query per request;
// a change made by this process clears its entries at once, one made by
// another instance shows within the TTL.
package cache

import (
	"container/list"
	"sync"
	"time"
)

// TTL maps K to V for a while. It is safe for concurrent use. The zero
// value is not usable; call New.
type TTL[K comparable, V any] struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu    sync.Mutex
	m     map[K]*list.Element // of *entry[K, V]
	order list.List           // most recently used first (only when max > 0)
}

type entry[K comparable, V any] struct {
	key K
	val V
	at  time.Time
}

// New returns an empty cache whose entries live for ttl (0: until deleted
// or evicted) on the clock now (nil: time.Now). max > 0 bounds the number of
// entries: setting one more evicts the least recently used.
func New[K comparable, V any](ttl time.Duration, max int, now func() time.Time) *TTL[K, V] {
	if now == nil {
		now = time.Now
	}
	return &TTL[K, V]{ttl: ttl, max: max, now: now, m: map[K]*list.Element{}}
}

// Get returns the value set for k, unless it expired. An entry set at t is
// fresh while now < t+ttl; a clock that went back before t counts as
// expired, so a moved clock never serves a value from the future.
func (c *TTL[K, V]) Get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var zero V
	el, ok := c.m[k]
	if !ok {
		return zero, false
	}
	e := el.Value.(*entry[K, V])
	if c.ttl > 0 {
		if age := c.now().Sub(e.at); age < 0 || age >= c.ttl {
			c.remove(el)
			return zero, false
		}
	}
	if c.max > 0 {
		c.order.MoveToFront(el)
	}
	return e.val, true
}

// Set stores v under k, fresh from now.
func (c *TTL[K, V]) Set(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if el, ok := c.m[k]; ok {
		e := el.Value.(*entry[K, V])
		e.val, e.at = v, now
		if c.max > 0 {
			c.order.MoveToFront(el)
		}
		return
	}
	el := &list.Element{Value: &entry[K, V]{key: k, val: v, at: now}}
	if c.max > 0 {
		el = c.order.PushFront(el.Value)
		for c.order.Len() > c.max {
			c.remove(c.order.Back())
		}
	}
	c.m[k] = el
}

// Delete drops k.
func (c *TTL[K, V]) Delete(k K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[k]; ok {
		c.remove(el)
	}
}

// Invalidate drops every entry.
func (c *TTL[K, V]) Invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
	c.order.Init()
}

func (c *TTL[K, V]) remove(el *list.Element) {
	delete(c.m, el.Value.(*entry[K, V]).key)
	if c.max > 0 {
		c.order.Remove(el)
	}
}
