package lti

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// PersonUser is one LMS user (a platform's LTI sub) with a person's email.
type PersonUser struct {
	PlatformID  int64     `json:"platform_id" db:"platform_id"`
	Sub         string    `json:"sub" db:"sub"`
	Name        string    `json:"name" db:"name"`
	Email       string    `json:"email" db:"email"`
	FirstLaunch time.Time `json:"first_launch_at" db:"first_launch_at"`
	LastLaunch  time.Time `json:"last_launch_at" db:"last_launch_at"`
}

// PersonUsers returns the LMS users whose email is email.
func (t *Tool) PersonUsers(ctx context.Context, email string) ([]PersonUser, error) {
	const q = `SELECT platform_id, sub, name, email, first_launch_at, last_launch_at FROM lti_users
		WHERE lower(email) = $1 ORDER BY platform_id, sub`
	var out []PersonUser
	if err := t.db.SelectContext(ctx, &out, q, strings.ToLower(strings.TrimSpace(email))); err != nil {
		return nil, fmt.Errorf("LMS users of a person: %w", err)
	}
	return out, nil
}

// ErasePerson gives the LMS users with email the tombstone's name and
// email; it returns how many changed. A later launch of the same person
// records what the platform then sends, as for anyone.
func (t *Tool) ErasePerson(ctx context.Context, email, name, tombstone string) (int, error) {
	const q = `UPDATE lti_users SET name = $2, email = $3 WHERE lower(email) = $1`
	res, err := t.db.ExecContext(ctx, q, strings.ToLower(strings.TrimSpace(email)), name, tombstone)
	if err != nil {
		return 0, fmt.Errorf("erase a person from LMS users: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
