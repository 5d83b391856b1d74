package canvas

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/lti/course"
)

//go:embed templates/*.html
var templatesFS embed.FS

// Templates are this package's pages (all named canvas_*.html), to pass to
// web.NewRenderer.
var Templates = web.TemplateDir(templatesFS)

// eventRecord is one inbox row as the admin page shows it.
type eventRecord struct {
	ID           int64          `db:"id"`
	EventName    string         `db:"event_name"`
	Hostname     string         `db:"hostname"`
	CourseID     string         `db:"canvas_course_id"`
	UserID       string         `db:"canvas_user_id"`
	State        string         `db:"state"`
	Reason       string         `db:"reason"`
	Attempts     int            `db:"attempts"`
	Signed       bool           `db:"signed"`
	PlatformID   sql.NullInt64  `db:"platform_id"`
	MappingID    sql.NullInt64  `db:"mapping_id"`
	CredentialID sql.NullString `db:"credential_id"`
	ReceivedAt   time.Time      `db:"received_at"`
	ProcessedAt  sql.NullTime   `db:"processed_at"`
}

// reconcileRun is one reconciliation of one course.
type reconcileRun struct {
	ID         int64        `db:"id"`
	MappingID  int64        `db:"mapping_id"`
	Trigger    Trigger      `db:"trigger"`
	StartedAt  time.Time    `db:"started_at"`
	FinishedAt sql.NullTime `db:"finished_at"`
	Checked    int          `db:"checked"`
	Created    int          `db:"created"`
	Error      string       `db:"error"`
}

// eventCounts counts inbox rows per state.
type eventCounts map[string]int

// inGroups is the condition that limits inbox rows (canvas_events e) to a
// team member's groups, bound by groupScope ($1–$4): the event's
// mapping, or while it has none yet, a mapping of its course on its
// platform, maps into one of them. An event whose platform is not known yet
// (not processed) belongs to no group.
const inGroups = `($1::boolean IS NULL OR e.mapping_id = ANY($2::bigint[])
    OR (e.mapping_id IS NULL AND (e.platform_id, e.canvas_course_id) IN (SELECT * FROM unnest($3::bigint[], $4::text[]))))`

// groupScope binds inGroups for groups (nil: every group): the mappings into
// those groups, which package course keeps.
func (s *Service) groupScope(ctx context.Context, groups []int64) ([]any, error) {
	if groups == nil {
		return []any{nil, nil, nil, nil}, nil
	}
	ms, err := s.courses.ListMappings(ctx, course.MappingFilter{Groups: groups})
	if err != nil {
		return nil, err
	}
	ids, pids := make([]int64, 0, len(ms)), []int64{}
	courses := []string{}
	for _, m := range ms {
		ids = append(ids, m.ID)
		if m.CanvasCourseID != "" {
			pids, courses = append(pids, m.PlatformID), append(courses, m.CanvasCourseID)
		}
	}
	return []any{true, pq.Array(ids), pq.Array(pids), pq.Array(courses)}, nil
}

// recentEvents returns the newest inbox rows, optionally of one state;
// groups (nil: all) limits them to events of courses mapped into those
// groups.
func (s *Service) recentEvents(ctx context.Context, state string, groups []int64, limit int) ([]eventRecord, error) {
	const q = `
SELECT id, event_name, hostname, canvas_course_id, canvas_user_id, state, reason, attempts, signed,
       platform_id, mapping_id, credential_id, received_at, processed_at
FROM canvas_events e
WHERE ($5 = '' OR state = $5) AND ` + inGroups + `
ORDER BY received_at DESC, id DESC
LIMIT $6`
	scope, err := s.groupScope(ctx, groups)
	if err != nil {
		return nil, fmt.Errorf("recent events %q of groups %v: %w", state, groups, err)
	}
	out := []eventRecord{}
	if err := s.db.SelectContext(ctx, &out, q, append(scope, state, limit)...); err != nil {
		return nil, fmt.Errorf("recent events %q of groups %v: %w", state, groups, err)
	}
	return out, nil
}

// countEvents counts inbox rows per state, limited to groups like
// recentEvents.
func (s *Service) countEvents(ctx context.Context, groups []int64) (eventCounts, error) {
	const q = `SELECT state, count(*) FROM canvas_events e WHERE ` + inGroups + ` GROUP BY state`
	scope, err := s.groupScope(ctx, groups)
	if err != nil {
		return nil, fmt.Errorf("count events: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, q, scope...)
	if err != nil {
		return nil, fmt.Errorf("count events: %w", err)
	}
	defer rows.Close()
	out := eventCounts{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("count events: %w", err)
		}
		out[st] = n
	}
	return out, rows.Err()
}

// lastRuns returns the newest reconciliation of each mapping.
func (s *Service) lastRuns(ctx context.Context, mappingIDs []int64) (map[int64]reconcileRun, error) {
	const q = `
SELECT DISTINCT ON (mapping_id) id, mapping_id, trigger, started_at, finished_at, checked, created, error
FROM canvas_reconciliations
WHERE $1::bigint[] IS NULL OR mapping_id = ANY($1)
ORDER BY mapping_id, id DESC`
	var ids any
	if mappingIDs != nil {
		ids = pq.Array(mappingIDs)
	}
	var rows []reconcileRun
	if err := s.db.SelectContext(ctx, &rows, q, ids); err != nil {
		return nil, fmt.Errorf("last reconciliations: %w", err)
	}
	out := make(map[int64]reconcileRun, len(rows))
	for _, r := range rows {
		out[r.MappingID] = r
	}
	return out, nil
}

type adminPage struct {
	Platforms []platformRow
	CanManage bool
	// Limited: a team member limited to some groups sees only their
	// courses' events and mappings (no platforms, no unmapped courses).
	Limited    bool
	Counts     eventCounts
	Events     []eventRecord
	Unmapped   []eventRecord
	Courses    []courseRow
	State      string
	States     []string
	JWKSURL    string
	WebhookURL string
	// PublishWaits: the organisation is not named yet, so completions of
	// auto-publishing mappings stay unpublished until an owner names it.
	PublishWaits bool
	SetupURL     string
}

type platformRow struct {
	Platform
	HasSecret bool
}

type courseRow struct {
	Mapping course.Mapping
	LastRun *course.Check
	// Why is each person's line against the rule at the last check.
	Why []course.Explanation
	// Platform and Group name the mapping's platform and group; Rule is its
	// completion rule in words.
	Platform, Group, Rule string
}

// ruleLabel is a completion rule as the admin page names it.
func ruleLabel(r course.CompletionRule) string {
	switch r {
	case course.RuleCanvasCompletion:
		return "Issued when Canvas reports the course completed"
	case course.RuleCanvasScore:
		return "Issued when the course score reaches the threshold"
	case course.RuleCanvasModule:
		return "Issued when the student completes a module"
	case course.RuleMoodleCompletion:
		return "Issued when Moodle reports the course completed"
	case course.RuleManual:
		return "Issued by staff"
	}
	return string(r)
}

// RegisterAdmin mounts GET /admin/events on r (behind the staff session
// middleware): recent Live Events with their outcome, completions in
// unmapped courses, and each mapped course's last reconciliation. rd must
// include Templates.
func (s *Service) RegisterAdmin(r gin.IRouter, rd *web.Renderer) {
	if s.views == nil {
		s.views = rd
	}
	r.GET("/admin/events", rd.Page(s.adminEvents))
	r.POST("/admin/canvas/platforms/:id/webhook-secret", rd.Page(s.adminSetSecret))
}

// adminSetSecret sets or clears a platform's webhook shared secret (owners
// only: it lets unsigned events in).
func (s *Service) adminSetSecret(c *gin.Context) error {
	p := auth.Current(c)
	if err := p.Require(auth.ManageStaff); err != nil {
		return err
	}
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return apperr.Errorf(apperr.NotFound, "No platform %q.", c.Param("id"))
	}
	if _, err := s.platform(c.Request.Context(), id); err != nil {
		return err
	}
	value := strings.TrimSpace(c.PostForm("secret"))
	if c.PostForm("clear") == "1" {
		value = ""
	} else if value == "" {
		return apperr.Errorf(apperr.Invalid, "Enter a shared secret (at least 16 characters), or clear it.")
	}
	if err := s.setWebhookSecret(c.Request.Context(), id, value); err != nil {
		return err
	}
	s.platformsSeen.Invalidate()
	msg := "The webhook shared secret of platform " + strconv.FormatInt(id, 10) + " is set: unsigned events carrying it are accepted."
	if value == "" {
		msg = "The webhook shared secret of platform " + strconv.FormatInt(id, 10) + " is cleared: only signed events are accepted."
	}
	auth.SetFlash(c, msg)
	c.Redirect(http.StatusSeeOther, "/admin/events")
	return nil
}

func (s *Service) adminEvents(c *gin.Context) error {
	p := auth.Current(c)
	// docs/roles.md: owners and admins see every event; a team member only
	// those of their groups; viewers none.
	if err := p.Require(auth.MapCourses); err != nil {
		return err
	}
	ctx := c.Request.Context()
	page := adminPage{State: c.Query("state"), States: []string{"received", "processed", "ignored", "unmapped", "failed"},
		WebhookURL: s.baseURL + "/webhooks/canvas"}
	if s.jwks != nil {
		page.JWKSURL = s.jwks.url
	}
	valid := page.State == ""
	for _, st := range page.States {
		valid = valid || st == page.State
	}
	if !valid {
		page.State = ""
	}
	page.CanManage = p.Can(auth.ManageStaff)
	switch err := s.issuer.PublishAllowed(ctx); {
	case apperr.Reason(err) == issuance.ReasonOrganisationNotSet:
		page.PublishWaits, page.SetupURL = true, issuance.OrganisationSetupURL
	case err != nil:
		return err
	}
	// Only owners and admins hold every group; a team member's Groups (nil:
	// not limited) bound what the page shows.
	var groups []int64
	if p.Role != auth.Owner && p.Role != auth.Admin && p.Groups != nil {
		groups = p.Groups
	}
	page.Limited = groups != nil
	var err error
	if !page.Limited {
		plats, err := s.platformList(ctx)
		if err != nil {
			return err
		}
		for _, pl := range plats {
			sec, err := s.webhookSecret(ctx, pl.ID)
			if err != nil {
				return err
			}
			page.Platforms = append(page.Platforms, platformRow{Platform: pl, HasSecret: sec != ""})
		}
		if page.Unmapped, err = s.recentEvents(ctx, "unmapped", nil, 50); err != nil {
			return err
		}
	}
	if page.Counts, err = s.countEvents(ctx, groups); err != nil {
		return err
	}
	if page.Events, err = s.recentEvents(ctx, page.State, groups, 100); err != nil {
		return err
	}
	mappings, err := s.courses.ListMappings(ctx, course.MappingFilter{Groups: groups})
	if err != nil {
		return err
	}
	platformNames := map[int64]string{}
	for _, pl := range page.Platforms {
		platformNames[pl.ID] = pl.Name
	}
	groupNames := map[int64]string{}
	for _, m := range mappings {
		row := courseRow{Mapping: m, Platform: platformNames[m.PlatformID], Rule: ruleLabel(m.CompletionRule)}
		if _, ok := groupNames[m.GroupID]; !ok {
			g, err := s.issuer.Group(ctx, m.GroupID)
			if err != nil {
				return err
			}
			groupNames[m.GroupID] = g.Name
		}
		row.Group = groupNames[m.GroupID]
		// The rule engine's view, for every platform's rules.
		if row.LastRun, row.Why, err = s.courses.Explain(ctx, m); err != nil {
			return err
		}
		page.Courses = append(page.Courses, row)
	}
	return s.views.Render(c, http.StatusOK, "canvas_admin_events.html", page)
}
