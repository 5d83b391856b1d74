// Package recipient is a credential's recipient acting on it themselves:
// proving they hold the credential's email address through a one-time link
// (which starts a recipient session), hiding the credential's page from the
// public, and asking for a name correction that staff approve or refuse in
// a queue (/corrections). It also sends the notices to the old and the new
// address when staff change a published credential's email. It owns the
// tables recipient_links, recipient_hidden, name_corrections and
// recipient_mails; credentials are read and amended through the issuance
// core, and every email goes out through the job engine (EmailJob).
//
// A recipient session grants nothing on staff routes: it lives in the same
// session cookie as a staff sign-in but under its own key, which
// auth.RequireStaff never reads. Other features ask RecipientOf or Proven.
package recipient

import (
	"embed"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/laurel-edu/laurel/internal/secret"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance"
)

//go:embed templates/*.html
var templatesFS embed.FS

// Templates are this package's pages, for web.NewRenderer.
var Templates = web.TemplateDir(templatesFS)

// Defaults of a Service's link rules.
const (
	// DefaultLinkValidity is how long an emailed link works: long enough to
	// open one's mailbox, short enough that an old email is no key.
	DefaultLinkValidity = 30 * time.Minute
	// DefaultLinkLimit links per credential per DefaultLinkWindow: a
	// stranger who knows a credential's page cannot flood its recipient.
	DefaultLinkLimit  = 3
	DefaultLinkWindow = time.Hour
)

// Service is recipient self-service.
type Service struct {
	DB       *sqlx.DB
	Core     *issuance.Service
	Keys     *secret.Keys
	Redis    *redis.Client
	Sessions *scs.SessionManager
	// LinkValidity, LinkLimit and LinkWindow are the link rules (see the
	// defaults); tests shorten them.
	LinkValidity time.Duration
	LinkLimit    int
	LinkWindow   time.Duration
}

// New returns recipient self-service over core, with links sealed and
// MACed under keys, rate limits in rdb and sessions in sessions (the
// staff sign-in's manager, so one cookie carries both).
func New(db *sqlx.DB, core *issuance.Service, keys *secret.Keys, rdb *redis.Client, sessions *scs.SessionManager) *Service {
	return &Service{DB: db, Core: core, Keys: keys, Redis: rdb, Sessions: sessions,
		LinkValidity: DefaultLinkValidity, LinkLimit: DefaultLinkLimit, LinkWindow: DefaultLinkWindow}
}

func (s *Service) now() time.Time { return s.Core.Time() }

// actor is how the audit log names a credential's recipient acting on it.
func actor(credentialID string) string { return "recipient:" + credentialID }

// firstName is how the public page greets a recipient: the name's first
// word.
func firstName(name string) string {
	f := strings.Fields(name)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// ginContext key under which Load leaves the credentials the session proved.
const provenKey = "recipient.proven"

// session key of the proven credentials, comma-separated.
const sessionKey = "recipient_credentials"

// maxProven bounds the credentials one session proves (the oldest go).
const maxProven = 20

// Load reads the recipient session's proven credentials for RecipientOf and
// Proven; mount it on the whole router after auth.Load.
func (s *Service) Load() gin.HandlerFunc {
	return func(c *gin.Context) {
		if v := s.Sessions.GetString(c.Request.Context(), sessionKey); v != "" {
			c.Set(provenKey, strings.Split(v, ","))
		}
		c.Next()
	}
}

// Proven reports whether the request's session proved it holds credential
// credentialID (through an emailed link).
func Proven(c *gin.Context, credentialID string) bool {
	v, _ := c.Get(provenKey)
	ids, _ := v.([]string)
	for _, id := range ids {
		if id == strings.ToLower(credentialID) {
			return true
		}
	}
	return false
}

// RecipientOf returns the credential of the request's route (its :id, as
// in /c/:id and the routes under it) when the request's session proved it
// holds that credential: the one check a feature needs before offering a
// recipient something only they may have (a wallet offer, say).
func RecipientOf(c *gin.Context) (credentialID string, ok bool) {
	id := strings.ToLower(c.Param("id"))
	if id == "" || !Proven(c, id) {
		return "", false
	}
	return id, true
}

// prove adds credentialID to the session's proven credentials, under a new
// session token (a session fixed before the link cannot ride on it).
func (s *Service) prove(c *gin.Context, credentialID string) error {
	ctx := c.Request.Context()
	if err := s.Sessions.RenewToken(ctx); err != nil {
		return err
	}
	var ids []string
	if v := s.Sessions.GetString(ctx, sessionKey); v != "" {
		for _, id := range strings.Split(v, ",") {
			if id != credentialID {
				ids = append(ids, id)
			}
		}
	}
	ids = append(ids, credentialID)
	if len(ids) > maxProven {
		ids = ids[len(ids)-maxProven:]
	}
	s.Sessions.Put(ctx, sessionKey, strings.Join(ids, ","))
	c.Set(provenKey, ids)
	return nil
}

// forget ends the session's proof of credentialID.
func (s *Service) forget(c *gin.Context, credentialID string) {
	ctx := c.Request.Context()
	var ids []string
	for _, id := range strings.Split(s.Sessions.GetString(ctx, sessionKey), ",") {
		if id != "" && id != credentialID {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		s.Sessions.Remove(ctx, sessionKey)
	} else {
		s.Sessions.Put(ctx, sessionKey, strings.Join(ids, ","))
	}
	c.Set(provenKey, ids)
}

// Proven is the package's Proven, as a method for consumers that take an
// interface (the public pages).
func (s *Service) Proven(c *gin.Context, credentialID string) bool { return Proven(c, credentialID) }
