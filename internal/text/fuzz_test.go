package text_test

import (
	"encoding/json"
	"testing"

	"github.com/laurel-edu/laurel/internal/text"
)

// FuzzCheckJSON: whatever CheckJSON lets through decodes (if it is JSON at
// all) to strings and keys that all pass Check, and it never panics.
func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{`{"a":"b"}`, `{"a":["x",{"b":"\u0000"}]}`, "{\"a\":\"\xff\"}", `["\ud800"]`, `{"k\u0007":1}`, `"\\u0000"`, `[1,true,null,"é"]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if text.CheckJSON(in) != nil {
			return
		}
		var v any
		if json.Unmarshal(in, &v) != nil {
			return
		}
		var walk func(v any)
		walk = func(v any) {
			switch x := v.(type) {
			case string:
				if err := text.Check(x); err != nil {
					t.Fatalf("CheckJSON(%q) = nil, but it decodes to %q: %v", in, x, err)
				}
			case []any:
				for _, e := range x {
					walk(e)
				}
			case map[string]any:
				for k, e := range x {
					walk(k)
					walk(e)
				}
			}
		}
		walk(v)
	})
}
