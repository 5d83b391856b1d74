package issuance

import "context"

// ValidateNew is validateNew for the black-box tests.
func ValidateNew(s *Service, ctx context.Context, g Group, items []NewCredential) error {
	return s.validateNew(ctx, g, items)
}
