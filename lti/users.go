package lti

import (
	"context"
	"fmt"
)

// recordUser upserts the (platform, sub) row with the name and email, and
// links the staff account (t.Staff) whose email the platform vouched for in
// this signed launch. Platform-specific ids in the custom fields are the
// launch handler's to keep (package canvas: canvas_users).
func (t *Tool) recordUser(ctx context.Context, l *Launch) error {
	var staff *int64 // a launch with an email links its account, or none
	if l.Email != "" && t.Staff != nil {
		id, err := t.Staff.StaffIDByEmail(ctx, l.Email)
		if err != nil {
			return fmt.Errorf("record lti user %d/%s: %w", l.Platform.ID, l.Sub, err)
		}
		if id != 0 {
			staff = &id
		}
	}
	const q = `INSERT INTO lti_users (platform_id, sub, name, email, user_id, last_launch_at)
		VALUES ($1, $2, $3, $4, $5, now())
		ON CONFLICT (platform_id, sub) DO UPDATE SET
			name = CASE WHEN EXCLUDED.name <> '' THEN EXCLUDED.name ELSE lti_users.name END,
			email = CASE WHEN EXCLUDED.email <> '' THEN EXCLUDED.email ELSE lti_users.email END,
			user_id = CASE WHEN EXCLUDED.email <> '' THEN EXCLUDED.user_id ELSE lti_users.user_id END,
			last_launch_at = now()
		RETURNING id, COALESCE(user_id, 0)`
	row := t.stmts.QueryRowxContext(ctx, q, l.Platform.ID, l.Sub, l.Name, l.Email, staff)
	if err := row.Scan(&l.LTIUserID, &l.StaffUserID); err != nil {
		return fmt.Errorf("record lti user %d/%s: %w", l.Platform.ID, l.Sub, err)
	}
	return nil
}
