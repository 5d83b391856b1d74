package certpdf_test

import (
	"testing"

	"github.com/laurel-edu/laurel/issuance/certpdf"
)

// BenchmarkRender is the uncached cost of one certificate: a Latin name
// (one font embedded) and a name that also needs the CJK font.
func BenchmarkRender(b *testing.B) {
	for _, name := range []string{"Zoë Çelik", "Zoë 王小明 محمد"} {
		b.Run(name, func(b *testing.B) {
			c := sample(name)
			for b.Loop() {
				if _, err := certpdf.Render(c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
