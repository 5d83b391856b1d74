package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/text"
)

// This file is where request text enters Laurel: every form field, query
// parameter and JSON string is checked with text.Check before a handler
// sees it, so a NUL byte or invalid UTF-8 is a 422 naming the field instead
// of PostgreSQL's "invalid byte sequence" as a 500.

// maxMultipartMemory is how much of a multipart body's file parts stays in
// memory while the text fields are checked; the rest spills to temporary
// files (net/http's ParseMultipartForm), as gin would do on first access.
const maxMultipartMemory = 8 << 20

// TextGuard refuses a request whose query parameters, or whose form fields
// (urlencoded, or the text parts of multipart/form-data; file parts are
// content, not text), are not storable text: a 422 naming the field, as
// JSON under /api/ and as the error page elsewhere. Mount it on the whole
// router. Handlers then read the already-parsed form as usual (c.PostForm,
// c.FormFile).
func TextGuard(rd *Renderer) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := checkRequestText(c.Request); err != nil {
			if isAPI(c.Request) {
				WriteJSONError(c, err)
			} else {
				rd.WriteError(c, err)
			}
			return
		}
		c.Next()
	}
}

func isAPI(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }

func checkRequestText(r *http.Request) error {
	if err := text.Check(r.URL.Path); err != nil {
		return apperr.Errorf(apperr.NotFound, "There is no page at this address.")
	}
	if err := checkValues("query parameter", r.URL.Query()); err != nil {
		return err
	}
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
	default:
		return nil
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			return nil // the handler reports an unreadable form
		}
		return checkValues("field", r.PostForm)
	case "multipart/form-data":
		if err := r.ParseMultipartForm(maxMultipartMemory); err != nil {
			return nil
		}
		if err := checkValues("field", r.MultipartForm.Value); err != nil {
			return err
		}
		// A file's name is text that may be stored (an import's file name).
		for name, files := range r.MultipartForm.File {
			for _, f := range files {
				if err := text.Check(f.Filename); err != nil {
					return textError(name, "The file name of field", err)
				}
			}
		}
	}
	return nil
}

func checkValues(what string, vals map[string][]string) error {
	for k, vs := range vals {
		if err := text.Check(k); err != nil {
			return textError(k, "The name of a "+what, err)
		}
		for _, v := range vs {
			if err := text.Check(v); err != nil {
				return textError(k, "The "+what, err)
			}
		}
	}
	return nil
}

func textError(field, what string, err error) error {
	reason := err.Error()
	var te *text.Error
	if errors.As(err, &te) {
		reason = te.Reason
	}
	msg := fmt.Sprintf("%s %q %s. Remove it and send again; nothing was saved.", what, printable(field), reason)
	return apperr.Fields(msg, []apperr.FieldError{{Index: -1, Field: printable(field), Message: reason}})
}

// printable makes a field name safe to show even when the name itself is
// the bad text.
func printable(s string) string {
	if text.Check(s) == nil {
		return s
	}
	q := strconv.QuoteToASCII(s)
	return q[1 : len(q)-1]
}

// JSONOptions tune DecodeJSON.
type JSONOptions struct {
	// MaxBytes bounds the body (default 1 MB).
	MaxBytes int64
	// AllowUnknownFields accepts fields the target does not have.
	AllowUnknownFields bool
	// Batch names the top-level array whose items are a batch (e.g.
	// "credentials"): a text problem inside item i is reported as
	// {"index": i, "field": <path inside the item>}, CONTRACT's batch shape.
	Batch string
}

// DecodeJSON reads the request body as one JSON value into v. Bad JSON,
// wrong types, unknown fields (unless allowed) and trailing data are 400s
// naming the problem; a string or key that is not storable text (invalid
// UTF-8, NUL, other C0 controls, a lone UTF-16 surrogate escape) is a 422
// naming its field, e.g. "recipient.email" or "attributes.grade". Every JSON
// API handler decodes with it.
func DecodeJSON(c *gin.Context, v any, opt JSONOptions) error {
	limit := opt.MaxBytes
	if limit <= 0 {
		limit = 1 << 20
	}
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, limit+1))
	if err != nil {
		return &apperr.Error{Code: "bad_request", Message: "Could not read the request body."}
	}
	if int64(len(body)) > limit {
		return &apperr.Error{Code: "bad_request", Message: fmt.Sprintf("The request body is larger than %s.", size(limit))}
	}
	if err := CheckJSONText(body, opt.Batch); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if !opt.AllowUnknownFields {
		dec.DisallowUnknownFields()
	}
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te):
			return &apperr.Error{Code: "bad_request", Message: fmt.Sprintf("Field %q must be %s, not %s.", te.Field, jsonKind(te.Type.Kind().String()), te.Value)}
		case errors.As(err, &se):
			return &apperr.Error{Code: "bad_request", Message: fmt.Sprintf("The body is not valid JSON (at byte %d).", se.Offset)}
		case errors.Is(err, io.EOF):
			return &apperr.Error{Code: "bad_request", Message: "The request body is empty; send a JSON object."}
		}
		return &apperr.Error{Code: "bad_request", Message: "The body is not valid: " + err.Error() + "."}
	}
	if dec.More() {
		return &apperr.Error{Code: "bad_request", Message: "The body has data after the JSON object."}
	}
	return nil
}

func size(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MB", n>>20)
	}
	return fmt.Sprintf("%d KB", n>>10)
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "int64", "int", "float64", "int32":
		return "a number"
	case "bool":
		return "true or false"
	case "slice":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	}
	return k
}

// jsonFrame is one open object or array while CheckJSONText walks a body.
type jsonFrame struct {
	object    bool
	key       string // the current key (objects)
	index     int    // the current item (arrays); -1 before the first
	expectKey bool
}

// CheckJSONText walks body's tokens and returns a 422 naming the first
// string or object key that is not storable text, or nil. Malformed JSON is
// left to the decoder to report.
func CheckJSONText(body []byte, batch string) error {
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
				stack = stack[:len(stack)-1]
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
			if problem := stringProblem(t, raw); problem != "" {
				return jsonTextError(stack, isKey, batch, problem)
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

// stringProblem checks a decoded JSON string and its raw bytes: the decoder
// replaces invalid UTF-8 and lone surrogate escapes with U+FFFD, so those
// are found in the raw form.
func stringProblem(s string, raw []byte) string {
	if !utf8.Valid(raw) {
		return "is not valid UTF-8 text"
	}
	if loneSurrogate(raw) {
		return "is not valid UTF-8 text (a lone UTF-16 surrogate escape)"
	}
	var te *text.Error
	if err := text.Check(s); errors.As(err, &te) {
		return te.Reason
	}
	return ""
}

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

func jsonTextError(stack []*jsonFrame, isKey bool, batch, problem string) error {
	index, start := -1, 0
	if batch != "" && len(stack) >= 2 && stack[0].object && stack[0].key == batch && !stack[1].object && !(isKey && len(stack) == 1) {
		index, start = stack[1].index, 2
	}
	var b strings.Builder
	for _, f := range stack[start:] {
		if f.object {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(printable(f.key))
		} else {
			fmt.Fprintf(&b, "[%d]", f.index)
		}
	}
	field := b.String()
	what := "Field"
	if isKey {
		what = "The name of field"
	}
	msg := fmt.Sprintf("%s %q %s.", what, field, problem)
	if index >= 0 {
		msg = fmt.Sprintf("Item %d: %s", index, msg)
	}
	return apperr.Fields(msg, []apperr.FieldError{{Index: index, Field: field, Message: problem}})
}
