// Package canvas is what only Canvas does: the developer-key JSON, the
// Canvas platform settings, the Live Events completion webhook and its inbox
// worker, the Canvas REST client, the reconciliation that catches
// completions whose events never arrived, and the /admin/events page. It
// owns the canvas_* tables. The views a launch shows in a course, and the
// course mappings they and the completions use, are package course's (for
// every LTI platform); this package gives them Canvas's side (CourseSide).
//
// # The completion webhook (POST /webhooks/canvas)
//
// Canvas Live Events (HTTPS delivery) POST one event per request. Two forms
// are accepted:
//
//   - Signed (the default in Canvas): the body is a compact JWT, RS256 only,
//     verified against the JWKS at LAUREL_LIVE_EVENTS_JWKS_URL (cached;
//     re-fetched on an unknown kid at most once per 5 s). The event is the
//     JWT's claims or sits under a claim: the first object holding "metadata"
//     and "body" objects is taken.
//   - Unsigned JSON, only for a platform an owner gave a shared secret
//     (/admin/events; stored encrypted). The
//     request must carry it as "X-Laurel-Webhook-Secret: <secret>" or
//     "Authorization: Bearer <secret>"; the platform is the one whose Canvas
//     URL's host name equals the event's metadata.hostname (ports aside).
//
// A valid event is stored in the canvas_events inbox (a re-delivery, same
// metadata.request_id, is a no-op) and answered 200 {"status": "accepted" |
// "duplicate" | "ignored"}; its job (kind "canvas.event", enqueued in the same
// transaction) then creates the credential.
// A refusal answers 400, 401 or 413 {"error": {"code", "reason", "message"}},
// and 503 with Retry-After when Laurel cannot store the event (Canvas
// retries).
package canvas

import (
	"context"
	"errors"
	"fmt"
	"github.com/laurel-edu/laurel/internal/locale"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/laurel-edu/laurel/internal/cache"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/groupcommit"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/internal/jose"
	"github.com/laurel-edu/laurel/internal/secret"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/lti/course"
)

// Issuer is the part of the issuance core the completion path uses. Its
// EnsureCredentials (course.Ensurer, reached through course.Grant, the rule
// engine's one path) is idempotent on (group, externalRef) and on (group,
// email) when the group forbids duplicates, so a repeated completion never
// creates a second credential.
type Issuer interface {
	course.Ensurer
	// CredentialJSON is the one JSON shape of a credential (the API's).
	CredentialJSON(c issuance.Credential) issuance.CredentialJSON
	// PublishAllowed refuses (issuance.ReasonOrganisationNotSet) while no
	// owner has named the organisation: auto-publishing waits until then.
	PublishAllowed(ctx context.Context) error
	// Group returns a group (the admin page names mapped groups by it).
	Group(ctx context.Context, id int64) (issuance.Group, error)
	// Locale is the organisation's language and time zone (the why lines'
	// dates).
	Locale(ctx context.Context) locale.Locale
}

// Platform is what this package needs to know about a registered LTI
// platform: its id and name from package lti, its Canvas settings from this
// package's own table (PlatformSettings).
type Platform struct {
	ID   int64
	Name string
	// CanvasURL is the institution's Canvas base URL (REST calls; Live Events
	// whose metadata.hostname equals its host belong to this platform).
	CanvasURL string
	// HasCanvasToken tells whether a Canvas API token is stored.
	HasCanvasToken bool
	// CanvasToken is the decrypted Canvas API token; CanvasPlatform fills
	// it, CanvasPlatforms need not.
	CanvasToken string
}

// host returns the lower-case host (with port, if any) of CanvasURL.
func (p Platform) host() string { return hostOf(p.CanvasURL) }

// Platforms looks registered platforms up (ID and Name; the Service adds
// the Canvas settings it keeps itself); package lti's registry implements
// it through an adapter (see LTIPlatforms).
type Platforms interface {
	// CanvasPlatforms lists every enabled platform.
	CanvasPlatforms(ctx context.Context) ([]Platform, error)
	// CanvasPlatform returns one platform, or an apperr.NotFound error.
	CanvasPlatform(ctx context.Context, id int64) (Platform, error)
}

// Courses is the part of package course the completions, reconciliation and
// the admin page use: the course mappings.
type Courses interface {
	// Mapping returns one mapping, or an apperr.NotFound error.
	Mapping(ctx context.Context, id int64) (course.Mapping, error)
	// ListMappings returns mappings, newest first.
	ListMappings(ctx context.Context, f course.MappingFilter) ([]course.Mapping, error)
	// MappingIDs lists the mappings of a completion rule, in id order.
	MappingIDs(ctx context.Context, rules ...course.CompletionRule) ([]int64, error)
	// Explain is the rule engine's last check of a mapping and its
	// per-person "why (not) awarded" lines, whatever the platform.
	Explain(ctx context.Context, m course.Mapping) (*course.Check, []course.Explanation, error)
}

// Options configures a Service. DB, Keys, Issuer, Platforms and Courses are
// required.
type Options struct {
	DB        *sqlx.DB
	Keys      *secret.Keys
	Issuer    Issuer
	Platforms Platforms
	Courses   Courses
	// BaseURL is LAUREL_BASE_URL: every URL the developer key names.
	BaseURL string
	// LiveEventsJWKSURL is LAUREL_LIVE_EVENTS_JWKS_URL.
	LiveEventsJWKSURL string
	// KeySets is the process's cache of remote key sets (lti.Tool.KeySets),
	// which then holds the Live Events JWKS too; nil: one of its own, on
	// HTTPClient and Now.
	KeySets *jose.KeySets
	// Registerer receives the Prometheus counters (nil: not registered).
	Registerer prometheus.Registerer
	// HTTPClient fetches the JWKS and calls Canvas (default: 30 s timeout).
	HTTPClient *http.Client
	// RateLimitBackoff is the first wait after Canvas answers 403 "Rate Limit
	// Exceeded" (doubles on each retry; default 2s).
	RateLimitBackoff time.Duration
	// InboxConcurrency is how many inbox loops runInboxWorker runs
	// (default 8).
	InboxConcurrency int
	Now              func() time.Time
	Log              *slog.Logger
}

// Service holds the Canvas feature's state. Build it with New.
type Service struct {
	db        *sqlx.DB
	keys      *secret.Keys
	issuer    Issuer
	platforms Platforms
	courses   Courses
	settings  *PlatformSettings
	baseURL   string
	client    *http.Client
	jwks      *liveEventKeys
	metrics   *metrics
	now       func() time.Time
	log       *slog.Logger

	rateLimitBackoff time.Duration
	inboxConcurrency int

	// platformsLoad lets one caller load the platform list while the
	// others wait for it (every event needs the list).
	platformsLoad sync.Mutex
	platformsSeen *cache.TTL[struct{}, []Platform]
	// secrets is platform id → its webhook shared secret ("" for none).
	secrets *cache.TTL[int64, string]

	// ingest writes concurrent deliveries' events in one statement.
	ingest *groupcommit.Writer[pendingEvent, bool]
	// stmts runs the hot paths' queries prepared: the inbox batch INSERT
	// (planned once per connection instead of once per batch) and a
	// launch's reads and writes.
	stmts *db.Statements
	// guids is platform id → the root account guid this process last
	// recorded for it, for guidRefresh.
	guids *cache.TTL[int64, string]

	// running is the inbox worker runInboxWorker runs, woken when an event
	// arrives (the app's worker is woken by PostgreSQL instead).
	running atomic.Pointer[jobs.Worker]
	// views renders the admin page (set by RegisterAdmin).
	views *web.Renderer
}

// New builds the Canvas service.
func New(o Options) (*Service, error) {
	switch {
	case o.DB == nil:
		return nil, errors.New("canvas.New: DB is required")
	case o.Keys == nil:
		return nil, errors.New("canvas.New: Keys is required")
	case o.Issuer == nil:
		return nil, errors.New("canvas.New: Issuer is required")
	case o.Platforms == nil:
		return nil, errors.New("canvas.New: Platforms is required")
	case o.Courses == nil:
		return nil, errors.New("canvas.New: Courses is required")
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.InboxConcurrency <= 0 {
		o.InboxConcurrency = 8
	}
	if o.RateLimitBackoff <= 0 {
		o.RateLimitBackoff = 2 * time.Second
	}
	s := &Service{
		db:               o.DB,
		stmts:            db.NewStatements(o.DB),
		keys:             o.Keys,
		issuer:           o.Issuer,
		platforms:        o.Platforms,
		courses:          o.Courses,
		settings:         NewPlatformSettings(o.DB, o.Keys),
		baseURL:          strings.TrimRight(o.BaseURL, "/"),
		client:           o.HTTPClient,
		now:              o.Now,
		log:              o.Log,
		rateLimitBackoff: o.RateLimitBackoff,
		inboxConcurrency: o.InboxConcurrency,
		metrics:          newMetrics(),
		platformsSeen:    cache.New[struct{}, []Platform](platformsFor, 0, o.Now),
		secrets:          cache.New[int64, string](secretsFor, 0, o.Now),
		guids:            cache.New[int64, string](guidRefresh, 0, o.Now),
	}
	s.ingest = groupcommit.New(ingestWriters, maxIngestBatch, s.insertEvents)
	if o.LiveEventsJWKSURL != "" {
		s.jwks = &liveEventKeys{url: o.LiveEventsJWKSURL, sets: o.KeySets}
		if s.jwks.sets == nil {
			s.jwks.sets = jose.NewKeySets(o.HTTPClient, o.Now, o.Log)
		}
	}
	if o.Registerer != nil {
		if err := s.metrics.register(o.Registerer); err != nil {
			return nil, fmt.Errorf("canvas.New: register metrics: %w", err)
		}
	}
	return s, nil
}

// metrics are the Prometheus counters for every outcome, so an operator can
// alert on refusals or failures.
type metrics struct {
	webhook    *prometheus.CounterVec // outcome: accepted, duplicate, ignored, refused
	refused    *prometheus.CounterVec // reason
	processed  *prometheus.CounterVec // outcome: processed, unmapped, ignored, failed, retried
	reconciled *prometheus.CounterVec // outcome: ok, failed, no_token
	recCreated prometheus.Counter
}

func newMetrics() *metrics {
	return &metrics{
		webhook: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "laurel_canvas_webhook_deliveries_total",
			Help: "Live Events deliveries to /webhooks/canvas by outcome (accepted, duplicate, ignored, refused).",
		}, []string{"outcome"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "laurel_canvas_webhook_refused_total",
			Help: "Live Events deliveries refused, by reason (bad_signature, unknown_kid, bad_alg, expired, missing_field, ...).",
		}, []string{"reason"}),
		processed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "laurel_canvas_events_processed_total",
			Help: "Inbox events handled by the worker, by outcome (processed, unmapped, ignored, failed, retried).",
		}, []string{"outcome"}),
		reconciled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "laurel_canvas_reconciliations_total",
			Help: "Reconciliation runs of one mapped course, by outcome (ok, failed, no_token).",
		}, []string{"outcome"}),
		recCreated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "laurel_canvas_reconciliation_credentials_created_total",
			Help: "Credentials created by reconciliation (completions whose events were missed).",
		}),
	}
}

func (m *metrics) register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.webhook, m.refused, m.processed, m.reconciled, m.recCreated} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// wake tells this process's inbox worker that work may be waiting.
func (s *Service) wake() {
	if w := s.running.Load(); w != nil {
		w.Wake()
	}
}

func hostOf(rawURL string) string {
	u := strings.TrimSpace(rawURL)
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	if i := strings.IndexAny(u, "/?#"); i >= 0 {
		u = u[:i]
	}
	if i := strings.LastIndex(u, "@"); i >= 0 {
		u = u[i+1:]
	}
	u = strings.ToLower(u)
	u = strings.TrimSuffix(u, ":443")
	return u
}

// stripPort returns host without its ":port" (hosts here are DNS names or
// IPv4 addresses: cleanHost admits no brackets).
func stripPort(host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		return host[:i]
	}
	return host
}
