package accounts

import (
	"context"

	"github.com/laurel-edu/laurel/internal/auth"
)

// The black-box tests reach what the staff pages do through these.

const (
	InviteValidity = inviteValidity
	ResetValidity  = resetValidity
)

func (s *Service) UseLink(ctx context.Context, plain, purpose, password string) (User, error) {
	return s.useLink(ctx, plain, purpose, password)
}

func (s *Service) UpdateUser(ctx context.Context, actor string, id int64, role auth.Role, groups []int64) (User, error) {
	return s.updateUser(ctx, actor, id, role, groups)
}

func (s *Service) SetUserDisabled(ctx context.Context, actor string, id int64, disabled bool) (User, error) {
	return s.setUserDisabled(ctx, actor, id, disabled)
}

// CommonPasswordsText exposes the embedded list to the external tests.
func CommonPasswordsText() string { return commonPasswordsText }
