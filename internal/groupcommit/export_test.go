package groupcommit

// Queued is how many items wait for a writer.
func (w *Writer[T, R]) Queued() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.queue)
}

// Running is how many writer goroutines exist.
func (w *Writer[T, R]) Running() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.running
}
