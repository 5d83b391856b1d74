package course

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/db"
)

// CompletionRule says what makes a credential in a mapped course.
type CompletionRule string

// Completion rules.
const (
	// RuleCanvasCompletion issues on Canvas's course_completed event (and reconciliation).
	RuleCanvasCompletion CompletionRule = "canvas_completion"
	// RuleManual issues nothing automatically: staff create credentials by hand.
	RuleManual CompletionRule = "manual"
)

// Mapping ties a course on a platform to a credential group. A course
// is known by its LTI context_id (from launches) and/or its local Canvas
// course id ($Canvas.course.id, which Live Events and the REST API use); a
// mapping made by script may know only one, and a launch fills in the other.
type Mapping struct {
	ID             int64          `json:"id" db:"id"`
	PlatformID     int64          `json:"platform_id" db:"platform_id"`
	DeploymentID   string         `json:"deployment_id" db:"deployment_id"`
	CanvasCourseID string         `json:"canvas_course_id" db:"canvas_course_id"`
	ContextID      string         `json:"context_id" db:"context_id"`
	GroupID        int64          `json:"group_id" db:"group_id"`
	CompletionRule CompletionRule `json:"completion_rule" db:"completion_rule"`
	AutoPublish    bool           `json:"auto_publish" db:"auto_publish"`
	CourseTitle    string         `json:"course_title" db:"course_title"`
	// CreatedBy is who mapped the course: "lti:<platform id>:<sub>" for an
	// instructor's launch, "user:<id>:<email>" or "token:<id>:<name>" for
	// staff; CreatedByName describes them for people.
	CreatedBy     string `json:"created_by" db:"created_by"`
	CreatedByName string `json:"created_by_name" db:"created_by_name"`

	CreatedAt time.Time `json:"created_at" db:"created_at"`
	UpdatedAt time.Time `json:"updated_at" db:"updated_at"`
}

// mappingCols selects a mapping; NULL ids read as "".
const mappingCols = `id, platform_id, deployment_id, COALESCE(canvas_course_id, '') AS canvas_course_id,
    COALESCE(context_id, '') AS context_id, group_id, completion_rule, auto_publish, course_title,
    created_by, created_by_name, created_at, updated_at`

// MappingFilter narrows ListMappings; zero fields do not filter.
type MappingFilter struct {
	PlatformID int64
	GroupID    int64
	// Groups limits the result to these groups (a team member's); nil: all.
	Groups []int64
}

// ListMappings returns mappings, newest first.
func (s *Service) ListMappings(ctx context.Context, f MappingFilter) ([]Mapping, error) {
	const q = `SELECT ` + mappingCols + ` FROM course_mappings
WHERE ($1 = 0 OR platform_id = $1) AND ($2 = 0 OR group_id = $2) AND ($3::bigint[] IS NULL OR group_id = ANY($3))
ORDER BY id DESC
LIMIT 5000`
	var groups any
	if f.Groups != nil {
		groups = pq.Array(f.Groups)
	}
	out := []Mapping{}
	if err := s.db.SelectContext(ctx, &out, q, f.PlatformID, f.GroupID, groups); err != nil {
		return nil, fmt.Errorf("list mappings %+v: %w", f, err)
	}
	return out, nil
}

// MappingIDs returns the ids of the mappings whose completion rule is rule,
// in id order.
func (s *Service) MappingIDs(ctx context.Context, rule CompletionRule) ([]int64, error) {
	const q = `SELECT id FROM course_mappings WHERE completion_rule = $1 ORDER BY id`
	var ids []int64
	if err := s.db.SelectContext(ctx, &ids, q, rule); err != nil {
		return nil, fmt.Errorf("mappings of rule %s: %w", rule, err)
	}
	return ids, nil
}

// Mapping returns mapping id, or an apperr.NotFound error.
func (s *Service) Mapping(ctx context.Context, id int64) (Mapping, error) {
	return mappingByID(ctx, s.db, id)
}

func mappingByID(ctx context.Context, q sqlx.QueryerContext, id int64) (Mapping, error) {
	const sel = `SELECT ` + mappingCols + ` FROM course_mappings WHERE id = $1`
	var m Mapping
	err := sqlx.GetContext(ctx, q, &m, sel, id)
	if errors.Is(err, sql.ErrNoRows) {
		return m, apperr.Errorf(apperr.NotFound, "No course mapping %d.", id)
	}
	if err != nil {
		return m, fmt.Errorf("mapping %d: %w", id, err)
	}
	return m, nil
}

// MappingByCourse returns the mapping of Canvas course courseID on a
// platform, or an apperr.NotFound error. q runs the query (the completion
// worker's transaction).
func MappingByCourse(ctx context.Context, q sqlx.QueryerContext, platformID int64, courseID string) (Mapping, error) {
	const sel = `SELECT ` + mappingCols + ` FROM course_mappings WHERE platform_id = $1 AND canvas_course_id = $2`
	var m Mapping
	err := sqlx.GetContext(ctx, q, &m, sel, platformID, courseID)
	if errors.Is(err, sql.ErrNoRows) {
		return m, apperr.Errorf(apperr.NotFound, "Canvas course %s on platform %d is not mapped.", courseID, platformID)
	}
	if err != nil {
		return m, fmt.Errorf("mapping of platform %d course %s: %w", platformID, courseID, err)
	}
	return m, nil
}

// MappingForCourse finds the mapping of a launched course: by its LTI
// context_id, or by its local Canvas course id. It returns apperr.NotFound
// when the course is not mapped.
func (s *Service) MappingForCourse(ctx context.Context, platformID int64, contextID, canvasCourseID string) (Mapping, error) {
	var m Mapping
	err := s.stmts.GetContext(ctx, &m, mappingForCourseSQL, platformID, contextID, canvasCourseID)
	return courseMappingAnswer(m, err, platformID, contextID, canvasCourseID)
}

// mappingForCourseSQL finds the mapping of platform $1's course by context
// id $2 or Canvas course id $3.
var mappingForCourseSQL = courseMappingQuery("$1", "$2", "$3")

// courseMappingQuery is the mapping lookup with its parameters named.
func courseMappingQuery(platform, contextID, courseID string) string {
	return `SELECT ` + mappingCols + ` FROM course_mappings
WHERE platform_id = ` + platform + ` AND ((context_id = ` + contextID + ` AND ` + contextID + ` <> '')
    OR (canvas_course_id = ` + courseID + ` AND ` + courseID + ` <> ''))
ORDER BY (context_id = ` + contextID + `) DESC NULLS LAST
LIMIT 1`
}

// courseMappingAnswer is the answer of mappingForCourseSQL as MappingForCourse
// gives it.
func courseMappingAnswer(m Mapping, err error, platformID int64, contextID, canvasCourseID string) (Mapping, error) {
	if errors.Is(err, sql.ErrNoRows) {
		return m, apperr.Errorf(apperr.NotFound, "This course is not mapped to a group yet.")
	}
	if err != nil {
		return m, fmt.Errorf("mapping of platform %d context %q course %q: %w", platformID, contextID, canvasCourseID, err)
	}
	return m, nil
}

// MappingInput is a create or a change. On create PlatformID, GroupID and one
// of CanvasCourseID / ContextID are required; on change nil fields keep their
// value.
type MappingInput struct {
	PlatformID     *int64
	DeploymentID   *string
	CanvasCourseID *string
	ContextID      *string
	GroupID        *int64
	CompletionRule *string
	AutoPublish    *bool
	CourseTitle    *string
	// CreatedByName describes the actor for staff (create only).
	CreatedByName *string
}

// validate checks the input's fields; create also requires the key fields.
func (in MappingInput) validate(create bool) []apperr.FieldError {
	var fe []apperr.FieldError
	add := func(field, msg string) { fe = append(fe, apperr.FieldError{Index: -1, Field: field, Message: msg}) }
	if create {
		if in.PlatformID == nil {
			add("platform_id", "is required")
		}
		if in.GroupID == nil {
			add("group_id", "is required")
		}
		if (in.CanvasCourseID == nil || *in.CanvasCourseID == "") && (in.ContextID == nil || *in.ContextID == "") {
			add("canvas_course_id", "canvas_course_id or context_id is required")
		}
	}
	if in.PlatformID != nil && *in.PlatformID <= 0 {
		add("platform_id", "must be a positive id")
	}
	if in.GroupID != nil && *in.GroupID <= 0 {
		add("group_id", "must be a positive id")
	}
	if in.CanvasCourseID != nil && *in.CanvasCourseID != "" {
		if n, err := strconv.ParseUint(*in.CanvasCourseID, 10, 64); err != nil || n == 0 {
			add("canvas_course_id", "must be a Canvas course id (digits), as in /courses/565")
		}
	}
	if in.ContextID != nil && len(*in.ContextID) > 255 {
		add("context_id", "must be at most 255 characters")
	}
	if in.DeploymentID != nil && len(*in.DeploymentID) > 255 {
		add("deployment_id", "must be at most 255 characters")
	}
	if in.CompletionRule != nil {
		switch CompletionRule(*in.CompletionRule) {
		case RuleCanvasCompletion, RuleManual:
		default:
			add("completion_rule", "must be canvas_completion or manual")
		}
	}
	if in.CourseTitle != nil && len(*in.CourseTitle) > 500 {
		add("course_title", "must be at most 500 characters")
	}
	return fe
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// CreateMapping maps a course. Completions that arrived for this course in
// the last 30 days, while it was unmapped, are put back for processing.
// Errors: apperr.Invalid with field errors; apperr.Conflict when the course is
// already mapped.
func (s *Service) CreateMapping(ctx context.Context, actor string, in MappingInput) (Mapping, error) {
	if fe := in.validate(true); len(fe) > 0 {
		return Mapping{}, apperr.Fields("The mapping has errors.", fe)
	}
	if _, err := s.platforms.Platform(ctx, *in.PlatformID); err != nil {
		if apperr.Is(err, apperr.NotFound) {
			return Mapping{}, apperr.Fields("The mapping has errors.", []apperr.FieldError{{Index: -1, Field: "platform_id", Message: fmt.Sprintf("no platform %d", *in.PlatformID)}})
		}
		return Mapping{}, err
	}
	rule := RuleCanvasCompletion
	if in.CompletionRule != nil {
		rule = CompletionRule(*in.CompletionRule)
	}
	const q = `
INSERT INTO course_mappings (platform_id, deployment_id, canvas_course_id, context_id, group_id,
    completion_rule, auto_publish, course_title, created_by, created_by_name)
VALUES ($1, $2, NULLIF($3, ''), NULLIF($4, ''), $5, $6, $7, $8, $9, $10)
RETURNING id`
	var id int64
	err := db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		err := tx.GetContext(ctx, &id, q, *in.PlatformID, deref(in.DeploymentID), deref(in.CanvasCourseID),
			deref(in.ContextID), *in.GroupID, rule, deref(in.AutoPublish), deref(in.CourseTitle), actor, deref(in.CreatedByName))
		if err != nil {
			return mappingWriteError(err, *in.GroupID)
		}
		return s.canvas.RequeueUnmapped(ctx, tx, *in.PlatformID, deref(in.CanvasCourseID))
	})
	if err != nil {
		return Mapping{}, fmt.Errorf("create mapping: %w", err)
	}
	s.canvas.Wake()
	return s.Mapping(ctx, id)
}

// mappingWriteError turns constraint violations into user errors.
func mappingWriteError(err error, groupID int64) error {
	if c, ok := db.IsUniqueViolation(err); ok {
		if c == "course_mappings_context" {
			return apperr.Errorf(apperr.Conflict, "This course (context_id) is already mapped on this platform.")
		}
		return apperr.Errorf(apperr.Conflict, "This Canvas course is already mapped on this platform.")
	}
	var pqe *pq.Error
	if errors.As(err, &pqe) && pqe.Code == "23503" {
		if strings.Contains(pqe.Constraint, "platform") {
			return apperr.Fields("The mapping has errors.", []apperr.FieldError{{Index: -1, Field: "platform_id", Message: "no such platform"}})
		}
		return apperr.Fields("The mapping has errors.", []apperr.FieldError{{Index: -1, Field: "group_id", Message: fmt.Sprintf("no group %d", groupID)}})
	}
	return err
}

// UpdateMapping changes a mapping. Setting a Canvas course id requeues that
// course's recent unmapped completions.
func (s *Service) UpdateMapping(ctx context.Context, id int64, in MappingInput) (Mapping, error) {
	if fe := in.validate(false); len(fe) > 0 {
		return Mapping{}, apperr.Fields("The mapping has errors.", fe)
	}
	if in.PlatformID != nil {
		return Mapping{}, apperr.Fields("The mapping has errors.", []apperr.FieldError{{Index: -1, Field: "platform_id", Message: "cannot change: delete the mapping and create another"}})
	}
	const q = `
UPDATE course_mappings SET
    deployment_id = COALESCE($2, deployment_id),
    canvas_course_id = CASE WHEN $3::text IS NULL THEN canvas_course_id ELSE NULLIF($3, '') END,
    context_id = CASE WHEN $4::text IS NULL THEN context_id ELSE NULLIF($4, '') END,
    group_id = COALESCE($5, group_id),
    completion_rule = COALESCE($6, completion_rule),
    auto_publish = COALESCE($7, auto_publish),
    course_title = COALESCE($8, course_title),
    updated_at = now()
WHERE id = $1
RETURNING platform_id, COALESCE(canvas_course_id, '')`
	var pid int64
	var course string
	err := db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		err := tx.QueryRowxContext(ctx, q, id, in.DeploymentID, in.CanvasCourseID, in.ContextID, in.GroupID,
			in.CompletionRule, in.AutoPublish, in.CourseTitle).Scan(&pid, &course)
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.Errorf(apperr.NotFound, "No course mapping %d.", id)
		}
		if err != nil {
			return mappingWriteError(err, deref(in.GroupID))
		}
		if in.CanvasCourseID != nil {
			err = s.canvas.RequeueUnmapped(ctx, tx, pid, course)
		}
		return err
	})
	if err != nil {
		if apperr.Code(err) == apperr.Internal {
			return Mapping{}, fmt.Errorf("update mapping %d: %w", id, err)
		}
		return Mapping{}, err
	}
	s.canvas.Wake()
	return s.Mapping(ctx, id)
}

// DeleteMapping removes a mapping; credentials already issued stay.
func (s *Service) DeleteMapping(ctx context.Context, id int64) error {
	const q = `DELETE FROM course_mappings WHERE id = $1`
	res, err := s.db.ExecContext(ctx, q, id)
	if err != nil {
		return fmt.Errorf("delete mapping %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return apperr.Errorf(apperr.NotFound, "No course mapping %d.", id)
	}
	return nil
}

// learnCourseIDs fills in what a launch tells us about a mapped course: the
// context_id or local course id the mapping did not know yet.
func (s *Service) learnCourseIDs(ctx context.Context, m Mapping, contextID, canvasCourseID string) (Mapping, error) {
	var in MappingInput
	changed := false
	if m.ContextID == "" && contextID != "" {
		in.ContextID, changed = &contextID, true
	}
	if m.CanvasCourseID == "" && canvasCourseID != "" && isDigits(canvasCourseID) {
		in.CanvasCourseID, changed = &canvasCourseID, true
	}
	if !changed {
		return m, nil
	}
	return s.UpdateMapping(ctx, m.ID, in)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
