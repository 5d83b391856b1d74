package openbadges_test

import (
	"encoding/json"
	"testing"

	"github.com/laurel-edu/laurel/internal/text"
	"github.com/laurel-edu/laurel/issuance/openbadges"
)

// FuzzNQuadsMatchGeneral: for any name and description a credential may
// carry, the direct N-Quads equal json-gold's canonical form (the seeds run
// in every `go test`).
func FuzzNQuadsMatchGeneral(f *testing.F) {
	for _, s := range []string{"Ana", "José", "王小明", "محمد", `q"uo\te`, "line\nbreak", "cr\r\nlf", "tab\t", "\u2028sep", "\ufeffbom", "<&>", "emoji 🎓", ""} {
		f.Add(s, "d "+s)
	}
	f.Fuzz(func(t *testing.T, name, desc string) {
		c := sample(name, desc, "", true)
		fast, err := c.NQuads()
		if text.Check(name) != nil || text.Check(desc) != nil {
			if err == nil {
				t.Fatalf("text %q / %q accepted", name, desc)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(c)
		general, err := openbadges.Canonical(b, nil)
		if err != nil {
			t.Fatal(err)
		}
		if general != fast {
			t.Fatalf("%q / %q: direct N-Quads differ from json-gold:\n%s\n---\n%s", name, desc, general, fast)
		}
	})
}
