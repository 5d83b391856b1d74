package course

import (
	"context"
	"fmt"
	"strings"

	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/lti"
)

// An instructor launching from a course may map it only onto a group created
// for that course (from a launch of the same course) or onto one staff made
// available to instructors, and may choose auto-publish only where the group
// allows it. Staff (the mapping API, with their own group limits) are not
// bound by these rules: they manage the groups.

// noteCourseGroup records that groupID was created for the launched course.
func (s *Service) noteCourseGroup(ctx context.Context, platformID int64, contextID string, groupID int64, actor string) error {
	const q = `
INSERT INTO course_groups (platform_id, context_id, group_id, created_by, created_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT DO NOTHING`
	if _, err := s.db.ExecContext(ctx, q, platformID, contextID, groupID, actor, s.now()); err != nil {
		return fmt.Errorf("note group %d of platform %d context %q: %w", groupID, platformID, contextID, err)
	}
	return nil
}

// courseGroupIDs returns the groups created for a course.
func (s *Service) courseGroupIDs(ctx context.Context, platformID int64, contextID string) (map[int64]bool, error) {
	const q = `SELECT group_id FROM course_groups WHERE platform_id = $1 AND context_id = $2`
	var ids []int64
	if err := s.db.SelectContext(ctx, &ids, q, platformID, contextID); err != nil {
		return nil, fmt.Errorf("groups of platform %d context %q: %w", platformID, contextID, err)
	}
	out := make(map[int64]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

// instructorGroups lists the existing groups the launch's instructor may map
// the course onto.
func (s *Service) instructorGroups(ctx context.Context, l *lti.Launch) ([]issuance.GroupSummary, error) {
	all, err := s.lti.Groups.Groups(ctx, nil)
	if err != nil {
		return nil, err
	}
	own, err := s.courseGroupIDs(ctx, l.Platform.ID, l.Context.ID)
	if err != nil {
		return nil, err
	}
	out := make([]issuance.GroupSummary, 0, len(all))
	for _, g := range all {
		if g.AvailableToInstructors || own[g.ID] {
			out = append(out, g)
		}
	}
	return out, nil
}

// launchActor names a launch's user in the audit log and on mappings.
func launchActor(l *lti.Launch) string {
	return fmt.Sprintf("lti:%d:%s", l.Platform.ID, l.Sub)
}

// LaunchEmail is the launch user's email: the custom email (Canvas's
// $Person.email.primary) over the id_token's claim.
func LaunchEmail(l *lti.Launch) string {
	if e := l.CustomValue("email"); e != "" {
		return e
	}
	return l.Email
}

// launchPerson is the launch's user as "Name <email>" (either may be
// missing; "" when both are).
func launchPerson(l *lti.Launch) string {
	who := strings.TrimSpace(l.Name)
	if email := LaunchEmail(l); email != "" {
		who = strings.TrimSpace(who + " <" + email + ">")
	}
	return who
}

// launchActorName describes a launch's user for staff: who they are and
// through which platform they came.
func launchActorName(l *lti.Launch, kind platformKind) string {
	who := launchPerson(l)
	if who == "" {
		who = "LTI user " + l.Sub
	}
	role := "instructor"
	if !l.IsInstructor() {
		switch {
		case l.IsAdmin():
			role = "admin"
		case l.IsTeachingAssistant():
			role = "teaching assistant"
		case l.IsContentDeveloper():
			role = "designer"
		}
	}
	via := kind.Name
	if l.Platform.Name != "" {
		via = l.Platform.Name
	}
	return who + ", " + role + " via " + via
}

// platformKind is what the launching platform is and what it can deliver:
// only Canvas sends course_completed Live Events and answers the REST calls
// reconciliation makes, so only a Canvas course may issue on completion.
type platformKind struct {
	// Name is how the pages name the platform ("Canvas", "Moodle", ...).
	Name string
	// Canvas tells whether the platform is Canvas.
	Canvas bool
	// Moodle tells whether the platform is Moodle (rule moodle_completion).
	Moodle bool
}

// productNames are the LMS names behind common tool_platform
// product_family_code values.
var productNames = map[string]string{
	"moodle":          "Moodle",
	"sakai":           "Sakai",
	"brightspace":     "Brightspace",
	"desire2learn":    "Brightspace",
	"d2l":             "Brightspace",
	"blackboardlearn": "Blackboard",
	"blackboard":      "Blackboard",
	"schoology":       "Schoology",
}

// kindOf tells what platform a launch came from: its tool_platform claim's
// product_family_code, else (claim absent) whether an administrator gave the
// platform a Canvas URL.
func (s *Service) kindOf(ctx context.Context, l *lti.Launch) platformKind {
	code := strings.ToLower(strings.TrimSpace(l.ToolPlatform.ProductFamilyCode))
	if code == "canvas" {
		return platformKind{Name: "Canvas", Canvas: true}
	}
	if code == "" {
		if u, _, err := s.canvas.Settings(ctx, l.Platform.ID); err == nil && u != "" {
			return platformKind{Name: "Canvas", Canvas: true}
		}
	}
	if code == "moodle" {
		return platformKind{Name: "Moodle", Moodle: true}
	}
	if n, ok := productNames[code]; ok {
		return platformKind{Name: n}
	}
	return platformKind{Name: "your learning platform"}
}

// Title is Name at the start of a sentence.
func (k platformKind) Title() string { return capitalize(k.Name) }

// existingCourseGroup picks, among the groups the instructor may map onto,
// one that already belongs to the launched course: the newest group created
// for it from a launch, else a group staff made available whose course name
// (or name) is the course's title. 0 when there is none.
func (s *Service) existingCourseGroup(ctx context.Context, l *lti.Launch, groups []issuance.GroupSummary) (int64, error) {
	own, err := s.courseGroupIDs(ctx, l.Platform.ID, l.Context.ID)
	if err != nil {
		return 0, err
	}
	var best int64
	for _, g := range groups {
		if own[g.ID] && g.ID > best {
			best = g.ID
		}
	}
	if best != 0 {
		return best, nil
	}
	for _, title := range []string{l.Context.Title, l.Context.Label} {
		title = strings.TrimSpace(title)
		if title == "" {
			continue
		}
		for _, g := range groups {
			if strings.EqualFold(strings.TrimSpace(g.CourseName), title) || strings.EqualFold(strings.TrimSpace(g.Name), title) {
				return g.ID, nil
			}
		}
	}
	return 0, nil
}
