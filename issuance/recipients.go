package issuance

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/lib/pq"
)

// Recipients narrows a list, a count or a publish to the credentials of
// certain people: those whose external reference (the automatic source's
// identity, e.g. a Canvas user) is in ExternalRefs or whose email is in
// Emails. The LMS views pass the people of one course, so an instructor of
// a course that shares its group never sees the others; staff pass nil (no
// narrowing). An empty, non-nil Recipients matches nothing.
type Recipients struct {
	ExternalRefs []string
	// Emails are compared case-insensitively.
	Emails []string
}

// NewRecipients builds Recipients from references and emails, dropping
// empty ones and duplicates and lower-casing the emails.
func NewRecipients(refs, emails []string) *Recipients {
	r := &Recipients{ExternalRefs: []string{}, Emails: []string{}}
	seen := make(map[string]bool, len(refs)+len(emails))
	for _, ref := range refs {
		if ref = strings.TrimSpace(ref); ref != "" && !seen["r:"+ref] {
			seen["r:"+ref] = true
			r.ExternalRefs = append(r.ExternalRefs, ref)
		}
	}
	for _, e := range emails {
		if e = strings.ToLower(strings.TrimSpace(e)); e != "" && !seen["e:"+e] {
			seen["e:"+e] = true
			r.Emails = append(r.Emails, e)
		}
	}
	return r
}

// Has reports whether c is one of r's people (always true for nil r): the
// same rule as the SQL condition of lists, counts and publishes.
func (r *Recipients) Has(c Credential) bool {
	if r == nil {
		return true
	}
	if c.ExternalRef != "" && slices.Contains(r.ExternalRefs, c.ExternalRef) {
		return true
	}
	return c.Recipient.Email != "" && slices.Contains(r.Emails, strings.ToLower(c.Recipient.Email))
}

// cond is r's SQL condition on parameters $first (references) and
// $first+1 (lower-case emails), with their arguments; "" and none for nil r.
// It uses the indexes credentials_one_per_external_ref (group_id,
// external_ref) and credentials_email (lower(recipient_email)).
func (r *Recipients) cond(first int) (string, []any) {
	if r == nil {
		return "", nil
	}
	return fmt.Sprintf(` AND (external_ref = ANY($%d::text[]) OR lower(recipient_email) = ANY($%d::text[]))`, first, first+1),
		[]any{pq.Array(nonNil(r.ExternalRefs)), pq.Array(nonNil(r.Emails))}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// StateCounts is how many credentials a group has in each state.
type StateCounts struct {
	Unpublished, Published, Revoked int
}

// CountStates counts group groupID's credentials by state, only those of
// people (all of them for nil people), in one query.
func (s *Service) CountStates(ctx context.Context, groupID int64, people *Recipients) (StateCounts, error) {
	cond, args := people.cond(2)
	// cond is constant text; every value is a parameter.
	q := `SELECT count(*) FILTER (WHERE state = 'unpublished') AS unpublished,
			count(*) FILTER (WHERE state = 'published') AS published,
			count(*) FILTER (WHERE state = 'revoked') AS revoked
		FROM credentials WHERE group_id = $1` + cond
	var n struct {
		Unpublished int `db:"unpublished"`
		Published   int `db:"published"`
		Revoked     int `db:"revoked"`
	}
	if err := s.DB.GetContext(ctx, &n, q, append([]any{groupID}, args...)...); err != nil {
		return StateCounts{}, fmt.Errorf("count credentials of group %d by state: %w", groupID, err)
	}
	return StateCounts(n), nil
}

// Outside returns the ids of sel.IDs that are not credentials of sel's
// group (when not 0) and recipients, in one query: a caller answers a
// forged selection with NotFound rather than quietly skipping it.
func (s *Service) Outside(ctx context.Context, sel Selection) ([]string, error) {
	if len(sel.IDs) == 0 {
		return nil, nil
	}
	cond, args := sel.Recipients.cond(3)
	// cond is constant text; every value is a parameter.
	q := `SELECT u.id FROM unnest($1::text[]) AS u (id)
		WHERE NOT EXISTS (SELECT 1 FROM credentials WHERE id = u.id AND ($2::bigint = 0 OR group_id = $2)` + cond + `)
		ORDER BY u.id`
	var out []string
	if err := s.DB.SelectContext(ctx, &out, q, append([]any{pq.Array(sel.IDs), sel.GroupID}, args...)...); err != nil {
		return nil, fmt.Errorf("credentials outside a selection (group %d, %d ids): %w", sel.GroupID, len(sel.IDs), err)
	}
	return out, nil
}
