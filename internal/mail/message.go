package mail

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/quotedprintable"
	netmail "net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// outgoing is a Message whose addresses are parsed and checked, ready to be
// written for one server.
type outgoing struct {
	from, to, replyTo *netmail.Address
	subject           string
	text, html        string
}

// prepare checks m's addresses; from is the From to use when m has none.
func prepare(m Message, from string) (*outgoing, error) {
	if m.From != "" {
		from = m.From
	}
	o := &outgoing{subject: m.Subject, text: m.Text, html: m.HTML}
	var err error
	if o.from, err = parseAddress(from); err != nil {
		return nil, fmt.Errorf("send mail: From %q: %w", from, err)
	}
	if o.to, err = parseAddress(m.To); err != nil {
		return nil, fmt.Errorf("send mail: To %q: %w", m.To, err)
	}
	if m.ReplyTo != "" {
		if o.replyTo, err = parseAddress(m.ReplyTo); err != nil {
			return nil, fmt.Errorf("send mail: Reply-To %q: %w", m.ReplyTo, err)
		}
	}
	return o, nil
}

func parseAddress(s string) (*netmail.Address, error) {
	a, err := netmail.ParseAddress(s)
	if err != nil {
		return nil, err
	}
	// The address goes into MAIL FROM / RCPT TO as it is: nothing in it may
	// end the command line or leave the angle brackets.
	if strings.ContainsAny(a.Address, "\r\n<> ") {
		return nil, fmt.Errorf("address %q has characters SMTP does not allow", a.Address)
	}
	return a, nil
}

// Content-Transfer-Encodings, chosen per part.
const (
	cte7bit = "7bit"
	cte8bit = "8bit"
	cteQP   = "quoted-printable"
)

// maxLine is RFC 5321's limit on a line of text, without its CRLF.
const maxLine = 998

// partEncoding is how s travels: as it is when every line fits SMTP's limit
// and its bytes are ASCII (or the server takes 8-bit data), quoted-printable
// otherwise. Unencoded bodies are smaller and cost nothing to write.
func partEncoding(s string, eightBit bool) string {
	if strings.IndexByte(s, 0) >= 0 {
		return cteQP // NUL is not allowed in 7bit or 8bit data
	}
	// A CR alone also breaks a line (writeBody makes it a CRLF), so
	// counting from LF to LF may see a line as longer than it is: that
	// only chooses quoted-printable, which is always right.
	for rest := s; len(rest) > maxLine; {
		i := strings.IndexByte(rest, '\n')
		if i < 0 {
			i = len(rest)
		}
		if i > maxLine && !(i == maxLine+1 && rest[maxLine] == '\r') {
			return cteQP
		}
		rest = rest[min(i+1, len(rest)):]
	}
	switch {
	case isASCII(s):
		return cte7bit
	case eightBit && utf8.ValidString(s):
		return cte8bit
	}
	return cteQP
}

// isASCII reports whether s is all 7-bit, eight bytes at a time.
func isASCII(s string) bool {
	for len(s) >= 8 {
		v := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		if v&0x8080808080808080 != 0 {
			return false
		}
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// render appends o as an RFC 5322 message with CRLF line endings to b, for
// a server that takes 8-bit data if eightBit, and reports whether the
// message needs BODY=8BITMIME.
func (o *outgoing) render(b []byte, eightBit bool, now time.Time) (_ []byte, uses8bit bool) {
	b = header(b, "From", o.from.String())
	b = header(b, "To", o.to.String())
	if o.replyTo != nil {
		b = header(b, "Reply-To", o.replyTo.String())
	}
	b = header(b, "Subject", encodeText(o.subject))
	b = header(b, "Date", now.Format(time.RFC1123Z))
	b = header(b, "Message-ID", "<"+messageID(o.from.Address)+">")
	b = append(b, "MIME-Version: 1.0\r\n"...)
	textEnc := partEncoding(o.text, eightBit)
	if o.html == "" {
		b = append(b, "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: "...)
		b = append(b, textEnc...)
		b = append(b, "\r\n\r\n"...)
		b = writeBody(b, o.text, textEnc)
		// The message ends with a line break: DATA's terminator and BDAT's
		// size both count on it.
		if n := len(b); n < 2 || b[n-2] != '\r' || b[n-1] != '\n' {
			b = append(b, "\r\n"...)
		}
		return b, textEnc == cte8bit
	}
	htmlEnc := partEncoding(o.html, eightBit)
	boundary := newBoundary(o.text, o.html)
	b = append(b, "Content-Type: multipart/alternative;\r\n boundary=\""...)
	b = append(b, boundary...)
	b = append(b, "\"\r\n\r\n"...)
	for _, p := range [2]struct{ ctype, body, enc string }{{"text/plain", o.text, textEnc}, {"text/html", o.html, htmlEnc}} {
		b = append(b, "--"...)
		b = append(b, boundary...)
		b = append(b, "\r\nContent-Type: "...)
		b = append(b, p.ctype...)
		b = append(b, "; charset=UTF-8\r\nContent-Transfer-Encoding: "...)
		b = append(b, p.enc...)
		b = append(b, "\r\n\r\n"...)
		b = writeBody(b, p.body, p.enc)
		// This CRLF belongs to the delimiter: the part decodes to exactly
		// its body.
		b = append(b, "\r\n"...)
	}
	b = append(b, "--"...)
	b = append(b, boundary...)
	b = append(b, "--\r\n"...)
	return b, textEnc == cte8bit || htmlEnc == cte8bit
}

// writeBody appends s in encoding enc, every line break as CRLF.
func writeBody(b []byte, s, enc string) []byte {
	if enc == cteQP {
		w := &appender{b: b}
		qp := quotedprintable.NewWriter(w)
		_, _ = qp.Write([]byte(s)) // appender never fails
		_ = qp.Close()
		return w.b
	}
	for len(s) > 0 {
		line, rest, broken := strings.Cut(s, "\n")
		s = rest
		if broken {
			line = strings.TrimSuffix(line, "\r")
		}
		// A CR alone is a line break too: 7bit and 8bit data have no bare CR.
		for {
			j := strings.IndexByte(line, '\r')
			if j < 0 {
				break
			}
			b = append(b, line[:j]...)
			b = append(b, "\r\n"...)
			line = line[j+1:]
		}
		b = append(b, line...)
		if broken {
			b = append(b, "\r\n"...)
		}
	}
	return b
}

type appender struct{ b []byte }

func (a *appender) Write(p []byte) (int, error) { a.b = append(a.b, p...); return len(p), nil }

// encodeText is s as a header's unstructured text: line breaks become
// spaces (a header cannot hold them) and anything but printable ASCII is
// RFC 2047 encoded, Q when mostly ASCII, B otherwise.
func encodeText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
	other := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || (c < ' ' && c != '\t') || c == 0x7f {
			other++
		}
	}
	switch {
	case other == 0:
		return s
	case other > len(s)/3:
		return mime.BEncoding.Encode("UTF-8", s)
	}
	return mime.QEncoding.Encode("UTF-8", s)
}

// maxHeaderLine is RFC 5322's recommended line length, without the CRLF.
const maxHeaderLine = 78

// header appends "name: value" folded at spaces so that lines stay within
// 78 characters where the value allows (a word longer than that stays
// whole; encoded words never are). The first fold may come right after the
// colon, so an encoded word of 75 characters fits on a line of its own.
func header(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, ':')
	line := len(name) + 1
	value = " " + value
	for value != "" {
		// The next word with the spaces before it.
		i := 0
		for i < len(value) && value[i] == ' ' {
			i++
		}
		j := strings.IndexByte(value[i:], ' ')
		if j < 0 {
			j = len(value)
		} else {
			j += i
		}
		word := value[:j]
		if line+len(word) > maxHeaderLine && i > 0 {
			// Fold before the space: unfolding removes only the CRLF.
			b = append(b, "\r\n"...)
			line = 0
		}
		b = append(b, word...)
		line += len(word)
		value = value[j:]
	}
	return append(b, "\r\n"...)
}

// newBoundary is a random multipart boundary found in neither body.
func newBoundary(bodies ...string) string {
	for {
		var r [15]byte
		_, _ = rand.Read(r[:]) // crypto/rand.Read never fails
		bd := "=_" + hex.EncodeToString(r[:])
		clash := false
		for _, s := range bodies {
			clash = clash || strings.Contains(s, bd)
		}
		if !clash {
			return bd
		}
	}
}
