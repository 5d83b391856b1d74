package openbadges

import (
	"errors"
	"math/big"
)

const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

var base58Index = func() [256]int {
	var idx [256]int
	for i := range idx {
		idx[i] = -1
	}
	for i, c := range base58Alphabet {
		idx[c] = i
	}
	return idx
}()

// base58Encode is the Bitcoin base58 alphabet encoding multibase calls
// base58btc ('z' prefix, added by the callers).
func base58Encode(b []byte) string {
	zeros := 0
	for zeros < len(b) && b[zeros] == 0 {
		zeros++
	}
	// Each byte needs log(256)/log(58) ≈ 1.37 digits.
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

// base58Decode reverses base58Encode.
func base58Decode(s string) ([]byte, error) {
	n := new(big.Int)
	b58 := big.NewInt(58)
	zeros := 0
	for zeros < len(s) && s[zeros] == '1' {
		zeros++
	}
	for i := 0; i < len(s); i++ {
		d := base58Index[s[i]]
		if d < 0 {
			return nil, errors.New("base58: invalid character")
		}
		n.Mul(n, b58)
		n.Add(n, big.NewInt(int64(d)))
	}
	return append(make([]byte, zeros), n.Bytes()...), nil
}
