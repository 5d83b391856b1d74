// Package mail sends Laurel's outgoing email over SMTP and provides Catcher, a
// real in-process SMTP server that keeps what it receives, for tests and for
// `laurel dev`.
package mail

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Message is one outgoing email. From "" uses the Sender's From.
type Message struct {
	From    string
	To      string
	Subject string
	Text    string
	HTML    string
	// ReplyTo is the Reply-To address ("" for none).
	ReplyTo string
}

// Sender delivers messages through one SMTP server, reusing a small pool of
// connections; it is safe for concurrent use.
type Sender struct {
	// From is the default From address.
	From   string
	client *gomail.Client
	sem    chan struct{}
	mu     sync.Mutex
	idle   []*conn
	closed bool
}

// maxIdle is how long a pooled connection may sit unused before we redial:
// servers commonly drop idle SMTP sessions after 30-60 s.
const maxIdle = 20 * time.Second

// NewSender builds a sender from an smtp://[user:pass@]host[:port] URL (port
// 25 by default, STARTTLS when the server offers it) or smtps:// (implicit
// TLS, port 465). poolSize bounds concurrent connections (≤ 0 means 8).
func NewSender(rawURL, from string, poolSize int) (*Sender, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("SMTP URL: %w", err)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("SMTP URL %q has no host", u.Redacted())
	}
	// go-mail dials, negotiates TLS and authenticates; the transactions
	// themselves are ours (transaction.go). No RSET and no NOOP per message:
	// a completed transaction resets itself, and get checks a reused
	// connection once per batch.
	opts := []gomail.Option{gomail.WithTimeout(30 * time.Second), gomail.WithoutRset(), gomail.WithoutNoop()}
	port := 25
	switch u.Scheme {
	case "smtp":
		opts = append(opts, gomail.WithTLSPortPolicy(gomail.TLSOpportunistic))
	case "smtps":
		port = 465
		opts = append(opts, gomail.WithSSL())
	default:
		return nil, fmt.Errorf("SMTP URL %q: scheme must be smtp or smtps", u.Redacted())
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("SMTP URL %q: bad port", u.Redacted())
		}
	}
	opts = append(opts, gomail.WithPort(port))
	if u.User != nil && u.User.Username() != "" {
		pass, _ := u.User.Password()
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(u.User.Username()), gomail.WithPassword(pass))
	}
	c, err := gomail.NewClient(u.Hostname(), opts...)
	if err != nil {
		return nil, fmt.Errorf("SMTP client for %s: %w", u.Host, err)
	}
	if poolSize <= 0 {
		poolSize = 8
	}
	return &Sender{From: from, client: c, sem: make(chan struct{}, poolSize)}, nil
}

// Send delivers m. An error means the server did not accept it (or we could
// not tell); the caller retries later.
func (s *Sender) Send(ctx context.Context, m Message) error {
	return s.sendMany(ctx, []Message{m})[0]
}

// sendMany delivers ms over one pooled connection (one SMTP transaction
// each, no reconnects in between) and returns one error per message, nil for
// each the server accepted.
func (s *Sender) sendMany(ctx context.Context, ms []Message) []error {
	errs := make([]error, len(ms))
	s.SendEach(ctx, ms, func(i int, err error) error { errs[i] = err; return nil })
	return errs
}

// ErrStopped is the outcome of the messages SendEach did not send because
// the caller's callback refused to go on.
var ErrStopped = errors.New("send mail: stopped before this message")

// SendEach delivers ms over one pooled connection, one SMTP transaction each,
// and calls each with every message's outcome as soon as it is known: nil
// once the server accepted the message (its 250 reply to the message's
// DATA or BDAT), before the next message's first byte is written, so the
// caller can record it durably first. If each returns an error, the later
// messages are not sent and each gets them with an error wrapping
// ErrStopped. each is called exactly once per message, in
// order, on the calling goroutine.
func (s *Sender) SendEach(ctx context.Context, ms []Message, each func(i int, err error) error) {
	// Each message is written just before it is sent, into the
	// connection's reused buffer; the connection is taken at the first
	// message whose addresses are valid.
	var c *conn
	var connErr error
	taken := false
	defer func() {
		if c != nil {
			s.put(c)
		}
		if taken {
			<-s.sem
		}
	}()
	var stop error
	for i, m := range ms {
		var err error
		if stop != nil {
			err = fmt.Errorf("%w: %w", ErrStopped, stop)
		} else if o, berr := prepare(m, s.From); berr != nil {
			err = berr
		} else {
			if !taken && connErr == nil {
				select {
				case s.sem <- struct{}{}:
					taken = true
					c, connErr = s.get(ctx)
				case <-ctx.Done():
					connErr = ctx.Err()
				}
			}
			if connErr != nil {
				err = connErr
			} else {
				err = s.sendOne(ctx, &c, o)
			}
		}
		if e := each(i, err); e != nil && stop == nil {
			stop = e
		}
	}
}

// sendOne sends o over *c, dialling first if *c is nil, and drops a
// session whose state a failure left unknown.
func (s *Sender) sendOne(ctx context.Context, c **conn, o *outgoing) error {
	// Stop between messages when the caller's time is up (the job's lease is
	// lost, or the run timed out), so a slow server never outlives the claim
	// and causes a resend.
	if err := ctx.Err(); err != nil {
		return err
	}
	if *c == nil {
		var err error
		if *c, err = s.dial(ctx); err != nil {
			return err
		}
	}
	if err := (*c).send(o, time.Now()); err != nil {
		_ = (*c).c.Close()
		*c = nil
		return err
	}
	return nil
}

// Permanent reports whether err is the server's permanent refusal (an SMTP
// 5xx reply to a message's MAIL, RCPT, DATA or BDAT, such as an unknown
// recipient): retrying will not help.
func Permanent(err error) bool {
	var te *textproto.Error
	return errors.As(err, &te) && te.Code >= 500 && te.Code < 600
}

// messageID is a unique Message-ID (without brackets) in the domain of the
// From address (a bare address), as RFC 5322 suggests, rather than the machine's host name,
// which says nothing to the recipient and can look like spam.
func messageID(from string) string {
	domain := "localhost"
	if at := strings.LastIndexByte(from, '@'); at >= 0 && at < len(from)-1 {
		domain = from[at+1:]
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)) + "@" + domain
}

func (s *Sender) get(ctx context.Context) (*conn, error) {
	s.mu.Lock()
	for len(s.idle) > 0 {
		c := s.idle[len(s.idle)-1]
		s.idle = s.idle[:len(s.idle)-1]
		if time.Since(c.lastUsed) < maxIdle {
			s.mu.Unlock()
			// One NOOP per batch tells a live session from one the server
			// dropped; nothing has been sent on it yet, so redialling is safe.
			if c.c.Noop() == nil {
				return c, nil
			}
			_ = c.c.Close()
			return s.dial(ctx)
		}
		_ = c.c.Close()
	}
	s.mu.Unlock()
	return s.dial(ctx)
}

func (s *Sender) dial(ctx context.Context) (*conn, error) {
	c, err := s.client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		// A 5xx here (to EHLO, STARTTLS or AUTH) is the server refusing
		// us, not the message: keep it out of Permanent's sight.
		var te *textproto.Error
		if errors.As(err, &te) {
			return nil, fmt.Errorf("connect to SMTP server %s: %s", s.client.ServerAddr(), err)
		}
		return nil, fmt.Errorf("connect to SMTP server %s: %w", s.client.ServerAddr(), err)
	}
	return newConn(c), nil
}

func (s *Sender) put(c *conn) {
	c.lastUsed = time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = c.c.Quit()
		return
	}
	s.idle = append(s.idle, c)
}

// Close ends the pooled SMTP sessions.
func (s *Sender) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for _, c := range s.idle {
		_ = c.c.Quit()
	}
	s.idle = nil
	return nil
}
