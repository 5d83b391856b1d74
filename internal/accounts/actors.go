package accounts

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/audit"
)

// ActorNames names the staff ("user:<id>:…") and API token
// ("token:<id>:…") actors of the audit log as they are now (audit.Namer).
func (s *Service) ActorNames(ctx context.Context, actors []string) (map[string]string, error) {
	var users, tokens []int64
	for _, a := range actors {
		switch kind, id, _ := audit.ParseActor(a); {
		case id == 0:
		case kind == "user":
			users = append(users, id)
		case kind == "token":
			tokens = append(tokens, id)
		}
	}
	names := map[string]map[int64]string{}
	var err error
	if len(users) > 0 {
		if names["user"], err = s.StaffNames(ctx, users); err != nil {
			return nil, err
		}
	}
	if len(tokens) > 0 {
		if names["token"], err = s.tokenNames(ctx, tokens); err != nil {
			return nil, err
		}
	}
	out := map[string]string{}
	for _, a := range actors {
		kind, id, _ := audit.ParseActor(a)
		if n, ok := names[kind][id]; ok {
			out[a] = n
		}
	}
	return out, nil
}

// StaffNames returns the current name of each account of ids that exists,
// by id (lti.Staff: who created a registration link).
func (s *Service) StaffNames(ctx context.Context, ids []int64) (map[int64]string, error) {
	const q = `SELECT id, name FROM users WHERE id = ANY($1)`
	out, err := s.names(ctx, q, ids)
	if err != nil {
		return nil, fmt.Errorf("names of staff %v: %w", ids, err)
	}
	return out, nil
}

// tokenNames returns the name of each API token of ids, by id.
func (s *Service) tokenNames(ctx context.Context, ids []int64) (map[int64]string, error) {
	const q = `SELECT id, name FROM api_tokens WHERE id = ANY($1)`
	out, err := s.names(ctx, q, ids)
	if err != nil {
		return nil, fmt.Errorf("names of api tokens %v: %w", ids, err)
	}
	return out, nil
}

// names runs q, which selects id and name for the ids in $1.
func (s *Service) names(ctx context.Context, q string, ids []int64) (map[int64]string, error) {
	var rows []struct {
		ID   int64  `db:"id"`
		Name string `db:"name"`
	}
	if err := s.db.SelectContext(ctx, &rows, q, pq.Array(ids)); err != nil {
		return nil, err
	}
	out := make(map[int64]string, len(rows))
	for _, r := range rows {
		out[r.ID] = r.Name
	}
	return out, nil
}

// staffEmailsFor is how long the set of staff emails is trusted. A new
// account made in another process is linked by launches at most this late;
// an email in the set is still checked (disabled?) against the table.
const staffEmailsFor = 5 * time.Second

// StaffIDByEmail returns the id of the account that is not disabled whose
// email is email (in any case), or 0 (lti.Staff: a launch's staff account).
// Almost every launch is a student's: an email that no account has is
// answered from the set of staff emails, without a query.
func (s *Service) StaffIDByEmail(ctx context.Context, email string) (int64, error) {
	known, err := s.isStaffEmail(ctx, email)
	if err != nil || !known {
		return 0, err
	}
	const q = `SELECT id FROM users WHERE lower(email) = lower($1) AND NOT disabled`
	var ids []int64
	if err := s.db.SelectContext(ctx, &ids, q, email); err != nil {
		return 0, fmt.Errorf("staff account of %s: %w", email, err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	return ids[0], nil
}

// isStaffEmail reports whether some account, disabled or not, has email (in
// any case), from the cached set of every account's email.
func (s *Service) isStaffEmail(ctx context.Context, email string) (bool, error) {
	set, ok := s.staffEmails.Get(struct{}{})
	if !ok {
		const q = `SELECT lower(email) FROM users`
		var emails []string
		if err := s.db.SelectContext(ctx, &emails, q); err != nil {
			return false, fmt.Errorf("staff emails: %w", err)
		}
		set = make(map[string]bool, len(emails))
		for _, e := range emails {
			set[e] = true
		}
		s.staffEmails.Set(struct{}{}, set)
	}
	return set[strings.ToLower(email)], nil
}
