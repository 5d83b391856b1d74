package audit

import "testing"

// scrub replaces a person's data in an entry and leaves the rest, and
// another person's data, as it was.
func TestScrub(t *testing.T) {
	p := Person{Email: "ada@uni.example.edu", Names: []string{"Ada Lovelace"}, TombName: "Erased", TombEmail: "erased-1@invalid",
		DropKeys: []string{"attributes", "evidence_url"}}
	for _, tc := range []struct{ name, in, want string }{
		{"credential snapshot", `{"state":"published","recipient":{"name":"Ada L.","email":"ADA@uni.example.edu"},"attributes":{"grade":"A"},"evidence_url":"https://x.example/ada"}`,
			`{"attributes":{},"evidence_url":"","recipient":{"email":"erased-1@invalid","name":"Erased"},"state":"published"}`},
		{"an email inside a sentence", `{"to":"Ada <ada@uni.example.edu>","n":3}`, `{"n":3,"to":"erased-1@invalid"}`},
		{"a known name alone, spacing aside", `{"list":["Ada  Lovelace","Bob Babbage"]}`, `{"list":["Erased","Bob Babbage"]}`},
		{"nothing of hers", `{"recipient":{"name":"Bob Babbage","email":"bob@uni.example.edu"},"attributes":{}}`, ``},
	} {
		got, changed := scrub([]byte(tc.in), "ada@uni.example.edu", p)
		if tc.want == "" {
			if changed || string(got) != tc.in {
				t.Errorf("%s: changed to %s", tc.name, got)
			}
			continue
		}
		if !changed || string(got) != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}
