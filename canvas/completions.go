package canvas

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/internal/text"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/lti/course"
)

// actorLiveEvents names the completion webhook in the audit log.
const actorLiveEvents = "canvas:live-events"

// unmappedWindow is how long a completion in an unmapped course waits to be
// reprocessed should the course be mapped.
const unmappedWindow = 30 * 24 * time.Hour

// maxAttempts bounds retries of an event that keeps failing on our side (e.g.
// the database refusing); then it is recorded as failed with the last error.
const maxAttempts = 8

type inboxRow struct {
	ID              int64          `db:"id"`
	Hostname        string         `db:"hostname"`
	RootAccountGUID string         `db:"root_account_guid"`
	CourseID        string         `db:"canvas_course_id"`
	UserID          string         `db:"canvas_user_id"`
	CompletedAt     sql.NullTime   `db:"completed_at"`
	Payload         []byte         `db:"payload"`
	PlatformID      sql.NullInt64  `db:"platform_id"`
	Attempts        int            `db:"attempts"`
	Reason          sql.NullString `db:"-"`
}

type knownUser struct {
	UserID string `db:"canvas_user_id"`
	Name   string `db:"name"`
	Email  string `db:"email"`
}

// inboxKind is the job kind that processes one stored completion event: the
// webhook enqueues it in the transaction that stores the event, so the inbox
// runs on the one job engine (its leases, back-off and wake-ups).
const inboxKind = "canvas.event"

// inboxPolicy retries an event's job after a failure on our side with a
// growing delay (1 s, 2 s, 4 s, ... up to about 4 minutes). The job itself
// never dies: an event that keeps failing is recorded as failed by
// processEvents after maxAttempts (counted on the event, so a database
// outage, which fails whole batches, never uses them up).
//
// A batch costs a constant number of statements (EnsureCredentials), so
// bigger batches amortise the round trips: 100 → ~4,000 events/s, 500 →
// ~5,500, 1,000 → ~7,000 on 2 cores (BenchmarkCompletionWorker), at the
// price of memory and of more work redone after a crash or a careful retry.
// 500 is the middle. For the same reason a woken worker lets deliveries
// gather for 50 ms before it claims (a completion becomes a credential at
// most that much later, and the batches under load are tens of times
// larger).
var inboxPolicy = jobs.Policy{
	MaxAge:      100 * 365 * 24 * time.Hour,
	BaseBackoff: time.Second,
	MaxBackoff:  256 * time.Second,
	BatchSize:   500,
	Gather:      50 * time.Millisecond,
}

// inboxJob is the payload of an inboxKind job.
type inboxJob struct {
	EventID int64 `json:"event_id"`
}

// enqueueEvents adds the processing jobs of events ids through tx, the
// transaction that stored (or re-queued) them.
func enqueueEvents(ctx context.Context, tx *sqlx.Tx, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	payloads := make([]json.RawMessage, len(ids))
	for i, id := range ids {
		b, err := json.Marshal(inboxJob{EventID: id})
		if err != nil {
			return fmt.Errorf("enqueue event %d: %w", id, err)
		}
		payloads[i] = b
	}
	_, err := jobs.EnqueueMany(ctx, tx, inboxKind, payloads)
	return err
}

// HandleJobs registers the Canvas jobs on w: the inbox (one job per stored
// completion, handled in batches) and the daily inbox pruning. The
// reconciliation runs on the rule engine's one schedule (course.HandleJobs).
func (s *Service) HandleJobs(w *jobs.Worker) {
	s.handleInbox(w, inboxPolicy.BatchSize)
	w.Schedule(pruneKind, 24*time.Hour, s.pruneJob)
}

// runInboxWorker processes the inbox alone until ctx ends, with
// Options.InboxConcurrency goroutines, polling (or woken by this process's
// webhook): for tests and benchmarks. Workers in other processes may run at
// the same time.
func (s *Service) runInboxWorker(ctx context.Context) error {
	w := s.inboxWorker(inboxPolicy.BatchSize)
	w.Concurrency, w.Poll = s.inboxConcurrency, 500*time.Millisecond
	s.running.Store(w)
	defer s.running.CompareAndSwap(w, nil)
	return w.Run(ctx)
}

func (s *Service) inboxWorker(batchSize int) *jobs.Worker {
	w := jobs.NewWorker(s.db, s.log)
	s.handleInbox(w, batchSize)
	return w
}

// handleInbox registers the inbox's batch handler and policy on w, claiming
// batchSize events at a time.
func (s *Service) handleInbox(w *jobs.Worker, batchSize int) {
	w.HandleBatch(inboxKind, s.processEvents)
	p := inboxPolicy
	p.BatchSize = batchSize
	w.SetPolicy(inboxKind, p)
}

// ProcessInbox handles up to limit ready inbox events now and returns how
// many it claimed: what the worker does on each wake-up, for tests.
func (s *Service) ProcessInbox(ctx context.Context, limit int) (int, error) {
	return s.inboxWorker(limit).RunOnce(ctx)
}

// processEvents is the batch handler of inboxKind. The events are loaded FOR
// UPDATE in the transaction that creates their credentials, marks them
// processed and marks their jobs done: if the process dies at any moment,
// PostgreSQL rolls the transaction back, and the jobs run again when their
// lease expires, redoing exactly the unfinished events.
//
// A batch first runs optimistically: the batch's credentials are ensured with
// one issuance.EnsureCredentials call per mapping (a constant number of
// statements however many events), an item the core refuses is recorded as
// failed with its reason and the rest go on. Only if a whole call fails (e.g.
// the database refuses) is the batch rolled back and run again carefully,
// each event under its own savepoint, so one bad event never undoes or blocks
// the others.
func (s *Service) processEvents(ctx context.Context, js []jobs.Job) []error {
	errs, err := s.processBatch(ctx, js, false)
	if errors.Is(err, errCareful) {
		errs, err = s.processBatch(ctx, js, true)
	}
	if err != nil {
		if ctx.Err() == nil {
			s.log.ErrorContext(ctx, "inbox worker", "events", len(js), "err", err)
		}
		errs = make([]error, len(js))
		for i := range errs {
			errs[i] = err
		}
	}
	return errs
}

// errCareful asks for the batch to be redone event by event.
var errCareful = errors.New("a credential failed: redo the batch with savepoints")

// processBatch handles the events of jobs js in one transaction and returns
// one error per job: nil when its event is finished (its job is then already
// marked done), the reason when the event is to be retried.
func (s *Service) processBatch(ctx context.Context, js []jobs.Job, careful bool) ([]error, error) {
	const q = `
SELECT id, hostname, root_account_guid, canvas_course_id, canvas_user_id, completed_at, payload, platform_id, attempts
FROM canvas_events
WHERE id = ANY($1) AND state = 'received'
ORDER BY id
FOR UPDATE`
	ids := make([]int64, 0, len(js))
	for _, j := range js {
		var p inboxJob
		if json.Unmarshal(j.Payload, &p) == nil {
			ids = append(ids, p.EventID)
		}
	}
	// Read before the transaction: a worker holding a transaction must never
	// wait for a second connection (a full pool would deadlock).
	platforms, err := s.platformList(ctx)
	if err != nil {
		return nil, fmt.Errorf("process inbox: %w", err)
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("process inbox: begin: %w", err)
	}
	defer tx.Rollback()
	var rows []inboxRow
	if err := tx.SelectContext(ctx, &rows, q, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("process inbox: load %d events: %w", len(ids), err)
	}
	b := &batch{s: s, tx: tx, careful: careful, platforms: platforms, mappings: map[string]*course.Mapping{}, users: map[string]knownUser{}}
	if err := b.loadUsers(ctx, rows); err != nil {
		return nil, err
	}
	for i := range rows {
		if err := b.process(ctx, &rows[i]); err != nil {
			return nil, err
		}
	}
	if err := b.issue(ctx); err != nil {
		return nil, err
	}
	if err := b.record(ctx); err != nil {
		return nil, err
	}
	// Every job is done but those whose event waits for a retry (an event
	// already handled, or gone, needs nothing more).
	retry := make(map[int64]error, len(b.retries))
	for _, r := range b.retries {
		retry[r.ID] = errors.New(r.Reason)
	}
	errs := make([]error, len(js))
	var done []jobs.Job
	for i, j := range js {
		var p inboxJob
		_ = json.Unmarshal(j.Payload, &p)
		if errs[i] = retry[p.EventID]; errs[i] == nil {
			done = append(done, j)
		}
	}
	if err := jobs.MarkDoneMany(ctx, tx, done); err != nil {
		return nil, fmt.Errorf("process inbox: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("process inbox: commit %d events: %w", len(rows), err)
	}
	for _, f := range b.finished {
		s.metrics.processed.WithLabelValues(f.State).Inc()
		if f.State == "failed" || f.State == "unmapped" {
			s.log.WarnContext(ctx, "live event not issued", "event_id", f.ID, "state", f.State, "reason", f.Reason)
		}
	}
	for _, r := range b.retries {
		s.metrics.processed.WithLabelValues("retried").Inc()
		s.log.WarnContext(ctx, "live event will be retried", "event_id", r.ID, "attempt", r.Attempt, "err", r.Reason)
	}
	return errs, nil
}

// finishedEvent is an outcome to write back; retryEvent a deferred event.
type finishedEvent struct {
	ID           int64
	State        string
	Reason       string
	PlatformID   int64
	MappingID    int64
	CredentialID string
}

type retryEvent struct {
	ID      int64
	Attempt int
	Reason  string
}

// record writes every outcome of the batch back in two statements.
func (b *batch) record(ctx context.Context) error {
	if len(b.finished) > 0 {
		const q = `
UPDATE canvas_events e
SET state = x.st, reason = x.r, platform_id = NULLIF(x.p, 0), mapping_id = NULLIF(x.m, 0),
    credential_id = NULLIF(x.c, ''), processed_at = now()
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[]) AS x(id, st, r, p, m, c)
WHERE e.id = x.id`
		n := len(b.finished)
		ids, sts, rs, ps, ms, cs := make([]int64, n), make([]string, n), make([]string, n), make([]int64, n), make([]int64, n), make([]string, n)
		for i, f := range b.finished {
			ids[i], sts[i], rs[i], ps[i], ms[i], cs[i] = f.ID, f.State, f.Reason, f.PlatformID, f.MappingID, f.CredentialID
		}
		if _, err := b.tx.ExecContext(ctx, q, pq.Array(ids), pq.Array(sts), pq.Array(rs), pq.Array(ps), pq.Array(ms), pq.Array(cs)); err != nil {
			return fmt.Errorf("process inbox: record %d outcomes: %w", n, err)
		}
	}
	if len(b.retries) > 0 {
		// The delay is the job's back-off (inboxPolicy); the event counts
		// its own failures and shows the last one on the admin page.
		const q = `
UPDATE canvas_events e
SET attempts = attempts + 1, reason = x.r
FROM unnest($1::bigint[], $2::text[]) AS x(id, r)
WHERE e.id = x.id`
		n := len(b.retries)
		ids, rs := make([]int64, n), make([]string, n)
		for i, r := range b.retries {
			ids[i], rs[i] = r.ID, r.Reason
		}
		if _, err := b.tx.ExecContext(ctx, q, pq.Array(ids), pq.Array(rs)); err != nil {
			return fmt.Errorf("process inbox: schedule %d retries: %w", n, err)
		}
	}
	return nil
}

// batch is the state of one processBatch transaction.
type batch struct {
	s       *Service
	tx      *sqlx.Tx
	careful bool
	// platforms is the platform list read before the transaction.
	platforms []Platform
	mappings  map[string]*course.Mapping // "platform|course" → mapping (nil: unmapped)
	users     map[string]knownUser
	finished  []finishedEvent
	retries   []retryEvent
	// pending are the events whose credentials issue ensures together.
	pending []pendingIssue
}

// pendingIssue is an event waiting for its credential.
type pendingIssue struct {
	row     *inboxRow
	mapping *course.Mapping
	item    course.Award
}

func userKey(platformID int64, userID string) string {
	return strconv.FormatInt(platformID, 10) + "|" + userID
}

// loadUsers reads, in one query, what launches and rosters told us about the
// batch's users.
func (b *batch) loadUsers(ctx context.Context, rows []inboxRow) error {
	const q = `
SELECT u.platform_id, u.canvas_user_id, u.name, u.email
FROM canvas_users u
JOIN unnest($1::bigint[], $2::text[]) AS k(platform_id, canvas_user_id)
  ON u.platform_id = k.platform_id AND u.canvas_user_id = k.canvas_user_id`
	var pids []int64
	var uids []string
	for _, r := range rows {
		if p, ok := b.platformOf(ctx, &r); ok {
			pids, uids = append(pids, p), append(uids, r.UserID)
		}
	}
	if len(pids) == 0 {
		return nil
	}
	var found []struct {
		PlatformID int64 `db:"platform_id"`
		knownUser
	}
	if err := b.tx.SelectContext(ctx, &found, q, pq.Array(pids), pq.Array(uids)); err != nil {
		return fmt.Errorf("process inbox: load %d users: %w", len(pids), err)
	}
	for _, u := range found {
		b.users[userKey(u.PlatformID, u.UserID)] = u.knownUser
	}
	return nil
}

// platformOf resolves (and remembers on the row) the event's platform.
func (b *batch) platformOf(ctx context.Context, r *inboxRow) (int64, bool) {
	if r.PlatformID.Valid {
		return r.PlatformID.Int64, true
	}
	p, ok, err := platformForEvent(ctx, b.tx, b.platforms, r.Hostname, r.RootAccountGUID)
	if err != nil || !ok {
		return 0, false
	}
	r.PlatformID = sql.NullInt64{Int64: p.ID, Valid: true}
	return p.ID, true
}

func (b *batch) mapping(ctx context.Context, platformID int64, courseID string) (*course.Mapping, error) {
	k := userKey(platformID, courseID)
	if m, ok := b.mappings[k]; ok {
		return m, nil
	}
	m, err := course.MappingByCourse(ctx, b.tx, platformID, courseID)
	if apperr.Is(err, apperr.NotFound) {
		b.mappings[k] = nil
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	b.mappings[k] = &m
	return &m, nil
}

// process handles one event. Only a failure of the transaction itself is
// returned; everything else is recorded on the event.
func (b *batch) process(ctx context.Context, r *inboxRow) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	pid, ok := b.platformOf(ctx, r)
	if !ok {
		return b.finish(ctx, r, "failed", fmt.Sprintf("no platform has Canvas URL host %q or root account guid %q: register it with `laurel platform add --canvas-url`", r.Hostname, r.RootAccountGUID), nil, "")
	}
	m, err := b.mapping(ctx, pid, r.CourseID)
	if err != nil {
		return b.retry(ctx, r, err)
	}
	if m == nil {
		return b.finish(ctx, r, "unmapped", fmt.Sprintf("completion in Canvas course %s, which is not mapped to a group", r.CourseID), nil, "")
	}
	if m.CompletionRule == course.RuleManual {
		return b.finish(ctx, r, "ignored", "the course is mapped for manual issuing only: completions do not issue", m, "")
	}
	if m.CompletionRule != course.RuleCanvasCompletion {
		return b.finish(ctx, r, "ignored", fmt.Sprintf("mapping %d issues on rule %s, not on course completion", m.ID, m.CompletionRule), m, "")
	}
	item, reason := b.newCredential(r, pid)
	if reason != "" {
		return b.finish(ctx, r, "failed", reason, m, "")
	}
	if !b.careful {
		b.pending = append(b.pending, pendingIssue{row: r, mapping: m, item: item})
		return nil
	}
	if _, err := b.tx.ExecContext(ctx, `SAVEPOINT canvas_event`); err != nil {
		return fmt.Errorf("process event %d: savepoint: %w", r.ID, err)
	}
	out, err := course.Grant(ctx, b.tx, b.s.issuer, actorLiveEvents, issuance.FromCompletion, *m, []course.Award{item})
	if err == nil && len(out) == 1 && out[0].Err != nil {
		err = out[0].Err
	}
	if err != nil {
		if _, rerr := b.tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT canvas_event`); rerr != nil {
			return fmt.Errorf("process event %d: rollback to savepoint: %w (after %v)", r.ID, rerr, err)
		}
		return b.refused(ctx, r, m, err)
	}
	if _, err := b.tx.ExecContext(ctx, `RELEASE SAVEPOINT canvas_event`); err != nil {
		return fmt.Errorf("process event %d: release savepoint: %w", r.ID, err)
	}
	return b.finish(ctx, r, "processed", "", m, out[0].Credential.ID)
}

// refused records an event whose credential the core did not ensure: failed
// when the core refused the data (retrying cannot help), else retried.
func (b *batch) refused(ctx context.Context, r *inboxRow, m *course.Mapping, err error) error {
	if code := apperr.Code(err); code != apperr.Internal && code != apperr.Conflict {
		return b.finish(ctx, r, "failed", refusal(err), m, "")
	}
	return b.retry(ctx, r, err)
}

// refusal is the reason an admin reads for a refused credential: the core's
// message and, for invalid data, what was wrong with which field.
func refusal(err error) string {
	msg := apperr.Message(err)
	for _, f := range apperr.FieldErrors(err) {
		msg += " " + f.Field + ": " + f.Message
	}
	return text.Truncate(msg, 500)
}

// issue ensures the pending events' credentials with one EnsureCredentials
// call per mapping, so a batch costs the same few statements whatever its
// size. An event the core refuses is recorded as failed (or retried) on its
// own; if a call fails as a whole, the batch is redone carefully.
func (b *batch) issue(ctx context.Context) error {
	var order []int64
	byMapping := map[int64][]pendingIssue{}
	for _, p := range b.pending {
		if _, ok := byMapping[p.mapping.ID]; !ok {
			order = append(order, p.mapping.ID)
		}
		byMapping[p.mapping.ID] = append(byMapping[p.mapping.ID], p)
	}
	for _, id := range order {
		ps := byMapping[id]
		m := ps[0].mapping
		awards := make([]course.Award, len(ps))
		for i, p := range ps {
			awards[i] = p.item
		}
		out, err := course.Grant(ctx, b.tx, b.s.issuer, actorLiveEvents, issuance.FromCompletion, *m, awards)
		if err != nil {
			b.s.log.WarnContext(ctx, "live events: batch credential call failed; redoing event by event", "mapping_id", m.ID, "events", len(ps), "err", err)
			return errCareful
		}
		for i, o := range out {
			if o.Err != nil {
				if err := b.refused(ctx, ps[i].row, m, o.Err); err != nil {
					return err
				}
				continue
			}
			if err := b.finish(ctx, ps[i].row, "processed", "", m, o.Credential.ID); err != nil {
				return err
			}
		}
	}
	b.pending = nil
	return nil
}

// newCredential is the event's award (the Live Events rule's decision:
// Canvas said this person completed the course then), or the reason there
// is none.
func (b *batch) newCredential(r *inboxRow, platformID int64) (course.Award, string) {
	var body struct {
		Metadata struct {
			TimeZone string `json:"time_zone"`
		} `json:"metadata"`
		Body struct {
			User struct {
				Name  string `json:"name"`
				Email string `json:"email"`
			} `json:"user"`
		} `json:"body"`
	}
	_ = decode(r.Payload, &body) // validated on receipt
	u := b.users[userKey(platformID, r.UserID)]
	email := strings.TrimSpace(u.Email)
	if email == "" {
		email = strings.TrimSpace(body.Body.User.Email)
	}
	if email == "" {
		return course.Award{}, fmt.Sprintf("no email known for Canvas user %s: the event carries none and the user has not launched Laurel or appeared in a roster", r.UserID)
	}
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
		return course.Award{}, fmt.Sprintf("email %q of Canvas user %s is not a valid address", text.Truncate(email, 80), r.UserID)
	}
	name := strings.TrimSpace(body.Body.User.Name)
	if name == "" {
		name = strings.TrimSpace(u.Name)
	}
	if name == "" {
		name = email
	}
	return course.Award{UserID: r.UserID, Ref: externalRef(platformID, r.UserID), Name: name, Email: email,
		EarnedAt: r.CompletedAt.Time, Zone: body.Metadata.TimeZone, Why: "Canvas reported the course completed"}, ""
}

// externalRef is the credential's tie to a Canvas user of a platform: the key
// that makes a repeated completion (or a reconciliation) a no-op.
func externalRef(platformID int64, canvasUserID string) string {
	return "canvas:" + strconv.FormatInt(platformID, 10) + ":" + canvasUserID
}

func (b *batch) finish(_ context.Context, r *inboxRow, state, reason string, m *course.Mapping, credentialID string) error {
	f := finishedEvent{ID: r.ID, State: state, Reason: reason, PlatformID: r.PlatformID.Int64, CredentialID: credentialID}
	if m != nil {
		f.MappingID = m.ID
	}
	b.finished = append(b.finished, f)
	return nil
}

// retry has the event's job run again after its back-off, following an error
// on our side, or records the event failed once it has had maxAttempts.
func (b *batch) retry(ctx context.Context, r *inboxRow, cause error) error {
	if r.Attempts+1 >= maxAttempts {
		b.s.log.ErrorContext(ctx, "live event failed after retries", "event_id", r.ID, "err", cause)
		return b.finish(ctx, r, "failed", "gave up after "+strconv.Itoa(maxAttempts)+" attempts: "+text.Truncate(cause.Error(), 300), nil, "")
	}
	b.retries = append(b.retries, retryEvent{ID: r.ID, Attempt: r.Attempts + 1, Reason: text.Truncate(cause.Error(), 300)})
	return nil
}

// requeueUnmapped puts back, for processing, the completions that arrived in
// the last 30 days for a course that has just been mapped, with their jobs.
func requeueUnmapped(ctx context.Context, tx *sqlx.Tx, platformID int64, courseID string, now time.Time) (int64, error) {
	const q = `
UPDATE canvas_events SET state = 'received', reason = '', run_at = now(), processed_at = NULL
WHERE state = 'unmapped' AND platform_id = $1 AND canvas_course_id = $2 AND received_at > $3
RETURNING id`
	if courseID == "" {
		return 0, nil
	}
	var ids []int64
	if err := tx.SelectContext(ctx, &ids, q, platformID, courseID, now.Add(-unmappedWindow)); err != nil {
		return 0, fmt.Errorf("requeue unmapped completions of course %s on platform %d: %w", courseID, platformID, err)
	}
	slices.Sort(ids)
	if err := enqueueEvents(ctx, tx, ids); err != nil {
		return 0, fmt.Errorf("requeue unmapped completions of course %s on platform %d: %w", courseID, platformID, err)
	}
	return int64(len(ids)), nil
}
