package text_test

import (
	"errors"
	"testing"

	"github.com/laurel-edu/laurel/internal/text"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		in     string
		reason string // "" when the text is fine
		offset int
	}{
		{"Ada Lovelace", "", 0},
		{"Zoë Ångström 李小龍 🎓", "", 0},
		{"line one\r\nline two\tcol", "", 0},
		{"", "", 0},
		{"ad\x00a", "contains a NUL byte", 2},
		{"bell\x07", "contains the control character U+0007", 4},
		{"esc\x1b[31m", "contains the control character U+001B", 3},
		{"caf\xe9", "is not valid UTF-8 text", 3},
		{"\xff\xfe", "is not valid UTF-8 text", 0},
		{"ok\xed\xa0\x80", "is not valid UTF-8 text", 2}, // an encoded surrogate
	}
	for _, tt := range tests {
		err := text.Check(tt.in)
		if tt.reason == "" {
			if err != nil {
				t.Errorf("Check(%q) = %v, want nil", tt.in, err)
			}
			continue
		}
		var te *text.Error
		if !errors.As(err, &te) || te.Reason != tt.reason || te.Offset != tt.offset {
			t.Errorf("Check(%q) = %v, want %q at %d", tt.in, err, tt.reason, tt.offset)
		}
	}
}
