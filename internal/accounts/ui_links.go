package accounts

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/web"
)

// noReferrer keeps the link's token (in the query) out of Referer headers
// and caches.
func noReferrer(c *gin.Context) {
	c.Header("Referrer-Policy", "no-referrer")
	c.Header("Cache-Control", "no-store")
	c.Next()
}

// setPasswordPage is the page a one-time link opens.
type setPasswordPage struct {
	Title   string
	Invite  bool
	Action  string
	Token   string
	User    User
	Errors  map[string]string
	MinLen  int
	Expires string
	// Org names the organisation that invited the person ("" before an
	// owner has named it).
	Org string
}

func linkTitle(purpose, org string) string {
	switch {
	case purpose != linkInvite:
		return "Choose a new password"
	case org != "":
		return "Welcome to " + org + "'s credentials: choose your password"
	}
	return "Welcome: choose your password"
}

// linkPage is the set-password page of u's link, in the organisation's name.
func (s *Service) linkPage(ctx context.Context, purpose, token string, u User) (setPasswordPage, error) {
	org, err := s.orgName(ctx)
	if err != nil {
		return setPasswordPage{}, err
	}
	return setPasswordPage{Title: linkTitle(purpose, org), Invite: purpose == linkInvite, Action: linkPath(purpose),
		Token: token, User: u, MinLen: minPasswordLen, Org: org, Errors: map[string]string{}}, nil
}

func (s *Service) linkForm(rd *web.Renderer, purpose string) web.HandlerFunc {
	return func(c *gin.Context) error {
		token := c.Query("token")
		if token == "" {
			return apperr.Errorf(apperr.BadRequest, "This page needs the link from your email, with its token.")
		}
		u, err := s.linkUser(c.Request.Context(), token, purpose)
		if err != nil {
			return err
		}
		page, err := s.linkPage(c.Request.Context(), purpose, token, u)
		if err != nil {
			return err
		}
		return rd.Render(c, http.StatusOK, "accounts_set_password.html", page)
	}
}

func (s *Service) linkUse(rd *web.Renderer, a *auth.Auth, purpose string) web.HandlerFunc {
	return func(c *gin.Context) error {
		ctx := c.Request.Context()
		token := c.PostForm("token")
		if token == "" {
			return apperr.Errorf(apperr.BadRequest, "This form needs the link from your email, with its token.")
		}
		u, err := s.linkUser(ctx, token, purpose)
		if err != nil {
			return err
		}
		page, err := s.linkPage(ctx, purpose, token, u)
		if err != nil {
			return err
		}
		password, confirm := c.PostForm("password"), c.PostForm("confirm_password")
		if password == "" {
			page.Errors["password"] = "Choose a password."
		} else if confirm != password {
			page.Errors["confirm_password"] = "The two passwords differ."
		}
		if len(page.Errors) == 0 {
			if _, err = s.useLink(ctx, token, purpose, password); err == nil {
				// Whoever was signed in in this browser is not the person
				// who just chose a password: start afresh.
				if err := a.SignOut(ctx, "Your password is set. Sign in with your email and the new password."); err != nil {
					return err
				}
				slog.InfoContext(ctx, "password set by link", "user_id", u.ID, "purpose", purpose)
				c.Redirect(http.StatusSeeOther, "/login")
				return nil
			}
			msgs, ok := fieldMessages(err)
			if !ok {
				return err
			}
			page.Errors = msgs
		}
		return rd.Render(c, http.StatusUnprocessableEntity, "accounts_set_password.html", page)
	}
}
