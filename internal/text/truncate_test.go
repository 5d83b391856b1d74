package text_test

import (
	"testing"
	"unicode/utf8"

	"github.com/laurel-edu/laurel/internal/text"
)

func TestTruncate(t *testing.T) {
	tests := []struct {
		name string
		in   string
		n    int
		want string
	}{
		{"short", "hello", 10, "hello"},
		{"exact", "hello", 5, "hello"},
		{"cut", "hello world", 5, "hell…"},
		{"cut by characters, not bytes", "ééééé", 3, "éé…"},
		{"multibyte at the byte boundary", "aé", 2, "aé"},
		{"one character", "abc", 1, "…"},
		{"zero", "abc", 0, ""},
		{"invalid UTF-8 replaced", "caf\xe9 ok", 20, "caf\uFFFD ok"},
		{"NUL replaced", "a\x00b", 10, "a\uFFFDb"},
		{"invalid and cut", "\xff\xfe\xfdabcdef", 4, "\uFFFDab…"},
		{"emoji kept whole", "👍👍👍", 2, "👍…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := text.Truncate(tt.in, tt.n)
			if got != tt.want {
				t.Errorf("Truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
			}
			if !utf8.ValidString(got) || utf8.RuneCountInString(got) > max(tt.n, 0) {
				t.Errorf("Truncate(%q, %d) = %q: invalid UTF-8 or longer than %d characters", tt.in, tt.n, got, tt.n)
			}
		})
	}
}
