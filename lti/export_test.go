package lti

import (
	"context"
	"fmt"
	"time"
)

// What the black-box tests look at that Laurel itself does not use.

// RetireKeys retires tool keys older than olderThan except the newest.
func (t *Tool) RetireKeys(ctx context.Context, olderThan time.Duration) ([]string, error) {
	return t.toolKeys.RetireKeys(ctx, olderThan)
}

// IsLearner reports a student of the context.
func (l *Launch) IsLearner() bool {
	return hasRole(l.Roles, RoleLearner, "Learner", "urn:lti:role:ims/lis/Learner")
}

// IsTestUser reports Canvas's "test student" (student view).
func (l *Launch) IsTestUser() bool {
	return hasRole(l.Roles, "http://purl.imsglobal.org/vocab/lti/system/person#TestUser")
}

// IsLearner reports a member with the Learner role.
func (m Member) IsLearner() bool {
	return hasRole(m.Roles, RoleLearner, "Learner", "urn:lti:role:ims/lis/Learner")
}

// User is a person who launched, known by (platform, sub).
type User struct {
	ID          int64  `db:"id"`
	PlatformID  int64  `db:"platform_id"`
	Sub         string `db:"sub"`
	Name        string `db:"name"`
	Email       string `db:"email"`
	StaffUserID int64  `db:"staff_user_id"`
}

// UserBySub returns the launch record of (platform, sub), or ok=false.
func (t *Tool) UserBySub(ctx context.Context, platformID int64, sub string) (User, bool, error) {
	var u []User
	const q = `SELECT id, platform_id, sub, name, email, COALESCE(user_id, 0) AS staff_user_id
		FROM lti_users WHERE platform_id = $1 AND sub = $2`
	if err := t.db.SelectContext(ctx, &u, q, platformID, sub); err != nil {
		return User{}, false, fmt.Errorf("lti user %d/%s: %w", platformID, sub, err)
	}
	if len(u) == 0 {
		return User{}, false, nil
	}
	return u[0], true, nil
}
