package moodle

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"github.com/laurel-edu/laurel/internal/locale"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/text"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/lti/course"
)

// actorCheck names the Moodle completion check in the audit log.
const actorCheck = "moodle:completion-check"

// externalRef is the credential's tie to a Moodle user of a platform: the
// key that makes a second check a no-op.
func externalRef(platformID int64, userID string) string {
	return "moodle:" + strconv.FormatInt(platformID, 10) + ":" + userID
}

// checker implements course.Checker for rule moodle_completion.
type checker struct{ s *Service }

func (checker) Rules() []course.CompletionRule {
	return []course.CompletionRule{course.RuleMoodleCompletion}
}

func (c checker) Check(ctx context.Context, mappingID int64, trigger course.Trigger) (course.Outcome, error) {
	return c.s.check(ctx, mappingID, trigger)
}

func (c checker) LastCheck(ctx context.Context, mappingID int64) (*course.Check, error) {
	const q = `SELECT trigger, started_at, checked, created, error FROM moodle_checks
WHERE mapping_id = $1 ORDER BY started_at DESC, id DESC LIMIT 1`
	var r struct {
		Trigger   string    `db:"trigger"`
		StartedAt time.Time `db:"started_at"`
		Checked   int       `db:"checked"`
		Created   int       `db:"created"`
		Error     string    `db:"error"`
	}
	err := c.s.db.GetContext(ctx, &r, q, mappingID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("last moodle check of mapping %d: %w", mappingID, err)
	}
	return &course.Check{Trigger: course.Trigger(r.Trigger), StartedAt: r.StartedAt, Checked: r.Checked, Created: r.Created, Error: r.Error}, nil
}

func (c checker) Explanations(ctx context.Context, m course.Mapping) ([]course.Explanation, error) {
	const q = `SELECT moodle_user_id, name, completed, completed_at, state FROM moodle_rule_states
WHERE mapping_id = $1 ORDER BY lower(name), moodle_user_id LIMIT 5000`
	rows, err := c.s.db.QueryxContext(ctx, q, m.ID)
	if err != nil {
		return nil, fmt.Errorf("moodle explanations of mapping %d: %w", m.ID, err)
	}
	defer rows.Close()
	loc := c.s.issuer.Locale(ctx)
	var out []course.Explanation
	for rows.Next() {
		var id, name, state string
		var completed bool
		var at *time.Time
		if err := rows.Scan(&id, &name, &completed, &at, &state); err != nil {
			return nil, fmt.Errorf("moodle explanations of mapping %d: %w", m.ID, err)
		}
		out = append(out, course.Explanation{UserID: id, Name: name, Line: ruleLine(loc, completed, at, state)})
	}
	return out, rows.Err()
}

func (c checker) Configured(ctx context.Context, platformID int64) (bool, error) {
	st, err := c.s.settings.Settings(ctx, platformID)
	return st.URL != "" && st.HasToken, err
}

func (c checker) RuleLines(ctx context.Context, m course.Mapping) (map[string]string, error) {
	return c.s.ruleLines(ctx, m.ID)
}

// userState is what a check saw of one enrolled user.
type userState struct {
	userID      string
	name, email string
	tracked     bool
	completed   bool
	completedAt time.Time
	met, of     int
}

// check reads mapping id's course completions from Moodle and grants the
// completers their credential.
func (s *Service) check(ctx context.Context, id int64, trigger course.Trigger) (out course.Outcome, err error) {
	out.MappingID = id
	m, err := s.courses.Mapping(ctx, id)
	if err != nil {
		return out, err
	}
	if m.CompletionRule != course.RuleMoodleCompletion {
		return out, apperr.Errorf(apperr.Invalid, "Mapping %d issues on rule %s, not on Moodle course completion.", id, m.CompletionRule)
	}
	runID, err := s.startRun(ctx, id, trigger)
	if err != nil {
		return out, err
	}
	defer func() {
		if ferr := s.finishRun(context.WithoutCancel(ctx), runID, out, err); ferr != nil && err == nil {
			err = ferr
		}
	}()
	p, err := s.platforms.Platform(ctx, m.PlatformID)
	if err != nil {
		return out, err
	}
	st, err := s.settings.Settings(ctx, m.PlatformID)
	if err != nil {
		return out, err
	}
	if st.URL == "" || !st.HasToken {
		return out, apperr.Errorf(apperr.Invalid, "No Moodle web service is configured for platform %q: an owner gives it the Moodle URL and a web service token (Platforms › Edit › Moodle web service), so Laurel can read course completions.", p.Name)
	}
	tok, err := s.settings.Token(ctx, m.PlatformID)
	if err != nil {
		return out, err
	}
	client, err := newClient(st.URL, tok, s.client)
	if err != nil {
		return out, err
	}
	states, err := s.evaluate(ctx, client, m.ContextID)
	if err != nil {
		return out, err
	}
	out.Checked = len(states)
	var awards []course.Award
	for _, u := range states {
		if !u.completed {
			continue
		}
		out.Completed++
		if u.email == "" {
			out.Skipped = append(out.Skipped, fmt.Sprintf("Moodle user %s (%s): Moodle did not share the email (give the token's user moodle/course:useremail)", u.userID, u.name))
			continue
		}
		name := strings.TrimSpace(u.name)
		if name == "" {
			name = u.email
		}
		awards = append(awards, course.Award{UserID: u.userID, Ref: externalRef(m.PlatformID, u.userID), Name: name,
			Email: u.email, EarnedAt: u.completedAt, Why: "Moodle reports the course completed"})
	}
	if err := s.saveStates(ctx, id, states); err != nil {
		return out, err
	}
	// One Grant per chunk: the same few statements whatever its size, and
	// a short transaction.
	const chunk = 2000
	for start := 0; start < len(awards); start += chunk {
		part := awards[start:min(start+chunk, len(awards))]
		var created []issuance.Credential
		var skipped []string
		err := db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
			created, skipped = created[:0], skipped[:0]
			res, err := course.Grant(ctx, tx, s.issuer, actorCheck, issuance.FromReconciliation, m, part)
			if err != nil {
				return err
			}
			for i, o := range res {
				who := fmt.Sprintf("Moodle user %s (%s)", part[i].UserID, part[i].Name)
				switch {
				case o.Err != nil && apperr.Code(o.Err) == apperr.Internal:
					return fmt.Errorf("grant %s: %w", who, o.Err)
				case o.Err != nil:
					skipped = append(skipped, who+": "+text.Truncate(apperr.Message(o.Err), 300))
				case o.Created:
					created = append(created, o.Credential)
				}
			}
			return nil
		})
		if err != nil {
			return out, fmt.Errorf("check moodle mapping %d: %w", id, err)
		}
		for _, cr := range created {
			out.Created = append(out.Created, s.issuer.CredentialJSON(cr))
		}
		out.Skipped = append(out.Skipped, skipped...)
	}
	return out, nil
}

// evaluate reads the course's enrolled users (a page of 500 per request)
// and each one's course completion status (one request per user: Moodle
// has no bulk course completion function), s.concurrency at a time. The
// first refusal (token, function, capability) stops the rest and is
// returned, translated for people.
func (s *Service) evaluate(ctx context.Context, client *Client, courseID string) ([]userState, error) {
	if courseID == "" || !isDigits(courseID) {
		return nil, apperr.Errorf(apperr.Invalid, "Laurel does not know this course's Moodle course id: launch Laurel from the course once (Moodle sends it as the context id), or set the mapping's context_id.")
	}
	users, err := client.enrolledUsers(ctx, courseID)
	if err != nil {
		return nil, refusal(err, courseID)
	}
	states := make([]userState, len(users))
	errs := make([]error, len(users))
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, s.concurrency)
	var wg sync.WaitGroup
	for i, u := range users {
		states[i] = userState{userID: strconv.FormatInt(u.ID, 10), name: u.FullName, email: strings.TrimSpace(u.Email)}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if rctx.Err() != nil {
				errs[i] = rctx.Err()
				return
			}
			cs, err := client.courseCompletion(rctx, courseID, u.ID)
			var ce *callError
			if errors.As(err, &ce) && ce.ex.ErrorCode == "usernotenroled" {
				return // enrolled, but not a tracked (student) role
			}
			if err != nil {
				errs[i] = err
				cancel() // one refusal answers for all
				return
			}
			states[i].tracked = true
			states[i].completed = cs.CompletionStatus.Completed
			states[i].of = len(cs.CompletionStatus.Completions)
			for _, c := range cs.CompletionStatus.Completions {
				if c.Complete {
					states[i].met++
				}
			}
			if states[i].completed {
				states[i].completedAt = completedAt(cs, s.now())
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, err := range errs {
		if err == nil || errors.Is(err, context.Canceled) {
			continue
		}
		return nil, refusal(err, courseID)
	}
	tracked := 0
	for _, st := range states {
		if st.tracked {
			tracked++
		}
	}
	if tracked == 0 {
		// Moodle leaves out, without an error, the users whose profile
		// the token's user may not see: only the teachers remain.
		return nil, apperr.Errorf(apperr.Invalid, "Moodle listed no student in course %s (%d enrolled users, none tracked by course completion): if the course has students, give the token's user the capability moodle/user:viewdetails, and check that completion tracking is on in the course.", courseID, len(users))
	}
	return states, nil
}

// completedAt is when a completed course was completed. The web service
// gives a time per criterion, not for the course: with aggregation "all"
// (1) the course was complete when its last criterion was, with "any" (2)
// when its first was. now when Moodle gave no time.
func completedAt(cs completionStatus, now time.Time) time.Time {
	var first, last int64
	for _, c := range cs.CompletionStatus.Completions {
		if !c.Complete || c.TimeCompleted == nil || *c.TimeCompleted <= 0 {
			continue
		}
		t := *c.TimeCompleted
		if first == 0 || t < first {
			first = t
		}
		if t > last {
			last = t
		}
	}
	switch {
	case last == 0:
		return now
	case cs.CompletionStatus.Aggregation == 2:
		return time.Unix(first, 0).UTC()
	default:
		return time.Unix(last, 0).UTC()
	}
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// saveStates records what the check saw of each user, in one statement,
// replacing the previous check's.
func (s *Service) saveStates(ctx context.Context, mappingID int64, states []userState) error {
	n := len(states)
	ids, names, emails := make([]string, n), make([]string, n), make([]string, n)
	completed, ats, lines := make([]bool, n), make([]*time.Time, n), make([]string, n)
	for i, u := range states {
		ids[i], names[i], emails[i], completed[i] = u.userID, u.name, u.email, u.completed
		if u.completed {
			at := u.completedAt
			ats[i] = &at
		}
		switch {
		case !u.tracked:
			lines[i] = "untracked"
		case u.completed && u.email == "":
			lines[i] = "noemail"
		default:
			lines[i] = strconv.Itoa(u.met) + "/" + strconv.Itoa(u.of)
		}
	}
	const q = `
WITH gone AS (DELETE FROM moodle_rule_states WHERE mapping_id = $1 AND NOT (moodle_user_id = ANY($2)))
INSERT INTO moodle_rule_states AS r (mapping_id, moodle_user_id, name, email, completed, completed_at, state, checked_at)
SELECT $1, u.id, u.name, u.email, u.completed, u.at, u.state, $6
FROM unnest($2::text[], $3::bool[], $4::timestamptz[], $5::text[], $7::text[], $8::text[]) AS u(id, completed, at, state, name, email)
ON CONFLICT (mapping_id, moodle_user_id) DO UPDATE SET
    name = EXCLUDED.name, email = EXCLUDED.email, completed = EXCLUDED.completed, completed_at = EXCLUDED.completed_at, state = EXCLUDED.state,
    checked_at = EXCLUDED.checked_at`
	if _, err := s.db.ExecContext(ctx, q, mappingID, pq.Array(ids), pq.Array(completed), pq.Array(ats), pq.Array(lines), s.now(), pq.Array(names), pq.Array(emails)); err != nil {
		return fmt.Errorf("save %d moodle states of mapping %d: %w", n, mappingID, err)
	}
	return nil
}

// ruleLines explains, per Moodle user id, where each enrolled user stood at
// the last check ("why (not) awarded").
func (s *Service) ruleLines(ctx context.Context, mappingID int64) (map[string]string, error) {
	const q = `SELECT moodle_user_id, completed, completed_at, state FROM moodle_rule_states WHERE mapping_id = $1`
	rows, err := s.db.QueryxContext(ctx, q, mappingID)
	if err != nil {
		return nil, fmt.Errorf("moodle states of mapping %d: %w", mappingID, err)
	}
	defer rows.Close()
	loc := s.issuer.Locale(ctx)
	out := map[string]string{}
	for rows.Next() {
		var id, state string
		var completed bool
		var at *time.Time
		if err := rows.Scan(&id, &completed, &at, &state); err != nil {
			return nil, fmt.Errorf("moodle states of mapping %d: %w", mappingID, err)
		}
		out[id] = ruleLine(loc, completed, at, state)
	}
	return out, rows.Err()
}

func ruleLine(loc locale.Locale, completed bool, at *time.Time, state string) string {
	day := func(t *time.Time) string { return loc.DayOf(*t) }
	switch {
	case state == "untracked":
		return "Not tracked by the course's completion in Moodle (not a student)."
	case completed && state == "noemail" && at != nil:
		return "Course completed on " + day(at) + ", but Moodle did not share the email, so no credential was made."
	case completed && at != nil:
		return "Course completed on " + day(at) + "."
	}
	met, of, _ := strings.Cut(state, "/")
	if of != "" && of != "0" {
		return "Not completed yet: " + met + " of " + of + " completion criteria met."
	}
	return "Not completed yet."
}

func (s *Service) startRun(ctx context.Context, mappingID int64, trigger course.Trigger) (int64, error) {
	const q = `INSERT INTO moodle_checks (mapping_id, trigger, started_at) VALUES ($1, $2, $3) RETURNING id`
	var id int64
	if err := s.db.GetContext(ctx, &id, q, mappingID, string(trigger), s.now()); err != nil {
		return 0, fmt.Errorf("start moodle check of mapping %d: %w", mappingID, err)
	}
	return id, nil
}

func (s *Service) finishRun(ctx context.Context, runID int64, out course.Outcome, cause error) error {
	const q = `UPDATE moodle_checks SET finished_at = $2, checked = $3, created = $4, error = $5 WHERE id = $1`
	msg := ""
	if cause != nil {
		msg = apperr.Message(cause)
	}
	if _, err := s.db.ExecContext(ctx, q, runID, s.now(), out.Checked, len(out.Created), msg); err != nil {
		return fmt.Errorf("finish moodle check %d: %w", runID, err)
	}
	return nil
}
