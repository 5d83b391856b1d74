package delivery_test

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-smtp"

	"github.com/laurel-edu/laurel/issuance"
)

// frenchServer is a real SMTP server whose permanent refusals are long and
// not in ASCII, and which counts the messages it accepts.
type frenchServer struct {
	mu       sync.Mutex
	accepted []string
}

func (l *frenchServer) count() int { l.mu.Lock(); defer l.mu.Unlock(); return len(l.accepted) }

type frenchSession struct {
	l  *frenchServer
	to []string
}

func (s *frenchSession) Reset()                               { s.to = nil }
func (s *frenchSession) Logout() error                        { return nil }
func (s *frenchSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *frenchSession) AuthMechanisms() []string             { return nil }
func (s *frenchSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	// A long refusal in French: 1,000 bytes of the recorded reason end
	// inside a two-byte "é" for one of the two addresses (whichever parity
	// the prefix has), which a cut by bytes turns into invalid UTF-8.
	switch to {
	case "bounce1@example.edu":
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "Boîte inconnue " + strings.Repeat("é", 600)}
	case "bounce2@example.edu":
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "Boîte inconnue x" + strings.Repeat("é", 600)}
	}
	s.to = append(s.to, to)
	return nil
}
func (s *frenchSession) Data(r io.Reader) error {
	if _, err := io.ReadAll(r); err != nil {
		return err
	}
	s.l.mu.Lock()
	s.l.accepted = append(s.l.accepted, s.to...)
	s.l.mu.Unlock()
	return nil
}

func mustFrenchServer(t *testing.T) (*frenchServer, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &frenchServer{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &frenchSession{l: l}, nil }))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return l, "smtp://" + ln.Addr().String()
}

// A long bounce reply in UTF-8 is recorded, limited by characters, in the same
// transaction that records the batch's sent email: a cut by bytes made it
// invalid UTF-8, PostgreSQL refused the whole transaction, and the email
// that was delivered stayed queued and was sent again.
func TestLongUTF8BounceIsRecorded(t *testing.T) {
	s, d := mustService(t)
	ctx := context.Background()
	server, url := mustFrenchServer(t)
	w := emailWorker(t, s, d, url, true)
	g := mustGroup(t, s, nil)
	cs := mustCreate(t, s, g.ID, item("Good", "good@example.edu"), item("Bounce One", "bounce1@example.edu"), item("Bounce Two", "bounce2@example.edu"))
	if _, err := s.Publish(ctx, actor, issuance.Selection{GroupID: g.ID, AllUnpublished: true}); err != nil {
		t.Fatal(err)
	}
	drain(t, w)
	if st := emailStates(t, d); st["sent"] != 1 || st["failed"] != 2 {
		t.Fatalf("email states %v, want 1 sent and 2 failed", st)
	}
	for _, c := range cs[1:] {
		es, err := s.Emails(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		le := es[0].LastError
		// About 820 characters but 1,400 bytes: kept whole, not cut at
		// byte 1,000.
		if !utf8.ValidString(le) || utf8.RuneCountInString(le) > 1000 || len(le) <= 1000 || !strings.Contains(le, "affected recipient(s): <"+c.Recipient.Email+">") {
			t.Errorf("bounce reason for %s (%d characters) = %q: want it whole, valid UTF-8", c.Recipient.Email, utf8.RuneCountInString(le), le)
		}
	}
	var open int
	if err := d.Get(&open, `SELECT count(*) FROM jobs WHERE state <> 'done' AND kind = $1`, issuance.EmailJob); err != nil || open != 0 {
		t.Fatalf("%d email jobs not done (%v)", open, err)
	}
	drain(t, w)
	if n := server.count(); n != 1 {
		t.Fatalf("the mail server accepted %d messages, want 1 (the good one, once)", n)
	}
}
