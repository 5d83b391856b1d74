package web

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// parseQuery reads a form as url.ParseQuery does.
func TestParseQueryAsNetURL(t *testing.T) {
	for _, q := range []string{"", "a=1", "a=1&a=2&b", "a=1&&b=2&", "=x&y=", "id_token=eyJhbGciOiJSUzI1NiJ9.e30.c2ln&state=3.abc_-",
		"a=%41&b=c+d", "a=%zz&b=1", "a=1;b=2", "a;b=1&c=2", "é=ü&x=\x00", strings.Repeat("a=1&", 20)} {
		got, gotErr := parseQuery(q)
		want, wantErr := url.ParseQuery(q)
		if (gotErr == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("parseQuery(%q) = %v, %v; url.ParseQuery: %v, %v", q, got, gotErr, want, wantErr)
		}
	}
}
