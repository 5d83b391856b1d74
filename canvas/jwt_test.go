package canvas_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
)

// Instructure rotates the Live Events key and signs with the new one 5 s
// after Laurel fetched the set: the event is accepted (the limit was 10 s).
func TestWebhookRotationFiveSecondsAfterFetch(t *testing.T) {
	e := newEnv(t)
	e.mustMap("960", false)
	if st, b := e.deliver(canvassim.Completion{CourseID: "960", UserID: "1", UserName: "A", UserEmail: "a@example.com"}); st != 200 {
		t.Fatalf("first: %d %s", st, b)
	}
	if err := e.events.Rotate(); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(5 * time.Second)
	if st, b := e.deliver(canvassim.Completion{CourseID: "960", UserID: "2", UserName: "B", UserEmail: "b@example.com"}); st != 200 {
		t.Fatalf("new kid 5 s after the fetch: %d %s", st, b)
	}
	if n := e.events.JWKSFetches(); n != 2 {
		t.Fatalf("JWKS fetched %d times, want 2", n)
	}
}

// 1,000 deliveries with random kids, 32 at a time over 20 s of clock, fetch
// the Live Events JWKS at most once per 5 s.
func TestWebhookRandomKidFloodFetchesAHandful(t *testing.T) {
	e := newEnv(t)
	e.mustMap("970", false)
	if st, b := e.deliver(canvassim.Completion{CourseID: "970", UserID: "1", UserName: "A", UserEmail: "a@example.com"}); st != 200 {
		t.Fatalf("first: %d %s", st, b)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	claims := e.events.CourseCompleted(canvassim.Completion{CourseID: "970", UserID: "3", UserName: "F", UserEmail: "f@example.com"})
	claims["exp"] = time.Now().Add(time.Hour).Unix()
	const n = 1000
	toks := make([]string, n)
	for i := range toks {
		tok, err := canvassim.SignLiveEvent(map[string]any{"alg": "RS256", "kid": fmt.Sprintf("random-%d-%d", i, time.Now().UnixNano())}, claims, other)
		if err != nil {
			t.Fatal(err)
		}
		toks[i] = tok
	}
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for start := 0; start < n; start += 32 {
		for i := start; i < min(n, start+32); i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if st, b, _ := e.events.Deliver(context.Background(), e.webhookURL(), toks[i]); st != 401 || !strings.Contains(string(b), "unknown_kid") {
					errs <- fmt.Sprintf("random kid %d: %d %s", i, st, b)
				}
			}()
		}
		wg.Wait()
		e.clock.Advance(20 * time.Second * 32 / n)
	}
	close(errs)
	for msg := range errs {
		t.Fatal(msg)
	}
	if got := e.events.JWKSFetches(); got > 5 {
		t.Fatalf("JWKS fetched %d times for %d random kids, want at most 5", got, n)
	}
}
