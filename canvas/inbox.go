package canvas

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/jobs"
)

// storeEvent writes a verified event into the inbox and reports whether it is
// new (false: a re-delivery, which changes nothing). Event types Laurel does
// not process are kept as 'ignored' without their payload, for the admin page.
//
// Concurrent deliveries are written together: the request waits while its
// event joins the next multi-row INSERT, and is answered once that commits.
// Under load this turns hundreds of single-row transactions into a few
// batches, without delaying a lone delivery. If ctx ends first the batch
// may still commit: Canvas then re-delivers, which is a no-op.
func (s *Service) storeEvent(ctx context.Context, ev *Event, signed bool, platformID int64) (bool, error) {
	return s.ingest.Do(ctx, pendingEvent{ev: ev, signed: signed, platformID: platformID})
}

type pendingEvent struct {
	ev         *Event
	signed     bool
	platformID int64
}

// ingestWriters is how many batches may be in flight at once (a batch is one
// statement: with 32 deliveries in flight, 2 writers answered with a p99 of
// 25–32 ms where 4 gave 34–35 ms, in runs alternating on 2 cores);
// maxIngestBatch bounds one batch.
const (
	ingestWriters  = 2
	maxIngestBatch = 256
)

// insertEventsQuery writes a batch of events, and the jobs that will process
// the new completions (in arrival order), in one statement: one round trip,
// atomic without a transaction. It returns the events that were new.
var insertEventsQuery = `
WITH ev AS (
INSERT INTO canvas_events (dedup_key, event_name, hostname, root_account_guid, canvas_course_id,
    canvas_user_id, completed_at, payload, signed, platform_id, state, reason, processed_at)
SELECT k, n, h, g, c, u, t, p::jsonb, sg, NULLIF(pl, 0), st, r, CASE WHEN st = 'ignored' THEN now() END
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[],
            $8::text[], $9::boolean[], $10::bigint[], $11::text[], $12::text[])
     AS x(k, n, h, g, c, u, t, p, sg, pl, st, r)
ON CONFLICT (dedup_key) DO NOTHING
RETURNING dedup_key, id, state = 'received' AS process
), queued AS (` + jobs.EnqueueFrom("$13", `SELECT jsonb_build_object('event_id', id) AS payload FROM ev WHERE process ORDER BY id`) + `)
SELECT dedup_key FROM ev`

// insertEvents stores a batch of events with insertEventsQuery and reports,
// per event, whether it was new.
func (s *Service) insertEvents(ctx context.Context, batch []pendingEvent) ([]bool, error) {
	n := len(batch)
	keys, names, hosts, guids, courses, users := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	completed := make([]*string, n)
	payloads := make([]*string, n)
	signed := make([]bool, n)
	platforms := make([]int64, n)
	states, reasons := make([]string, n), make([]string, n)
	for i, p := range batch {
		ev := p.ev
		keys[i], names[i], hosts[i], guids[i], courses[i], users[i] = ev.dedupKey(), ev.Name, ev.Hostname, ev.RootAccountGUID, ev.CourseID, ev.UserID
		signed[i], platforms[i] = p.signed, p.platformID
		if ev.Name == courseCompleted {
			t := ev.CompletedAt.UTC().Format(time.RFC3339Nano)
			raw := string(ev.Raw)
			completed[i], payloads[i], states[i] = &t, &raw, "received"
		} else {
			states[i], reasons[i] = "ignored", "event type "+ev.Name+" is not processed"
		}
	}
	// Prepared: a batch under load is a few events, so planning the
	// statement each time was a large share of its cost.
	rows, err := s.stmts.QueryContext(ctx, insertEventsQuery, pq.Array(keys), pq.Array(names), pq.Array(hosts), pq.Array(guids),
		pq.Array(courses), pq.Array(users), pq.Array(completed), pq.Array(payloads), pq.Array(signed),
		pq.Array(platforms), pq.Array(states), pq.Array(reasons), inboxKind)
	if err != nil {
		return nil, fmt.Errorf("store %d events: %w", n, err)
	}
	defer rows.Close()
	inserted := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("store %d events: %w", n, err)
		}
		inserted[k] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store %d events: %w", n, err)
	}
	out := make([]bool, n)
	for i, k := range keys {
		// The same event twice in one batch: the first is new, the second a duplicate.
		out[i] = inserted[k]
		delete(inserted, k)
	}
	return out, nil
}

// setWebhookSecret stores (encrypted) the shared secret that lets unsigned
// Live Events for platformID in; "" removes it, so only signed events pass.
func (s *Service) setWebhookSecret(ctx context.Context, platformID int64, secretValue string) error {
	const q = `
INSERT INTO canvas_platform_settings (platform_id, webhook_secret_enc, updated_at)
VALUES ($1, $2, now())
ON CONFLICT (platform_id) DO UPDATE SET webhook_secret_enc = EXCLUDED.webhook_secret_enc, updated_at = now()`
	if secretValue != "" && len(secretValue) < 16 {
		return apperr.Errorf(apperr.Invalid, "The webhook shared secret must be at least 16 characters.")
	}
	var enc []byte
	if secretValue != "" {
		enc = s.keys.Seal([]byte(secretValue), secretAD(platformID))
	}
	if _, err := s.db.ExecContext(ctx, q, platformID, enc); err != nil {
		return fmt.Errorf("set webhook secret of platform %d: %w", platformID, err)
	}
	s.secrets.Delete(platformID)
	return nil
}

func secretAD(platformID int64) string {
	return "canvas-webhook-secret:" + strconv.FormatInt(platformID, 10)
}

// webhookSecret returns platformID's shared secret, "" when none is set.
func (s *Service) webhookSecret(ctx context.Context, platformID int64) (string, error) {
	if v, ok := s.secrets.Get(platformID); ok {
		return v, nil
	}
	const q = `SELECT webhook_secret_enc FROM canvas_platform_settings WHERE platform_id = $1`
	var enc []byte
	err := s.db.GetContext(ctx, &enc, q, platformID)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && len(enc) == 0) {
		s.secrets.Set(platformID, "")
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("webhook secret of platform %d: %w", platformID, err)
	}
	plain, err := s.keys.Open(enc, secretAD(platformID))
	if err != nil {
		return "", fmt.Errorf("webhook secret of platform %d: %w", platformID, err)
	}
	s.secrets.Set(platformID, string(plain))
	return string(plain), nil
}

// secretsFor is how long a webhook secret is cached; platformsFor, the
// platform list: every event needs both, and they change rarely (a change
// made here clears them at once).
const (
	secretsFor   = 30 * time.Second
	platformsFor = 5 * time.Second
)

func (s *Service) platformList(ctx context.Context) ([]Platform, error) {
	if list, ok := s.platformsSeen.Get(struct{}{}); ok {
		return list, nil
	}
	s.platformsLoad.Lock()
	defer s.platformsLoad.Unlock()
	if list, ok := s.platformsSeen.Get(struct{}{}); ok {
		return list, nil // loaded while we waited
	}
	list, err := s.enabledPlatforms(ctx)
	if err != nil {
		return nil, fmt.Errorf("list platforms: %w", err)
	}
	if list == nil {
		list = []Platform{}
	}
	s.platformsSeen.Set(struct{}{}, list)
	return list, nil
}

// platformForEvent finds the platform a Live Event belongs to: the one whose
// Canvas URL has the event's hostname, else the one whose root-account LTI
// guid (tool_platform.guid, learned at launch) the event names. q runs the
// guid lookup (the caller's transaction, so a worker holding one never needs
// a second connection).
func platformForEvent(ctx context.Context, q sqlx.QueryerContext, list []Platform, hostname, guid string) (Platform, bool, error) {
	// Canvas sends metadata.hostname without a port, while a Canvas URL may
	// carry one (https://canvas.example.edu:8443): host names decide. An
	// exact host:port match comes first, so two Canvas instances on one
	// host (test installations) stay apart when their events name a port.
	for _, p := range list {
		if p.CanvasURL != "" && p.host() == hostname {
			return p, true, nil
		}
	}
	name := stripPort(hostname)
	for _, p := range list {
		if p.CanvasURL != "" && stripPort(p.host()) == name {
			return p, true, nil
		}
	}
	if guid == "" {
		return Platform{}, false, nil
	}
	const sel = `SELECT platform_id FROM canvas_platform_guids WHERE guid = $1`
	var id int64
	err := sqlx.GetContext(ctx, q, &id, sel, guid)
	if errors.Is(err, sql.ErrNoRows) {
		return Platform{}, false, nil
	}
	if err != nil {
		return Platform{}, false, fmt.Errorf("platform for guid %q: %w", guid, err)
	}
	for _, p := range list {
		if p.ID == id {
			return p, true, nil
		}
	}
	return Platform{}, false, nil
}

// learnPlatformGUID records the root account's LTI guid seen in a launch's
// tool_platform claim, the fallback that ties Live Events to platformID.
func (s *Service) learnPlatformGUID(ctx context.Context, platformID int64, guid string) error {
	if guid == "" {
		return nil
	}
	const q = `
INSERT INTO canvas_platform_guids (guid, platform_id, seen_at) VALUES ($1, $2, now())
ON CONFLICT (guid) DO UPDATE SET platform_id = EXCLUDED.platform_id, seen_at = now()`
	// A platform's root account guid does not change: every launch
	// carries it, but this process writes it when it first sees it, sees
	// it change, or has not written it for guidRefresh (another instance
	// may have given the guid to a platform registered again).
	if g, ok := s.guids.Get(platformID); ok && g == guid {
		return nil
	}
	if _, err := s.stmts.ExecContext(ctx, q, guid, platformID); err != nil {
		return fmt.Errorf("learn guid %q of platform %d: %w", guid, platformID, err)
	}
	s.guids.Set(platformID, guid)
	return nil
}

// guidRefresh is how long a recorded guid is trusted to be in the table.
const guidRefresh = 10 * time.Minute
