package sheet

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/laurel-edu/laurel/internal/text"
)

// foldExtra are letters that lose nothing to accents under decomposition but
// are still written differently by people typing a header.
var foldExtra = map[rune]string{
	'ß': "ss", 'æ': "ae", 'œ': "oe", 'ø': "o", 'ł': "l", 'đ': "d", 'ð': "d", 'þ': "th", 'ı': "i",
}

// Normalize returns the key two headers share when a person would call them
// the same: case-, accent- and punctuation-insensitive, spaces ignored.
// "E-mail" and "email", "Prénom" and "prenom", "First Name" and "first_name"
// have the same key.
func Normalize(header string) string {
	var b strings.Builder
	for _, r := range norm.NFKD.String(header) {
		switch {
		case unicode.Is(unicode.Mn, r):
			// a combining accent
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			r = unicode.ToLower(r)
			if s, ok := foldExtra[r]; ok {
				b.WriteString(s)
			} else {
				b.WriteRune(r)
			}
		}
	}
	return b.String()
}

// Neutralize makes a cell safe to write into a CSV that a spreadsheet
// program will open: a cell starting with = + - @, a tab or a carriage
// return would be read as a formula (CSV injection), so it gets a leading
// apostrophe, which spreadsheets read as "this is text".
func Neutralize(cell string) string {
	if cell == "" {
		return cell
	}
	switch cell[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + cell
	}
	return cell
}

// CleanText refuses text that is not storable text under Laurel's one rule
// (text.Check), saying where in characters, as a registrar counts them,
// rather than bytes.
func CleanText(s string) error {
	var te *text.Error
	if err := text.Check(s); errors.As(err, &te) {
		return fmt.Errorf("%s at character %d", te.Reason, utf8.RuneCountInString(s[:te.Offset])+1)
	} else if err != nil {
		return err
	}
	return nil
}
