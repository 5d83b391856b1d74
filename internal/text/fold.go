package text

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Fold returns s in the form searches compare, the same in every script and
// independent of any database locale: compatibility-decomposed (NFKD, so
// "ﬁ" is "fi" and a full-width "Ａ" is "A"), without combining marks (so
// "Wiśniewski" and "Ní" lose their accents, as a Cyrillic "ё" does), case
// folded (Cyrillic, Greek and final sigma included), letters that carry
// their stroke inside them (ł, ø, đ, æ, þ…) spelt as a keyboard without
// them would, and recomposed (NFC, so a Hangul syllable stays one
// character). Fold(x) contains Fold(y) whenever a reader would say x
// contains y ignoring case and accents.
func Fold(s string) string {
	switch ascii, lower := asciiCase(s); {
	case lower:
		return s
	case ascii:
		// Nothing in ASCII decomposes or folds beyond lower case.
		return strings.ToLower(s)
	}
	d := norm.NFKD.String(strings.ToValidUTF8(s, "\uFFFD"))
	var b strings.Builder
	b.Grow(len(d))
	for _, r := range d {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		b.WriteRune(r)
	}
	f := folder.String(b.String())
	b.Reset()
	for _, r := range f {
		if s, ok := undecomposed[r]; ok {
			b.WriteString(s)
			continue
		}
		b.WriteRune(r)
	}
	return norm.NFC.String(b.String())
}

// folder is full case folding (ß → ss, ς → σ), which lower-casing is not.
var folder = cases.Fold()

// undecomposed spells the letters that Unicode does not decompose into a
// base letter and a mark, lower case (Fold case-folds first), as people type
// them on a keyboard without them.
var undecomposed = map[rune]string{
	'ł': "l", 'ø': "o", 'đ': "d", 'ð': "d", 'ħ': "h", 'ŧ': "t", 'ƀ': "b", 'ɨ': "i",
	'ı': "i", 'ŀ': "l", 'ƚ': "l", 'ɍ': "r", 'ɏ': "y", 'ƶ': "z", 'ǥ': "g", 'ʉ': "u",
	'æ': "ae", 'œ': "oe", 'þ': "th", 'ŋ': "n", 'ĸ': "k", 'ſ': "s", 'ß': "ss",
	'\u2019': "'", '\u2018': "'", '\u02bc': "'", // apostrophes as typed: O’Brien finds O'Brien
}

// asciiCase reports whether s is all ASCII, and whether it is also without
// upper-case letters (most emails), which Fold leaves as they are.
func asciiCase(s string) (ascii, lower bool) {
	lower = true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return false, false
		}
		if 'A' <= c && c <= 'Z' {
			lower = false
		}
	}
	return true, lower
}
