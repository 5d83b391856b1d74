package issuance

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
)

// idEncoding is lower-case base32 without padding: URL-safe, unambiguous to
// read aloud, and case-insensitive when typed.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newCredentialID returns a public credential ID: 160 random bits (32
// characters), so IDs cannot be guessed or enumerated.
// NewCredentialID returns a new random credential id.
func NewCredentialID() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return idEncoding.EncodeToString(b)
}

// ValidID reports whether s could be a credential ID, so malformed IDs are
// answered without a database query.
func ValidID(s string) bool {
	if len(s) < 16 || len(s) > 64 {
		return false
	}
	return strings.Trim(s, "abcdefghijklmnopqrstuvwxyz234567") == ""
}
