package openbadges

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

// base58Reference is the byte-by-byte long division base58Encode replaced.
func base58Reference(b []byte) string {
	zeros := 0
	for zeros < len(b) && b[zeros] == 0 {
		zeros++
	}
	out := make([]byte, 0, len(b)*138/100+1)
	buf := append([]byte(nil), b[zeros:]...)
	for len(buf) > 0 {
		rem := 0
		next := buf[:0]
		for _, d := range buf {
			acc := rem*256 + int(d)
			q := acc / 58
			rem = acc % 58
			if len(next) > 0 || q > 0 {
				next = append(next, byte(q))
			}
		}
		out = append(out, base58Alphabet[rem])
		buf = next
	}
	for range zeros {
		out = append(out, '1')
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return string(out)
}

// TestBase58MatchesReference: base58Encode gives the reference's digits
// for every length up to and past a signature's, with leading zero bytes,
// all-zero and all-0xff inputs and random ones, and decodes back.
func TestBase58MatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var inputs [][]byte
	for n := 0; n <= 100; n++ {
		inputs = append(inputs, make([]byte, n), bytes.Repeat([]byte{0xff}, n))
		for range 20 {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			for z := 0; z < n && z < r.IntN(4); z++ {
				b[z] = 0
			}
			inputs = append(inputs, b)
		}
	}
	inputs = append(inputs, []byte{0, 0, 1}, []byte{1}, []byte{57}, []byte{58}, []byte{0, 58})
	for _, b := range inputs {
		got, want := base58Encode(b), base58Reference(b)
		if got != want {
			t.Fatalf("base58Encode(%x) = %s, reference %s", b, got, want)
		}
		back, err := base58Decode(got)
		if err != nil || !bytes.Equal(back, b) {
			t.Fatalf("decode(%s) = %x, %v; want %x", got, back, err, b)
		}
	}
}

func BenchmarkBase58Signature(b *testing.B) {
	sig := bytes.Repeat([]byte{0xa5, 0x3c}, 32)
	for b.Loop() {
		base58Encode(sig)
	}
}

// iriReference is the rune-by-rune check iri replaced.
func iriReference(s string) bool {
	for _, r := range s {
		if r <= 0x20 || strings.ContainsRune(`<>"{}|^`+"`\\", r) {
			return false
		}
	}
	return s != "" && strings.Contains(s, ":")
}

// TestIRIMatchesReference: iri accepts exactly what the rune check did,
// for every byte in every position and for multi-byte and invalid UTF-8.
func TestIRIMatchesReference(t *testing.T) {
	var inputs []string
	for c := range 256 {
		inputs = append(inputs, "https://l.test/"+string(rune(c)), "https://l.test/"+string([]byte{byte(c)}), string([]byte{byte(c)})+"x:y")
	}
	inputs = append(inputs, "", "x", "did:web:l.test#k1", "https://l.test/é😀", "https://l.test/\xff\xfe", "urn:\u2028", "a:\u00a0b", "a:b\u0085")
	for _, s := range inputs {
		_, err := iri(s)
		if got, want := err == nil, iriReference(s); got != want {
			t.Fatalf("iri(%q) accepts %v, reference %v", s, got, want)
		}
	}
}
