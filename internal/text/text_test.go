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
