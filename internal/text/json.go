package text

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// JSONError names the first string (or object key) of a JSON document that
// is not storable text.
type JSONError struct {
	// Path leads to the string: object keys (string) and array indexes
	// (int), outermost first; for a bad key, the key is the last element.
	Path   []any
	Key    bool   // the bad text is an object key
	Reason string // as Error.Reason
}

func (e *JSONError) Error() string {
	if e.Key {
		return fmt.Sprintf("the name of field %q %s", JSONPath(e.Path), e.Reason)
	}
	return fmt.Sprintf("field %q %s", JSONPath(e.Path), e.Reason)
}

// JSONPath writes a path as "credentials[1].recipient.name"; a key that is
// itself bad text is shown escaped.
func JSONPath(path []any) string {
	var b strings.Builder
	for _, p := range path {
		switch v := p.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", v)
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(Printable(v))
		}
	}
	return b.String()
}

// Printable returns s, or its Go-escaped ASCII form when s is not storable
// text, so a message can quote it.
func Printable(s string) string {
	if Check(s) == nil {
		return s
	}
	q := strconv.QuoteToASCII(s)
	return q[1 : len(q)-1]
}

// jsonFrame is one open object or array while CheckJSON walks a document.
type jsonFrame struct {
	object    bool
	key       string // the current key (objects)
	index     int    // the current item (arrays); -1 before the first
	expectKey bool
}

// CheckJSON walks a JSON document's tokens and returns the first string or
// key that is not storable text, or nil. The raw bytes are checked too: Go's
// decoder silently turns invalid UTF-8 and lone UTF-16 surrogate escapes
// into U+FFFD. Malformed JSON is left to the decoder to report (nil here).
func CheckJSON(body []byte) *JSONError {
	dec := json.NewDecoder(bytes.NewReader(body))
	var stack []*jsonFrame
	beginValue := func() {
		if n := len(stack); n > 0 && !stack[n-1].object {
			stack[n-1].index++
		}
	}
	endValue := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].expectKey = true
		}
	}
	prev := dec.InputOffset()
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // io.EOF, or a syntax error the decoder will name
		}
		end := dec.InputOffset()
		raw := body[prev:end]
		prev = end
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				beginValue()
				stack = append(stack, &jsonFrame{object: t == '{', index: -1, expectKey: t == '{'})
			default:
				if len(stack) > 0 {
					stack = stack[:len(stack)-1]
				}
				endValue()
			}
		case string:
			n := len(stack)
			isKey := n > 0 && stack[n-1].object && stack[n-1].expectKey
			if isKey {
				stack[n-1].key = t
				stack[n-1].expectKey = false
			} else {
				beginValue()
			}
			if reason := stringProblem(t, raw); reason != "" {
				path := make([]any, 0, len(stack))
				for _, f := range stack {
					if f.object {
						path = append(path, f.key)
					} else {
						path = append(path, f.index)
					}
				}
				return &JSONError{Path: path, Key: isKey, Reason: reason}
			}
			if !isKey {
				endValue()
			}
		default:
			beginValue()
			endValue()
		}
	}
}

// stringProblem checks a decoded JSON string and its raw bytes.
func stringProblem(s string, raw []byte) string {
	if !utf8.Valid(raw) {
		return "is not valid UTF-8 text"
	}
	if loneSurrogate(raw) {
		return "is not valid UTF-8 text (a lone UTF-16 surrogate escape)"
	}
	var te *Error
	if err := Check(s); errors.As(err, &te) {
		return te.Reason
	}
	return ""
}

// loneSurrogate reports a \uD800-\uDFFF escape that is not half of a pair.
func loneSurrogate(raw []byte) bool {
	hex4 := func(i int) (rune, bool) {
		if i+6 > len(raw) || raw[i] != '\\' || raw[i+1] != 'u' {
			return 0, false
		}
		n, err := strconv.ParseUint(string(raw[i+2:i+6]), 16, 16)
		return rune(n), err == nil
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' || i+1 >= len(raw) {
			continue
		}
		if raw[i+1] != 'u' {
			i++ // an escaped character, e.g. \\ or \"
			continue
		}
		r, ok := hex4(i)
		if !ok {
			return false
		}
		switch {
		case r >= 0xD800 && r <= 0xDBFF:
			lo, ok := hex4(i + 6)
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return true
			}
			i += 11
		case r >= 0xDC00 && r <= 0xDFFF:
			return true
		default:
			i += 5
		}
	}
	return false
}
