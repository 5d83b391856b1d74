package issuance

import (
	"context"
	"errors"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/apperr"
)

// GroupLimits adds a new group to the group limit of the team member (or
// API token) who created it. The limits are the staff accounts' (package
// accounts implements this; the app wires it into Service.Limits).
type GroupLimits interface {
	// AddCreatedGroup adds group groupID to actor's group limit in tx,
	// audited as actor's.
	AddCreatedGroup(ctx context.Context, tx *sqlx.Tx, actor string, groupID int64) error
}

// errLimitedCreateOff is the refusal while the owner keeps limited team
// members from creating groups.
func errLimitedCreateOff() error {
	return apperr.Errorf(apperr.Forbidden, "You can work only in the groups you were given, and your organisation's owner has turned off creating groups for team members like you. Ask an owner or admin to create the group.")
}

// LimitedMayCreateGroups reports whether a team member limited to some
// groups may create one (the organisation setting).
func (s *Service) LimitedMayCreateGroups(ctx context.Context) (bool, error) {
	o, err := s.Organisation(ctx)
	return o.LimitedMembersCreateGroups, err
}

// CreateGroupInLimit creates g as CreateGroup does for actor, a team member
// (or token) limited to some groups, and adds it to actor's limit in the
// same transaction, so they can work in the group they made. Errors: those
// of CreateGroup, and Forbidden while the organisation setting
// LimitedMembersCreateGroups is off.
func (s *Service) CreateGroupInLimit(ctx context.Context, actor string, g Group) (Group, error) {
	ok, err := s.LimitedMayCreateGroups(ctx)
	if err != nil {
		return Group{}, err
	}
	if !ok {
		return Group{}, errLimitedCreateOff()
	}
	if s.Limits == nil {
		return Group{}, errors.New("create group in limit: no group limits wired")
	}
	return s.createGroup(ctx, actor, g, func(tx *sqlx.Tx, id int64) error {
		return s.Limits.AddCreatedGroup(ctx, tx, actor, id)
	})
}
