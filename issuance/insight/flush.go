package insight

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/redis/go-redis/v9"

	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/jobs"
)

// Redis keys: counts gather in pendingHash (field "credential|day|kind");
// a flush renames it to a batch of its own and lists the batch in
// batchesSet until PostgreSQL has it.
const (
	pendingHash = "laurel:insight:pending"
	batchPrefix = "laurel:insight:batch:"
	batchesSet  = "laurel:insight:batches"
)

// moveInterval is how often Run moves the in-memory counts to Redis.
const moveInterval = 2 * time.Second

// Run moves the in-memory counts to Redis every few seconds until ctx
// ends, then once more. Redis errors are logged once per outage; the
// counts wait in memory (up to maxPending keys) for the next try.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(moveInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			s.logMove(s.MovePending(fctx))
			cancel()
			return
		case <-t.C:
			s.logMove(s.MovePending(ctx))
		}
	}
}

func (s *Service) logMove(err error) {
	if err == nil {
		if s.failing.Swap(false) {
			s.logger().Info("insight: counting resumed")
		}
		return
	}
	if !s.failing.Swap(true) {
		s.logger().Warn("insight: cannot move counts to Redis; counting pauses until it is back", "err", err)
	}
}

// MovePending moves the counts gathered in memory to Redis in one
// transaction, and refreshes the time zone days are counted in. On error
// the counts stay in memory for the next try.
func (s *Service) MovePending(ctx context.Context) error {
	if s.Redis == nil {
		return nil
	}
	if z := s.Core.Locale(ctx).Zone; z != nil {
		s.zone.Store(z)
	}
	s.mu.Lock()
	batch := s.pending
	s.pending = nil
	s.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	_, err := s.Redis.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for k, n := range batch {
			p.HIncrBy(ctx, pendingHash, k.credential+"|"+k.day+"|"+string(k.kind), n)
		}
		return nil
	})
	if err != nil {
		s.mu.Lock()
		if s.pending == nil {
			s.pending = map[pendingKey]int64{}
		}
		for k, n := range batch {
			if _, ok := s.pending[k]; ok || len(s.pending) < maxPending {
				s.pending[k] += n
			}
		}
		s.mu.Unlock()
		return fmt.Errorf("move %d counts to redis: %w", len(batch), err)
	}
	return nil
}

// takeBatch renames the pending counts to a new batch (atomically: one
// flush gets them) and lists every batch not yet in PostgreSQL.
var takeBatch = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('RENAME', KEYS[1], KEYS[2])
  redis.call('SADD', KEYS[3], ARGV[1])
end
return redis.call('SMEMBERS', KEYS[3])`)

// HandleFlush is the FlushJob handler.
func (s *Service) HandleFlush(ctx context.Context, _ jobs.Job) error {
	_, err := s.Flush(ctx)
	return err
}

// Flush adds the counts waiting in Redis to PostgreSQL and returns how
// many it added. Each batch is added exactly once: its name goes into
// insight_flushes in the same transaction as its counts, so a second
// worker, or a retry after the Redis clean-up failed, finds it there and
// only cleans up.
func (s *Service) Flush(ctx context.Context) (int64, error) {
	if s.Redis == nil {
		return 0, nil
	}
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return 0, fmt.Errorf("flush counts: batch name: %w", err)
	}
	name := s.now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b)
	ids, err := takeBatch.Run(ctx, s.Redis, []string{pendingHash, batchPrefix + name, batchesSet}, name).StringSlice()
	if err != nil {
		return 0, fmt.Errorf("flush counts: take batch: %w", err)
	}
	slices.Sort(ids)
	var total int64
	for _, id := range ids {
		n, err := s.flushBatch(ctx, id)
		if err != nil {
			return total, err
		}
		total += n
	}
	if len(ids) > 0 {
		const prune = `DELETE FROM insight_flushes WHERE at < $1`
		if _, err := s.DB.ExecContext(ctx, prune, s.now().Add(-30*24*time.Hour)); err != nil {
			return total, fmt.Errorf("flush counts: prune batch names: %w", err)
		}
	}
	return total, nil
}

type dailyKey struct {
	group int64
	day   string
	kind  Kind
}

type totalKey struct {
	credential string
	kind       Kind
}

// flushBatch adds batch id to PostgreSQL unless it is there already, then
// removes it from Redis.
func (s *Service) flushBatch(ctx context.Context, id string) (int64, error) {
	fields, err := s.Redis.HGetAll(ctx, batchPrefix+id).Result()
	if err != nil {
		return 0, fmt.Errorf("flush counts: read batch %s: %w", id, err)
	}
	totals := map[totalKey]int64{}
	type entry struct {
		totalKey
		day string
		n   int64
	}
	var entries []entry
	var creds []string
	seen := map[string]bool{}
	for f, v := range fields {
		parts := strings.Split(f, "|")
		n, err := strconv.ParseInt(v, 10, 64)
		if len(parts) != 3 || err != nil || n <= 0 || !Kind(parts[2]).valid() {
			s.logger().Warn("insight: skipping a malformed count", "batch", id, "field", f)
			continue
		}
		if _, err := time.Parse(time.DateOnly, parts[1]); err != nil {
			continue
		}
		e := entry{totalKey{parts[0], Kind(parts[2])}, parts[1], n}
		entries = append(entries, e)
		totals[e.totalKey] += n
		if !seen[e.credential] {
			seen[e.credential] = true
			creds = append(creds, e.credential)
		}
	}
	groups, err := s.Core.CredentialGroups(ctx, creds)
	if err != nil {
		return 0, fmt.Errorf("flush counts: batch %s: %w", id, err)
	}
	daily := map[dailyKey]int64{}
	var added int64
	for _, e := range entries {
		g, ok := groups[e.credential]
		if !ok { // deleted since: nothing to show it under
			delete(totals, e.totalKey)
			continue
		}
		daily[dailyKey{g, e.day, e.kind}] += e.n
		added += e.n
	}
	err = db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		const claim = `INSERT INTO insight_flushes (batch) VALUES ($1) ON CONFLICT (batch) DO NOTHING`
		res, err := tx.ExecContext(ctx, claim, id)
		if err != nil {
			return fmt.Errorf("claim batch: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			added = 0
			return nil // another worker added it
		}
		if err := addDaily(ctx, tx, daily); err != nil {
			return err
		}
		return addTotals(ctx, tx, totals)
	})
	if err != nil {
		return 0, fmt.Errorf("flush counts: batch %s: %w", id, err)
	}
	// Added (or found added): Redis may forget it. Should this fail, the
	// next flush finds the name in insight_flushes and only cleans up.
	if _, err := s.Redis.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, batchPrefix+id)
		p.SRem(ctx, batchesSet, id)
		return nil
	}); err != nil && !errors.Is(err, redis.Nil) {
		return added, fmt.Errorf("flush counts: forget batch %s: %w", id, err)
	}
	return added, nil
}

// addDaily adds counts to insight_daily, in key order (two transactions
// adding to the same rows then cannot deadlock).
func addDaily(ctx context.Context, tx *sqlx.Tx, m map[dailyKey]int64) error {
	if len(m) == 0 {
		return nil
	}
	keys := make([]dailyKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b dailyKey) int {
		if c := a.group - b.group; c != 0 {
			return int(max(-1, min(1, c)))
		}
		if c := strings.Compare(a.day, b.day); c != 0 {
			return c
		}
		return strings.Compare(string(a.kind), string(b.kind))
	})
	gs, days, kinds, ns := make([]int64, len(keys)), make([]string, len(keys)), make([]string, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		gs[i], days[i], kinds[i], ns[i] = k.group, k.day, string(k.kind), m[k]
	}
	const q = `INSERT INTO insight_daily (group_id, day, kind, n)
		SELECT * FROM unnest($1::bigint[], $2::date[], $3::text[], $4::bigint[])
		ON CONFLICT (group_id, day, kind) DO UPDATE SET n = insight_daily.n + excluded.n`
	if _, err := tx.ExecContext(ctx, q, pq.Array(gs), pq.Array(days), pq.Array(kinds), pq.Array(ns)); err != nil {
		return fmt.Errorf("add %d daily counts: %w", len(keys), err)
	}
	return nil
}

// addTotals adds counts to insight_totals, in key order.
func addTotals(ctx context.Context, tx *sqlx.Tx, m map[totalKey]int64) error {
	if len(m) == 0 {
		return nil
	}
	keys := make([]totalKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b totalKey) int {
		if c := strings.Compare(a.credential, b.credential); c != 0 {
			return c
		}
		return strings.Compare(string(a.kind), string(b.kind))
	})
	ids, kinds, ns := make([]string, len(keys)), make([]string, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		ids[i], kinds[i], ns[i] = k.credential, string(k.kind), m[k]
	}
	const q = `INSERT INTO insight_totals (credential_id, kind, n)
		SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
		ON CONFLICT (credential_id, kind) DO UPDATE SET n = insight_totals.n + excluded.n`
	if _, err := tx.ExecContext(ctx, q, pq.Array(ids), pq.Array(kinds), pq.Array(ns)); err != nil {
		return fmt.Errorf("add %d credential totals: %w", len(keys), err)
	}
	return nil
}
