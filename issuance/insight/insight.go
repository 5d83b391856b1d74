// Package insight counts what people do with published credentials and
// shows the figures to staff, privacy first: page views by people (not
// bots or link previews), PDF and badge downloads, verifier fetches of the
// signed credential, "Add to LinkedIn" clicks, share clicks and clicks on
// the email's link. Nothing about the person is kept — no IP address,
// cookie or user agent — only counts per credential, group and day.
//
// A count costs the public page a map increment in memory; every few
// seconds the counts move to Redis (one MULTI of HINCRBYs), and a scheduled
// job (FlushJob) moves them from Redis into PostgreSQL exactly once. Without
// Redis counting pauses and the pages serve as before.
//
// It owns the tables insight_daily (per group, day and kind),
// insight_totals (per credential and kind) and insight_flushes (the batches
// already added), and serves /insights, its CSV export and the panels of
// the staff group and credential pages.
package insight

import (
	"context"
	"embed"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance"
)

// Kind is what was counted.
type Kind string

// The kinds of engagement counted.
const (
	View     Kind = "view"     // the credential page, by a person
	PDF      Kind = "pdf"      // the certificate PDF
	Badge    Kind = "badge"    // the baked badge image (PNG or SVG)
	Verify   Kind = "verify"   // the signed credential (JSON or VC-JWT), by a verifier
	LinkedIn Kind = "linkedin" // "Add to LinkedIn profile"
	Share    Kind = "share"    // a share link (LinkedIn, X, Facebook)
	Email    Kind = "email"    // the link in the credential email
)

// Kinds are every kind, in the order the figures show them.
var Kinds = []Kind{View, PDF, Badge, Verify, LinkedIn, Share, Email}

func (k Kind) valid() bool {
	for _, x := range Kinds {
		if x == k {
			return true
		}
	}
	return false
}

// FlushJob is the scheduled job kind that moves counts from Redis into
// PostgreSQL.
const FlushJob = "insight_flush"

// FlushEvery is how often FlushJob runs: the figures staff see lag by
// at most about this much.
const FlushEvery = time.Minute

// maxPending bounds the counts held in memory while Redis is away: beyond
// it, new credentials' counts are dropped (counting pauses).
const maxPending = 100_000

//go:embed templates/*.html
var templatesFS embed.FS

// Templates are the /insights page, for web.NewRenderer.
var Templates = web.TemplateDir(templatesFS)

// Service counts and reports engagement.
type Service struct {
	DB    *sqlx.DB
	Redis *redis.Client // nil: nothing is counted
	Core  *issuance.Service
	Now   func() time.Time
	Log   *slog.Logger
	// Off stops counting (the benchmark's "counting off" side).
	Off bool

	mu      sync.Mutex
	pending map[pendingKey]int64
	zone    atomic.Pointer[time.Location]
	failing atomic.Bool // Redis refused the last move: log once, not every time
}

type pendingKey struct {
	credential, day string
	kind            Kind
}

// New returns the engagement counter and figures over core's database,
// counting through rdb.
func New(d *sqlx.DB, rdb *redis.Client, core *issuance.Service) *Service {
	return &Service{DB: d, Redis: rdb, Core: core, Now: time.Now, Log: slog.Default()}
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) logger() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// location is the organisation's time zone, which days are counted in; it
// is read once and refreshed with every move to Redis.
func (s *Service) location(ctx context.Context) *time.Location {
	if z := s.zone.Load(); z != nil {
		return z
	}
	z := s.Core.Locale(ctx).Zone
	if z == nil {
		z = time.UTC
	}
	s.zone.Store(z)
	return z
}

// Count records one kind of engagement with credential id if r passes the
// counting rule (Human, or Verifier for Verify). It never fails and never
// waits on the network: the count is kept in memory until Run moves it.
func (s *Service) Count(r *http.Request, id string, k Kind) {
	if s == nil || s.Off || s.Redis == nil || id == "" {
		return
	}
	if k == Verify {
		if !Verifier(r) {
			return
		}
	} else if !Human(r) {
		return
	}
	key := pendingKey{credential: id, day: s.now().In(s.location(r.Context())).Format(time.DateOnly), kind: k}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending == nil {
		s.pending = map[pendingKey]int64{}
	}
	if _, ok := s.pending[key]; !ok && len(s.pending) >= maxPending {
		return
	}
	s.pending[key]++
}
