package moodle

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// PersonState is what a completion check recorded of a person (by email):
// for internal/people's export.
type PersonState struct {
	MappingID    int64      `json:"mapping_id" db:"mapping_id"`
	MoodleUserID string     `json:"moodle_user_id" db:"moodle_user_id"`
	Name         string     `json:"name" db:"name"`
	Email        string     `json:"email" db:"email"`
	Completed    bool       `json:"completed" db:"completed"`
	CompletedAt  *time.Time `json:"completed_at,omitempty" db:"completed_at"`
	CheckedAt    time.Time  `json:"checked_at" db:"checked_at"`
}

// PersonStates returns the check records of the person with email.
func (s *Service) PersonStates(ctx context.Context, email string) ([]PersonState, error) {
	const q = `SELECT mapping_id, moodle_user_id, name, email, completed, completed_at, checked_at
FROM moodle_rule_states WHERE lower(email) = $1 ORDER BY mapping_id, moodle_user_id`
	out := []PersonState{}
	if err := s.db.SelectContext(ctx, &out, q, strings.ToLower(strings.TrimSpace(email))); err != nil {
		return nil, fmt.Errorf("moodle check records of a person: %w", err)
	}
	return out, nil
}

// ErasePerson gives the check records of the person with email the
// tombstone's name and email, and returns how many it changed. A later
// check writes what Moodle then says (as a roster would).
func (s *Service) ErasePerson(ctx context.Context, email, name, tombstone string) (int, error) {
	const q = `UPDATE moodle_rule_states SET name = $2, email = $3 WHERE lower(email) = $1`
	res, err := s.db.ExecContext(ctx, q, strings.ToLower(strings.TrimSpace(email)), name, tombstone)
	if err != nil {
		return 0, fmt.Errorf("erase a person from moodle check records: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
