// Package groupcommit writes concurrent requests together. Each caller waits
// while its item joins the next batch, and a batch is one write: one
// statement, one round trip, one commit. Under load, hundreds of
// single-row transactions become a few batches; a lone request is written
// at once, without waiting for company.
package groupcommit

import (
	"context"
	"fmt"
	"sync"
)

// Writer gathers items into batches and writes them with its write function
// on at most Writers goroutines at once, each batch at most MaxBatch items
// in arrival order. The goroutines exist only while there is work: a Writer
// needs no start or stop.
type Writer[T, R any] struct {
	write    func(ctx context.Context, items []T) ([]R, error)
	writers  int
	maxBatch int

	mu      sync.Mutex
	queue   []*call[T, R]
	running int
}

type call[T, R any] struct {
	item T
	done chan result[R]
}

type result[R any] struct {
	v   R
	err error
}

// New returns a Writer that writes batches with write, on up to writers
// goroutines at once, each batch at most maxBatch items. write returns one
// result per item, or an error that is every item's, and keeps no
// reference to items once it returns. It runs detached from
// the callers' contexts: a batch is written even when a caller has stopped
// waiting for it, so write sets its own deadline.
func New[T, R any](writers, maxBatch int, write func(ctx context.Context, items []T) ([]R, error)) *Writer[T, R] {
	return &Writer[T, R]{write: write, writers: max(writers, 1), maxBatch: max(maxBatch, 1)}
}

// Do adds item to the next batch and returns its result once that batch is
// written, or ctx's error if ctx ends first (the item may still be
// written).
func (w *Writer[T, R]) Do(ctx context.Context, item T) (R, error) {
	c := &call[T, R]{item: item, done: make(chan result[R], 1)}
	w.mu.Lock()
	w.queue = append(w.queue, c)
	start := w.running < w.writers
	if start {
		w.running++
	}
	w.mu.Unlock()
	if start {
		go w.drain()
	}
	select {
	case r := <-c.done:
		return r.v, r.err
	case <-ctx.Done():
		var zero R
		return zero, ctx.Err()
	}
}

// drain writes what is queued, a batch at a time, until the queue is
// empty.
func (w *Writer[T, R]) drain() {
	var batch []*call[T, R]
	var items []T
	for {
		w.mu.Lock()
		if len(w.queue) == 0 {
			w.running--
			w.queue = nil // let the backing array go
			w.mu.Unlock()
			return
		}
		n := min(len(w.queue), w.maxBatch)
		batch = append(batch[:0], w.queue[:n]...)
		clear(w.queue[:n])
		w.queue = w.queue[n:]
		w.mu.Unlock()
		items = items[:0]
		for _, c := range batch {
			items = append(items, c.item)
		}
		res, err := w.write(context.Background(), items)
		if err == nil && len(res) != len(batch) {
			err = fmt.Errorf("groupcommit: %d results for %d items", len(res), len(batch))
		}
		for i, c := range batch {
			r := result[R]{err: err}
			if err == nil {
				r.v = res[i]
			}
			c.done <- r
		}
		clear(batch)
	}
}
