// Package text decides whether a string is text Laurel can store: valid
// UTF-8 without NUL or other C0 control characters (tab, CR and LF are
// allowed). PostgreSQL refuses NUL outright ("invalid byte sequence"), and
// the other controls are never meant in a name, an email or an attribute.
// Every surface that takes text (forms, JSON, CSV cells) checks with Check,
// so a bad byte is a message naming the field, never a 500.
package text

import (
	"fmt"
	"unicode/utf8"
)

// Error says what is wrong with a string and where (a byte offset).
type Error struct {
	Offset int
	Reason string // e.g. "contains a NUL byte"
}

func (e *Error) Error() string { return fmt.Sprintf("%s (at byte %d)", e.Reason, e.Offset) }

// Check returns nil for storable text, else an *Error whose Reason is a
// short phrase to put after the field's name ("email contains a NUL byte").
func Check(s string) error {
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b < 0x20 && b != '\t' && b != '\n' && b != '\r' {
				return &Error{Offset: i, Reason: controlReason(b)}
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			return &Error{Offset: i, Reason: "is not valid UTF-8 text"}
		}
		i += n
	}
	return nil
}
