package issuance

import "testing"

// The spelling: ASCII as it is, every other character a marker and its code
// point, so no spelt character can match typed ASCII or straddle two.
func TestSpell(t *testing.T) {
	for in, want := range map[string]string{
		"ada@example.edu": "ada@example.edu",
		"é":               "XAAOJ",
		"李":               "XGHEO",
		"𠀀":               "YCAAAA",
		"\U0010FFFF":      "ZBAPPPP",
		"dmitri соколов":  "dmitri XAEEBXAEDOXAEDKXAEDOXAEDLXAEDOXAEDC",
	} {
		if got := spell(in); got != want {
			t.Errorf("spell(%q) = %q, want %q", in, got, want)
		}
	}
}
