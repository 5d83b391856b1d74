package mail_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync/atomic"
	"testing"

	"github.com/laurel-edu/laurel/internal/mail"
)

// The Message-ID is in the From address's domain, not the machine's name.
func TestMessageIDUsesTheSendersDomain(t *testing.T) {
	c := mustCatcher(t)
	s, err := mail.NewSender(c.URL(), "Laurel <no-reply@credentials.uni.example.edu>", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ms := []mail.Message{{To: "a@example.edu", Subject: "1", Text: "x"}, {To: "b@example.edu", Subject: "2", Text: "x", From: "Registry <registry@other.example.org>"}}
	for i, err := range s.SendMany(context.Background(), ms) {
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	got := c.Messages()
	want := []string{"credentials.uni.example.edu", "other.example.org"}
	seen := map[string]bool{}
	for i, m := range got {
		re := regexp.MustCompile(`^<[a-z0-9]{20,}@` + regexp.QuoteMeta(want[i]) + `>$`)
		if !re.MatchString(m.MessageID) {
			t.Fatalf("message %d: Message-ID %q, want <random@%s>", i, m.MessageID, want[i])
		}
		if seen[m.MessageID] {
			t.Fatalf("Message-ID %q repeated", m.MessageID)
		}
		seen[m.MessageID] = true
	}
}

// SendEach reports each message as soon as the server accepted it, before
// the next is sent; a callback error stops the rest.
func TestSendEachReportsEveryMessageBeforeTheNext(t *testing.T) {
	c := mustCatcher(t)
	s, err := mail.NewSender(c.URL(), "no-reply@laurel.test", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var reported atomic.Int32
	var bad atomic.Value
	c.OnData(func(r mail.Received) error {
		// Message i may arrive only once the i before it were reported.
		var i int
		if _, err := fmt.Sscanf(r.To[0], "r%d@", &i); err != nil {
			bad.Store(err.Error())
		}
		if got := int(reported.Load()); got != i {
			bad.Store(fmt.Sprintf("message %d arrived with %d reported", i, got))
		}
		return nil
	})
	ms := make([]mail.Message, 10)
	for i := range ms {
		ms[i] = mail.Message{To: fmt.Sprintf("r%d@example.edu", i), Subject: fmt.Sprint(i), Text: "x"}
	}
	ms[3].To = "not an address"
	var order []int
	halt := errors.New("database gone")
	s.SendEach(context.Background(), ms, func(i int, err error) error {
		order = append(order, i)
		switch {
		case i == 3:
			if err == nil {
				t.Errorf("message 3 (bad address) reported sent")
			}
		case i < 7 && err != nil:
			t.Errorf("message %d: %v", i, err)
		case i >= 8 && !errors.Is(err, mail.ErrStopped):
			t.Errorf("message %d after the stop: %v, want ErrStopped", i, err)
		}
		reported.Add(1)
		if i == 7 {
			return halt
		}
		return nil
	})
	if v := bad.Load(); v != nil {
		t.Fatal(v)
	}
	if fmt.Sprint(order) != "[0 1 2 3 4 5 6 7 8 9]" {
		t.Fatalf("callback order %v", order)
	}
	if n := c.Len(); n != 7 {
		t.Fatalf("server got %d messages, want 7 (0-7 but the bad address; none after the stop)", n)
	}
}
