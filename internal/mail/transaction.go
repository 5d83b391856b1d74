package mail

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"net/textproto"
	"strconv"
	"time"

	"github.com/wneessen/go-mail/smtp"
)

// conn is one SMTP session and what its server's EHLO offered.
type conn struct {
	c        *smtp.Client
	lastUsed time.Time
	// pipelining: MAIL, RCPT and DATA/BDAT go in one write (RFC 2920).
	// chunking: BDAT instead of DATA, the message right after it, with no
	// dot-stuffing (RFC 3030). eightBit: 8BITMIME (RFC 6152). utf8:
	// SMTPUTF8 (RFC 6531), for envelope addresses that need it.
	pipelining, chunking, eightBit, utf8 bool
	// msg and wire are reused from message to message.
	msg, wire []byte
}

func newConn(c *smtp.Client) *conn {
	has := func(ext string) bool { ok, _ := c.Extension(ext); return ok }
	return &conn{c: c, pipelining: has("PIPELINING"), chunking: has("CHUNKING"), eightBit: has("8BITMIME"), utf8: has("SMTPUTF8")}
}

// timeout bounds each message's exchange with the server.
const timeout = 30 * time.Second

// send runs one SMTP transaction for o and returns nil once the server
// accepted the message. With PIPELINING the commands go in one write and
// their replies are read after it; never across messages, so the caller
// can record each message before the next one's first byte. Any error
// leaves the session in a state the caller must not reuse.
func (c *conn) send(o *outgoing, now time.Time) error {
	to := o.to.Address
	var uses8bit bool
	c.msg, uses8bit = o.render(c.msg[:0], c.eightBit, now)
	params := ""
	if uses8bit {
		params = " BODY=8BITMIME"
	}
	if c.utf8 && (!isASCII(o.from.Address) || !isASCII(to)) {
		// Without SMTPUTF8 the address goes as it is: the server's reply
		// (a 5xx refusal, as a bounce) decides.
		params += " SMTPUTF8"
	}
	if err := c.c.UpdateDeadline(timeout); err != nil {
		return fmt.Errorf("send mail to %s: %w", to, err)
	}
	w := c.wire[:0]
	w = append(w, "MAIL FROM:<"...)
	w = append(w, o.from.Address...)
	w = append(w, '>')
	w = append(w, params...)
	w = append(w, "\r\n"...)
	mail := len(w)
	w = append(w, "RCPT TO:<"...)
	w = append(w, to...)
	w = append(w, ">\r\n"...)
	rcpt := len(w)
	defer func() { c.wire = w[:0] }()

	switch {
	case c.pipelining && c.chunking:
		// One write: MAIL, RCPT, BDAT and the message. The server reads
		// the chunk even when it refused MAIL or RCPT, and answers it.
		w = append(w, "BDAT "...)
		w = strconv.AppendInt(w, int64(len(c.msg)), 10)
		w = append(w, " LAST\r\n"...)
		w = append(w, c.msg...)
		if err := c.write(w, to); err != nil {
			return err
		}
		return cmp.Or(c.reply(250, "MAIL FROM", to), c.reply(25, "RCPT TO", to), c.reply(250, "BDAT", to))

	case c.pipelining:
		w = append(w, "DATA\r\n"...)
		if err := c.write(w, to); err != nil {
			return err
		}
		refused := cmp.Or(c.reply(250, "MAIL FROM", to), c.reply(25, "RCPT TO", to))
		if err := c.reply(354, "DATA", to); err != nil {
			return cmp.Or(refused, err)
		}
		if refused != nil {
			// DATA was accepted without a sender or recipient: end the
			// empty message (RFC 2920 section 3.1) and report the refusal.
			if c.write([]byte(".\r\n"), to) == nil {
				_ = c.reply(250, "DATA", to)
			}
			return refused
		}

	default:
		// Lock-step: each command waits for the reply to the one before.
		for _, step := range []struct {
			cmd    []byte
			expect int
			name   string
		}{{w[:mail], 250, "MAIL FROM"}, {w[mail:rcpt], 25, "RCPT TO"}, {[]byte("DATA\r\n"), 354, "DATA"}} {
			if err := c.write(step.cmd, to); err != nil {
				return err
			}
			if err := c.reply(step.expect, step.name, to); err != nil {
				return err
			}
		}
	}
	w = dotStuff(w[:0], c.msg)
	w = append(w, ".\r\n"...)
	if err := c.write(w, to); err != nil {
		return err
	}
	return c.reply(250, "DATA", to)
}

// write sends p in one write (the buffered writer passes a write larger
// than its buffer straight through when it holds nothing).
func (c *conn) write(p []byte, to string) error {
	if _, err := c.c.Text.W.Write(p); err != nil {
		return fmt.Errorf("send mail to %s: %w", to, err)
	}
	if err := c.c.Text.W.Flush(); err != nil {
		return fmt.Errorf("send mail to %s: %w", to, err)
	}
	return nil
}

// reply reads the server's reply to cmd. A refusal wraps the
// *textproto.Error that holds its code, which Permanent reads.
func (c *conn) reply(expect int, cmd, to string) error {
	if _, _, err := c.c.Text.ReadResponse(expect); err != nil {
		var te *textproto.Error
		switch {
		case errors.As(err, &te) && cmd == "RCPT TO":
			// Staff read this as the bounce reason: it names the address.
			return fmt.Errorf("send mail: RCPT TO refused, affected recipient(s): <%s>: %w", to, err)
		case errors.As(err, &te):
			return fmt.Errorf("send mail to %s: %s refused: %w", to, cmd, err)
		}
		return fmt.Errorf("send mail to %s: reply to %s: %w", to, cmd, err)
	}
	return nil
}

// dotStuff appends msg to b with a '.' doubled at the start of each line,
// as DATA requires (RFC 5321 section 4.5.2). Not textproto's DotWriter:
// it goes byte by byte through the 4 kB buffered writer, so a message
// would leave in several writes instead of one.
func dotStuff(b, msg []byte) []byte {
	for len(msg) > 0 {
		if msg[0] == '.' {
			b = append(b, '.')
		}
		i := bytes.Index(msg, []byte("\n."))
		if i < 0 {
			return append(b, msg...)
		}
		b = append(b, msg[:i+1]...)
		msg = msg[i+1:]
	}
	return b
}
