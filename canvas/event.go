package canvas

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/text"
	"github.com/laurel-edu/laurel/internal/web"
)

// courseCompleted is the Live Events name Laurel turns into credentials.
const courseCompleted = "course_completed"

// Event is a Live Event as Laurel keeps it: the envelope fields every event
// has, and for course_completed the fields a credential needs. Course and user
// ids are Canvas LOCAL ids (the $Canvas.course.id / $Canvas.user.id a launch
// carries), whatever form the event used.
type Event struct {
	Name            string
	Hostname        string
	RequestID       string
	RootAccountGUID string
	CourseID        string
	CourseName      string
	UserID          string
	UserName        string
	UserEmail       string
	CompletedAt     time.Time
	// Raw is the event object (metadata + body) as received.
	Raw json.RawMessage
}

// refuse returns a refusal of a delivery: an *apperr.Error whose Reason is
// a stable code for metrics and the JSON answer and whose Message names the
// claim and what is wrong. The reason picks the code, and so the status:
// unauthorizedReasons are 401, too_large 413, every other 400.
func refuse(reason, format string, args ...any) *apperr.Error {
	code := apperr.BadRequest
	switch {
	case unauthorizedReasons[reason]:
		code = apperr.Unauthorized
	case reason == "too_large":
		code = apperr.TooLarge
	}
	return apperr.Refusef(code, reason, format, args...)
}

// unauthorizedReasons are the refusals of the sender rather than the event:
// the signature, the key or the shared secret.
var unauthorizedReasons = map[string]bool{
	"bad_signature": true, "unknown_kid": true, "missing_kid": true, "bad_alg": true, "expired": true,
	"not_yet_valid": true, "unsigned_no_secret": true, "bad_secret": true, "missing_secret": true,
}

// findEvent looks for the Live Event object — the first object holding both
// "metadata" and "body" objects — in v, which is the JWT claims or a JSON body.
// Canvas's exact JWT layout is not documented, so the event may be the claims
// themselves or sit under any claim, possibly as a JSON string.
func findEvent(v any, depth int) map[string]any {
	if depth > 4 {
		return nil
	}
	switch t := v.(type) {
	case map[string]any:
		if m, ok := t["metadata"].(map[string]any); ok && m != nil {
			if b, ok := t["body"].(map[string]any); ok && b != nil {
				return t
			}
		}
		// Prefer the conventional claim names so a stray match deeper down
		// never wins over them.
		for _, k := range []string{"event", "data", "payload", "live_event", "message"} {
			if e := findEvent(t[k], depth+1); e != nil {
				return e
			}
		}
		for _, k := range sortedKeys(t) {
			if e := findEvent(t[k], depth+1); e != nil {
				return e
			}
		}
	case []any:
		for _, x := range t {
			if e := findEvent(x, depth+1); e != nil {
				return e
			}
		}
	case string:
		s := strings.TrimSpace(t)
		if strings.HasPrefix(s, "{") {
			var inner any
			if decode([]byte(s), &inner) == nil {
				return findEvent(inner, depth+1)
			}
		}
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// Deterministic order, so the same token always yields the same event.
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// decode unmarshals JSON into a struct, a map[string]any or an any,
// keeping numbers exact (as json.Number), so a 17-digit global id is not
// rounded through float64. It reads as encoding/json does (duplicate names,
// the last one winning; invalid UTF-8 replaced; struct fields matched
// without regard to case) but refuses anything after the value, at a third
// of encoding/json's cost: every delivery is decoded on receipt and again
// when it is processed.
func decode(b []byte, v any) error {
	switch t := v.(type) {
	case *any:
		return decodeAny(b, t)
	case *map[string]any:
		var x any
		if err := decodeAny(b, &x); err != nil {
			return err
		}
		m, ok := x.(map[string]any)
		if !ok && x != nil {
			return fmt.Errorf("JSON %s is not an object", jsontext.Value(b).Kind())
		}
		*t = m
		return nil
	}
	return jsonv2.Unmarshal(b, v, decodeOptions)
}

var decodeOptions = jsonv2.JoinOptions(jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true), jsonv2.MatchCaseInsensitiveNames(true))

// decodeAny decodes b into generic values token by token (the json package's
// hook for numbers in an any costs more than the whole decoding).
func decodeAny(b []byte, v *any) error {
	dec := jsontext.NewDecoder(bytes.NewReader(b), decodeOptions)
	x, err := decodeValue(dec)
	if err != nil {
		return err
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return fmt.Errorf("JSON has data after its value")
	}
	*v = x
	return nil
}

func decodeValue(dec *jsontext.Decoder) (any, error) {
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, err
	}
	switch tok.Kind() {
	case '{':
		m := map[string]any{}
		for dec.PeekKind() != '}' {
			k, err := dec.ReadToken()
			if err != nil {
				return nil, err
			}
			if m[k.String()], err = decodeValue(dec); err != nil {
				return nil, err
			}
		}
		_, err := dec.ReadToken()
		return m, err
	case '[':
		a := []any{}
		for dec.PeekKind() != ']' {
			x, err := decodeValue(dec)
			if err != nil {
				return nil, err
			}
			a = append(a, x)
		}
		_, err := dec.ReadToken()
		return a, err
	case '"':
		return tok.String(), nil
	case '0':
		return json.Number(tok.String()), nil
	case 't', 'f':
		return tok.Bool(), nil
	}
	return nil, nil // null
}

// parseEvent finds the event in v and validates it. Every event needs a name
// and a hostname; course_completed also needs the course id, the user id and
// an RFC 3339 completion time. src is the JSON v was decoded from by decode
// (so one valid JSON value): when the event is v itself it is kept as is,
// saving a re-encoding on the hot path.
func parseEvent(v any, src []byte) (*Event, error) {
	obj := findEvent(v, 0)
	if obj == nil {
		return nil, refuse("no_event", "no Live Event found: expected an object with \"metadata\" and \"body\" objects, as the claims or under a claim")
	}
	meta := obj["metadata"].(map[string]any)
	body := obj["body"].(map[string]any)
	raw := src
	if top, ok := v.(map[string]any); !ok || len(top) == 0 || !sameMap(top, obj) {
		var err error
		if raw, err = json.Marshal(obj); err != nil {
			return nil, refuse("malformed", "event cannot be re-encoded: %v", err)
		}
	}
	// The event is stored as jsonb, which refuses \u0000: name the field.
	if err := web.CheckJSONText(raw, ""); err != nil {
		if fe := apperr.FieldErrors(err); len(fe) == 1 {
			return nil, refuse("bad_text", "%s %s", fe[0].Field, fe[0].Message)
		}
		return nil, refuse("bad_text", "%s", apperr.Message(err))
	}
	var err error
	e := &Event{Raw: raw}
	if e.Name, err = str(meta, "metadata.event_name"); err != nil {
		return nil, err
	}
	if e.Name == "" {
		return nil, refuse("missing_field", "metadata.event_name is missing")
	}
	host, err := str(meta, "metadata.hostname")
	if err != nil {
		return nil, err
	}
	if e.Hostname, err = cleanHost(host); err != nil {
		return nil, err
	}
	if e.RequestID, err = str(meta, "metadata.request_id"); err != nil {
		return nil, err
	}
	if e.RootAccountGUID, err = str(meta, "metadata.root_account_lti_guid"); err != nil {
		return nil, err
	}
	if e.Name != courseCompleted {
		return e, nil
	}

	course, _ := body["course"].(map[string]any)
	if course == nil {
		return nil, refuse("missing_field", "body.course is missing")
	}
	if e.CourseID, err = localID(course, "body.course.id"); err != nil {
		return nil, err
	}
	e.CourseName, _ = str(course, "body.course.name")
	user, _ := body["user"].(map[string]any)
	if user == nil {
		return nil, refuse("missing_field", "body.user is missing")
	}
	if e.UserID, err = localID(user, "body.user.id"); err != nil {
		return nil, err
	}
	e.UserName, _ = str(user, "body.user.name")
	e.UserEmail, _ = str(user, "body.user.email")
	progress, _ := body["progress"].(map[string]any)
	if progress == nil {
		return nil, refuse("missing_field", "body.progress is missing")
	}
	completed, err := str(progress, "body.progress.completed_at")
	if err != nil {
		return nil, err
	}
	if completed == "" {
		return nil, refuse("missing_field", "body.progress.completed_at is missing")
	}
	if e.CompletedAt, err = time.Parse(time.RFC3339Nano, completed); err != nil {
		return nil, refuse("bad_completed_at", "body.progress.completed_at %q is not an RFC 3339 time", text.Truncate(completed, 40))
	}
	return e, nil
}

// sameMap reports whether a and b are the same map (not equal contents).
func sameMap(a, b map[string]any) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// str reads an optional string field; a field of another type is an error.
func str(m map[string]any, name string) (string, error) {
	v, ok := m[name[strings.LastIndex(name, ".")+1:]]
	if !ok || v == nil {
		return "", nil
	}
	switch t := v.(type) {
	case string:
		return strings.TrimSpace(t), nil
	case json.Number:
		return t.String(), nil
	}
	return "", refuse("bad_field", "%s must be a string", name)
}

// globalIDBase splits a Canvas global id into shard and local id: Canvas
// encodes ids as shard*10^13 + local id.
const globalIDBase = 10_000_000_000_000

// localID reads a required Canvas id and returns the local id: the body of a
// Live Event carries local ids ("565"), but global ids ("21070000000000565")
// and the short form ("2107~565") are accepted too.
func localID(m map[string]any, name string) (string, error) {
	s, err := str(m, name)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", refuse("missing_field", "%s is missing", name)
	}
	if i := strings.IndexByte(s, '~'); i >= 0 {
		s = s[i+1:]
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 {
		return "", refuse("bad_field", "%s %q is not a Canvas id", name, text.Truncate(s, 40))
	}
	if n >= globalIDBase {
		n %= globalIDBase
	}
	return strconv.FormatUint(n, 10), nil
}

// cleanHost validates metadata.hostname: a bare DNS name, optionally with a
// port, as Canvas sends it ("oxana.instructure.com").
func cleanHost(h string) (string, error) {
	h = strings.ToLower(strings.TrimSpace(h))
	if h == "" {
		return "", refuse("missing_field", "metadata.hostname is missing")
	}
	if len(h) > 253 {
		return "", refuse("bad_field", "metadata.hostname is too long")
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == ':') {
			return "", refuse("bad_field", "metadata.hostname %q is not a host name", text.Truncate(h, 60))
		}
	}
	return strings.TrimSuffix(h, ":443"), nil
}

// dedupKey identifies one delivery of an event: Canvas re-sends the same
// request_id when it retries, so a retry is a no-op in the inbox. Without a
// request id, the event's content identifies it.
func (e *Event) dedupKey() string {
	if e.RequestID != "" {
		return e.Hostname + "|" + e.Name + "|" + e.RequestID
	}
	sum := sha256.Sum256(e.Raw)
	if e.Name == courseCompleted {
		sum = sha256.Sum256([]byte(e.CourseID + "|" + e.UserID + "|" + e.CompletedAt.UTC().Format(time.RFC3339Nano)))
	}
	return e.Hostname + "|" + e.Name + "|sha256:" + hex.EncodeToString(sum[:])
}
