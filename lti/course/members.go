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
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/lti"
)

// courseMember is one person seen in a course.
type courseMember struct {
	PlatformID              int64
	ContextID               string
	Sub, Email, ExternalRef string
}

// noteMembers records people seen in courses (launches' users, a roster),
// in one statement; a later sighting keeps what an earlier one knew when
// it knows less (no email, no Canvas id).
func (s *Service) noteMembers(ctx context.Context, ms []courseMember) error {
	type key struct {
		platform     int64
		context, sub string
	}
	plats := make([]int64, 0, len(ms))
	var ctxs, subs, emails, refs []string
	seen := make(map[key]int, len(ms))
	for _, m := range ms {
		if m.ContextID == "" || m.Sub == "" {
			continue
		}
		email := strings.ToLower(strings.TrimSpace(m.Email))
		// One row per person and course: ON CONFLICT may not touch a row
		// twice; a later sighting's knowledge wins where it has some.
		if i, ok := seen[key{m.PlatformID, m.ContextID, m.Sub}]; ok {
			if email != "" {
				emails[i] = email
			}
			if m.ExternalRef != "" {
				refs[i] = m.ExternalRef
			}
			continue
		}
		seen[key{m.PlatformID, m.ContextID, m.Sub}] = len(subs)
		plats, ctxs, subs = append(plats, m.PlatformID), append(ctxs, m.ContextID), append(subs, m.Sub)
		emails, refs = append(emails, email), append(refs, m.ExternalRef)
	}
	if len(subs) == 0 {
		return nil
	}
	const q = `
INSERT INTO course_members (platform_id, context_id, sub, email, external_ref, seen_at)
SELECT u.platform, u.context, u.sub, u.email, u.ref, $6
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[]) AS u (platform, context, sub, email, ref)
ON CONFLICT (platform_id, context_id, sub) DO UPDATE SET
	email = COALESCE(NULLIF(EXCLUDED.email, ''), course_members.email),
	external_ref = COALESCE(NULLIF(EXCLUDED.external_ref, ''), course_members.external_ref),
	seen_at = EXCLUDED.seen_at`
	if _, err := s.stmts.ExecContext(ctx, q, pq.Array(plats), pq.Array(ctxs), pq.Array(subs), pq.Array(emails), pq.Array(refs), s.now()); err != nil {
		return fmt.Errorf("note %d course members: %w", len(subs), err)
	}
	return nil
}

// noteLaunchMember records the launch's user as a person of its course
// and returns the course's mapping (lookupCourse), in one statement: a
// launch waits on the database once for both. A course without a context
// id has no members; its mapping is only looked up.
func (s *Service) noteLaunchMember(ctx context.Context, l *lti.Launch) (courseLookup, error) {
	if l.Context.ID == "" || l.Sub == "" {
		return s.lookupCourse(ctx, l), nil
	}
	ref := ""
	if uid := l.CustomValue("canvas_user_id"); isDigits(uid) {
		ref = s.canvas.ExternalRef(l.Platform.ID, uid)
	}
	email := strings.ToLower(strings.TrimSpace(LaunchEmail(l)))
	courseID := l.CustomValue("canvas_course_id")
	var m Mapping
	err := s.stmts.GetContext(ctx, &m, noteMemberMappingSQL, l.Platform.ID, l.Context.ID, courseID, l.Sub, email, ref, s.now())
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return courseLookup{}, fmt.Errorf("note member %s of platform %d context %q: %w", l.Sub, l.Platform.ID, l.Context.ID, err)
	}
	m, err = courseMappingAnswer(m, err, l.Platform.ID, l.Context.ID, courseID)
	return courseLookup{m, err}, nil
}

// noteMemberMappingSQL records member $4 (email $5, reference $6, seen at
// $7) of platform $1's course $2 as noteMembers does, and finds the
// course's mapping by context id $2 or Canvas course id $3. The insert runs
// to completion whether or not a mapping is found (PostgreSQL runs a WITH's
// data-modifying statement exactly once).
var noteMemberMappingSQL = `
WITH noted AS (
	INSERT INTO course_members (platform_id, context_id, sub, email, external_ref, seen_at)
	VALUES ($1, $2, $4, $5, $6, $7)
	ON CONFLICT (platform_id, context_id, sub) DO UPDATE SET
		email = COALESCE(NULLIF(EXCLUDED.email, ''), course_members.email),
		external_ref = COALESCE(NULLIF(EXCLUDED.external_ref, ''), course_members.external_ref),
		seen_at = EXCLUDED.seen_at
)
` + courseMappingQuery("$1", "$2", "$3")

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
