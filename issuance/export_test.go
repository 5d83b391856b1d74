package issuance

import (
	"context"
	"time"
)

// ValidateNew is validateNew for the black-box tests.
func ValidateNew(s *Service, ctx context.Context, g Group, items []NewCredential) error {
	return s.validateNew(ctx, g, items)
}

// MarkEmailDeliveredAt is MarkEmailDelivered of an email accepted at at.
func MarkEmailDeliveredAt(s *Service, ctx context.Context, id int64, at time.Time) error {
	return s.markEmailDelivered(ctx, id, at)
}
