package reminders

import "testing"

// SetBatch makes the scan read n credentials a page until t ends.
func SetBatch(t testing.TB, n int) {
	old := batch
	batch = n
	t.Cleanup(func() { batch = old })
}
