package auth

import (
	"context"
	"embed"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/laurel-edu/laurel/internal/secret"
	"github.com/laurel-edu/laurel/internal/web"
)

// Templates holds the sign-in page; pass it to web.NewRenderer.
//
//go:embed templates/*.html
var templatesFS embed.FS

// Templates are this package's pages, for web.NewRenderer.
var Templates = web.TemplateDir(templatesFS)

// Session cookie settings.
const (
	sessionCookie   = "laurel_session"
	sessionLifetime = 12 * time.Hour
	sessionIdle     = 2 * time.Hour
)

// Session keys.
const (
	sessionUserKey  = "user_id"
	sessionFlashKey = "flash"
	// sessionEpochKey is the account's session epoch at sign-in; a session
	// whose epoch is behind the account's has ended.
	sessionEpochKey = "epoch"
)

// gin context key under which the middleware leaves the session manager, so
// SetFlash works from any feature's handler.
const sessionsKey = "auth.sessions"

// Auth is staff sign-in: sessions, their middleware, bearer tokens and the
// login rate limits. The accounts themselves are behind Users.
type Auth struct {
	rdb   *redis.Client
	keys  *secret.Keys
	users Users

	// Sessions is the session manager; wrap the whole HTTP handler with
	// Sessions.LoadAndSave so sessions load before gin runs.
	Sessions *scs.SessionManager
	// Limits caps login attempts; tests may lower them.
	Limits LoginLimits
	// Landing, when set, may send a sign-in somewhere other than the page
	// asked for: the app sends an owner to organisation setup while the
	// organisation has no name. "" keeps the requested page.
	Landing func(ctx context.Context, p *Principal) (string, error)
}

// New builds Auth on the accounts in users. baseURL decides whether the
// session cookie is Secure: it is, unless Laurel is served over plain http
// on a host other than loopback (browsers keep Secure cookies for
// http://localhost and 127.0.0.1).
func New(rdb *redis.Client, keys *secret.Keys, baseURL string, users Users) *Auth {
	sm := scs.New()
	sm.Store = goredisstore.NewWithPrefix(rdb, "laurel:session:")
	sm.Lifetime = sessionLifetime
	sm.IdleTimeout = sessionIdle
	sm.Cookie.Name = sessionCookie
	sm.Cookie.HttpOnly = true
	sm.Cookie.Secure = secureCookies(baseURL)
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Path = "/"
	// A session store (Redis) that cannot be reached is a 503 page or JSON
	// error with Retry-After, not scs's bare 500.
	sm.ErrorFunc = web.ServeError
	return &Auth{rdb: rdb, keys: keys, users: users, Sessions: sm, Limits: defaultLoginLimits}
}

func secureCookies(baseURL string) bool {
	u, err := url.Parse(baseURL)
	if err != nil || u.Scheme != "http" {
		return true
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Register mounts GET/POST /login and POST /logout. The renderer must hold
// Templates. Mount Load on the whole router first (r.Use(a.Load())).
func (a *Auth) Register(r gin.IRouter, rd *web.Renderer) {
	r.GET("/login", rd.Page(a.loginForm(rd)))
	r.POST("/login", rd.Page(a.login(rd)))
	r.POST("/logout", rd.Page(a.logout))
}
