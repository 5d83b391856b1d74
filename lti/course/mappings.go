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
	// RuleCanvasScore issues when a student's posted Canvas course score
	// (current or final, ScoreKind) is at least MinScore percent.
	RuleCanvasScore CompletionRule = "canvas_score"
	// RuleCanvasModule issues when a student completes Canvas module ModuleID.
	RuleCanvasModule CompletionRule = "canvas_module"
	// RuleMoodleCompletion issues when Moodle reports the course complete
	// for a student (core completion web services; package moodle). The
	// mapping's ContextID is the Moodle course id (Moodle's LTI context.id).
	RuleMoodleCompletion CompletionRule = "moodle_completion"
	// RuleManual issues nothing automatically: staff create credentials by hand.
	RuleManual CompletionRule = "manual"
)

// Score kinds of a RuleCanvasScore mapping: Canvas's current score counts
// only graded work, its final score counts ungraded work as zero.
const (
	ScoreCurrent = "current"
	ScoreFinal   = "final"
)

// Checked reports whether a check against the platform (reconciliation)
// issues this rule's credentials.
func (r CompletionRule) Checked() bool {
	return r == RuleCanvasCompletion || r == RuleCanvasScore || r == RuleCanvasModule || r == RuleMoodleCompletion
}

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
	// MinScore (percent, "at least": 80 includes 80.0) and ScoreKind
	// (current or final) belong to RuleCanvasScore; ModuleID to
	// RuleCanvasModule.
	MinScore    *float64 `json:"min_score,omitempty" db:"min_score"`
	ScoreKind   string   `json:"score_kind,omitempty" db:"score_kind"`
	ModuleID    string   `json:"module_id,omitempty" db:"module_id"`
	AutoPublish bool     `json:"auto_publish" db:"auto_publish"`
	CourseTitle string   `json:"course_title" db:"course_title"`
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
    COALESCE(context_id, '') AS context_id, group_id, completion_rule, min_score::float8 AS min_score,
    COALESCE(score_kind, '') AS score_kind, COALESCE(module_id, '') AS module_id, auto_publish, course_title,
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

// MappingIDs returns the ids of the mappings whose completion rule is one
// of rules, in id order.
func (s *Service) MappingIDs(ctx context.Context, rules ...CompletionRule) ([]int64, error) {
	const q = `SELECT id FROM course_mappings WHERE completion_rule = ANY($1) ORDER BY id`
	names := make([]string, len(rules))
	for i, r := range rules {
		names[i] = string(r)
	}
	var ids []int64
	if err := s.db.SelectContext(ctx, &ids, q, pq.Array(names)); err != nil {
		return nil, fmt.Errorf("mappings of rules %v: %w", rules, err)
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
	// MinScore and ScoreKind go with rule canvas_score, ModuleID with
	// canvas_module; a change of rule clears the other rules' fields.
	MinScore    *float64
	ScoreKind   *string
	ModuleID    *string
	AutoPublish *bool
	CourseTitle *string
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
		case RuleCanvasCompletion, RuleCanvasScore, RuleCanvasModule, RuleMoodleCompletion, RuleManual:
		default:
			add("completion_rule", "must be canvas_completion, canvas_score, canvas_module, moodle_completion or manual")
		}
	}
	if in.MinScore != nil && (*in.MinScore < 0 || *in.MinScore > 1000) {
		add("min_score", "must be a percentage from 0 to 1000 (Canvas scores may pass 100 with extra credit)")
	}
	if in.ScoreKind != nil && *in.ScoreKind != ScoreCurrent && *in.ScoreKind != ScoreFinal {
		add("score_kind", "must be current or final")
	}
	if in.ModuleID != nil && *in.ModuleID != "" {
		if n, err := strconv.ParseUint(*in.ModuleID, 10, 64); err != nil || n == 0 {
			add("module_id", "must be a Canvas module id (digits), as in /courses/565/modules/12")
		}
	}
	if in.CourseTitle != nil && len(*in.CourseTitle) > 500 {
		add("course_title", "must be at most 500 characters")
	}
	return fe
}

// ruleFields are a mapping's rule and the fields it carries, as stored
// (nil: NULL).
type ruleFields struct {
	rule      CompletionRule
	minScore  *float64
	scoreKind *string
	moduleID  *string
}

// resolveRule merges a create or change with the current mapping (nil on
// create) into the stored rule fields: each rule requires its own fields and
// refuses another rule's, naming the field.
func (in MappingInput) resolveRule(cur *Mapping) (ruleFields, []apperr.FieldError) {
	var fe []apperr.FieldError
	add := func(field, msg string) { fe = append(fe, apperr.FieldError{Index: -1, Field: field, Message: msg}) }
	f := ruleFields{rule: RuleCanvasCompletion}
	if cur != nil {
		f.rule = cur.CompletionRule
	}
	if in.CompletionRule != nil {
		f.rule = CompletionRule(*in.CompletionRule)
	}
	same := cur != nil && cur.CompletionRule == f.rule
	given := func(p *string) bool { return p != nil && *p != "" }
	switch f.rule {
	case RuleCanvasScore:
		f.minScore = in.MinScore
		if f.minScore == nil && same {
			f.minScore = cur.MinScore
		}
		kind := ScoreFinal
		if given(in.ScoreKind) {
			kind = *in.ScoreKind
		} else if same && cur.ScoreKind != "" {
			kind = cur.ScoreKind
		}
		f.scoreKind = &kind
		if f.minScore == nil {
			add("min_score", "is required for rule canvas_score: the lowest course score in percent that earns the credential, such as 80")
		}
		if given(in.ModuleID) {
			add("module_id", "belongs to rule canvas_module, not canvas_score")
		}
	case RuleCanvasModule:
		if given(in.ModuleID) {
			f.moduleID = in.ModuleID
		} else if same && cur.ModuleID != "" {
			f.moduleID = &cur.ModuleID
		}
		if f.moduleID == nil {
			add("module_id", "is required for rule canvas_module: the Canvas module id, as in /courses/565/modules/12")
		}
		if in.MinScore != nil {
			add("min_score", "belongs to rule canvas_score, not canvas_module")
		}
	case RuleMoodleCompletion:
		// Moodle's launch context.id is its course id: the web services
		// are asked about that course.
		ctxID := ""
		if in.ContextID != nil {
			ctxID = *in.ContextID
		} else if cur != nil {
			ctxID = cur.ContextID
		}
		if ctxID == "" || !isDigits(ctxID) {
			add("context_id", "is required for rule moodle_completion: the Moodle course id (digits), as in /course/view.php?id=42, which Moodle sends as the launch's context id")
		}
		if given(in.CanvasCourseID) || (in.CanvasCourseID == nil && cur != nil && cur.CanvasCourseID != "") {
			add("canvas_course_id", "belongs to the Canvas rules, not moodle_completion")
		}
		fallthrough
	default:
		if in.MinScore != nil {
			add("min_score", "belongs to rule canvas_score, not "+string(f.rule))
		}
		if given(in.ModuleID) {
			add("module_id", "belongs to rule canvas_module, not "+string(f.rule))
		}
	}
	if given(in.ScoreKind) && f.rule != RuleCanvasScore {
		add("score_kind", "belongs to rule canvas_score, not "+string(f.rule))
	}
	return f, fe
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
	rf, fe := in.resolveRule(nil)
	if len(fe) > 0 {
		return Mapping{}, apperr.Fields("The mapping has errors.", fe)
	}
	const q = `
INSERT INTO course_mappings (platform_id, deployment_id, canvas_course_id, context_id, group_id,
    completion_rule, auto_publish, course_title, created_by, created_by_name, min_score, score_kind, module_id)
VALUES ($1, $2, NULLIF($3, ''), NULLIF($4, ''), $5, $6, $7, $8, $9, $10, $11, $12, $13)
RETURNING id`
	var id int64
	err := db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		err := tx.GetContext(ctx, &id, q, *in.PlatformID, deref(in.DeploymentID), deref(in.CanvasCourseID),
			deref(in.ContextID), *in.GroupID, rf.rule, deref(in.AutoPublish), deref(in.CourseTitle), actor, deref(in.CreatedByName),
			rf.minScore, rf.scoreKind, rf.moduleID)
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
    completion_rule = $6,
    auto_publish = COALESCE($7, auto_publish),
    course_title = COALESCE($8, course_title),
    min_score = $9, score_kind = $10, module_id = $11,
    updated_at = now()
WHERE id = $1
RETURNING platform_id, COALESCE(canvas_course_id, '')`
	var pid int64
	var course string
	err := db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		cur, err := mappingByID(ctx, tx, id)
		if err != nil {
			return err
		}
		rf, fe := in.resolveRule(&cur)
		if len(fe) > 0 {
			return apperr.Fields("The mapping has errors.", fe)
		}
		err = tx.QueryRowxContext(ctx, q, id, in.DeploymentID, in.CanvasCourseID, in.ContextID, in.GroupID,
			rf.rule, in.AutoPublish, in.CourseTitle, rf.minScore, rf.scoreKind, rf.moduleID).Scan(&pid, &course)
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
