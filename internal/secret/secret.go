// Package secret derives Laurel's keys from LAUREL_SECRET_KEY and encrypts
// values stored at rest (tool private keys, Canvas API tokens, shared secrets).
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// minKeyLen is the minimum length of LAUREL_SECRET_KEY once base64-decoded.
const minKeyLen = 32

// Keys holds keys derived from the master secret, one per purpose, so that a
// leak of one derived key never exposes another.
type Keys struct {
	aead    cipher.AEAD
	signing []byte
}

// Parse decodes a base64 (standard or URL, padded or not) master secret and
// derives the purpose keys. It fails when the secret is shorter than minKeyLen.
func Parse(encoded string) (*Keys, error) {
	var raw []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if raw, err = enc.DecodeString(encoded); err == nil {
			break
		}
	}
	if err != nil {
		return nil, errors.New("not valid base64")
	}
	if len(raw) < minKeyLen {
		return nil, fmt.Errorf("decodes to %d bytes, need at least %d", len(raw), minKeyLen)
	}
	return New(raw)
}

// New derives the purpose keys from raw master key bytes.
func New(master []byte) (*Keys, error) {
	encKey, err := hkdf.Key(sha256.New, master, nil, "laurel encryption v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive encryption key: %w", err)
	}
	sigKey, err := hkdf.Key(sha256.New, master, nil, "laurel signing v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive signing key: %w", err)
	}
	block, err := aes.NewCipher(encKey)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("gcm: %w", err)
	}
	return &Keys{aead: aead, signing: sigKey}, nil
}

// Generate returns a new random master secret, base64-encoded.
func Generate() string {
	b := make([]byte, minKeyLen)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// Token returns n random bytes as unpadded base64url: the one form of
// Laurel's bearer secrets (API tokens, one-time links, launch tokens, LTI
// state and nonces, generated passwords), safe in URLs and headers.
func Token(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Seal encrypts plaintext with AES-256-GCM. The additional data binds the
// ciphertext to its purpose/row (e.g. "canvas-token:3") so it cannot be moved.
func (k *Keys) Seal(plaintext []byte, additional string) []byte {
	nonce := make([]byte, k.aead.NonceSize())
	rand.Read(nonce)
	return k.aead.Seal(nonce, nonce, plaintext, []byte(additional))
}

// Open decrypts what Seal produced with the same additional data.
func (k *Keys) Open(sealed []byte, additional string) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("open secret: ciphertext too short")
	}
	out, err := k.aead.Open(nil, sealed[:n], sealed[n:], []byte(additional))
	if err != nil {
		return nil, fmt.Errorf("open secret: %w", err)
	}
	return out, nil
}

// MAC returns an HMAC-SHA256 of msg under the derived signing key, for values
// that must be checked but never decrypted: the lookup hashes of API
// tokens, account links and registration links.
func (k *Keys) MAC(msg []byte) []byte {
	m := hmac.New(sha256.New, k.signing)
	m.Write(msg)
	return m.Sum(nil)
}
