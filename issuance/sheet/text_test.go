package sheet_test

import (
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/issuance/sheet"
)

func TestNormalize(t *testing.T) {
	for _, group := range [][]string{
		{"email", "E-mail", "EMAIL", " e_mail ", "E-Mail:", "Émail"},
		{"prenom", "Prénom", "PRÉNOM", "Pre\u0301nom"},
		{"firstname", "First name", "first_name", "First-Name", "FirstName"},
		{"strasse", "Straße", "STRASSE"},
		{"emailaddress", "Email address", "E-mail Address"},
		{"nom", "Nom"},
		{"ausstellungsdatum2", "Ausstellungsdatum (2)"},
	} {
		for _, h := range group[1:] {
			if got := sheet.Normalize(h); got != group[0] {
				t.Errorf("Normalize(%q) = %q, want %q", h, got, group[0])
			}
		}
	}
	if sheet.Normalize("Name") == sheet.Normalize("Nom") {
		t.Error("Name and Nom normalise to the same key")
	}
}

func TestNeutralize(t *testing.T) {
	for in, want := range map[string]string{
		"=SUM(A1:A2)":    "'=SUM(A1:A2)",
		"+1 555 0100":    "'+1 555 0100",
		"-2":             "'-2",
		"@cmd":           "'@cmd",
		"\tTAB":          "'\tTAB",
		"\rCR":           "'\rCR",
		"Ana":            "Ana",
		"":               "",
		"a=b":            "a=b",
		"row 3: bad (=)": "row 3: bad (=)",
	} {
		if got := sheet.Neutralize(in); got != want {
			t.Errorf("Neutralize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCleanText(t *testing.T) {
	for _, ok := range []string{"", "Zoë Ångström", "two\nlines", "tab\there", "crlf\r\n", "replacement \uFFFD is text", "李小龍"} {
		if err := sheet.CleanText(ok); err != nil {
			t.Errorf("CleanText(%q) = %v", ok, err)
		}
	}
	for in, frag := range map[string]string{
		"Nul\x00Char":    "NUL byte at character 4",
		"Bell\aChar":     "control character U+0007 at character 5",
		"esc\x1b[0m":     "U+001B",
		"bad \xff utf-8": "not valid UTF-8",
		"é\xc3":          "at character 2",
		"del\x7f":        "control character U+007F at character 4",
	} {
		err := sheet.CleanText(in)
		if err == nil || !strings.Contains(err.Error(), frag) {
			t.Errorf("CleanText(%q) = %v, want an error containing %q", in, err, frag)
		}
	}
}

func TestIsDateFormat(t *testing.T) {
	for code, want := range map[string]bool{
		"yyyy-mm-dd":                    true,
		"DD/MM/YYYY":                    true,
		"m/d/yyyy":                      true,
		"d-mmm-yy":                      true,
		`[$-409]MMMM\ D", "YYYY;@`:      true,
		"[$-F800]dddd, mmmm dd, yyyy":   true,
		"mmm":                           true,
		"dd/mm/yyyy hh:mm":              true,
		"[Red]dd/mm/yy":                 true,
		"General":                       false,
		"0.00":                          false,
		"#,##0.00 \"days\"":             false,
		"0.00\\d":                       false,
		"h:mm AM/PM":                    false,
		"[h]:mm:ss":                     false,
		"mm:ss":                         false,
		"0%":                            false,
		"@":                             false,
		"\"Year\" 0":                    false,
		"#,##0;[Red]-#,##0":             false,
		"_(* #,##0_);_(* (#,##0);_(@_)": false,
	} {
		if got := sheet.IsDateFormat(code); got != want {
			t.Errorf("IsDateFormat(%q) = %v, want %v", code, got, want)
		}
	}
}
