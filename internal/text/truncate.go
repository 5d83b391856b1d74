package text

import (
	"strings"
	"unicode/utf8"
)

// ellipsis ends a truncated text.
const ellipsis = "…"

// Truncate returns s shortened to at most n characters (runes), the last of
// them an ellipsis when anything was cut: the one truncation Laurel uses for
// text from elsewhere (a mail server's reply, a platform's error, a form
// field) before storing it or showing it to staff, by characters, never by
// bytes. Invalid UTF-8 and NUL bytes, which
// PostgreSQL text refuses ("invalid byte sequence"), become U+FFFD, so the
// result is always valid UTF-8 without NUL whatever s held. n < 1 gives "".
func Truncate(s string, n int) string {
	if n < 1 {
		return ""
	}
	if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
	}
	if len(s) <= n || utf8.RuneCountInString(s) <= n {
		return s
	}
	count := 0
	for i := range s {
		if count == n-1 {
			return s[:i] + ellipsis
		}
		count++
	}
	return s
}
