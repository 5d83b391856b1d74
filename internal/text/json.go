package text

import (
	"bytes"
	"encoding/json"
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

// jsonFrame is one open object or array while CheckJSON scans a document.
type jsonFrame struct {
	object    bool
	key       []byte // the current key, raw and quoted (objects)
	index     int    // the current item (arrays); -1 before the first
	expectKey bool
}

// CheckJSON scans a JSON document and returns the first string or key that
// is not storable text, or nil. It reads the raw bytes: Go's decoder
// silently turns invalid UTF-8 and lone UTF-16 surrogate escapes into
// U+FFFD, and \u0000 into a NUL PostgreSQL refuses. Malformed JSON is left
// to the decoder to report (nil here). It is a byte scanner, not a
// tokenizer, so checking a 32 MB batch costs little next to decoding it.
func CheckJSON(body []byte) *JSONError {
	// Without escapes a C0 control character could only be raw inside a
	// string, which the decoder refuses as a syntax error; a raw DEL is
	// valid JSON, so it takes the full scan.
	if utf8.Valid(body) && !bytes.Contains(body, []byte(`\`)) && bytes.IndexByte(body, 0x7f) < 0 {
		return nil
	}
	var stack []jsonFrame
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
	for i := 0; i < len(body); i++ {
		switch c := body[i]; c {
		case '{', '[':
			beginValue()
			stack = append(stack, jsonFrame{object: c == '{', index: -1, expectKey: c == '{'})
		case '}', ']':
			if len(stack) == 0 {
				return nil
			}
			stack = stack[:len(stack)-1]
			endValue()
		case '"':
			j := i + 1
			for ; j < len(body) && body[j] != '"'; j++ {
				if body[j] == '\\' {
					j++
				}
			}
			if j >= len(body) {
				return nil // unterminated: a syntax error
			}
			raw := body[i : j+1]
			n := len(stack)
			isKey := n > 0 && stack[n-1].object && stack[n-1].expectKey
			if isKey {
				stack[n-1].key, stack[n-1].expectKey = raw, false
			} else {
				beginValue()
			}
			if reason := rawStringProblem(raw); reason != "" {
				path := make([]any, 0, len(stack))
				for _, f := range stack {
					if f.object {
						var k string
						if json.Unmarshal(f.key, &k) != nil {
							k = string(f.key)
						}
						path = append(path, k)
					} else {
						path = append(path, f.index)
					}
				}
				return &JSONError{Path: path, Key: isKey, Reason: reason}
			}
			if !isKey {
				endValue()
			}
			i = j
		case ' ', '\t', '\n', '\r', ',', ':':
		default: // a number, true, false or null
			beginValue()
			for i+1 < len(body) && !strings.ContainsRune(" \t\n\r,:]}", rune(body[i+1])) {
				i++
			}
			endValue()
		}
	}
	return nil
}

// rawStringProblem checks a quoted JSON string as it is on the wire.
func rawStringProblem(raw []byte) string {
	if !utf8.Valid(raw) {
		return "is not valid UTF-8 text"
	}
	if loneSurrogate(raw) {
		return "is not valid UTF-8 text (a lone UTF-16 surrogate escape)"
	}
	for i := 1; i < len(raw)-1; i++ {
		b := raw[i]
		if b < 0x20 || b == 0x7f {
			return controlReason(b)
		}
		if b != '\\' {
			continue
		}
		switch raw[i+1] {
		case 'b':
			return controlReason('\b')
		case 'f':
			return controlReason('\f')
		}
		if raw[i+1] == 'u' && i+6 <= len(raw) {
			if n, err := strconv.ParseUint(string(raw[i+2:i+6]), 16, 16); err == nil && n < 0x80 && isControl(byte(n)) {
				return controlReason(byte(n))
			}
		}
		i++
	}
	return ""
}

func controlReason(b byte) string {
	if b == 0 {
		return "contains a NUL byte"
	}
	return fmt.Sprintf("contains the control character U+%04X", b)
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
