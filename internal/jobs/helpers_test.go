package jobs_test

import (
	"encoding/json"
	"runtime"
	"strconv"
)

func itoa(i int) string { return strconv.Itoa(i) }

func raw(bs [][]byte) []json.RawMessage {
	out := make([]json.RawMessage, len(bs))
	for i, b := range bs {
		out[i] = b
	}
	return out
}

// runtime_Goexit ends the calling goroutine as a crash would, without
// running the worker's outcome bookkeeping after the handler.
func runtime_Goexit() { runtime.Goexit() }
