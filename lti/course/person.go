package course

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Membership is one course a person was seen in (a launch or a roster).
type Membership struct {
	PlatformID  int64     `json:"platform_id" db:"platform_id"`
	ContextID   string    `json:"context_id" db:"context_id"`
	Sub         string    `json:"sub" db:"sub"`
	Email       string    `json:"email" db:"email"`
	ExternalRef string    `json:"external_ref,omitempty" db:"external_ref"`
	SeenAt      time.Time `json:"seen_at" db:"seen_at"`
}

// PersonMemberships returns the courses email was seen in, for a request
// to see everything Laurel holds about a person.
func (s *Service) PersonMemberships(ctx context.Context, email string) ([]Membership, error) {
	const q = `SELECT platform_id, context_id, sub, email, external_ref, seen_at FROM course_members
		WHERE email = $1 ORDER BY platform_id, context_id, sub`
	var out []Membership
	if err := s.db.SelectContext(ctx, &out, q, strings.ToLower(strings.TrimSpace(email))); err != nil {
		return nil, fmt.Errorf("course memberships of a person: %w", err)
	}
	return out, nil
}

// ErasePerson replaces email in the course members with tombstone (the
// rows stay, so the instructor still sees the person's revoked credentials
// through their Canvas reference); it returns how many rows changed.
func (s *Service) ErasePerson(ctx context.Context, email, tombstone string) (int, error) {
	const q = `UPDATE course_members SET email = $2 WHERE email = $1`
	res, err := s.db.ExecContext(ctx, q, strings.ToLower(strings.TrimSpace(email)), strings.ToLower(tombstone))
	if err != nil {
		return 0, fmt.Errorf("erase a person from course members: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
