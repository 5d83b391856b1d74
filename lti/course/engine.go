package course

// The one rule engine. Every rule a mapping issues on (Canvas Live Events
// and API rules in package canvas, Moodle course completion in package
// moodle) ends in the same decision, an Award ("this person earned it at
// this time, because ..."), and every Award becomes a credential through
// Grant, the one path to the issuance core. Checks of a mapping go through
// Reconcile, which picks the Checker of its rule; the one schedule
// (ReconcileKind) runs ReconcileAll for every platform.

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/issuance"
)

// Award is one person who earned a mapping's credential: the decision every
// rule makes, whatever the platform.
type Award struct {
	// UserID is the platform's own id of the person (Canvas user id,
	// Moodle user id).
	UserID string
	// Ref is the credential's external reference, unique per platform and
	// person ("canvas:<platform>:<id>", "moodle:<platform>:<id>"): a second
	// award of the same person creates nothing.
	Ref         string
	Name, Email string
	// EarnedAt is when the rule was met; its calendar date in Zone (UTC
	// when empty or unknown) is the credential's issue date.
	EarnedAt time.Time
	Zone     string
	// Why says what met the rule, for people ("Course completed", ...).
	Why string
}

// Ensurer is the issuance core's idempotent create (issuance.Service).
type Ensurer interface {
	EnsureCredentials(ctx context.Context, tx *sqlx.Tx, actor string, groupID int64, src issuance.Source, items []issuance.NewCredential, publish bool) ([]issuance.Ensured, error)
}

// Grant turns awards for mapping m into credentials, in tx, with one call to
// the core (a constant number of statements however many awards): the one
// path every rule's credentials take. The outcomes are the core's, one per
// award; a second grant of an award returns the credential it made before.
func Grant(ctx context.Context, tx *sqlx.Tx, core Ensurer, actor string, src issuance.Source, m Mapping, awards []Award) ([]issuance.Ensured, error) {
	if len(awards) == 0 {
		return nil, nil
	}
	items := make([]issuance.NewCredential, len(awards))
	for i, a := range awards {
		items[i] = issuance.NewCredential{
			Recipient:   issuance.Recipient{Name: a.Name, Email: a.Email},
			IssuedOn:    IssueDate(a.EarnedAt, a.Zone).Format(issuance.DateLayout),
			ExternalRef: a.Ref,
		}
	}
	out, err := core.EnsureCredentials(ctx, tx, actor, m.GroupID, src, items, m.AutoPublish)
	if err != nil {
		return nil, fmt.Errorf("grant %d awards of mapping %d: %w", len(awards), m.ID, err)
	}
	return out, nil
}

var zones sync.Map // name → *time.Location

// IssueDate is the calendar date of t in zone (the course's, when the
// platform reports one), so a late-evening completion is not dated the
// next day; UTC when the zone is empty or unknown.
func IssueDate(t time.Time, zone string) time.Time {
	loc := time.UTC
	if zone != "" {
		if v, ok := zones.Load(zone); ok {
			loc = v.(*time.Location)
		} else if l, err := time.LoadLocation(zone); err == nil {
			zones.Store(zone, l)
			loc = l
		}
	}
	y, mo, d := t.In(loc).Date()
	return time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
}

// Trigger says what started a check (shown with the last check).
type Trigger string

// Check triggers.
const (
	TriggerSchedule Trigger = "schedule"
	TriggerAPI      Trigger = "api"
	TriggerButton   Trigger = "button"
	TriggerManual   Trigger = "manual" // `laurel reconcile`
)

// Label is a trigger as pages name it.
func (t Trigger) Label() string {
	switch t {
	case TriggerSchedule:
		return "scheduled"
	case TriggerAPI:
		return "through the API"
	case TriggerButton:
		return "Check completions now"
	case TriggerManual:
		return "from the command line"
	}
	return string(t)
}

// Outcome is what one check of one mapping did.
type Outcome struct {
	MappingID int64
	// Checked is how many people the platform reported.
	Checked int
	// Completed is how many of them met the rule.
	Completed int
	// Created are the credentials this check made (in the API's shape).
	Created []issuance.CredentialJSON
	// Skipped names people who met the rule but got no credential, and why.
	Skipped []string
}

// Checker checks the mappings of its rules against their platform, deciding
// Awards and granting them (package canvas for the Canvas rules, package
// moodle for Moodle course completion); the app adds each with AddChecker.
type Checker interface {
	// Rules are the completion rules it checks.
	Rules() []CompletionRule
	// Check asks the platform about mapping id now and grants the awards.
	// Errors other than apperr.Internal say why it cannot be checked.
	Check(ctx context.Context, mappingID int64, trigger Trigger) (Outcome, error)
	// LastCheck returns the mapping's newest check (nil: none yet).
	LastCheck(ctx context.Context, mappingID int64) (*Check, error)
	// RuleLines explains, per platform user id, where each person stood
	// at the last check ("why (not) awarded"); nil when the rule keeps
	// no per-person state.
	RuleLines(ctx context.Context, m Mapping) (map[string]string, error)
	// Explanations are RuleLines with each person's name, for staff
	// (/admin/events), in name order.
	Explanations(ctx context.Context, m Mapping) ([]Explanation, error)
	// Configured tells whether the platform has what checks need (an API
	// URL and token).
	Configured(ctx context.Context, platformID int64) (bool, error)
}

// Explanation is one person's "why (not) awarded" line.
type Explanation struct {
	UserID, Name, Line string
}

// Explain returns mapping m's last check and, per person, where they stood
// against its rule: what staff see on /admin/events. Both are empty when
// no Checker checks the rule (manual).
func (s *Service) Explain(ctx context.Context, m Mapping) (*Check, []Explanation, error) {
	c := s.checker(m.CompletionRule)
	if c == nil {
		return nil, nil, nil
	}
	last, err := c.LastCheck(ctx, m.ID)
	if err != nil {
		return nil, nil, err
	}
	lines, err := c.Explanations(ctx, m)
	return last, lines, err
}

// AddChecker routes the checks of c's rules to c. Call it before serving.
func (s *Service) AddChecker(c Checker) {
	s.checkersMu.Lock()
	defer s.checkersMu.Unlock()
	if s.checkers == nil {
		s.checkers = map[CompletionRule]Checker{}
	}
	for _, r := range c.Rules() {
		s.checkers[r] = c
	}
}

// checker returns the Checker of rule, or nil.
func (s *Service) checker(rule CompletionRule) Checker {
	s.checkersMu.RLock()
	defer s.checkersMu.RUnlock()
	return s.checkers[rule]
}

// checkedRules are the rules some Checker checks.
func (s *Service) checkedRules() []CompletionRule {
	s.checkersMu.RLock()
	defer s.checkersMu.RUnlock()
	out := make([]CompletionRule, 0, len(s.checkers))
	for r := range s.checkers {
		out = append(out, r)
	}
	return out
}

// Reconcile checks mapping id against its platform now, through its rule's
// Checker. Errors: apperr.NotFound; apperr.Invalid when the mapping cannot
// be checked (manual, no web service token, ...).
func (s *Service) Reconcile(ctx context.Context, id int64, trigger Trigger) (Outcome, error) {
	m, err := s.Mapping(ctx, id)
	if err != nil {
		return Outcome{MappingID: id}, err
	}
	if !m.CompletionRule.Checked() {
		return Outcome{MappingID: id}, apperr.Errorf(apperr.Invalid, "This course is mapped for manual issuing only: completions do not issue credentials, so there is nothing to check.")
	}
	c := s.checker(m.CompletionRule)
	if c == nil {
		return Outcome{MappingID: id}, apperr.Errorf(apperr.Invalid, "Completions are not checked for this course: this installation does not check rule %s.", m.CompletionRule)
	}
	out, err := c.Check(ctx, id, trigger)
	out.MappingID = id
	return out, err
}

// MappingOutcome is one mapping's result in ReconcileAll.
type MappingOutcome struct {
	Outcome
	Err error
}

// ReconcileAll checks every mapping whose rule a Checker checks, in id
// order; one mapping's failure does not stop the others.
func (s *Service) ReconcileAll(ctx context.Context, trigger Trigger) ([]MappingOutcome, error) {
	rules := s.checkedRules()
	if len(rules) == 0 {
		return nil, nil
	}
	ids, err := s.MappingIDs(ctx, rules...)
	if err != nil {
		return nil, fmt.Errorf("reconcile all: %w", err)
	}
	out := make([]MappingOutcome, 0, len(ids))
	for _, id := range ids {
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		o, err := s.Reconcile(ctx, id, trigger)
		out = append(out, MappingOutcome{Outcome: o, Err: err})
		if err != nil && apperr.Code(err) == apperr.Internal {
			s.log.ErrorContext(ctx, "reconcile mapping", "mapping_id", id, "err", err)
		}
	}
	return out, nil
}

// ReconcileKind is the one scheduled job (jobs.Worker.Schedule) that checks
// every mapped course of every platform once per interval
// (LAUREL_RECONCILE_INTERVAL). Its one row in the jobs table keeps its time
// across restarts and lets one process at a time run it.
const ReconcileKind = "course.reconcile"

// reconcilePolicy gives a run as long as many courses' worth of platform
// requests take (the worker's default of 5 minutes would cut it).
var reconcilePolicy = jobs.Policy{Timeout: 6 * time.Hour}

// HandleJobs registers the one reconciliation schedule on w.
func (s *Service) HandleJobs(w *jobs.Worker, interval time.Duration) {
	if interval <= 0 {
		interval = time.Hour
	}
	w.Schedule(ReconcileKind, interval, func(ctx context.Context, _ jobs.Job) error {
		results, err := s.ReconcileAll(ctx, TriggerSchedule)
		if err != nil {
			return fmt.Errorf("scheduled reconciliation: %w", err)
		}
		created, failed := 0, 0
		for _, r := range results {
			created += len(r.Created)
			if r.Err != nil {
				failed++
			}
		}
		s.log.InfoContext(ctx, "scheduled reconciliation", "courses", len(results), "created", created, "failed", failed)
		return nil
	})
	w.SetPolicy(ReconcileKind, reconcilePolicy)
}

// apiReconcile is POST /api/v1/mappings/:id/reconcile: check the mapping
// now, whatever its platform.
func (s *Service) apiReconcile(c *gin.Context) error {
	m, err := s.VisibleMapping(c)
	if err != nil {
		return err
	}
	res, err := s.Reconcile(c.Request.Context(), m.ID, TriggerAPI)
	if err != nil {
		return err
	}
	created := res.Created
	if created == nil {
		created = []issuance.CredentialJSON{}
	}
	c.JSON(http.StatusOK, gin.H{"mapping_id": m.ID, "checked": res.Checked, "completed": res.Completed,
		"created": created, "skipped": res.Skipped})
	return nil
}
