package openbadges

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"errors"
	"fmt"
	"strings"
)

// ed25519PubPrefix is the multicodec code of an Ed25519 public key (0xed as
// an unsigned varint: 0xed 0x01).
var ed25519PubPrefix = []byte{0xed, 0x01}

// PublicKeyMultibase encodes an Ed25519 public key as a Multikey's
// publicKeyMultibase: 'z' (base58btc) over the multicodec prefix 0xed01 and
// the 32 key bytes, which always starts "z6Mk".
func PublicKeyMultibase(pub ed25519.PublicKey) string {
	return "z" + base58Encode(append(append([]byte{}, ed25519PubPrefix...), pub...))
}

// ParsePublicKeyMultibase decodes what PublicKeyMultibase produced.
func ParsePublicKeyMultibase(s string) (ed25519.PublicKey, error) {
	if !strings.HasPrefix(s, "z") {
		return nil, errors.New("publicKeyMultibase: not base58btc (no 'z' prefix)")
	}
	b, err := base58Decode(s[1:])
	if err != nil {
		return nil, fmt.Errorf("publicKeyMultibase: %w", err)
	}
	if len(b) != 2+ed25519.PublicKeySize || b[0] != ed25519PubPrefix[0] || b[1] != ed25519PubPrefix[1] {
		return nil, errors.New("publicKeyMultibase: not an Ed25519 public key")
	}
	return ed25519.PublicKey(b[2:]), nil
}

// p256PubPrefix is the multicodec code of a compressed P-256 public key
// (0x1200 as an unsigned varint).
var p256PubPrefix = []byte{0x80, 0x24}

// ParseMultikey decodes a Multikey's publicKeyMultibase (the part of a
// did:key after "did:key:") holding an Ed25519 key (an ed25519.PublicKey)
// or a compressed P-256 key (an *ecdsa.PublicKey).
func ParseMultikey(s string) (any, error) {
	if !strings.HasPrefix(s, "z") {
		return nil, errors.New("multikey: not base58btc (no 'z' prefix)")
	}
	b, err := base58Decode(s[1:])
	if err != nil {
		return nil, fmt.Errorf("multikey: %w", err)
	}
	switch {
	case len(b) == 2+ed25519.PublicKeySize && b[0] == ed25519PubPrefix[0] && b[1] == ed25519PubPrefix[1]:
		return ed25519.PublicKey(b[2:]), nil
	case len(b) == 2+33 && b[0] == p256PubPrefix[0] && b[1] == p256PubPrefix[1]:
		x, y := elliptic.UnmarshalCompressed(elliptic.P256(), b[2:])
		if x == nil {
			return nil, errors.New("multikey: not a point on P-256")
		}
		raw := make([]byte, 65)
		raw[0] = 4
		x.FillBytes(raw[1:33])
		y.FillBytes(raw[33:])
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
		if err != nil {
			return nil, fmt.Errorf("multikey: %w", err)
		}
		return pub, nil
	}
	return nil, errors.New("multikey: only Ed25519 and P-256 keys are accepted")
}
