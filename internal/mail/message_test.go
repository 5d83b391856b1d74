package mail

import (
	"strings"
	"testing"
)

func TestPartEncoding(t *testing.T) {
	long := strings.Repeat("a", maxLine)
	for _, tc := range []struct {
		name, s  string
		eightBit bool
		want     string
	}{
		{"ASCII", "hello\nworld\n", false, cte7bit},
		{"998-byte line", long + "\n" + long, false, cte7bit},
		{"998-byte line and CRLF", long + "\r\n" + long + "\r\n", false, cte7bit},
		{"999-byte line", long + "a\nshort", false, cteQP},
		{"999-byte last line", "short\n" + long + "a", false, cteQP},
		{"UTF-8, server takes 8-bit", "Zoë\n", true, cte8bit},
		{"UTF-8, server does not", "Zoë\n", false, cteQP},
		{"invalid UTF-8", "Zo\xff\n", true, cteQP},
		{"NUL", "a\x00b", true, cteQP},
		{"non-ASCII past the first 8 bytes", "abcdefghijklmnopé", false, cteQP},
	} {
		if got := partEncoding(tc.s, tc.eightBit); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestWriteBodyMakesEveryLineBreakCRLF(t *testing.T) {
	for in, want := range map[string]string{
		"a\nb\r\nc\rd":  "a\r\nb\r\nc\r\nd",
		"a\n":           "a\r\n",
		"\n\n":          "\r\n\r\n",
		"end with CR\r": "end with CR\r\n",
	} {
		if got := string(writeBody(nil, in, cte7bit)); got != want {
			t.Errorf("writeBody(%q) = %q, want %q", in, got, want)
		}
	}
}
