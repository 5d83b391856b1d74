// Package text holds Laurel's one rule for storable text (Check, and
// CheckJSON for a raw JSON document) and its one truncation (Truncate, by
// characters, whose result always passes PostgreSQL's own check): every surface that takes text (a web
// form value, a JSON field, a CSV or XLSX cell, an Open Badges string)
// checks with it, so a bad byte is a message naming the field, never a 500,
// and text accepted anywhere can later be signed.
//
// The rule: valid UTF-8 without NUL, the other C0 control characters
// (U+0001–U+001F) except tab, LF and CR, or DEL (U+007F). PostgreSQL refuses
// NUL outright ("invalid byte sequence"); the other controls are never meant
// in a name, an email or an attribute, and the N-Quads a signed credential
// is canonicalised to escape them differently in different implementations
// (json-gold escapes only \\ \" \n \r \t, RDFC-1.0 every C0 control and
// DEL), so a proof holding one would not verify everywhere. C1 controls
// (U+0080–U+009F) and noncharacters are allowed: both canonical forms carry
// them the same way, and text stored under the earlier rules may hold them,
// which must stay signable.
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
			if isControl(b) {
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

// isControl reports an ASCII byte the rule refuses.
func isControl(b byte) bool {
	return (b < 0x20 && b != '\t' && b != '\n' && b != '\r') || b == 0x7f
}
