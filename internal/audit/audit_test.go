package audit

import "testing"

func TestWho(t *testing.T) {
	for _, tc := range []struct{ actor, name, want string }{
		{"user:1:owner@example.edu", "Olive Owner", "Olive Owner"},
		{"user:9:gone@example.edu", "", "gone@example.edu"},
		{"token:3:ci", "nightly import", "API token “nightly import”"},
		{"token:3:ci", "", "API token “ci”"},
		{"lti:2:abc-123", "Ian Instructor", "Ian Instructor (from the LMS)"},
		{"lti:2:abc-123", "", "An LMS user"},
		{"canvas:live-events", "", "Canvas course completion"},
		{"canvas:reconciliation", "", "Canvas completion check"},
		{"system", "", "Laurel (automatic)"},
		{"seed", "", "seed"},
	} {
		if got := who(tc.actor, tc.name); got != tc.want {
			t.Errorf("Who(%q, %q) = %q, want %q", tc.actor, tc.name, got, tc.want)
		}
	}
}

func TestParseActor(t *testing.T) {
	type parsed struct {
		kind string
		num  int64
		rest string
	}
	for actor, want := range map[string]parsed{
		"user:1:owner@example.edu":      {"user", 1, "owner@example.edu"},
		"token:12:nightly: import":      {"token", 12, "nightly: import"},
		"lti:2:abc:def":                 {"lti", 2, "abc:def"},
		"user:x1:someone@example.edu":   {"user", 0, "someone@example.edu"},
		"user:1234567890123456789:long": {"user", 0, "long"},
		"canvas:live-events":            {"canvas", 0, ""},
		"system":                        {"system", 0, ""},
	} {
		kind, num, rest := ParseActor(actor)
		if got := (parsed{kind, num, rest}); got != want {
			t.Errorf("ParseActor(%q) = %+v, want %+v", actor, got, want)
		}
	}
}

func TestInsertSelect(t *testing.T) {
	got := InsertSelect(Columns{At: "$1", Actor: "$2", Action: "'create'", EntityType: "'credential'", EntityID: "id", After: "to_jsonb(ins)"}, "ins")
	want := `INSERT INTO audit_log (at, actor, action, entity_type, entity_id, before, after)
			SELECT $1, $2, 'create', 'credential', id, NULL, to_jsonb(ins) FROM ins`
	if got != want {
		t.Errorf("InsertSelect = %q, want %q", got, want)
	}
}
