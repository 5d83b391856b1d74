package canvas

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"testing"
)

// TestDecodeReadsAsEncodingJSON: decode gives what encoding/json gives with
// UseNumber (the reader it replaced) for Canvas's own payload and for the
// corners a Live Event may carry: 17-digit global ids, duplicate names,
// invalid UTF-8, nesting, escapes, empty containers.
func TestDecodeReadsAsEncodingJSON(t *testing.T) {
	ref, err := os.ReadFile("testdata/course_completed.example.json")
	if err != nil {
		t.Fatal(err)
	}
	inputs := [][]byte{ref,
		[]byte(`{"body":{"user":{"id":21070000000000565,"name":"A"},"course":{"id":"2107~565"}},"metadata":{}}`),
		[]byte(`{"a":1,"a":2.50,"b":[true,false,null,-0,1e400,"x\u00e9\ud83d\ude00"],"c":{},"d":[]}`),
		[]byte("{\"name\":\"bad \xff utf8\",\"\xfe\":1}"),
		[]byte(`  [ {"event": "{\"metadata\":{},\"body\":{}}"} ]  `),
		[]byte(`"just a string"`), []byte(`null`), []byte(`12345678901234567890123`),
	}
	for _, in := range inputs {
		var want, got any
		d := json.NewDecoder(bytes.NewReader(in))
		d.UseNumber()
		if err := d.Decode(&want); err != nil {
			t.Fatalf("encoding/json refused %q: %v", in, err)
		}
		if err := decode(in, &got); err != nil {
			t.Fatalf("decode(%q): %v", in, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("decode(%q) = %#v, encoding/json gives %#v", in, got, want)
		}
	}
	var claims map[string]any
	if err := decode([]byte(`{"metadata":{"event_name":"course_completed"}}`), &claims); err != nil || claims["metadata"].(map[string]any)["event_name"] != "course_completed" {
		t.Errorf("decode into a map: %v %v", claims, err)
	}
	var body struct {
		Body struct {
			User struct{ Name string } `json:"user"`
		} `json:"body"`
	}
	if err := decode([]byte(`{"BODY":{"User":{"NAME":"Ana"}},"body":{"user":{"name":"Bea"}}}`), &body); err != nil || body.Body.User.Name != "Bea" {
		t.Errorf("decode into a struct: %+v %v (encoding/json matches names without case, the last winning)", body, err)
	}
	for _, bad := range []string{``, `{`, `{"a":1} {"b":2}`, `{"a":1,}`, `[1 2]`, `{"a" 1}`, `nul`} {
		var v any
		if err := decode([]byte(bad), &v); err == nil {
			t.Errorf("decode(%q) = %#v, want an error", bad, v)
		}
	}
	var m map[string]any
	if err := decode([]byte(`[1]`), &m); err == nil {
		t.Errorf("decode of an array into a map: no error")
	}
}

// BenchmarkDecodeEvent decodes Canvas's course_completed payload as the
// webhook does (generic, exact numbers).
func BenchmarkDecodeEvent(b *testing.B) {
	src, err := os.ReadFile("testdata/course_completed.example.json")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		var v any
		if err := decode(src, &v); err != nil {
			b.Fatal(err)
		}
	}
}
