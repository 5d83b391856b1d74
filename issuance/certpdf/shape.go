package certpdf

import (
	"slices"
	"unicode"
)

// PDF libraries in Go draw one glyph per code point from left to right; they
// neither shape Arabic (a letter's form depends on its neighbours) nor lay
// out right-to-left text. shape does both for what a certificate prints —
// names and short titles — so the page shows connected Arabic letters in the
// right order:
//
//   - Arabic letters become their Presentation Forms (isolated, final,
//     initial, medial) by the Unicode joining rules (dual-joining letters,
//     right-joining letters, transparent marks, lam-alef ligatures);
//   - the line is put into visual order with a simplified bidi algorithm: its
//     direction is that of the first strong character; runs of right-to-left
//     characters are reversed, digits and Latin inside them keep their order.
//
// Not covered (and so not promised): scripts that need contextual shaping
// beyond this (Devanagari, Bengali, Thai, Myanmar...), explicit bidi
// controls, and mirrored brackets.

// forms is the first Presentation Form (isolated) of an Arabic letter and
// how many forms it has: 1 (non-joining), 2 (right-joining: isolated,
// final) or 4 (dual-joining: isolated, final, initial, medial).
type forms struct {
	first rune
	n     int
}

var arabicForms = func() map[rune]forms {
	m := map[rune]forms{}
	// U+0621..U+064A map in order onto U+FE80.. (Presentation Forms-B).
	counts := map[rune]int{0x0621: 1, 0x0622: 2, 0x0623: 2, 0x0624: 2, 0x0625: 2, 0x0626: 4, 0x0627: 2,
		0x0628: 4, 0x0629: 2, 0x062A: 4, 0x062B: 4, 0x062C: 4, 0x062D: 4, 0x062E: 4, 0x062F: 2, 0x0630: 2,
		0x0631: 2, 0x0632: 2, 0x0633: 4, 0x0634: 4, 0x0635: 4, 0x0636: 4, 0x0637: 4, 0x0638: 4, 0x0639: 4,
		0x063A: 4, 0x0641: 4, 0x0642: 4, 0x0643: 4, 0x0644: 4, 0x0645: 4, 0x0646: 4, 0x0647: 4, 0x0648: 2,
		0x0649: 2, 0x064A: 4}
	next := rune(0xFE80)
	for r := rune(0x0621); r <= 0x064A; r++ {
		if n, ok := counts[r]; ok {
			m[r] = forms{next, n}
			next += rune(n)
		}
	}
	// Persian and Urdu letters (Presentation Forms-A).
	for r, f := range map[rune]forms{0x067E: {0xFB56, 4}, 0x0686: {0xFB7A, 4}, 0x0698: {0xFB8A, 2},
		0x06A9: {0xFB8E, 4}, 0x06AF: {0xFB92, 4}, 0x06CC: {0xFBFC, 4}} {
		m[r] = f
	}
	return m
}()

// lamAlef maps the alef that follows a lam to the ligature's isolated form
// (its final form is the next code point).
var lamAlef = map[rune]rune{0x0622: 0xFEF5, 0x0623: 0xFEF7, 0x0625: 0xFEF9, 0x0627: 0xFEFB}

const (
	lam     = 0x0644
	tatweel = 0x0640
	zwj     = 0x200D
)

// transparent marks (harakat, superscript alef) do not break joining.
func transparent(r rune) bool {
	return (r >= 0x064B && r <= 0x065F) || r == 0x0670 || (r >= 0x06D6 && r <= 0x06ED && r != 0x06DD && r != 0x06DE)
}

// joinsNext reports whether r connects to the letter after it (logically).
func joinsNext(r rune) bool {
	if r == tatweel || r == zwj {
		return true
	}
	f, ok := arabicForms[r]
	return ok && f.n == 4
}

// joinsPrev reports whether r connects to the letter before it.
func joinsPrev(r rune) bool {
	if r == tatweel || r == zwj {
		return true
	}
	f, ok := arabicForms[r]
	return ok && f.n >= 2
}

// shapeArabic replaces Arabic letters in s (logical order) by their
// contextual Presentation Forms.
func shapeArabic(s []rune) []rune {
	out := make([]rune, 0, len(s))
	neighbour := func(i, step int) rune {
		for j := i + step; j >= 0 && j < len(s); j += step {
			if !transparent(s[j]) {
				return s[j]
			}
		}
		return 0
	}
	for i := 0; i < len(s); i++ {
		r := s[i]
		f, ok := arabicForms[r]
		if !ok {
			out = append(out, r)
			continue
		}
		prev := neighbour(i, -1)
		connPrev := prev != 0 && joinsNext(prev)
		if r == lam && i+1 < len(s) {
			if lig, ok := lamAlef[s[i+1]]; ok {
				if connPrev {
					lig++ // final form
				}
				out = append(out, lig)
				i++
				continue
			}
		}
		next := neighbour(i, 1)
		connNext := next != 0 && joinsPrev(next) && f.n == 4
		switch {
		case f.n == 1:
			out = append(out, f.first)
		case connPrev && connNext:
			out = append(out, f.first+3)
		case connPrev:
			out = append(out, f.first+1)
		case connNext:
			out = append(out, f.first+2)
		default:
			out = append(out, f.first)
		}
	}
	return out
}

// rtl reports whether r is a strong right-to-left character (Hebrew,
// Arabic, Syriac, Thaana, N'Ko and their presentation forms).
func rtl(r rune) bool {
	return (r >= 0x0590 && r <= 0x08FF && !unicode.IsDigit(r)) || (r >= 0xFB1D && r <= 0xFDFF) || (r >= 0xFE70 && r <= 0xFEFF && r != 0xFEFF)
}

// strongLTR reports whether r is a strong left-to-right character.
func strongLTR(r rune) bool {
	return unicode.IsLetter(r) && !rtl(r)
}

// visual returns s shaped and in visual (left-to-right drawing) order.
func visual(s string) string {
	rs := []rune(s)
	hasRTL := slices.ContainsFunc(rs, rtl)
	if !hasRTL {
		return s
	}
	rs = shapeArabic(rs)
	base := 0 // paragraph level: 0 LTR, 1 RTL
	for _, r := range rs {
		if rtl(r) {
			base = 1
			break
		}
		if strongLTR(r) {
			break
		}
	}
	// Resolve each character to a level: RTL letters 1; LTR letters and
	// digits 2 inside an RTL paragraph (0 in an LTR one); neutrals take the
	// level of their surroundings when both sides agree, else the paragraph's.
	lv := make([]int, len(rs))
	known := make([]bool, len(rs))
	for i, r := range rs {
		switch {
		case rtl(r):
			lv[i], known[i] = 1, true
		case strongLTR(r) || unicode.IsDigit(r):
			lv[i], known[i] = 2*base, true
		}
	}
	for i := range rs {
		if known[i] {
			continue
		}
		before, after := base, base
		for j := i - 1; j >= 0; j-- {
			if known[j] {
				before = lv[j]
				break
			}
		}
		for j := i + 1; j < len(rs); j++ {
			if known[j] {
				after = lv[j]
				break
			}
		}
		if before == after {
			lv[i] = before
		} else {
			lv[i] = base
		}
	}
	// Reverse every maximal run at level ≥ k, from the highest level down
	// (UAX #9 rule L2). A combining mark stays after its base letter, where
	// the font positions it.
	order := make([]int, len(rs))
	for i := range order {
		order[i] = i
	}
	for k := 2; k >= 1; k-- {
		for i := 0; i < len(order); {
			if lv[order[i]] < k {
				i++
				continue
			}
			j := i
			for j < len(order) && lv[order[j]] >= k {
				j++
			}
			reverseClusters(rs, order[i:j])
			i = j
		}
	}
	out := make([]rune, len(rs))
	for i, o := range order {
		out[i] = rs[o]
	}
	return string(out)
}

// reverseClusters reverses idx (indexes into rs) cluster by cluster: a
// cluster is a character with the combining marks that follow it.
func reverseClusters(rs []rune, idx []int) {
	var clusters [][]int
	for k, o := range idx {
		if k > 0 && unicode.Is(unicode.Mn, rs[o]) {
			clusters[len(clusters)-1] = append(clusters[len(clusters)-1], o)
			continue
		}
		clusters = append(clusters, []int{o})
	}
	slices.Reverse(clusters)
	k := 0
	for _, c := range clusters {
		k += copy(idx[k:], c)
	}
}
