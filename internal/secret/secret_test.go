package secret_test

import (
	"bytes"
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
