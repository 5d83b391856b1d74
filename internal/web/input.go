package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/text"
)

// This file is where request text enters Laurel: every form field, query
// parameter and JSON string is checked with text.Check before a handler
// sees it, so a NUL byte or invalid UTF-8 is a 422 naming the field instead
// of PostgreSQL's "invalid byte sequence" as a 500.

// Bounds of what TextGuard reads before the handler: an urlencoded form as
// net/http's ParseForm does, and a multipart upload, which it copies to a
// temporary file (the first spoolMemory bytes stay in memory) while it
// checks the text parts, then hands to the handler unread.
const (
	maxFormBytes   = 10 << 20
	maxUploadBytes = 256 << 20
	spoolMemory    = 1 << 20
)

// TextGuard refuses a request whose query parameters, or whose form fields
// (urlencoded, or the text parts and file names of multipart/form-data; file
// contents are content, not text), are not storable text: a 422 naming the
// field, as JSON under /api/ and as the error page elsewhere. It puts the
// body back as it found it, so handlers parse multipart bodies with their
// own limits (http.MaxBytesReader, ParseMultipartForm, MultipartReader) as
// before; an urlencoded form it leaves parsed as ParseForm would (at most
// 10 MB, net/http's own limit), so a handler that wants a smaller one checks
// its fields' sizes. Mount it on the whole router after the session
// is loaded, and again on the API after its token check: a multipart body is
// read only once the request is signed in (UserKey set), so an anonymous
// upload is refused before it is copied. An upload larger than 256 MB is a
// 413.
func TextGuard(rd *Renderer) gin.HandlerFunc {
	return func(c *gin.Context) {
		_, signedIn := c.Get(UserKey)
		cleanup, err := checkRequestText(c.Request, signedIn)
		if cleanup != nil {
			defer cleanup()
		}
		if err != nil {
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

func checkRequestText(r *http.Request, readMultipart bool) (cleanup func(), err error) {
	if err := text.Check(r.URL.Path); err != nil {
		return nil, apperr.Errorf(apperr.NotFound, "There is no page at this address.")
	}
	if err := checkValues("query parameter", r.URL.Query()); err != nil {
		return nil, err
	}
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
	default:
		return nil, nil
	}
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case ct == "application/x-www-form-urlencoded" && r.PostForm != nil:
		return nil, nil // checked and parsed already (TextGuard runs again on the API)
	case ct == "application/x-www-form-urlencoded":
		body, rerr := readForm(r)
		r.Body = readCloser{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
		if rerr != nil || len(body) > maxFormBytes {
			return nil, nil // the handler reports an unreadable or oversized form
		}
		vals, perr := parseQuery(string(body))
		if perr != nil {
			return nil, nil
		}
		if err := checkValues("field", vals); err != nil {
			return nil, err
		}
		// Parsed once: the form is what ParseForm would make of it (net/http
		// reads at most 10 MB of it too), so it stays on the request.
		setForm(r, vals)
		return nil, nil
	case ct == "multipart/form-data" && readMultipart && params["boundary"] != "":
		return checkMultipart(r, params["boundary"])
	}
	return nil, nil
}

// parseQuery is url.ParseQuery, without its unescaping pass over a form
// that has nothing to unescape: a launch's form is mostly an id_token of
// several kilobytes, in base64url.
func parseQuery(s string) (url.Values, error) {
	if strings.IndexByte(s, '%') >= 0 || strings.IndexByte(s, '+') >= 0 || strings.IndexByte(s, ';') >= 0 ||
		strings.Count(s, "&") >= 16 { // url.ParseQuery refuses too many fields: leave counting to it
		return url.ParseQuery(s)
	}
	m := url.Values{}
	for s != "" {
		var kv string
		kv, s, _ = strings.Cut(s, "&")
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		m[k] = append(m[k], v)
	}
	return m, nil
}

// readForm reads at most maxFormBytes+1 of r's body, in one buffer when the
// request says its length.
func readForm(r *http.Request) ([]byte, error) {
	if n := r.ContentLength; n > 0 && n <= maxFormBytes {
		buf := bytes.NewBuffer(make([]byte, 0, n+bytes.MinRead)) // ReadFrom wants MinRead free to read into
		_, err := buf.ReadFrom(io.LimitReader(r.Body, maxFormBytes+1))
		return buf.Bytes(), err
	}
	return io.ReadAll(io.LimitReader(r.Body, maxFormBytes+1))
}

// setForm leaves vals as r's parsed form, as ParseForm would: PostForm, and
// Form with the query's values after the body's.
func setForm(r *http.Request, vals url.Values) {
	r.PostForm = vals
	r.Form = make(url.Values, len(vals))
	for k, v := range vals {
		r.Form[k] = append([]string(nil), v...)
	}
	for k, v := range r.URL.Query() {
		r.Form[k] = append(r.Form[k], v...)
	}
}

// readCloser reads from the restored body and closes the original.
type readCloser struct {
	io.Reader
	io.Closer
}

// checkMultipart reads the whole multipart body once, copying it to a
// spool, checks each part's form name, file name and (for parts without a
// file) value, and then gives the handler the spool as the body.
func checkMultipart(r *http.Request, boundary string) (func(), error) {
	sp := &spool{}
	cleanup := sp.remove
	tee := io.TeeReader(io.LimitReader(r.Body, maxUploadBytes+1), sp)
	var problem error
	mr := multipart.NewReader(tee, boundary)
	for problem == nil {
		p, err := mr.NextPart()
		if err != nil {
			break // the end, or a malformed body the handler reports
		}
		name := p.FormName()
		switch {
		case text.Check(name) != nil:
			problem = textError(name, "The name of a field", text.Check(name))
		case p.FileName() != "":
			if err := text.Check(p.FileName()); err != nil {
				problem = textError(name, "The file name of field", err)
			}
		default:
			v, _ := io.ReadAll(io.LimitReader(p, maxFormBytes))
			if err := text.Check(string(v)); err != nil {
				problem = textError(name, "The field", err)
			}
		}
		_, _ = io.Copy(io.Discard, p)
	}
	_, _ = io.Copy(io.Discard, tee) // the rest, into the spool
	if sp.err != nil {
		return cleanup, fmt.Errorf("spool the upload: %w", sp.err)
	}
	if sp.n > maxUploadBytes {
		return cleanup, &apperr.Error{Code: apperr.TooLarge, Message: fmt.Sprintf("The upload is larger than %s.", size(maxUploadBytes))}
	}
	body, err := sp.reader()
	if err != nil {
		return cleanup, err
	}
	r.Body = readCloser{body, r.Body}
	return cleanup, problem
}

// spool keeps the first spoolMemory bytes in memory and the rest in a
// temporary file.
type spool struct {
	mem  bytes.Buffer
	file *os.File
	n    int64
	err  error
}

func (s *spool) Write(p []byte) (int, error) {
	s.n += int64(len(p))
	if s.err != nil {
		return len(p), nil
	}
	if s.file == nil && s.mem.Len()+len(p) <= spoolMemory {
		s.mem.Write(p)
		return len(p), nil
	}
	if s.file == nil {
		if s.file, s.err = os.CreateTemp("", "laurel-upload-*"); s.err != nil {
			return len(p), nil
		}
	}
	if _, err := s.file.Write(p); err != nil {
		s.err = err
	}
	return len(p), nil
}

func (s *spool) reader() (io.Reader, error) {
	if s.file == nil {
		return bytes.NewReader(s.mem.Bytes()), nil
	}
	if _, err := s.file.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("rewind the upload: %w", err)
	}
	return io.MultiReader(bytes.NewReader(s.mem.Bytes()), s.file), nil
}

func (s *spool) remove() {
	if s.file != nil {
		s.file.Close()
		os.Remove(s.file.Name())
	}
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
	// {"index": i, "field": <path inside the item>}, the API's batch shape (docs/api.md).
	Batch string
}

// DecodeJSON reads the request body as one JSON value into v. A body over
// opt.MaxBytes is a 413 too_large; bad JSON,
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
		return &apperr.Error{Code: apperr.BadRequest, Message: "Could not read the request body."}
	}
	if int64(len(body)) > limit {
		return &apperr.Error{Code: apperr.TooLarge, Message: fmt.Sprintf("The request body is larger than %s.", size(limit))}
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
			return &apperr.Error{Code: apperr.BadRequest, Message: fmt.Sprintf("Field %q must be %s, not %s.", te.Field, jsonKind(te.Type.Kind().String()), te.Value)}
		case errors.As(err, &se):
			return &apperr.Error{Code: apperr.BadRequest, Message: fmt.Sprintf("The body is not valid JSON (at byte %d).", se.Offset)}
		case errors.Is(err, io.EOF):
			return &apperr.Error{Code: apperr.BadRequest, Message: "The request body is empty; send a JSON object."}
		}
		return &apperr.Error{Code: apperr.BadRequest, Message: "The body is not valid: " + err.Error() + "."}
	}
	if dec.More() {
		return &apperr.Error{Code: apperr.BadRequest, Message: "The body has data after the JSON object."}
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
