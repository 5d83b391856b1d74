package issuance

import (
	"regexp"
	"slices"
	"testing"
)

// referenceRE is the regular expression eachPlaceholder scans for.
var referenceRE = regexp.MustCompile(`\{([^{}\s]{1,60})\}`)

func referenceFill(text string, vals map[string]string) string {
	return referenceRE.ReplaceAllStringFunc(text, func(m string) string {
		if v, ok := vals[m[1:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

var placeholderCases = []string{
	"", "plain", "Hello {recipient_name},", "{issuer_name}{issuer_name}", "{unknown} and {", "}{", "{ recipient_name }",
	"{}", "{{recipient_name}}", "{recipient_name", "recipient_name}", "{a\tb}", "{a\fb} {a\vb} {a\rb} {a\nb}",
	"{é{credential_url}}", "{\xff\xfe}", "{名前}", "{x}",
	"{123456789012345678901234567890123456789012345678901234567890}",
	"{1234567890123456789012345678901234567890123456789012345678901}",
	"{ééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé}",
	"{éééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé}",
	"View it here: {credential_url}.\n\n{issued_on} {course_name}",
}

// TestPlaceholdersAsTheRegularExpression: Fill and unknownPlaceholdersIn
// find exactly what the regular expression they replaced finds (names of
// up to 60 characters, counted as characters; invalid UTF-8 a character
// each; \s being space, tab, CR, LF and form feed).
func TestPlaceholdersAsTheRegularExpression(t *testing.T) {
	vals := map[string]string{"recipient_name": "Ana {x}", "issuer_name": "U & <Co>", "credential_url": "https://l.test/c/1",
		"x": "X", "a\vb": "vertical", "名前": "name", "\xff\xfe": "bad"}
	for _, text := range placeholderCases {
		checkPlaceholders(t, text, vals)
	}
}

func FuzzPlaceholders(f *testing.F) {
	for _, c := range placeholderCases {
		f.Add(c)
	}
	vals := map[string]string{"recipient_name": "Ana", "a": "{b}", "b": "", "é": "e"}
	f.Fuzz(func(t *testing.T, text string) { checkPlaceholders(t, text, vals) })
}

func checkPlaceholders(t *testing.T, text string, vals map[string]string) {
	t.Helper()
	if got, want := Fill(text, vals), referenceFill(text, vals); got != want {
		t.Errorf("Fill(%q) = %q, the regular expression gives %q", text, got, want)
	}
	known := []Placeholder{{Name: "recipient_name"}, {Name: "x"}}
	var want []string
	for _, m := range referenceRE.FindAllStringSubmatch(text, -1) {
		if m[1] != "recipient_name" && m[1] != "x" && !slices.Contains(want, "{"+m[1]+"}") {
			want = append(want, "{"+m[1]+"}")
		}
	}
	if got := unknownPlaceholdersIn(text, known); !slices.Equal(got, want) {
		t.Errorf("unknownPlaceholdersIn(%q) = %q, the regular expression gives %q", text, got, want)
	}
}
