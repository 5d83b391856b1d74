package groupcommit_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/groupcommit"
)

// A lone item is written at once, in a batch of its own.
func TestLoneItemIsWrittenAtOnce(t *testing.T) {
	var batches [][]int
	w := groupcommit.New(1, 10, func(_ context.Context, items []int) ([]string, error) {
		batches = append(batches, slices.Clone(items))
		return []string{"r" + strconv.Itoa(items[0])}, nil
	})
	start := time.Now()
	got, err := w.Do(context.Background(), 7)
	if err != nil || got != "r7" {
		t.Fatalf("Do = %q, %v", got, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("a lone item waited %s", d)
	}
	if len(batches) != 1 || !slices.Equal(batches[0], []int{7}) {
		t.Fatalf("batches %v, want [[7]]", batches)
	}
}

// Items that arrive while a batch is being written go together in the
// next one, in arrival order, and each caller gets its own result.
func TestItemsArrivingDuringAWriteShareTheNext(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var batches [][]int
	w := groupcommit.New(1, 100, func(_ context.Context, items []int) ([]int, error) {
		mu.Lock()
		first := len(batches) == 0
		batches = append(batches, slices.Clone(items))
		mu.Unlock()
		if first {
			<-release
		}
		out := make([]int, len(items))
		for i, v := range items {
			out[i] = v * 10
		}
		return out, nil
	})
	results := make([]int, 6)
	var wg sync.WaitGroup
	do := func(v int) {
		defer wg.Done()
		r, err := w.Do(context.Background(), v)
		if err != nil {
			t.Errorf("Do(%d): %v", v, err)
		}
		results[v] = r
	}
	wg.Add(1)
	go do(0)
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(batches) == 1 })
	for v := 1; v < 6; v++ { // one at a time, so their order is known
		wg.Add(1)
		go do(v)
		waitFor(t, func() bool { return w.Queued() == v })
	}
	close(release)
	wg.Wait()
	if want := [][]int{{0}, {1, 2, 3, 4, 5}}; !slices.EqualFunc(batches, want, slices.Equal) {
		t.Fatalf("batches %v, want %v", batches, want)
	}
	if !slices.Equal(results, []int{0, 10, 20, 30, 40, 50}) {
		t.Fatalf("results %v", results)
	}
}

// A batch holds at most maxBatch items, and at most `writers` batches are
// written at once; when the work is done no writer is left running.
func TestBatchSizeAndWritersAreBounded(t *testing.T) {
	var inFlight, most atomic.Int32
	var biggest atomic.Int32
	w := groupcommit.New(2, 3, func(_ context.Context, items []int) ([]struct{}, error) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		for {
			b := biggest.Load()
			if int32(len(items)) <= b || biggest.CompareAndSwap(b, int32(len(items))) {
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
		return make([]struct{}, len(items)), nil
	})
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := w.Do(context.Background(), i); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if most.Load() > 2 || biggest.Load() > 3 {
		t.Fatalf("%d writes at once (want ≤ 2), biggest batch %d (want ≤ 3)", most.Load(), biggest.Load())
	}
	if most.Load() < 2 || biggest.Load() < 2 {
		t.Fatalf("60 concurrent items never shared a batch or a second writer (%d at once, biggest %d)", most.Load(), biggest.Load())
	}
	waitFor(t, func() bool { return w.Running() == 0 })
}

// A failed write is every item's error; a write that returns the wrong
// number of results is an error too, not a panic.
func TestWriteErrorsReachEveryCaller(t *testing.T) {
	boom := errors.New("database down")
	release := make(chan struct{})
	calls := 0
	w := groupcommit.New(1, 10, func(_ context.Context, items []int) ([]int, error) {
		calls++
		if calls == 1 {
			<-release
			return []int{1}, nil
		}
		return nil, boom
	})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); w.Do(context.Background(), 0) }()
	waitFor(t, func() bool { return w.Running() == 1 && w.Queued() == 0 })
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); _, errs[i] = w.Do(context.Background(), i+1) }()
	}
	waitFor(t, func() bool { return w.Queued() == 3 })
	close(release)
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, boom) {
			t.Errorf("item %d: %v, want the write's error", i+1, err)
		}
	}

	short := groupcommit.New(1, 10, func(_ context.Context, items []int) ([]int, error) { return nil, nil })
	if _, err := short.Do(context.Background(), 1); err == nil {
		t.Fatal("a write with no results for its item succeeded")
	}
}

// A caller that stops waiting gets its context's error; its item is still
// written.
func TestCallerThatGivesUpStillHasItsItemWritten(t *testing.T) {
	release := make(chan struct{})
	written := make(chan int, 1)
	w := groupcommit.New(1, 10, func(_ context.Context, items []int) ([]int, error) {
		<-release
		written <- items[0]
		return []int{0}, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := w.Do(ctx, 42); done <- err }()
	waitFor(t, func() bool { return w.Running() == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Do after cancel: %v", err)
	}
	close(release)
	if got := <-written; got != 42 {
		t.Fatalf("wrote %d, want 42", got)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 5 s")
		}
	}
}
