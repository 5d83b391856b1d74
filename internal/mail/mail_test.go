package mail_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/mail"
)

func mustCatcher(t *testing.T) *mail.Catcher {
	t.Helper()
	c, err := mail.NewCatcher("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestSendThroughCatcher(t *testing.T) {
	c := mustCatcher(t)
	s, err := mail.NewSender(c.URL(), "Laurel <no-reply@laurel.test>", 2)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	msg := mail.Message{To: "ada@example.edu", Subject: "Your credential for Café & <Tea> 101",
		Text: "Hello Ada,\nopen https://laurel.test/c/abc\n", HTML: `<p>Hello <b>Ada</b> — <a href="https://laurel.test/c/abc">view</a></p>`}
	if err := s.Send(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	got, err := c.WaitFor(1, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	m := got[0]
	if m.Subject != msg.Subject || len(m.To) != 1 || m.To[0] != "ada@example.edu" || !strings.Contains(m.From, "no-reply@laurel.test") {
		t.Fatalf("headers: %+v", m)
	}
	if strings.TrimSpace(strings.ReplaceAll(m.Text, "\r\n", "\n")) != strings.TrimSpace(msg.Text) {
		t.Fatalf("text = %q", m.Text)
	}
	if !strings.Contains(m.HTML, `<b>Ada</b> — <a href="https://laurel.test/c/abc">`) {
		t.Fatalf("html = %q", m.HTML)
	}
	if m.Date.IsZero() || time.Since(m.Date) > time.Minute {
		t.Fatalf("date = %v", m.Date)
	}
}

func TestConcurrentSendsReuseConnections(t *testing.T) {
	c := mustCatcher(t)
	s, err := mail.NewSender(c.URL(), "no-reply@laurel.test", 3)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 60)
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.Send(context.Background(), mail.Message{To: "r@example.edu", Subject: "n" + string(rune('a'+i%26)), Text: "x"})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.WaitFor(60, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestSendFailsWhileServerDownAndWorksAfter(t *testing.T) {
	c := mustCatcher(t)
	addr := c.Addr()
	s, err := mail.NewSender(c.URL(), "no-reply@laurel.test", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := mail.Message{To: "r@example.edu", Subject: "s", Text: "t"}
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := s.Send(context.Background(), m); err == nil {
		t.Fatal("send succeeded with the server down")
	}
	c2, err := mail.NewCatcher(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatalf("send after the server came back: %v", err)
	}
	if got := c2.Messages(); len(got) != 1 {
		t.Fatalf("new server got %d messages", len(got))
	}
}

func TestNewSenderRejectsBadURLs(t *testing.T) {
	for _, u := range []string{"http://mail.example.com", "smtp://", "smtp://host:notaport", "::"} {
		if _, err := mail.NewSender(u, "a@b.c", 1); err == nil {
			t.Errorf("NewSender(%q) accepted", u)
		}
	}
	if _, err := mail.NewSender("smtps://user:pass@mail.example.com", "a@b.c", 1); err != nil {
		t.Errorf("smtps URL: %v", err)
	}
}

func TestRejectedRecipientIsPermanentAndOthersStillGo(t *testing.T) {
	c := mustCatcher(t)
	c.Reject("nobody@example.edu")
	s, errs := sendTo(t, c.URL(), "a@example.edu", "nobody@example.edu", "b@example.edu")
	if errs[0] != nil || errs[2] != nil {
		t.Fatalf("good recipients failed: %v", errs)
	}
	if errs[1] == nil || !mail.Permanent(errs[1]) {
		t.Fatalf("rejected recipient: %v (permanent %v)", errs[1], mail.Permanent(errs[1]))
	}
	if got := c.Messages(); len(got) != 2 || got[0].Subject != "1" || got[1].Subject != "3" {
		t.Fatalf("delivered %+v", got)
	}
	c.Close()
	err := s.Send(context.Background(), mail.Message{To: "a@example.edu", Subject: "s", Text: "t"})
	if err == nil || mail.Permanent(err) {
		t.Fatalf("server down: %v must be a temporary error", err)
	}
}
