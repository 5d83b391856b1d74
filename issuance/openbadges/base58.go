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
// base58btc ('z' prefix, added by the callers). The number is held in
// 32-bit limbs and divided by 58^5 per pass, five digits at a time: a
// signature took 88 passes of byte-by-byte division before (a tenth of
// signing's CPU), TestBase58MatchesReference checks it against that.
func base58Encode(b []byte) string {
	zeros := 0
	for zeros < len(b) && b[zeros] == 0 {
		zeros++
	}
	rest := b[zeros:]
	var small [16]uint32 // a 64-byte signature fits without an allocation
	var limbs []uint32
	if n := (len(rest) + 3) / 4; n <= len(small) {
		limbs = small[:n]
	} else {
		limbs = make([]uint32, n)
	}
	for i, c := range rest {
		j := len(rest) - 1 - i // byte's place from the least significant
		limbs[len(limbs)-1-j/4] |= uint32(c) << (8 * (j % 4))
	}
	const pow5 = 58 * 58 * 58 * 58 * 58 // < 2^32
	// Each byte needs log(256)/log(58) ≈ 1.37 digits, plus a pass's padding.
	out := make([]byte, 0, len(rest)*138/100+5+zeros)
	for start := 0; start < len(limbs); {
		var rem uint64
		for i := start; i < len(limbs); i++ {
			acc := rem<<32 | uint64(limbs[i])
			limbs[i] = uint32(acc / pow5)
			rem = acc % pow5
		}
		for start < len(limbs) && limbs[start] == 0 {
			start++
		}
		for range 5 {
			out = append(out, base58Alphabet[rem%58])
			rem /= 58
		}
	}
	// The last pass pads with zero digits ('1') above the number's first.
	for len(out) > 0 && out[len(out)-1] == '1' {
		out = out[:len(out)-1]
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
