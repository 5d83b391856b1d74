package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

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
// router after the session is loaded, and again on the API after its token
// check: a multipart body (an upload) is parsed only once the request is
// signed in (UserKey set), so an anonymous upload is never spooled to disk
// before it is refused. Handlers then read the already-parsed form as usual
// (c.PostForm, c.FormFile).
func TextGuard(rd *Renderer) gin.HandlerFunc {
	return func(c *gin.Context) {
		_, signedIn := c.Get(UserKey)
		if err := checkRequestText(c.Request, signedIn); err != nil {
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

func checkRequestText(r *http.Request, parseMultipart bool) error {
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
		if !parseMultipart {
			return nil
		}
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
	msg := fmt.Sprintf("%s %q %s. Remove it and send again; nothing was saved.", what, text.Printable(field), reason)
	return apperr.Fields(msg, []apperr.FieldError{{Index: -1, Field: text.Printable(field), Message: reason}})
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

// CheckJSONText returns a 422 naming the first string or object key of body
// that is not storable text (text.CheckJSON), or nil. With batch set, a
// problem inside item i of the top-level array batch is reported as
// {"index": i, "field": <path inside the item>}.
func CheckJSONText(body []byte, batch string) error {
	je := text.CheckJSON(body)
	if je == nil {
		return nil
	}
	index, path := -1, je.Path
	if batch != "" && len(path) >= 2 && path[0] == batch {
		if i, ok := path[1].(int); ok {
			index, path = i, path[2:]
		}
	}
	field := text.JSONPath(path)
	what := "Field"
	if je.Key {
		what = "The name of field"
	}
	msg := fmt.Sprintf("%s %q %s.", what, field, je.Reason)
	if index >= 0 {
		msg = fmt.Sprintf("Item %d: %s", index, msg)
	}
	return apperr.Fields(msg, []apperr.FieldError{{Index: index, Field: field, Message: je.Reason}})
}
