package auth

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/alexedwards/scs/v2"
	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/web"
)

// Load attaches the signed-in user's principal to each request (auth.Current)
// and moves a pending flash message into web.FlashKey for the page. It needs
// the handler wrapped in Sessions.LoadAndSave. A user who was disabled or
// deleted since signing in is signed out here.
func (a *Auth) Load() gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		c.Set(sessionsKey, a.Sessions)
		if id := a.Sessions.GetInt64(ctx, sessionUserKey); id != 0 {
			p, err := a.users.SessionPrincipal(ctx, id, a.Sessions.GetInt(ctx, sessionEpochKey))
			switch {
			case err == nil:
				c.Set(web.UserKey, p)
			case apperr.Is(err, apperr.NotFound) || apperr.Is(err, apperr.Unauthorized):
				_ = a.Sessions.Destroy(ctx)
				slog.InfoContext(ctx, "signed out a disabled or deleted user", "user_id", id)
			default:
				// The database is down: fail this request rather than treat
				// a signed-in user as anonymous and bounce them to /login.
				web.ServeError(c.Writer, c.Request, fmt.Errorf("load session user %d: %w", id, err))
				c.Abort()
				return
			}
		}
		// Only a page view consumes the flash; a POST that redirects keeps it
		// for the page it redirects to.
		if c.Request.Method == http.MethodGet {
			if f := a.Sessions.PopString(ctx, sessionFlashKey); f != "" {
				c.Set(web.FlashKey, f)
			}
		}
		c.Next()
	}
}

// SetFlash stores a one-shot message shown on the next page the user sees
// (after a Post/Redirect/Get). It is a no-op when Load is not mounted.
func SetFlash(c *gin.Context, msg string) {
	if v, ok := c.Get(sessionsKey); ok {
		if sm, ok := v.(*scs.SessionManager); ok {
			sm.Put(c.Request.Context(), sessionFlashKey, msg)
		}
	}
}

// SignOut ends the request's session and every flash with it, then leaves
// flash for the page after the redirect (Destroy starts a fresh session for
// the rest of this request, which carries it).
func (a *Auth) SignOut(ctx context.Context, flash string) error {
	if err := a.Sessions.Destroy(ctx); err != nil {
		return err
	}
	a.Sessions.Put(ctx, sessionFlashKey, flash)
	return nil
}

// RenewSession keeps the request's session under a new token and session
// epoch, after the account's epoch moved on (its own password change), so
// that every other session of the account has ended but this one goes on.
func (a *Auth) RenewSession(ctx context.Context, epoch int) error {
	if err := a.Sessions.RenewToken(ctx); err != nil {
		return err
	}
	a.Sessions.Put(ctx, sessionEpochKey, epoch)
	return nil
}

// RequireStaff guards the staff pages: an anonymous GET is redirected to
// /login?next=<this page>; any other anonymous request gets a 401 page.
func RequireStaff(rd *web.Renderer) gin.HandlerFunc {
	return func(c *gin.Context) {
		p := Current(c)
		if p == nil {
			if c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead {
				c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(c.Request.URL.RequestURI()))
				c.Abort()
				return
			}
			rd.WriteError(c, apperr.Errorf(apperr.Unauthorized, "Please sign in first."))
			return
		}
		if p.UserID == 0 {
			rd.WriteError(c, apperr.Errorf(apperr.Forbidden, "API tokens cannot use the staff pages."))
			return
		}
		// Staff pages hold recipients' personal data: keep them out of
		// shared caches and the back button after signing out.
		c.Header("Cache-Control", "no-store")
		c.Next()
	}
}

// SafeNext returns next when it is a path on this site, else "/groups": a
// login link must never redirect to another site.
func SafeNext(next string) string {
	const home = "/groups"
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return home
	}
	if strings.ContainsAny(next, "\\\r\n\t") {
		return home
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return home
	}
	if u.Path == "/login" || u.Path == "/logout" {
		return home
	}
	return next
}
