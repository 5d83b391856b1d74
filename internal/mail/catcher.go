package mail

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Received is one message the Catcher accepted.
type Received struct {
	ID         int
	From       string   // the From header
	To         []string // envelope recipients
	Subject    string   // decoded
	MessageID  string   // the Message-ID header, with its angle brackets
	Date       time.Time
	Text       string // the text/plain part, decoded
	HTML       string // the text/html part, decoded
	Raw        []byte
	ReceivedAt time.Time
}

// Catcher is a real SMTP server on a loopback port that keeps every message it
// receives in memory. Tests send through it; `laurel dev` shows its messages.
type Catcher struct {
	srv  *smtp.Server
	ln   net.Listener
	mu   sync.Mutex
	msgs []Received
	// parsed counts the leading msgs whose MIME parts are decoded: parsing
	// waits until someone reads them, so receiving stays cheap.
	parsed int
	// changed is closed and replaced whenever a message arrives.
	changed chan struct{}
	// rejected recipients get a permanent 550 (a bounce), for tests.
	rejected map[string]bool
	// accept, when set, sees each message before the catcher answers its
	// DATA; an error refuses the message.
	accept func(Received) error
	// open is how many connections are open, peak the most there were.
	open, peak int
}

// OnData makes the catcher call f with each message after its DATA arrived
// and before it answers: f runs while the sender waits for the reply (so a
// test can look at what the sender did before this message), and an error
// from f refuses the message with a temporary 451. nil removes the hook.
func (c *Catcher) OnData(f func(Received) error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.accept = f
}

// Reject makes the catcher refuse mail to addr with a permanent 550 reply,
// as a real server does for an unknown mailbox.
func (c *Catcher) Reject(addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rejected == nil {
		c.rejected = map[string]bool{}
	}
	c.rejected[strings.ToLower(addr)] = true
}

func (c *Catcher) isRejected(addr string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rejected[strings.ToLower(addr)]
}

// NewCatcher starts a catcher listening on addr ("" = a free loopback port).
func NewCatcher(addr string) (*Catcher, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("mail catcher: listen on %s: %w", addr, err)
	}
	c := &Catcher{ln: ln, changed: make(chan struct{})}
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		c.mu.Lock()
		c.open++
		c.peak = max(c.peak, c.open)
		c.mu.Unlock()
		return &session{c: c}, nil
	}))
	s.Domain = "localhost"
	s.AllowInsecureAuth = true
	s.MaxMessageBytes = 25 << 20
	s.MaxRecipients = 100
	s.ReadTimeout = time.Minute
	s.WriteTimeout = time.Minute
	c.srv = s
	go func() { _ = s.Serve(ln) }()
	return c, nil
}

// Addr is the host:port the catcher listens on.
func (c *Catcher) Addr() string { return c.ln.Addr().String() }

// URL is an smtp:// URL for LAUREL_SMTP_URL / mail.NewSender.
func (c *Catcher) URL() string { return "smtp://" + c.Addr() }

// Close stops the server; its messages stay readable. It closes the
// listener itself too, in case Serve has not yet registered it.
func (c *Catcher) Close() error {
	err := c.srv.Close()
	_ = c.ln.Close()
	return err
}

// Messages returns a copy of every message received so far, oldest first.
func (c *Catcher) Messages() []Received {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ; c.parsed < len(c.msgs); c.parsed++ {
		parse(&c.msgs[c.parsed])
	}
	return append([]Received(nil), c.msgs...)
}

// PeakConnections is the most connections that were open at once.
func (c *Catcher) PeakConnections() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peak
}

// Len is how many messages have arrived.
func (c *Catcher) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.msgs)
}

// Reset forgets the messages received so far.
func (c *Catcher) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = nil
	c.parsed = 0
}

// WaitFor waits until at least n messages have arrived and returns them, or
// returns an error (with what did arrive) after timeout.
func (c *Catcher) WaitFor(n int, timeout time.Duration) ([]Received, error) {
	deadline := time.After(timeout)
	for {
		c.mu.Lock()
		got, ch := len(c.msgs), c.changed
		c.mu.Unlock()
		if got >= n {
			return c.Messages(), nil
		}
		select {
		case <-ch:
		case <-deadline:
			return c.Messages(), fmt.Errorf("mail catcher: %d of %d messages after %s", got, n, timeout)
		}
	}
}

func (c *Catcher) add(r Received) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r.ID = len(c.msgs) + 1
	c.msgs = append(c.msgs, r)
	close(c.changed)
	c.changed = make(chan struct{})
}

type session struct {
	c    *Catcher
	from string
	to   []string
}

func (s *session) Reset() { s.from, s.to = "", nil }
func (s *session) Logout() error {
	s.c.mu.Lock()
	s.c.open--
	s.c.mu.Unlock()
	return nil
}
func (s *session) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.c.isRejected(to) {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}
	}
	s.to = append(s.to, to)
	return nil
}

// AuthMechanisms accepts no authentication: the catcher takes any mail.
func (s *session) AuthMechanisms() []string { return nil }

func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	rec := Received{From: s.from, To: append([]string(nil), s.to...), Raw: raw, ReceivedAt: time.Now()}
	s.c.mu.Lock()
	accept := s.c.accept
	s.c.mu.Unlock()
	if accept != nil {
		if err := accept(rec); err != nil {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: err.Error()}
		}
	}
	s.c.add(rec)
	return nil
}

// parse fills rec's headers and bodies from rec.Raw.
func parse(rec *Received) {
	m, err := netmail.ReadMessage(bytes.NewReader(rec.Raw))
	if err != nil {
		return
	}
	dec := new(mime.WordDecoder)
	if f := m.Header.Get("From"); f != "" {
		rec.From, _ = dec.DecodeHeader(f)
	}
	rec.Subject, _ = dec.DecodeHeader(m.Header.Get("Subject"))
	rec.MessageID = m.Header.Get("Message-ID")
	rec.Date, _ = m.Header.Date()
	_ = walkParts(m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), m.Body, rec)
}

// walkParts fills rec.Text and rec.HTML from a (possibly multipart) body.
func walkParts(ctype, cte string, body io.Reader, rec *Received) error {
	if ctype == "" {
		ctype = "text/plain"
	}
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return err
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if err := walkParts(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, rec); err != nil {
				return err
			}
		}
	}
	var r io.Reader = body
	switch strings.ToLower(cte) {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, newlineStripper{body})
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	switch mt {
	case "text/plain":
		rec.Text += string(b)
	case "text/html":
		rec.HTML += string(b)
	}
	return nil
}

// newlineStripper drops CR and LF so base64 line breaks decode.
type newlineStripper struct{ r io.Reader }

func (n newlineStripper) Read(p []byte) (int, error) {
	for {
		k, err := n.r.Read(p)
		j := 0
		for _, b := range p[:k] {
			if b != '\r' && b != '\n' {
				p[j] = b
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}
