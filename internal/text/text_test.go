package text_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

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
		{"del\x7f", "contains the control character U+007F", 3},
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

func TestCheckJSON(t *testing.T) {
	tests := []struct {
		in   string
		path string // "" when fine
		key  bool
	}{
		{`{"a":"ok","b":[1,true,null,"x"],"c":{"d":"é\t\n"}}`, "", false},
		{`{"a":"\ud83c\udf93 pair"}`, "", false},
		{`{"a":"x","b":[1,"ok",{"c":"n\u0000"}]}`, "b[2].c", false},
		{`{"credentials":[{},{"recipient":{"email":"a\u0001"}}]}`, "credentials[1].recipient.email", false},
		{"{\"name\":\"caf\xe9\"}", "name", false},
		{`{"attributes":{"k\u0000":"v"}}`, `attributes.k\x00`, true},
		{`["ok","\udc00"]`, "[1]", false},
		{`"\u0000"`, "", false}, // a bare string: path empty, but reported
		{`{"a":`, "", false},    // malformed: the decoder reports it
	}
	for _, tt := range tests {
		err := text.CheckJSON([]byte(tt.in))
		switch {
		case tt.in == `"\u0000"`:
			if err == nil || len(err.Path) != 0 {
				t.Errorf("CheckJSON(%s) = %v, want a problem at the top", tt.in, err)
			}
		case tt.path == "":
			if err != nil {
				t.Errorf("CheckJSON(%s) = %v, want nil", tt.in, err)
			}
		case err == nil || text.JSONPath(err.Path) != tt.path || err.Key != tt.key:
			t.Errorf("CheckJSON(%s) = %+v, want path %q key %v", tt.in, err, tt.path, tt.key)
		}
	}
}

// ruleCases is the one rule for storable text, case by case (see the
// package comment for why).
var ruleCases = []struct {
	name string
	in   string
	ok   bool
}{
	{"plain ASCII", "Ada Lovelace", true},
	{"accents, CJK, emoji", "Zoë Ångström 李小龍 🎓", true},
	{"tab", "a\tb", true},
	{"LF", "a\nb", true},
	{"CR", "a\rb", true},
	{"empty", "", true},
	{"U+FFFD itself", "replacement \uFFFD is text", true},
	{"C1 control NEL", "a\u0085b", true},
	{"C1 control CSI", "a\u009bb", true},
	{"noncharacter U+FFFE", "a\uFFFEb", true},
	{"noncharacter U+10FFFF", "a\U0010FFFFb", true},
	{"NUL", "a\x00b", false},
	{"SOH", "\x01", false},
	{"BEL", "a\x07", false},
	{"backspace", "a\bb", false},
	{"vertical tab", "a\vb", false},
	{"form feed", "a\fb", false},
	{"ESC", "a\x1b[0m", false},
	{"unit separator", "a\x1f", false},
	{"DEL", "del\x7f", false},
	{"Latin-1 byte", "caf\xe9", false},
	{"truncated sequence", "é\xc3", false},
	{"encoded surrogate", "\xed\xa0\x80", false},
	{"overlong NUL", "\xc0\x80", false},
	{"above U+10FFFF", "\xf4\x90\x80\x80", false},
}

func TestRule(t *testing.T) {
	for _, tc := range ruleCases {
		if err := text.Check(tc.in); (err == nil) != tc.ok {
			t.Errorf("%s: Check(%q) = %v, want ok=%v", tc.name, tc.in, err, tc.ok)
		}
	}
}

// TestCheckJSONFollowsTheRule: a JSON string, raw or escaped, passes
// CheckJSON exactly when its text passes Check.
func TestCheckJSONFollowsTheRule(t *testing.T) {
	for _, tc := range ruleCases {
		if !utf8.ValidString(tc.in) {
			continue // not expressible as escaped JSON; raw it is covered by TestCheckJSON
		}
		escaped, _ := json.Marshal(tc.in) // escapes C0, not DEL
		ascii := strconv.QuoteToASCII(tc.in)
		for _, doc := range []string{`{"v":` + string(escaped) + `}`, `{"v":"` + jsonEscapeAll(tc.in) + `"}`} {
			if err := text.CheckJSON([]byte(doc)); (err == nil) != tc.ok {
				t.Errorf("%s: CheckJSON(%s) = %v, want ok=%v (%s)", tc.name, doc, err, tc.ok, ascii)
			}
		}
	}
	if err := text.CheckJSON([]byte("{\"v\":\"del\x7f\"}")); err == nil || err.Reason != "contains the control character U+007F" {
		t.Errorf("CheckJSON with a raw DEL = %v", err)
	}
}

// jsonEscapeAll writes every rune of s as \u escapes (surrogate pairs
// above the BMP), as some clients do.
func jsonEscapeAll(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r > 0xFFFF {
			hi, lo := utf16.EncodeRune(r)
			fmt.Fprintf(&b, `\u%04x\u%04x`, hi, lo)
			continue
		}
		fmt.Fprintf(&b, `\u%04x`, r)
	}
	return b.String()
}
