package certpdf

import (
	"strings"
	"testing"

	"golang.org/x/text/unicode/runenames"
)

// TestFormsTable checks every Presentation Form in the table against the
// Unicode character names, so an off-by-one in the table cannot hide.
func TestFormsTable(t *testing.T) {
	suffix := []string{" ISOLATED FORM", " FINAL FORM", " INITIAL FORM", " MEDIAL FORM"}
	for base, f := range arabicForms {
		name := runenames.Name(base)
		if f.n == 1 {
			suffix := " ISOLATED FORM"
			if got := runenames.Name(f.first); got != name+suffix {
				t.Errorf("%U: form %U is %q, want %q", base, f.first, got, name+suffix)
			}
			continue
		}
		for k := range f.n {
			want := name + suffix[k]
			if got := runenames.Name(f.first + rune(k)); got != want {
				t.Errorf("%U form %d: %U is %q, want %q", base, k, f.first+rune(k), got, want)
			}
		}
	}
	for alef, lig := range lamAlef {
		n := strings.TrimPrefix(runenames.Name(alef), "ARABIC LETTER ")
		if got := runenames.Name(lig); got != "ARABIC LIGATURE LAM WITH "+n+" ISOLATED FORM" {
			t.Errorf("lam+%U: %U is %q", alef, lig, got)
		}
		if got := runenames.Name(lig + 1); got != "ARABIC LIGATURE LAM WITH "+n+" FINAL FORM" {
			t.Errorf("lam+%U: %U is %q", alef, lig+1, got)
		}
	}
	if len(arabicForms) != 36+6 {
		t.Fatalf("%d letters", len(arabicForms))
	}
}

func TestVisual(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Ada Lovelace", "Ada Lovelace"},
		// محمد: meem initial, hah medial, meem medial, dal final; drawn
		// right to left, so reversed.
		{"محمد", "\uFEAA\uFEE4\uFEA4\uFEE3"},
		// A right-joining letter (dal) breaks the join: عبد = ain initial,
		// beh medial, dal final.
		{"عبد", "\uFEAA\uFE92\uFECB"},
		// lam-alef ligature; an isolated hamza.
		{"لا", "\uFEFB"},
		{"ء", "\uFE80"},
		// An Arabic name inside a Latin line keeps the Latin order.
		{"Dr محمد 2", "Dr \uFEAA\uFEE4\uFEA4\uFEE3 2"},
		// Latin inside an Arabic line: the Latin word keeps its letters in
		// order and moves to the left.
		{"محمد Ali", "Ali \uFEAA\uFEE4\uFEA4\uFEE3"},
		// Hebrew: reversed, unshaped.
		{"יעל", "לעי"},
		// A combining mark (fatha) stays after its letter.
		{"مَن", "\uFEE6\uFEE3\u064E"},
	} {
		if got := visual(c.in); got != c.want {
			t.Errorf("visual(%q) = %q (%U), want %q (%U)", c.in, got, []rune(got), c.want, []rune(c.want))
		}
	}
}
