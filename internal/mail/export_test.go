package mail

import "context"

// SendMany is sendMany, for the black-box tests and benchmarks.
func (s *Sender) SendMany(ctx context.Context, ms []Message) []error { return s.sendMany(ctx, ms) }
