package course

// Instructors see their own students only: the people of a course are its
// launch users and the members of its Names and Roles roster, recorded in
// course_members as they are seen. Everything an instructor sees or
// publishes in the LMS (lists, counts, one credential, publish) is narrowed
// to their credentials by coursePeople, the one place that decides who is
// in the course; a group shared with other courses or with staff-issued
// credentials stays whole on the staff pages.

import (
	"context"
	"fmt"
	"strings"

	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/lti"
)

// courseMember is one person seen in a course.
type courseMember struct {
	Sub, Email, ExternalRef string
}

// noteMembers records people seen in a course (a launch's user, a roster),
// in one statement; a later sighting keeps what an earlier one knew when
// it knows less (no email, no Canvas id).
func (s *Service) noteMembers(ctx context.Context, platformID int64, contextID string, ms []courseMember) error {
	if contextID == "" || len(ms) == 0 {
		return nil
	}
	subs := make([]string, 0, len(ms))
	emails := make([]string, 0, len(ms))
	refs := make([]string, 0, len(ms))
	seen := make(map[string]bool, len(ms))
	for _, m := range ms {
		if m.Sub == "" || seen[m.Sub] {
			continue // one row per sub: ON CONFLICT may not touch a row twice
		}
		seen[m.Sub] = true
		subs = append(subs, m.Sub)
		emails = append(emails, strings.ToLower(strings.TrimSpace(m.Email)))
		refs = append(refs, m.ExternalRef)
	}
	if len(subs) == 0 {
		return nil
	}
	const q = `
INSERT INTO course_members (platform_id, context_id, sub, email, external_ref, seen_at)
SELECT $1, $2, u.sub, u.email, u.ref, $6
FROM unnest($3::text[], $4::text[], $5::text[]) AS u (sub, email, ref)
ON CONFLICT (platform_id, context_id, sub) DO UPDATE SET
	email = COALESCE(NULLIF(EXCLUDED.email, ''), course_members.email),
	external_ref = COALESCE(NULLIF(EXCLUDED.external_ref, ''), course_members.external_ref),
	seen_at = EXCLUDED.seen_at`
	if _, err := s.db.ExecContext(ctx, q, platformID, contextID, pq.Array(subs), pq.Array(emails), pq.Array(refs), s.now()); err != nil {
		return fmt.Errorf("note %d members of platform %d context %q: %w", len(subs), platformID, contextID, err)
	}
	return nil
}

// noteLaunchMember records the launch's user as a person of its course.
func (s *Service) noteLaunchMember(ctx context.Context, l *lti.Launch) error {
	m := courseMember{Sub: l.Sub, Email: LaunchEmail(l)}
	if uid := l.CustomValue("canvas_user_id"); isDigits(uid) {
		m.ExternalRef = s.canvas.ExternalRef(l.Platform.ID, uid)
	}
	return s.noteMembers(ctx, l.Platform.ID, l.Context.ID, []courseMember{m})
}

// coursePeople is who is in the launch's course, as the issuance core's
// recipient filter: the Canvas references and emails of every person seen
// in it. A course nobody was seen in has nobody (an empty, non-nil filter).
func (s *Service) coursePeople(ctx context.Context, l *lti.Launch) (*issuance.Recipients, error) {
	const q = `SELECT sub, email, external_ref FROM course_members WHERE platform_id = $1 AND context_id = $2`
	var rows []struct {
		Sub         string `db:"sub"`
		Email       string `db:"email"`
		ExternalRef string `db:"external_ref"`
	}
	if err := s.db.SelectContext(ctx, &rows, q, l.Platform.ID, l.Context.ID); err != nil {
		return nil, fmt.Errorf("members of platform %d context %q: %w", l.Platform.ID, l.Context.ID, err)
	}
	refs := make([]string, 0, len(rows))
	emails := make([]string, 0, len(rows))
	for _, r := range rows {
		refs = append(refs, r.ExternalRef)
		emails = append(emails, r.Email)
	}
	return issuance.NewRecipients(refs, emails), nil
}
