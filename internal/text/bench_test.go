package text_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/text"
)

// BenchmarkCheckJSON checks the API's largest batch (50,000 credentials):
// as most clients send it, and with every non-ASCII name \u-escaped (as
// Python's json.dumps does by default), which takes the full scan.
func BenchmarkCheckJSON(b *testing.B) {
	for _, name := range []string{"Zoë Ångström", `Zo\u00eb \u00c5ngstr\u00f6m`} {
		var sb strings.Builder
		sb.WriteString(`{"credentials":[`)
		for i := 0; i < 50000; i++ {
			if i > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, `{"recipient":{"name":"%s %d","email":"r%d@example.edu"},"issued_on":"2026-01-02","attributes":{"grade":"A","hours":12}}`, name, i, i)
		}
		sb.WriteString(`]}`)
		body := []byte(sb.String())
		b.Run(fmt.Sprintf("escaped=%v", strings.Contains(name, `\u`)), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if err := text.CheckJSON(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
