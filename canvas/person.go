package canvas

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// PersonUser is a Canvas user with a person's email, and the number of
// completion events of theirs in the inbox.
type PersonUser struct {
	PlatformID   int64     `json:"platform_id" db:"platform_id"`
	CanvasUserID string    `json:"canvas_user_id" db:"canvas_user_id"`
	Sub          string    `json:"sub,omitempty" db:"sub"`
	Name         string    `json:"name" db:"name"`
	Email        string    `json:"email" db:"email"`
	UpdatedAt    time.Time `json:"updated_at" db:"updated_at"`
	Events       int       `json:"completion_events" db:"events"`
}

// PersonUsers returns the Canvas users whose email is email.
func (s *Service) PersonUsers(ctx context.Context, email string) ([]PersonUser, error) {
	const q = `SELECT u.platform_id, u.canvas_user_id, u.sub, u.name, u.email, u.updated_at,
			(SELECT count(*) FROM canvas_events e WHERE e.platform_id = u.platform_id AND e.canvas_user_id = u.canvas_user_id) AS events
		FROM canvas_users u WHERE lower(u.email) = $1 ORDER BY u.platform_id, u.canvas_user_id`
	var out []PersonUser
	if err := s.db.SelectContext(ctx, &out, q, strings.ToLower(strings.TrimSpace(email))); err != nil {
		return nil, fmt.Errorf("canvas users of a person: %w", err)
	}
	return out, nil
}

// PersonErasure says what ErasePerson changed.
type PersonErasure struct{ Users, Events int }

// ErasePerson gives the Canvas users with email the tombstone's name and
// email, and drops the stored payload of every handled inbox event that
// carries the email (the event row stays, as the inbox's record; an event
// still waiting keeps its payload, which its handling needs).
func (s *Service) ErasePerson(ctx context.Context, email, name, tombstone string) (PersonErasure, error) {
	key := strings.ToLower(strings.TrimSpace(email))
	// An event names the person by their Canvas user, or carries the email.
	const qe = `UPDATE canvas_events e SET payload = NULL
		WHERE e.payload IS NOT NULL AND e.state <> 'received' AND (strpos(lower(e.payload::text), $1) > 0
			OR EXISTS (SELECT 1 FROM canvas_users u WHERE lower(u.email) = $1 AND u.platform_id = e.platform_id AND u.canvas_user_id = e.canvas_user_id))`
	res, err := s.db.ExecContext(ctx, qe, key)
	if err != nil {
		return PersonErasure{}, fmt.Errorf("erase a person from Canvas events: %w", err)
	}
	var out PersonErasure
	n, _ := res.RowsAffected()
	out.Events = int(n)
	const qu = `UPDATE canvas_users SET name = $2, email = $3 WHERE lower(email) = $1`
	if res, err = s.db.ExecContext(ctx, qu, key, name, tombstone); err != nil {
		return out, fmt.Errorf("erase a person from Canvas users: %w", err)
	}
	n, _ = res.RowsAffected()
	out.Users = int(n)
	return out, nil
}
