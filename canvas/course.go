package canvas

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/lti"
	"github.com/laurel-edu/laurel/lti/course"
)

// CourseSide is Canvas's side of package course's views: give it to
// course.Service.SetCanvas.
func (s *Service) CourseSide() course.Canvas { return courseSide{s} }

// courseSide implements course.Canvas.
type courseSide struct{ s *Service }

// NoteLaunch records the launch's Canvas user ($Canvas.user.id in the
// custom "canvas_user_id") and its root account guid.
func (c courseSide) NoteLaunch(ctx context.Context, l *lti.Launch) error {
	if err := c.s.learnPlatformGUID(ctx, l.Platform.ID, l.ToolPlatformGUID); err != nil {
		return err
	}
	uid := l.CustomValue("canvas_user_id")
	if uid == "" {
		return nil
	}
	return c.s.rememberUser(ctx, course.CanvasUser{PlatformID: l.Platform.ID, CanvasUserID: uid, Sub: l.Sub, Name: l.Name, Email: course.LaunchEmail(l)})
}

func (c courseSide) Settings(ctx context.Context, platformID int64) (string, bool, error) {
	p, err := c.s.platform(ctx, platformID)
	return p.CanvasURL, p.HasCanvasToken, err
}

// Modules lists the course's modules with the platform's Canvas API token.
func (c courseSide) Modules(ctx context.Context, platformID int64, canvasCourseID string) ([]course.Module, error) {
	p, err := c.s.platform(ctx, platformID)
	if err != nil {
		return nil, err
	}
	if p.CanvasURL == "" || p.CanvasToken == "" || canvasCourseID == "" {
		return nil, nil
	}
	client, err := newClient(p.CanvasURL, p.CanvasToken, c.s.client, c.s.rateLimitBackoff)
	if err != nil {
		return nil, err
	}
	mods, err := client.modules(ctx, canvasCourseID)
	if err != nil {
		return nil, err
	}
	out := make([]course.Module, len(mods))
	for i, m := range mods {
		out[i] = course.Module{ID: m.ID.String(), Name: m.Name}
	}
	return out, nil
}

func (c courseSide) UserIDs(ctx context.Context, platformID int64) (map[string]string, error) {
	const q = `SELECT sub, canvas_user_id FROM canvas_users WHERE platform_id = $1 AND sub <> ''`
	rows, err := c.s.db.QueryxContext(ctx, q, platformID)
	if err != nil {
		return nil, fmt.Errorf("canvas users of platform %d: %w", platformID, err)
	}
	defer rows.Close()
	subs := map[string]string{}
	for rows.Next() {
		var sub, id string
		if err := rows.Scan(&sub, &id); err != nil {
			return nil, fmt.Errorf("canvas users of platform %d: %w", platformID, err)
		}
		subs[sub] = id
	}
	return subs, rows.Err()
}

func (c courseSide) RememberUsers(ctx context.Context, users []course.CanvasUser) error {
	return c.s.rememberUsers(ctx, users)
}

func (courseSide) ExternalRef(platformID int64, canvasUserID string) string {
	return externalRef(platformID, canvasUserID)
}

func (c courseSide) RequeueUnmapped(ctx context.Context, tx *sqlx.Tx, platformID int64, canvasCourseID string) error {
	_, err := requeueUnmapped(ctx, tx, platformID, canvasCourseID, c.s.now())
	return err
}

func (c courseSide) Wake() { c.s.wake() }

// Checker is Canvas's part of the rule engine: give it to
// course.Service.AddChecker. It checks the Canvas rules (course completion,
// score, module) through the Canvas REST API.
func (s *Service) Checker() course.Checker { return checker{s} }

// checker implements course.Checker.
type checker struct{ s *Service }

func (checker) Rules() []course.CompletionRule {
	return []course.CompletionRule{course.RuleCanvasCompletion, course.RuleCanvasScore, course.RuleCanvasModule}
}

func (c checker) Check(ctx context.Context, mappingID int64, trigger course.Trigger) (course.Outcome, error) {
	res, err := c.s.reconcile(ctx, mappingID, trigger)
	out := course.Outcome{MappingID: mappingID, Checked: res.Checked, Completed: res.Completed, Skipped: res.Skipped}
	for _, cr := range res.Created {
		out.Created = append(out.Created, c.s.issuer.CredentialJSON(cr))
	}
	return out, err
}

func (c checker) LastCheck(ctx context.Context, mappingID int64) (*course.Check, error) {
	runs, err := c.s.lastRuns(ctx, []int64{mappingID})
	if err != nil {
		return nil, err
	}
	r, ok := runs[mappingID]
	if !ok {
		return nil, nil
	}
	return &course.Check{Trigger: r.Trigger, StartedAt: r.StartedAt, Checked: r.Checked, Created: r.Created, Error: r.Error}, nil
}

func (c checker) Explanations(ctx context.Context, m course.Mapping) ([]course.Explanation, error) {
	return c.s.explanations(ctx, m)
}

func (c checker) Configured(ctx context.Context, platformID int64) (bool, error) {
	p, err := c.s.platform(ctx, platformID)
	return p.CanvasURL != "" && p.HasCanvasToken, err
}

func (c checker) RuleLines(ctx context.Context, m course.Mapping) (map[string]string, error) {
	return c.s.ruleLines(ctx, m)
}
