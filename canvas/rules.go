package canvas

// The rules a Canvas mapping issues on, decided in one place: evaluate says,
// for a checked course, which students earned the credential and when.
// Course completion reads bulk_user_progress; a score rule reads the
// students' posted course scores from their enrollments (a page of 100 per
// request); a module rule asks for each student's state in the module (Canvas
// has no bulk module state), moduleConcurrency at a time. What a score or
// module check saw is kept per student in canvas_rule_states: the roster's
// "why (not) awarded" line, and the day a score rule was first met.

import (
	"context"
	"errors"
	"fmt"
	"github.com/laurel-edu/laurel/internal/locale"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/lti/course"
)

// moduleConcurrency bounds the module-state requests in flight per course:
// enough for a 10,000-student course within minutes, few enough that
// Canvas's per-token rate limit (a leaky bucket) is not drained.
const moduleConcurrency = 8

// earning is one student who earned a mapping's credential, and when.
type earning struct {
	userID, name string
	at           time.Time
}

// evaluation is what checking one mapping's rule found.
type evaluation struct {
	checked int
	earned  []earning
	// students is the course's student list with emails, when the rule
	// needed it anyway (module rule); nil otherwise.
	students []courseUser
}

// ruleState is what a score or module check saw of one student.
type ruleState struct {
	userID      string
	met         bool
	score       *float64
	moduleState string
	// metAt is when Canvas says the rule was met (a course's completed_at);
	// nil: the check that first saw it met dates it.
	metAt *time.Time
}

// evaluate decides who earned mapping m's credential and when.
func (s *Service) evaluate(ctx context.Context, client *Client, m course.Mapping) (evaluation, error) {
	switch m.CompletionRule {
	case course.RuleCanvasScore:
		return s.evaluateScore(ctx, client, m)
	case course.RuleCanvasModule:
		return s.evaluateModule(ctx, client, m)
	}
	var ev evaluation
	progress, err := client.bulkUserProgress(ctx, m.CanvasCourseID)
	if err != nil {
		return ev, err
	}
	ev.checked = len(progress)
	states := make([]ruleState, 0, len(progress))
	for _, u := range progress {
		if u.ID.String() == "" {
			continue
		}
		// Every student's state is kept for the "why (not) awarded" line.
		states = append(states, ruleState{userID: u.ID.String(), met: u.Progress.CompletedAt != nil, metAt: u.Progress.CompletedAt})
		if u.Progress.CompletedAt != nil {
			ev.earned = append(ev.earned, earning{u.ID.String(), cmpOr(u.Name, u.DisplayName), *u.Progress.CompletedAt})
		}
	}
	if _, err := s.saveRuleStates(ctx, m.ID, states); err != nil {
		return ev, err
	}
	return ev, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// evaluateScore: "at least MinScore" on the posted current or final score.
// A score below the threshold after the credential was made revokes
// nothing; the roster shows it.
func (s *Service) evaluateScore(ctx context.Context, client *Client, m course.Mapping) (evaluation, error) {
	var ev evaluation
	if m.MinScore == nil {
		return ev, apperr.Errorf(apperr.Invalid, "Mapping %d has rule canvas_score without min_score.", m.ID)
	}
	enr, err := client.studentEnrollments(ctx, m.CanvasCourseID)
	if err != nil {
		return ev, err
	}
	// A student in two sections has two enrollments: the best score counts.
	byUser := map[string]ruleState{}
	names := map[string]string{}
	var order []string
	for _, e := range enr {
		id := e.UserID.String()
		if id == "" {
			continue
		}
		score := e.Grades.FinalScore
		if m.ScoreKind == course.ScoreCurrent {
			score = e.Grades.CurrentScore
		}
		st, seen := byUser[id]
		if !seen {
			order = append(order, id)
			st.userID = id
			names[id] = e.User.Name
		}
		if score != nil && (st.score == nil || *score > *st.score) {
			v := *score
			st.score = &v
		}
		st.met = st.score != nil && *st.score >= *m.MinScore
		byUser[id] = st
	}
	states := make([]ruleState, 0, len(order))
	for _, id := range order {
		states = append(states, byUser[id])
	}
	ev.checked = len(states)
	firstMet, err := s.saveRuleStates(ctx, m.ID, states)
	if err != nil {
		return ev, err
	}
	for _, st := range states {
		if st.met {
			ev.earned = append(ev.earned, earning{st.userID, names[st.userID], firstMet[st.userID]})
		}
	}
	return ev, nil
}

// evaluateModule: module ModuleID completed, dated by Canvas's completed_at.
func (s *Service) evaluateModule(ctx context.Context, client *Client, m course.Mapping) (evaluation, error) {
	var ev evaluation
	students, err := client.courseStudents(ctx, m.CanvasCourseID)
	if err != nil {
		return ev, err
	}
	ev.students, ev.checked = students, len(students)
	progress := make([]moduleProgress, len(students))
	errs := make([]error, len(students))
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, moduleConcurrency)
	var wg sync.WaitGroup
	for i, st := range students {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if rctx.Err() != nil {
				errs[i] = rctx.Err()
				return
			}
			progress[i], errs[i] = client.studentModule(rctx, m.CanvasCourseID, m.ModuleID, st.ID.String())
			if errs[i] != nil {
				cancel() // one refusal (token, unknown module) answers for all
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return ev, err
	}
	for _, err := range errs {
		if err == nil || errors.Is(err, context.Canceled) {
			continue // cancelled by the refusal returned here
		}
		if strings.Contains(apperr.Message(err), "(404)") {
			return ev, apperr.Errorf(apperr.Invalid, "Canvas has no module %s in course %s (404): check the mapping's module_id.", m.ModuleID, m.CanvasCourseID)
		}
		return ev, err
	}
	states := make([]ruleState, len(students))
	for i, st := range students {
		p := progress[i]
		done := p.State == "completed" && p.CompletedAt != nil
		states[i] = ruleState{userID: st.ID.String(), met: done, moduleState: p.State}
		if done {
			ev.earned = append(ev.earned, earning{st.ID.String(), st.Name, *p.CompletedAt})
		}
	}
	if _, err := s.saveRuleStates(ctx, m.ID, states); err != nil {
		return ev, err
	}
	return ev, nil
}

// saveRuleStates records what a check saw, in one statement, and returns
// when each student first met the rule (kept across later checks, also when
// the score drops again).
func (s *Service) saveRuleStates(ctx context.Context, mappingID int64, states []ruleState) (map[string]time.Time, error) {
	if len(states) == 0 {
		return map[string]time.Time{}, nil
	}
	ids := make([]string, len(states))
	met := make([]bool, len(states))
	scores := make([]*string, len(states))
	mods := make([]string, len(states))
	metAt := make([]*time.Time, len(states))
	for i, st := range states {
		ids[i], met[i], mods[i], metAt[i] = st.userID, st.met, st.moduleState, st.metAt
		if st.score != nil {
			v := strconv.FormatFloat(*st.score, 'f', 2, 64)
			scores[i] = &v
		}
	}
	const q = `
INSERT INTO canvas_rule_states AS r (mapping_id, canvas_user_id, met, score, module_state, first_met_at, checked_at)
SELECT $1, u.id, u.met, u.score::numeric, u.module_state, CASE WHEN u.met THEN COALESCE(u.met_at, $6::timestamptz) END, $6
FROM unnest($2::text[], $3::bool[], $4::text[], $5::text[], $7::timestamptz[]) AS u(id, met, score, module_state, met_at)
ON CONFLICT (mapping_id, canvas_user_id) DO UPDATE SET
    met = EXCLUDED.met, score = EXCLUDED.score, module_state = EXCLUDED.module_state,
    first_met_at = COALESCE(r.first_met_at, EXCLUDED.first_met_at), checked_at = EXCLUDED.checked_at
RETURNING canvas_user_id, first_met_at`
	rows, err := s.db.QueryxContext(ctx, q, mappingID, pq.Array(ids), pq.Array(met), pq.Array(scores), pq.Array(mods), s.now(), pq.Array(metAt))
	if err != nil {
		return nil, fmt.Errorf("save %d rule states of mapping %d: %w", len(states), mappingID, err)
	}
	defer rows.Close()
	out := make(map[string]time.Time, len(states))
	for rows.Next() {
		var id string
		var at *time.Time
		if err := rows.Scan(&id, &at); err != nil {
			return nil, fmt.Errorf("save rule states of mapping %d: %w", mappingID, err)
		}
		if at != nil {
			out[id] = *at
		}
	}
	return out, rows.Err()
}

// ruleLines explains, per Canvas user id, where each checked student stands
// against mapping m's rule ("why (not) awarded"), for the LMS roster.
func (s *Service) ruleLines(ctx context.Context, m course.Mapping) (map[string]string, error) {
	ex, err := s.explain(ctx, m, nil)
	if err != nil || ex == nil {
		return nil, err
	}
	out := make(map[string]string, len(ex))
	for _, e := range ex {
		out[e.UserID] = e.Line
	}
	return out, nil
}

// explanations are the same lines with the students' names (those Laurel
// knows from launches and rosters), for staff: the first 5,000 by name.
func (s *Service) explanations(ctx context.Context, m course.Mapping) ([]course.Explanation, error) {
	limit := 5000
	return s.explain(ctx, m, &limit)
}

// explain reads what the last checks saw of mapping m's students, by name,
// at most limit of them (nil: all), as why lines.
func (s *Service) explain(ctx context.Context, m course.Mapping, limit *int) ([]course.Explanation, error) {
	if !checkedRule(m.CompletionRule) {
		return nil, nil
	}
	loc := s.issuer.Locale(ctx)
	const q = `SELECT r.canvas_user_id, COALESCE(u.name, ''), r.met, r.score::float8, r.module_state, r.first_met_at
FROM canvas_rule_states r
LEFT JOIN canvas_users u ON u.platform_id = $2 AND u.canvas_user_id = r.canvas_user_id
WHERE r.mapping_id = $1
ORDER BY lower(COALESCE(u.name, '')), r.canvas_user_id
LIMIT $3`
	rows, err := s.db.QueryxContext(ctx, q, m.ID, m.PlatformID, limit)
	if err != nil {
		return nil, fmt.Errorf("explanations of mapping %d: %w", m.ID, err)
	}
	defer rows.Close()
	out := []course.Explanation{}
	for rows.Next() {
		var id, name, mod string
		var met bool
		var score *float64
		var first *time.Time
		if err := rows.Scan(&id, &name, &met, &score, &mod, &first); err != nil {
			return nil, fmt.Errorf("explanations of mapping %d: %w", m.ID, err)
		}
		out = append(out, course.Explanation{UserID: id, Name: name, Line: ruleLine(loc, m, met, score, mod, first)})
	}
	return out, rows.Err()
}

// checkedRule reports whether the checks keep each student's state against
// rule r (every Canvas rule).
func checkedRule(r course.CompletionRule) bool {
	return r == course.RuleCanvasCompletion || r == course.RuleCanvasScore || r == course.RuleCanvasModule
}

func ruleLine(loc locale.Locale, m course.Mapping, met bool, score *float64, mod string, first *time.Time) string {
	day := func(t *time.Time) string { return loc.DayOf(*t) }
	if m.CompletionRule == course.RuleCanvasCompletion {
		if met && first != nil {
			return "Course completed on " + day(first) + " (Canvas)."
		}
		return "Course not completed yet, as Canvas reported at the last check."
	}
	if m.CompletionRule == course.RuleCanvasModule {
		switch {
		case met && first != nil:
			return "Module completed (seen " + day(first) + ")."
		case mod == "":
			return "Module not started."
		default:
			return "Module " + mod + ", not completed yet."
		}
	}
	need := pct(*m.MinScore)
	if score == nil {
		return "No posted " + m.ScoreKind + " score yet (needs " + need + ")."
	}
	switch {
	case met:
		return capitalizeFirst(m.ScoreKind) + " score " + pct(*score) + ", at least " + need + ": met since " + day(first) + "."
	case first != nil:
		return capitalizeFirst(m.ScoreKind) + " score " + pct(*score) + ", below " + need + " now; it was met on " + day(first) + ", so the credential stays (nothing is revoked automatically)."
	default:
		return capitalizeFirst(m.ScoreKind) + " score " + pct(*score) + ", below " + need + "."
	}
}

func pct(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) + "%" }

func capitalizeFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
