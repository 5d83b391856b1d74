package auth

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/web"
)

// loginPage is the sign-in form's data.
type loginPage struct {
	Title   string
	Email   string
	Next    string
	Errors  map[string]string // by field: "email", "password"
	Problem string            // a form-level message (wrong password, rate limit)
}

func (a *Auth) loginForm(rd *web.Renderer) web.HandlerFunc {
	return func(c *gin.Context) error {
		next := SafeNext(c.Query("next"))
		if Current(c) != nil {
			c.Redirect(http.StatusSeeOther, next)
			return nil
		}
		return rd.Render(c, http.StatusOK, "login.html", loginPage{Title: "Sign in", Next: next})
	}
}

func (a *Auth) login(rd *web.Renderer) web.HandlerFunc {
	return func(c *gin.Context) error {
		ctx := c.Request.Context()
		page := loginPage{
			Title:  "Sign in",
			Email:  strings.TrimSpace(c.PostForm("email")),
			Next:   SafeNext(c.PostForm("next")),
			Errors: map[string]string{},
		}
		password := c.PostForm("password")
		if page.Email == "" {
			page.Errors["email"] = "Enter your email address."
		}
		if password == "" {
			page.Errors["password"] = "Enter your password."
		}
		if len(page.Errors) > 0 {
			return rd.Render(c, http.StatusUnprocessableEntity, "login.html", page)
		}
		ip := c.ClientIP()
		if err := a.CheckLoginLimit(ctx, page.Email, ip); err != nil {
			if !apperr.Is(err, apperr.RateLimited) {
				return err
			}
			slog.WarnContext(ctx, "login rate limited", "ip", ip)
			page.Problem = apperr.Message(err)
			return rd.Render(c, http.StatusTooManyRequests, "login.html", page)
		}
		acct, err := a.users.Authenticate(ctx, page.Email, password)
		if apperr.Is(err, apperr.Unauthorized) {
			if err := a.RecordLoginFailure(ctx, page.Email, ip); err != nil {
				return err
			}
			slog.InfoContext(ctx, "login failed", "ip", ip)
			page.Problem = "The email or password is wrong."
			return rd.Render(c, http.StatusUnauthorized, "login.html", page)
		}
		if err != nil {
			return err
		}
		a.clearEmailFailures(ctx, page.Email, ip)
		// A new token on sign-in, so a session id planted before sign-in
		// (session fixation) is worthless afterwards.
		if err := a.Sessions.RenewToken(ctx); err != nil {
			return err
		}
		a.Sessions.Put(ctx, sessionUserKey, acct.UserID)
		a.Sessions.Put(ctx, sessionEpochKey, acct.Epoch)
		slog.InfoContext(ctx, "signed in", "user_id", acct.UserID)
		if a.Landing != nil {
			p, err := a.users.SessionPrincipal(ctx, acct.UserID, acct.Epoch)
			if err != nil {
				return err
			}
			to, err := a.Landing(ctx, p)
			if err != nil {
				return err
			}
			if to != "" {
				page.Next = to
			}
		}
		c.Redirect(http.StatusSeeOther, page.Next)
		return nil
	}
}

func (a *Auth) logout(c *gin.Context) error {
	if err := a.SignOut(c.Request.Context(), "You are signed out."); err != nil {
		return err
	}
	c.Redirect(http.StatusSeeOther, "/login")
	return nil
}
