package canvas

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/lti/course"
)

// Trigger says what started a reconciliation (shown on the admin page): the
// rule engine's triggers.
type Trigger = course.Trigger

// Reconciliation triggers.
const (
	triggerSchedule = course.TriggerSchedule
	triggerButton   = course.TriggerButton
	triggerManual   = course.TriggerManual // Reconcile, e.g. `laurel reconcile --mapping`
)

// actorReconciliation names reconciliation in the audit log.
const actorReconciliation = "canvas:reconciliation"

// Result is what one reconciliation of one course did.
type Result struct {
	MappingID int64 `json:"mapping_id"`
	// Created are the credentials whose completion events never arrived.
	Created []issuance.Credential `json:"created"`
	// Checked is how many students' progress Canvas reported.
	Checked int `json:"checked"`
	// Completed is how many of them have completed the course.
	Completed int `json:"completed"`
	// Skipped names completed students no credential could be made for.
	Skipped []string `json:"skipped,omitempty"`
}

// Reconcile checks Canvas for the completions of one mapped course now and
// creates, with source reconciliation, the credentials the events missed.
// Errors: apperr.NotFound; apperr.Invalid when the mapping cannot be
// reconciled (manual only, course id unknown, no Canvas API token).
func (s *Service) Reconcile(ctx context.Context, mappingID int64) (Result, error) {
	return s.reconcile(ctx, mappingID, triggerManual)
}

func (s *Service) reconcile(ctx context.Context, mappingID int64, trigger Trigger) (res Result, err error) {
	res.MappingID = mappingID
	m, err := s.courses.Mapping(ctx, mappingID)
	if err != nil {
		return res, err
	}
	if !m.CompletionRule.Checked() {
		return res, apperr.Errorf(apperr.Invalid, "This course is mapped for manual issuing only: completions do not issue credentials, so there is nothing to check.")
	}
	runID, err := s.startRun(ctx, m.ID, trigger)
	if err != nil {
		return res, err
	}
	defer func() {
		outcome := "ok"
		if err != nil {
			outcome = "failed"
			if strings.Contains(apperr.Message(err), "No Canvas API token") {
				outcome = "no_token"
			}
		}
		s.metrics.reconciled.WithLabelValues(outcome).Inc()
		s.metrics.recCreated.Add(float64(len(res.Created)))
		if ferr := s.finishRun(context.WithoutCancel(ctx), runID, res, err); ferr != nil && err == nil {
			err = ferr
		}
	}()
	if m.CanvasCourseID == "" {
		return res, apperr.Errorf(apperr.Invalid, "Laurel does not know this course's Canvas course ID yet: launch Laurel from the course once (or set the mapping's Canvas course through the API).")
	}
	p, err := s.platform(ctx, m.PlatformID)
	if err != nil {
		return res, err
	}
	if p.CanvasURL == "" {
		return res, apperr.Errorf(apperr.Invalid, "Platform %q has no Canvas URL configured, so Laurel cannot ask Canvas for completions.", p.Name)
	}
	if p.CanvasToken == "" {
		return res, apperr.Errorf(apperr.Invalid, "No Canvas API token is configured for platform %q: reconciliation cannot ask Canvas for completions. Completion events still issue credentials.", p.Name)
	}
	client, err := newClient(p.CanvasURL, p.CanvasToken, s.client, s.rateLimitBackoff)
	if err != nil {
		return res, err
	}
	ev, err := s.evaluate(ctx, client, m)
	if err != nil {
		return res, err
	}
	res.Checked = ev.checked
	completed := ev.earned
	res.Completed = len(completed)
	if len(completed) == 0 {
		return res, nil
	}
	ids := make([]string, len(completed))
	for i, d := range completed {
		ids[i] = d.userID
	}
	users, err := s.knownUsers(ctx, m.PlatformID, ids)
	if err != nil {
		return res, err
	}
	// Students who never launched Laurel: ask Canvas for their emails once,
	// and remember them in one statement, so the next run needs no users
	// pages.
	for _, id := range ids {
		if users[id].Email != "" {
			continue
		}
		students := ev.students
		if students == nil {
			if students, err = client.courseStudents(ctx, m.CanvasCourseID); err != nil {
				return res, err
			}
		}
		learned := make([]course.CanvasUser, 0, len(students))
		for _, st := range students {
			if st.Email == "" {
				continue
			}
			u := users[st.ID.String()]
			u.UserID, u.Email = st.ID.String(), st.Email
			if u.Name == "" {
				u.Name = st.Name
			}
			users[u.UserID] = u
			learned = append(learned, course.CanvasUser{PlatformID: m.PlatformID, CanvasUserID: u.UserID, Name: st.Name, Email: st.Email})
		}
		if err := s.rememberUsers(ctx, learned); err != nil {
			return res, err
		}
		break
	}
	// One Grant per chunk: a chunk costs the same few statements whatever
	// its size, and a transaction stays short.
	const chunk = 2000
	for start := 0; start < len(completed); start += chunk {
		part := completed[start:min(start+chunk, len(completed))]
		awards := make([]course.Award, 0, len(part))
		who := make([]string, 0, len(part))
		for _, d := range part {
			u := users[d.userID]
			name := strings.TrimSpace(d.name)
			if name == "" {
				name = u.Name
			}
			if u.Email == "" {
				res.Skipped = append(res.Skipped, fmt.Sprintf("Canvas user %s (%s): no email known", d.userID, name))
				continue
			}
			if name == "" {
				name = u.Email
			}
			awards = append(awards, course.Award{UserID: d.userID, Ref: externalRef(m.PlatformID, d.userID),
				Name: name, Email: u.Email, EarnedAt: d.at})
			who = append(who, fmt.Sprintf("Canvas user %s (%s)", d.userID, name))
		}
		if len(awards) == 0 {
			continue
		}
		var created []issuance.Credential
		var skipped []string
		err := db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
			created, skipped = created[:0], skipped[:0]
			out, err := course.Grant(ctx, tx, s.issuer, actorReconciliation, issuance.FromReconciliation, m, awards)
			if err != nil {
				return err
			}
			for i, o := range out {
				switch {
				case o.Err != nil && apperr.Code(o.Err) == apperr.Internal:
					return fmt.Errorf("ensure credential for %s: %w", who[i], o.Err)
				case o.Err != nil:
					skipped = append(skipped, who[i]+": "+refusal(o.Err))
				case o.Created:
					created = append(created, o.Credential)
				}
			}
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("reconcile mapping %d: %w", m.ID, err)
		}
		res.Created = append(res.Created, created...)
		res.Skipped = append(res.Skipped, skipped...)
	}
	return res, nil
}

// rememberUsers records what launches, rosters and Canvas's API say about
// Canvas users, in one statement, keeping what an empty value would erase:
// the completion path prefers these emails over a Live Event's.
func (s *Service) rememberUsers(ctx context.Context, users []course.CanvasUser) error {
	type key struct {
		platform int64
		id       string
	}
	// One row per user: ON CONFLICT cannot touch a row twice.
	seen := make(map[key]int, len(users))
	plats := make([]int64, 0, len(users))
	var ids, subs, names, emails []string
	for _, u := range users {
		if u.CanvasUserID == "" {
			continue
		}
		if i, ok := seen[key{u.PlatformID, u.CanvasUserID}]; ok {
			subs[i], names[i], emails[i] = cmp.Or(u.Sub, subs[i]), cmp.Or(u.Name, names[i]), cmp.Or(u.Email, emails[i])
			continue
		}
		seen[key{u.PlatformID, u.CanvasUserID}] = len(ids)
		plats, ids, subs = append(plats, u.PlatformID), append(ids, u.CanvasUserID), append(subs, u.Sub)
		names, emails = append(names, u.Name), append(emails, u.Email)
	}
	if len(ids) == 0 {
		return nil
	}
	const q = `
INSERT INTO canvas_users (platform_id, canvas_user_id, sub, name, email, updated_at)
SELECT u.platform, u.id, u.sub, u.name, u.email, now()
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[]) AS u(platform, id, sub, name, email)
` + mergeCanvasUser
	if _, err := s.stmts.ExecContext(ctx, q, pq.Array(plats), pq.Array(ids), pq.Array(subs), pq.Array(names), pq.Array(emails)); err != nil {
		return fmt.Errorf("remember %d canvas users: %w", len(ids), err)
	}
	return nil
}

// mergeCanvasUser is how a Canvas user seen again updates its row: what the
// new sighting knows replaces what was known, blanks keep it.
const mergeCanvasUser = `ON CONFLICT (platform_id, canvas_user_id) DO UPDATE SET
    sub = COALESCE(NULLIF(EXCLUDED.sub, ''), canvas_users.sub),
    name = COALESCE(NULLIF(EXCLUDED.name, ''), canvas_users.name),
    email = COALESCE(NULLIF(EXCLUDED.email, ''), canvas_users.email),
    updated_at = now()`

// rememberUser is rememberUsers of one user (a launch's), without the
// arrays: every launch runs it.
func (s *Service) rememberUser(ctx context.Context, u course.CanvasUser) error {
	if u.CanvasUserID == "" {
		return nil
	}
	const q = `
INSERT INTO canvas_users (platform_id, canvas_user_id, sub, name, email, updated_at)
VALUES ($1, $2, $3, $4, $5, now())
` + mergeCanvasUser
	if _, err := s.stmts.ExecContext(ctx, q, u.PlatformID, u.CanvasUserID, u.Sub, u.Name, u.Email); err != nil {
		return fmt.Errorf("remember canvas user %s of platform %d: %w", u.CanvasUserID, u.PlatformID, err)
	}
	return nil
}

func (s *Service) knownUsers(ctx context.Context, platformID int64, ids []string) (map[string]knownUser, error) {
	const q = `SELECT canvas_user_id, name, email FROM canvas_users WHERE platform_id = $1 AND canvas_user_id = ANY($2)`
	var rows []knownUser
	if err := s.db.SelectContext(ctx, &rows, q, platformID, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("known users of platform %d (%d ids): %w", platformID, len(ids), err)
	}
	out := make(map[string]knownUser, len(rows))
	for _, r := range rows {
		out[r.UserID] = r
	}
	return out, nil
}

func (s *Service) startRun(ctx context.Context, mappingID int64, trigger Trigger) (int64, error) {
	const q = `INSERT INTO canvas_reconciliations (mapping_id, trigger, started_at) VALUES ($1, $2, $3) RETURNING id`
	var id int64
	if err := s.db.GetContext(ctx, &id, q, mappingID, trigger, s.now()); err != nil {
		return 0, fmt.Errorf("start reconciliation of mapping %d: %w", mappingID, err)
	}
	return id, nil
}

func (s *Service) finishRun(ctx context.Context, runID int64, res Result, cause error) error {
	const q = `UPDATE canvas_reconciliations SET finished_at = $2, checked = $3, created = $4, error = $5 WHERE id = $1`
	msg := ""
	if cause != nil {
		msg = apperr.Message(cause)
	}
	if _, err := s.db.ExecContext(ctx, q, runID, s.now(), res.Checked, len(res.Created), msg); err != nil {
		return fmt.Errorf("finish reconciliation %d: %w", runID, err)
	}
	return nil
}

// pruneKind is the daily job (jobs.Worker.Schedule) that prunes the inbox.
// The reconciliation itself runs on the one schedule of the rule engine
// (course.ReconcileKind), which calls Check for every Canvas mapping.
const pruneKind = "canvas.prune"

// pruneJob is pruneKind's handler.
func (s *Service) pruneJob(ctx context.Context, _ jobs.Job) error {
	_, err := s.pruneEvents(ctx, eventRetention)
	return err
}

// eventRetention is how long handled inbox events are kept: far longer than
// Canvas retries a delivery (minutes) or an unmapped completion may still be
// mapped (30 days), so pruning never lets a re-delivery through twice.
const eventRetention = 90 * 24 * time.Hour

// pruneEvents deletes handled inbox events (processed, ignored, unmapped)
// received more than olderThan ago; failed ones stay for the admin page. It
// returns how many it deleted.
func (s *Service) pruneEvents(ctx context.Context, olderThan time.Duration) (int64, error) {
	const q = `DELETE FROM canvas_events WHERE state IN ('processed', 'ignored', 'unmapped') AND received_at < $1`
	res, err := s.db.ExecContext(ctx, q, s.now().Add(-olderThan))
	if err != nil {
		return 0, fmt.Errorf("prune canvas events older than %s: %w", olderThan, err)
	}
	return res.RowsAffected()
}
