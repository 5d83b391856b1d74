package mail_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/mail"
)

// BenchmarkSendMany measures delivery to the in-process catcher over one
// connection, batches of 25.
func BenchmarkSendMany(b *testing.B) {
	c, err := mail.NewCatcher("")
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	s, err := mail.NewSender(c.URL(), "no-reply@laurel.test", 1)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	msgs := make([]mail.Message, 25)
	for i := range msgs {
		msgs[i] = mail.Message{To: "r@example.edu", Subject: "Your credential", Text: strings.Repeat("text line\n", 20), HTML: strings.Repeat("<p>html line</p>\n", 40)}
	}
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		for _, err := range s.SendMany(context.Background(), msgs) {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/float64(b.N*25)/1000, "ms/msg")
}
