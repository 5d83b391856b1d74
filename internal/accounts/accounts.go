// Package accounts is the staff-accounts feature: staff users and their
// group limits, invitations and password resets (one-time links and their
// emails, sent by AccountEmailJob), API tokens, and the pages where an
// owner manages them and a staff member changes their own password. It owns
// the tables users, user_groups, account_links, api_tokens and
// api_token_groups. It implements auth.Users, through which package auth
// signs people in without reading these tables.
package accounts

import (
	"context"
	"embed"
	"fmt"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/audit"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/cache"
	"github.com/laurel-edu/laurel/internal/locale"
	"github.com/laurel-edu/laurel/internal/secret"
	"github.com/laurel-edu/laurel/internal/web"
)

// Templates holds the accounts pages; pass it to web.NewRenderer.
//
//go:embed templates/*.html
var templatesFS embed.FS

// Templates are this package's pages, for web.NewRenderer.
var Templates = web.TemplateDir(templatesFS)

// Service keeps the staff accounts and API tokens.
type Service struct {
	db   *sqlx.DB
	keys *secret.Keys

	// Now is the clock for one-time links and audit entries (nil:
	// time.Now).
	Now func() time.Time
	// GroupOptions lists the groups an account or token can be limited to,
	// for the staff and token forms; the app wires it to issuance.
	GroupOptions func(ctx context.Context) ([]GroupOption, error)
	// OrganisationName names the issuing organisation in invitations and
	// password resets ("" before an owner has named it); the app wires it
	// to issuance. nil: the emails say "your institution".
	OrganisationName func(ctx context.Context) (string, error)
	// Locale is the organisation's language and time zone, which the
	// account emails and messages write times in (nil: locale.Default).
	Locale locale.Func
	// Actors names the actors of an account's history; the app wires
	// every kind's owner (nil: s alone, which knows staff and tokens).
	Actors audit.Namer

	// staffEmails is every account's email (lower case), for launches
	// (StaffIDByEmail); a new account clears it.
	staffEmails *cache.TTL[struct{}, map[string]bool]
}

var (
	_ auth.Users  = (*Service)(nil)
	_ audit.Namer = (*Service)(nil)
)

// GroupOption is a group as the limit pickers show it.
type GroupOption struct {
	ID   int64
	Name string
}

// New builds the service; keys MAC the stored tokens and seal the link
// tokens the email job sends. It needs no Redis: the administrative
// commands create accounts and tokens with it alone.
func New(db *sqlx.DB, keys *secret.Keys) *Service {
	s := &Service{db: db, keys: keys}
	s.staffEmails = cache.New[struct{}, map[string]bool](staffEmailsFor, 0, s.now)
	return s
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Register mounts the pages of the one-time links (GET/POST
// /account/welcome for an invitation, /account/reset for a password reset)
// and "Forgot your password?" (/account/forgot, which sends a reset link),
// which need no session; a uses them to end the browser's session. The
// renderer must hold Templates.
func (s *Service) Register(r gin.IRouter, rd *web.Renderer, a *auth.Auth) {
	for _, purpose := range []string{linkInvite, linkReset} {
		r.GET(linkPath(purpose), noReferrer, rd.Page(s.linkForm(rd, purpose)))
		r.POST(linkPath(purpose), noReferrer, rd.Page(s.linkUse(rd, a, purpose)))
	}
	r.GET("/account/forgot", rd.Page(s.forgotForm(rd)))
	r.POST("/account/forgot", rd.Page(s.forgotSend(rd)))
}

// orgName is the organisation's name, "" when it is not named or not wired.
func (s *Service) orgName(ctx context.Context) (string, error) {
	if s.OrganisationName == nil {
		return "", nil
	}
	org, err := s.OrganisationName(ctx)
	if err != nil {
		return "", fmt.Errorf("organisation name: %w", err)
	}
	return org, nil
}

// locale is the locale of ctx's emails and messages.
func (s *Service) locale(ctx context.Context) locale.Locale {
	if s.Locale == nil {
		return locale.Default()
	}
	return s.Locale(ctx)
}
