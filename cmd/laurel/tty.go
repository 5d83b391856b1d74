package main

import (
	"io"
	"os"
)

// isTerminal reports whether r is an interactive terminal (a character
// device), in which case we do not wait for a password on it.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
