package mail_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/benchcpu"
	"github.com/laurel-edu/laurel/internal/mail"
)

// BenchmarkSendMany measures delivery to the in-process catcher over one
// connection, batches of 25: "small" is a short message, "credential" one
// the size of a credential email (about 8 KB of text and HTML, non-ASCII
// included). cpu_µs/msg is this process's CPU, the catcher's included.
func BenchmarkSendMany(b *testing.B) {
	html := strings.Repeat(`<tr><td style="padding:8px 0;font-family:Arial,sans-serif;color:#333">Café — Introduction to Data Analysis, awarded by the Faculty of Science</td></tr>`+"\n", 40)
	text := strings.Repeat("Café — Introduction to Data Analysis, awarded by the Faculty of Science\n", 20)
	for _, bc := range []struct {
		name string
		msg  mail.Message
	}{
		{"small", mail.Message{To: "r@example.edu", Subject: "Your credential", Text: strings.Repeat("text line\n", 20), HTML: strings.Repeat("<p>html line</p>\n", 40)}},
		{"credential", mail.Message{To: "r@example.edu", Subject: "Your credential for Café 101", Text: text, HTML: html, ReplyTo: "Registry <registry@uni.example.edu>"}},
	} {
		b.Run(bc.name, func(b *testing.B) { benchSendMany(b, bc.msg) })
	}
}

func benchSendMany(b *testing.B, m mail.Message) {
	c, err := mail.NewCatcher("")
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	s, err := mail.NewSender(c.URL(), "Laurel <no-reply@laurel.test>", 1)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	msgs := make([]mail.Message, 25)
	for i := range msgs {
		msgs[i] = m
	}
	b.ResetTimer()
	start, cpu0 := time.Now(), benchcpu.Self()
	for range b.N {
		for _, err := range s.SendMany(context.Background(), msgs) {
			if err != nil {
				b.Fatal(err)
			}
		}
		if b.N > 1 && c.Len() > 10000 {
			c.Reset() // keep the catcher's memory bounded
		}
	}
	n := float64(b.N * 25)
	b.ReportMetric(float64(time.Since(start).Microseconds())/n/1000, "ms/msg")
	b.ReportMetric(float64((benchcpu.Self()-cpu0).Microseconds())/n, "cpu_µs/msg")
}
