package mail_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/mail"
)

// wireCase is a message and how its parts must travel: want8bit for a
// server that takes 8-bit data, want7bit for one that does not.
type wireCase struct {
	name               string
	msg                mail.Message
	want8bit, want7bit []string // Content-Transfer-Encoding of each part
}

const wireFrom = "Université Laurel <no-reply@laurel.test>"

func wireCases() []wireCase {
	return []wireCase{
		{
			name: "non-ASCII names and subject, lines starting with a dot",
			msg: mail.Message{
				To:      "Zoë Ångström <zoe@example.edu>",
				ReplyTo: `"Office of Records, Registry" <records@uni.example.edu>`,
				Subject: "Your credential for Café & <Tea> 101 — Introduction to Data Analysis, awarded by the Faculty of Science",
				Text:    "Hello Zoë,\n.hidden line\n..two dots\n.\nend\n",
				HTML:    "<p>Hello <b>Zoë</b></p>\n.<p>dot</p>\n",
			},
			want8bit: []string{"8bit", "8bit"},
			want7bit: []string{"quoted-printable", "quoted-printable"},
		},
		{
			name: "a line longer than SMTP allows",
			msg: mail.Message{
				To:      "ada@example.edu",
				Subject: "A plain ASCII subject that is long enough to need folding across two header lines at least",
				Text:    strings.Repeat("x", 1500) + "\n.short\n",
				HTML:    "<p>fine</p>",
			},
			want8bit: []string{"quoted-printable", "7bit"},
			want7bit: []string{"quoted-printable", "7bit"},
		},
		{
			name:     "text only",
			msg:      mail.Message{To: "bob@example.edu", Subject: "Just text", Text: "Just text.\r\n.leading dot\nmixed line ends\n"},
			want8bit: []string{"7bit"},
			want7bit: []string{"7bit"},
		},
	}
}

// decoded is a message as a mail reader sees it.
type decoded struct {
	from, to, replyTo string // "name <address>", decoded
	subject           string
	text, html        string // LF line ends
	ctes              []string
}

func addr(t *testing.T, h netmail.Header, name string) string {
	t.Helper()
	if h.Get(name) == "" {
		return ""
	}
	l, err := h.AddressList(name)
	if err != nil || len(l) != 1 {
		t.Fatalf("%s %q: %v", name, h.Get(name), err)
	}
	return l[0].Name + " <" + l[0].Address + ">"
}

// decodeRaw parses raw with the standard library's mail and MIME readers,
// and checks the line rules: CRLF only, headers within 78 characters, no
// line past 998.
func decodeRaw(t *testing.T, raw []byte) decoded {
	t.Helper()
	inHeader := true
	for i, line := range bytes.Split(raw, []byte("\n")) {
		if i < bytes.Count(raw, []byte("\n")) && !bytes.HasSuffix(line, []byte("\r")) {
			t.Fatalf("line %d ends with a bare LF: %q", i+1, line)
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			inHeader = false
		}
		if inHeader && len(line) > 78 {
			t.Fatalf("header line %d is %d characters: %q", i+1, len(line), line)
		}
		if len(line) > 998 {
			t.Fatalf("line %d is %d bytes", i+1, len(line))
		}
	}
	m, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	d := decoded{from: addr(t, m.Header, "From"), to: addr(t, m.Header, "To"), replyTo: addr(t, m.Header, "Reply-To"), subject: subject}
	part := func(ctype, cte string, body io.Reader) {
		if strings.EqualFold(cte, "quoted-printable") {
			body = quotedprintable.NewReader(body)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		s := strings.ReplaceAll(string(b), "\r\n", "\n")
		d.ctes = append(d.ctes, cte)
		switch mt, params, _ := mime.ParseMediaType(ctype); {
		case params["charset"] != "UTF-8":
			t.Fatalf("part %s: charset %q", mt, params["charset"])
		case mt == "text/plain":
			d.text = s
		case mt == "text/html":
			d.html = s
		default:
			t.Fatalf("unexpected part %q", ctype)
		}
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	if mt != "multipart/alternative" {
		part(m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), m.Body)
		return d
	}
	r := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := r.NextRawPart()
		if errors.Is(err, io.EOF) {
			return d
		}
		if err != nil {
			t.Fatal(err)
		}
		part(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p)
	}
}

// checkDecoded compares what a reader sees with what was sent.
func checkDecoded(t *testing.T, c wireCase, raw []byte, wantCTE []string) {
	t.Helper()
	d := decodeRaw(t, raw)
	name := func(s string) string {
		a, err := netmail.ParseAddress(s)
		if err != nil {
			t.Fatal(err)
		}
		return a.Name + " <" + a.Address + ">"
	}
	lf := func(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }
	want := decoded{from: name(wireFrom), to: name(c.msg.To), subject: c.msg.Subject, text: lf(c.msg.Text), html: lf(c.msg.HTML), ctes: wantCTE}
	if c.msg.ReplyTo != "" {
		want.replyTo = name(c.msg.ReplyTo)
	}
	if fmt.Sprintf("%q", d) != fmt.Sprintf("%q", want) {
		t.Fatalf("decoded\n%q\nwant\n%q\nraw:\n%s", d, want, raw)
	}
}

// sendWireCases sends every wireCases message, in order, over one
// connection to the SMTP server at url, and returns the cases.
func sendWireCases(t *testing.T, url string) []wireCase {
	t.Helper()
	s, err := mail.NewSender(url, wireFrom, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cases := wireCases()
	for _, wc := range cases {
		if err := s.Send(context.Background(), wc.msg); err != nil {
			t.Fatalf("%s: %v", wc.name, err)
		}
	}
	return cases
}

// sendTo sends one short message to each of tos (subjects "1", "2", ...)
// over one connection to the SMTP server at url, and returns the sender
// (closed when the test ends) and each message's outcome.
func sendTo(t *testing.T, url string, tos ...string) (*mail.Sender, []error) {
	t.Helper()
	s, err := mail.NewSender(url, wireFrom, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ms := make([]mail.Message, len(tos))
	for i, to := range tos {
		ms[i] = mail.Message{To: to, Subject: strconv.Itoa(i + 1), Text: "x"}
	}
	return s, s.SendMany(context.Background(), ms)
}

// Through the catcher (go-smtp: PIPELINING, CHUNKING and 8BITMIME), every
// message decodes to exactly what was sent.
func TestMessagesDecodeToWhatWasSent(t *testing.T) {
	c := mustCatcher(t)
	cases := sendWireCases(t, c.URL())
	got := c.Messages()
	if len(got) != len(cases) {
		t.Fatalf("%d messages arrived", len(got))
	}
	for i, wc := range cases {
		t.Run(wc.name, func(t *testing.T) {
			a, _ := netmail.ParseAddress(wc.msg.To)
			if len(got[i].To) != 1 || got[i].To[0] != a.Address {
				t.Fatalf("envelope recipients %v", got[i].To)
			}
			checkDecoded(t, wc, got[i].Raw, wc.want8bit)
		})
	}
}

// rawServer is a minimal SMTP server written for these tests: it offers only
// the EHLO keywords it is given, and with lockStep it fails the test when a
// client sends anything before it has answered what came before.
type rawServer struct {
	t        *testing.T
	ln       net.Listener
	ext      []string
	lockStep bool
	// reject is refused at RCPT with a 550; dataAnyway answers DATA with
	// 354 even then, as RFC 2920 allows a server to.
	reject     string
	dataAnyway bool

	mu        sync.Mutex
	msgs      []rawMsg
	pipelined int // MAIL commands that arrived with more commands behind them
	empty     int // DATA transfers that were empty (the client's "." alone)
}

type rawMsg struct {
	to, params string
	data       []byte
}

func newRawServer(t *testing.T, lockStep bool, ext ...string) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{t: t, ln: ln, ext: ext, lockStep: lockStep}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { s.serve(c) })
		}
	})
	return s
}

func (s *rawServer) url() string { return "smtp://" + s.ln.Addr().String() }

// early reports whether the client sent more before the reply it waits
// for: bytes already read, or arriving within 20 ms.
func early(c net.Conn, r *bufio.Reader) bool {
	if r.Buffered() > 0 {
		return true
	}
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err := r.Peek(1)
	_ = c.SetReadDeadline(time.Time{})
	return err == nil
}

func (s *rawServer) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	reply := func(lines ...string) { _, _ = io.WriteString(c, strings.Join(lines, "\r\n")+"\r\n") }
	reply("220 raw.test ESMTP")
	var to, params string
	mailOK, rcptOK := false, false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.TrimRight(line, "\r\n")
		if s.lockStep && early(c, r) {
			s.t.Errorf("the client sent more after %q before its reply", cmd)
		}
		verb, arg, _ := strings.Cut(cmd, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			lines := []string{"250-raw.test"}
			for _, e := range s.ext {
				lines = append(lines, "250-"+e)
			}
			reply(append(lines, "250 HELP")...)
		case "HELO", "NOOP", "RSET":
			reply("250 OK")
		case "MAIL":
			if r.Buffered() > 0 {
				s.mu.Lock()
				s.pipelined++
				s.mu.Unlock()
			}
			_, params, _ = strings.Cut(arg, ">")
			mailOK, rcptOK = true, false
			reply("250 2.1.0 OK")
		case "RCPT":
			i, j := strings.IndexByte(arg, '<'), strings.IndexByte(arg, '>')
			if a := arg[i+1 : j]; a == s.reject {
				reply("550 5.1.1 No such user here")
			} else {
				to, rcptOK = a, true
				reply("250 2.1.5 OK")
			}
		case "DATA":
			if !(mailOK && rcptOK) && !s.dataAnyway {
				reply("554 5.5.1 No valid recipients")
				continue
			}
			reply("354 End data with <CR><LF>.<CR><LF>")
			var data []byte
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				data = append(data, strings.TrimPrefix(l, ".")...) // undo dot-stuffing
			}
			if s.lockStep && early(c, r) {
				s.t.Errorf("the client sent more after the message before its reply")
			}
			s.mu.Lock()
			ok := mailOK && rcptOK
			if ok {
				s.msgs = append(s.msgs, rawMsg{to: to, params: params, data: data})
			} else if len(data) == 0 {
				s.empty++
			}
			s.mu.Unlock()
			mailOK, rcptOK = false, false
			if ok {
				reply("250 2.0.0 Queued")
			} else {
				reply("554 5.5.1 No valid recipients")
			}
		case "QUIT":
			reply("221 Bye")
			return
		default:
			s.t.Errorf("unexpected command %q (not offered)", cmd)
			reply("502 5.5.1 Not implemented")
		}
	}
}

func (s *rawServer) messages() []rawMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]rawMsg(nil), s.msgs...)
}

// A server that offers no extension gets one command at a time, each after
// the reply to the one before, and 7-bit data only.
func TestLockStepWithoutExtensions(t *testing.T) {
	srv := newRawServer(t, true)
	s, err := mail.NewSender(srv.url(), wireFrom, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cases := wireCases()
	ms := make([]mail.Message, len(cases))
	for i, wc := range cases {
		ms[i] = wc.msg
	}
	for i, err := range s.SendMany(context.Background(), ms) {
		if err != nil {
			t.Fatalf("%s: %v", cases[i].name, err)
		}
	}
	got := srv.messages()
	if len(got) != len(cases) {
		t.Fatalf("%d messages arrived", len(got))
	}
	for i, wc := range cases {
		t.Run(wc.name, func(t *testing.T) {
			if got[i].params != "" {
				t.Errorf("MAIL parameters %q to a server that offers none", got[i].params)
			}
			for j, b := range got[i].data {
				if b >= 0x80 {
					t.Fatalf("8-bit byte at %d to a server without 8BITMIME", j)
				}
			}
			checkDecoded(t, wc, got[i].data, wc.want7bit)
		})
	}
}

// With PIPELINING but not CHUNKING: MAIL, RCPT and DATA in one write, the
// message dot-stuffed after the 354, 8-bit parts announced.
func TestPipeliningWithData(t *testing.T) {
	srv := newRawServer(t, false, "PIPELINING", "8BITMIME")
	cases := sendWireCases(t, srv.url())
	got := srv.messages()
	if len(got) != len(cases) {
		t.Fatalf("%d messages arrived", len(got))
	}
	if srv.pipelined != len(cases) {
		t.Errorf("%d of %d transactions pipelined", srv.pipelined, len(cases))
	}
	for i, wc := range cases {
		t.Run(wc.name, func(t *testing.T) {
			if want := map[bool]string{true: " BODY=8BITMIME", false: ""}[i == 0]; got[i].params != want {
				t.Errorf("MAIL parameters %q, want %q", got[i].params, want)
			}
			checkDecoded(t, wc, got[i].data, wc.want8bit)
		})
	}
}

// A server that answers DATA with 354 after refusing the recipient gets an
// empty message; the refusal is what the caller sees, and the next message
// goes through.
func TestPipelinedRefusalWithDataAccepted(t *testing.T) {
	srv := newRawServer(t, false, "PIPELINING")
	srv.reject, srv.dataAnyway = "nobody@example.edu", true
	_, errs := sendTo(t, srv.url(), "a@example.edu", "nobody@example.edu", "b@example.edu")
	if errs[0] != nil || errs[2] != nil {
		t.Fatalf("good recipients failed: %v", errs)
	}
	if !mail.Permanent(errs[1]) || !strings.Contains(errs[1].Error(), "RCPT TO") || !strings.Contains(errs[1].Error(), "nobody@example.edu") || !strings.Contains(errs[1].Error(), "550") {
		t.Fatalf("refused recipient: %v", errs[1])
	}
	if got := srv.messages(); len(got) != 2 || got[0].to != "a@example.edu" || got[1].to != "b@example.edu" {
		t.Fatalf("delivered %+v", got)
	}
	if srv.empty != 1 {
		t.Fatalf("%d empty messages after the refusal, want 1", srv.empty)
	}
}

// Through BDAT: a refused recipient is a permanent error naming the command,
// the recipient and the reply; a 4xx is temporary; the pool goes on.
func TestRefusalsThroughChunking(t *testing.T) {
	c := mustCatcher(t)
	c.Reject("nobody@example.edu")
	c.OnData(func(r mail.Received) error {
		if r.To[0] == "busy@example.edu" {
			return errors.New("try again later")
		}
		return nil
	})
	_, errs := sendTo(t, c.URL(), "nobody@example.edu", "a@example.edu", "busy@example.edu", "b@example.edu")
	if e := errs[0]; !mail.Permanent(e) || !strings.Contains(e.Error(), "RCPT TO refused") || !strings.Contains(e.Error(), "nobody@example.edu") || !strings.Contains(e.Error(), "550") {
		t.Fatalf("refused recipient: %v", e)
	}
	if e := errs[2]; e == nil || mail.Permanent(e) || !strings.Contains(e.Error(), "451") || !strings.Contains(e.Error(), "BDAT") {
		t.Fatalf("451 to the message: %v, want a temporary error", e)
	}
	if errs[1] != nil || errs[3] != nil {
		t.Fatalf("good recipients failed: %v", errs)
	}
	if got := c.Messages(); len(got) != 2 || got[0].Subject != "2" || got[1].Subject != "4" {
		t.Fatalf("delivered %+v", got)
	}
}

// A server that turns the session away (554 greeting) refuses us, not the
// message: the error is temporary, so the email is retried, not bounced.
func TestRefusedSessionIsNotPermanent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, "554 5.3.2 Not accepting mail from you\r\n")
			c.Close()
		}
	}()
	s, err := mail.NewSender("smtp://"+ln.Addr().String(), wireFrom, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Send(context.Background(), mail.Message{To: "a@example.edu", Subject: "s", Text: "t"})
	if err == nil || mail.Permanent(err) || !strings.Contains(err.Error(), "connect to SMTP server") || !strings.Contains(err.Error(), "554") {
		t.Fatalf("refused session: %v, want a temporary error with the server's reply", err)
	}
}
