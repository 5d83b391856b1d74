package accounts

import (
	"context"
	"fmt"
)

// GroupStaffEmails are the addresses of the active staff who manage group
// groupID: owners, admins, and team members whose limit includes it (or who
// have none); not viewers, disabled accounts or unanswered invitations. The
// issuance delivery tells them of renewal requests (delivery.Staff).
func (s *Service) GroupStaffEmails(ctx context.Context, groupID int64) ([]string, error) {
	const q = `SELECT u.email FROM users u
		WHERE NOT u.disabled AND NOT u.invitation_pending
			AND (u.role IN ('owner', 'admin')
				OR (u.role = 'team_member' AND (NOT EXISTS (SELECT FROM user_groups ug WHERE ug.user_id = u.id)
					OR EXISTS (SELECT FROM user_groups ug WHERE ug.user_id = u.id AND ug.group_id = $1))))
		ORDER BY u.id`
	out := []string{}
	if err := s.db.SelectContext(ctx, &out, q, groupID); err != nil {
		return nil, fmt.Errorf("staff of group %d: %w", groupID, err)
	}
	return out, nil
}
