package openbadges

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
)

// StatusList is the subject of a BitstringStatusListCredential.
type StatusList struct {
	ID            string `json:"id"`
	Type          string `json:"type"`
	StatusPurpose string `json:"statusPurpose"`
	EncodedList   string `json:"encodedList"`
}

// StatusListCredential is a BitstringStatusListCredential.
type StatusListCredential struct {
	Context           []string   `json:"@context"`
	ID                string     `json:"id"`
	Type              []string   `json:"type"`
	Issuer            string     `json:"issuer"`
	ValidFrom         string     `json:"validFrom"`
	CredentialSubject StatusList `json:"credentialSubject"`
	Proof             *Proof     `json:"proof,omitempty"`
}

// NewStatusList returns the unsigned revocation list id of issuer with the
// given bits (StatusListSize/8 bytes; bit 0 is the most significant bit of
// the first byte, as the Bitstring Status List spec numbers them).
func NewStatusList(id, issuer, validFrom string, bits []byte) (StatusListCredential, error) {
	enc, err := EncodeBits(bits)
	if err != nil {
		return StatusListCredential{}, err
	}
	return StatusListCredential{Context: []string{ContextVC2}, ID: id,
		Type: []string{"VerifiableCredential", "BitstringStatusListCredential"}, Issuer: issuer, ValidFrom: validFrom,
		CredentialSubject: StatusList{ID: id + "#list", Type: "BitstringStatusList", StatusPurpose: "revocation", EncodedList: enc}}, nil
}

// SetBit sets bit i of bits.
func SetBit(bits []byte, i int) { bits[i/8] |= 0x80 >> (i % 8) }

// Bit reads bit i of bits.
func Bit(bits []byte, i int) bool { return i >= 0 && i/8 < len(bits) && bits[i/8]&(0x80>>(i%8)) != 0 }

// EncodeBits is the encodedList of bits: multibase base64url (prefix 'u',
// no padding) of the GZIP-compressed bitstring.
func EncodeBits(bits []byte) (string, error) {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(bits); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	return "u" + base64.RawURLEncoding.EncodeToString(b.Bytes()), nil
}

// DecodeBits reverses EncodeBits, refusing lists larger than max bytes.
func DecodeBits(enc string, max int) ([]byte, error) {
	if !strings.HasPrefix(enc, "u") {
		return nil, errors.New("encodedList is not base64url multibase")
	}
	z, err := base64.RawURLEncoding.DecodeString(enc[1:])
	if err != nil {
		return nil, fmt.Errorf("encodedList: %w", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, fmt.Errorf("encodedList: %w", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, int64(max)+1))
	if err != nil {
		return nil, fmt.Errorf("encodedList: %w", err)
	}
	if len(out) > max {
		return nil, errors.New("encodedList: too large")
	}
	return out, nil
}
