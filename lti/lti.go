// Package lti makes Laurel an LTI 1.3 tool as the 1EdTech specifications
// define it, for any platform: platform registrations and deployments, the
// tool's signing keys and JWKS, the OIDC login and id_token launch with every
// validation of the Security Framework, client-side postMessage storage for
// browsers that block third-party cookies, Dynamic Registration, and the
// LTI Advantage service client (tokens, NRPS, deep linking responses).
// Nothing here is Canvas-only; lti/course (the views a launch shows in a
// course, its LaunchHandler), lti/admin (the owner's pages that manage
// platforms and keys) and package canvas build on it.
//
// Wiring (the lead's app): build a Tool with New, include Templates in the
// web.Renderer, call Tool.Register on the router, and set the LaunchHandler
// (at New or later with SetLaunchHandler). After a launch passes every check
// the Tool records the launching user, issues a launch token (Launch.Token)
// and calls the LaunchHandler, which renders what the launch shows. Pages
// inside the iframe carry the token as the form field or query parameter
// "ltik" (or header "X-Ltik"); Tool.LaunchFromRequest gets the Launch back,
// without relying on cookies.
package lti

import (
	"embed"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/jose"
	"github.com/laurel-edu/laurel/internal/locale"
	"github.com/laurel-edu/laurel/internal/secret"
	"github.com/laurel-edu/laurel/internal/web"
)

//go:embed templates/*.html
var templatesFS embed.FS

// Templates are the package's pages (all named lti_*.html), to pass to
// web.NewRenderer.
var Templates = web.TemplateDir(templatesFS)

// LaunchHandler renders what a validated launch shows. It runs after the
// launch was recorded and l.Token issued; an error it returns is rendered by
// the web.Renderer's error page.
type LaunchHandler func(c *gin.Context, l *Launch) error

// Tool is Laurel as an LTI 1.3 tool. Its exported tuning fields may be
// changed after New and before Register.
type Tool struct {
	db       *sqlx.DB
	stmts    *db.Statements // a launch's queries, prepared
	rdb      *redis.Client
	keys     *secret.Keys
	baseURL  string
	log      *slog.Logger
	registry *Registry
	toolKeys *KeyStore
	jwks     *jose.KeySets // platform JWKS

	mu       sync.RWMutex
	onLaunch LaunchHandler

	// HTTPClient fetches platform JWKS and configurations and calls services.
	// New's client enforces the platform fetch rule (see fetch.go); replace
	// it only with one that does too.
	HTTPClient *http.Client
	// Locale is the organisation's language and time zone, which the
	// tool's messages write times in (nil: locale.Default).
	Locale locale.Func
	// AllowHTTPPlatforms lets platform URLs use plain http and loopback or
	// private addresses (LAUREL_ALLOW_HTTP_PLATFORMS; laurel dev).
	AllowHTTPPlatforms bool
	// FetchTimeout bounds each fetch from a platform, body included.
	FetchTimeout time.Duration
	// Now is the clock (tests move it).
	Now func() time.Time
	// Leeway tolerates clock skew on exp and iat.
	Leeway time.Duration
	// StateTTL bounds the time between login and launch.
	StateTTL time.Duration
	// SessionTTL is the lifetime of a launch token.
	SessionTTL time.Duration
	// NonceTTL is the minimum time a used nonce is remembered; it is kept at
	// least until the token's exp plus Leeway, so a nonce never outlives its
	// record while the token is still valid.
	NonceTTL time.Duration
	// Title and Description name the tool at Dynamic Registration.
	Title       string
	Description string
	// Staff links a launch to the staff account with its email and names
	// who created the registration links (nil: neither).
	Staff Staff
}

// New builds the tool. baseURL is LAUREL_BASE_URL (the redirect_uri is
// baseURL+"/lti/launch"); onLaunch may be nil and set later.
func New(d *sqlx.DB, rdb *redis.Client, keys *secret.Keys, baseURL string, log *slog.Logger, onLaunch LaunchHandler) *Tool {
	if log == nil {
		log = slog.Default()
	}
	t := &Tool{
		db: d, stmts: db.NewStatements(d), rdb: rdb, keys: keys, baseURL: strings.TrimRight(baseURL, "/"), log: log,
		onLaunch:    onLaunch,
		Now:         time.Now,
		Leeway:      2 * time.Minute,
		StateTTL:    10 * time.Minute,
		SessionTTL:  2 * time.Hour,
		NonceTTL:    2 * time.Hour,
		Title:       "Laurel",
		Description: "Digital credentials (badges and certificates) for course completion.",
	}
	t.FetchTimeout = 10 * time.Second
	t.HTTPClient = t.newPlatformClient()
	t.registry = NewRegistry(d)
	t.toolKeys = NewKeyStore(d, keys)
	t.jwks = newPlatformKeys(t)
	return t
}

// SetLaunchHandler sets the hook that renders a validated launch.
func (t *Tool) SetLaunchHandler(h LaunchHandler) {
	t.mu.Lock()
	t.onLaunch = h
	t.mu.Unlock()
}

// Keys returns the tool's signing keys (listed, rotated and retired on the
// owner's keys page).
func (t *Tool) Keys() *KeyStore { return t.toolKeys }

// BaseURL is LAUREL_BASE_URL without a trailing slash.
func (t *Tool) BaseURL() string { return t.baseURL }

// Registry returns the platform registry.
func (t *Tool) Registry() *Registry { return t.registry }

// LoginURL is the OIDC login initiation URL (oidc_initiation_url).
func (t *Tool) LoginURL() string { return t.baseURL + "/lti/login" }

// LaunchURL is the redirect_uri and target_link_uri.
func (t *Tool) LaunchURL() string { return t.baseURL + "/lti/launch" }

// JWKSURL publishes the tool's public keys.
func (t *Tool) JWKSURL() string { return t.baseURL + "/lti/jwks" }

// RegisterURL starts LTI Dynamic Registration.
func (t *Tool) RegisterURL() string { return t.baseURL + "/lti/register" }

// Domain is the host of the base URL (the tool configuration's domain).
func (t *Tool) Domain() string {
	h := strings.TrimPrefix(strings.TrimPrefix(t.baseURL, "https://"), "http://")
	if i := strings.IndexByte(h, '/'); i >= 0 {
		h = h[:i]
	}
	return h
}

// Register mounts the LTI routes: GET/POST /lti/login, POST /lti/launch,
// GET /lti/jwks and GET /lti/register. rd must include Templates. These
// routes are cross-site by design: keep them out of CrossOriginProtection.
func (t *Tool) Register(r gin.IRouter, rd *web.Renderer) {
	h := &handlers{t: t, rd: rd}
	r.GET("/lti/login", h.login)
	r.POST("/lti/login", h.login)
	r.POST("/lti/launch", h.launch)
	r.GET("/lti/jwks", h.jwks)
	r.GET("/lti/register", h.register)
}

type handlers struct {
	t  *Tool
	rd *web.Renderer
}
