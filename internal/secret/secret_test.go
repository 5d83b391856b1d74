package secret_test

import (
	"bytes"
	"encoding/base64"
	"testing"

	"github.com/laurel-edu/laurel/internal/secret"
)

func TestSealOpenBindsPurpose(t *testing.T) {
	k, err := secret.Parse(secret.Generate())
	if err != nil {
		t.Fatal(err)
	}
	sealed := k.Seal([]byte("canvas token"), "canvas-token:1")
	if bytes.Contains(sealed, []byte("canvas token")) {
		t.Fatal("sealed value contains the plaintext")
	}
	got, err := k.Open(sealed, "canvas-token:1")
	if err != nil || string(got) != "canvas token" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := k.Open(sealed, "canvas-token:2"); err == nil {
		t.Fatal("a value sealed for one row opened for another")
	}
	other, _ := secret.Parse(secret.Generate())
	if _, err := other.Open(sealed, "canvas-token:1"); err == nil {
		t.Fatal("a value opened under a different master key")
	}
}

func TestTokenIsRandomURLSafe(t *testing.T) {
	a, b := secret.Token(32), secret.Token(32)
	if a == b {
		t.Fatalf("two tokens are equal: %q", a)
	}
	raw, err := base64.RawURLEncoding.DecodeString(a)
	if err != nil || len(raw) != 32 {
		t.Fatalf("Token(32) = %q: %d bytes, %v; want 32 bytes of unpadded base64url", a, len(raw), err)
	}
}
