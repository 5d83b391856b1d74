package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/web"
)

// forgotEvery is how often one account can be sent a reset link from the
// sign-in page: enough to retry a lost email, too rare to flood a mailbox.
const forgotEvery = 5 * time.Minute

// RequestPasswordReset sends the account with email a password reset link
// (or, while its invitation is pending, the invitation again), as if an
// owner had pressed "Send password reset", audited as the account's own
// request. Unknown and disabled addresses, and a second request within
// forgotEvery, send nothing and return nil: the answer must not tell who
// has an account.
func (s *Service) RequestPasswordReset(ctx context.Context, email string) error {
	const q = `SELECT u.id, u.email, u.disabled,
			(SELECT max(l.created_at) FROM account_links l WHERE l.user_id = u.id) AS last_link
		FROM users u WHERE lower(u.email) = lower($1)`
	var r struct {
		ID       int64        `db:"id"`
		Email    string       `db:"email"`
		Disabled bool         `db:"disabled"`
		LastLink sql.NullTime `db:"last_link"`
	}
	err := s.db.GetContext(ctx, &r, q, strings.TrimSpace(email))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("request password reset: %w", err)
	case r.Disabled:
		return nil
	case r.LastLink.Valid && s.now().Sub(r.LastLink.Time) < forgotEvery:
		return nil
	}
	_, err = s.sendPasswordLink(ctx, fmt.Sprintf("user:%d:%s", r.ID, r.Email), r.ID)
	if apperr.Is(err, apperr.Conflict) || apperr.Is(err, apperr.NotFound) {
		return nil // disabled or deleted meanwhile
	}
	return err
}

// forgotPage is /account/forgot: the email to send a reset link to, then
// the same answer for every address.
type forgotPage struct {
	Title  string
	Email  string
	Sent   bool
	Errors map[string]string
}

func (s *Service) forgotForm(rd *web.Renderer) web.HandlerFunc {
	return func(c *gin.Context) error {
		return rd.Render(c, http.StatusOK, "accounts_forgot.html", forgotPage{Title: "Forgot your password?", Errors: map[string]string{}})
	}
}

func (s *Service) forgotSend(rd *web.Renderer) web.HandlerFunc {
	return func(c *gin.Context) error {
		page := forgotPage{Title: "Forgot your password?", Email: strings.TrimSpace(c.PostForm("email")), Errors: map[string]string{}}
		if page.Email == "" || !strings.Contains(page.Email, "@") || len(page.Email) > 254 {
			page.Errors["email"] = "Enter the email address you sign in with, e.g. ada@example.edu."
			return rd.Render(c, http.StatusUnprocessableEntity, "accounts_forgot.html", page)
		}
		if err := s.RequestPasswordReset(c.Request.Context(), page.Email); err != nil {
			return err
		}
		page.Sent = true
		return rd.Render(c, http.StatusOK, "accounts_forgot.html", page)
	}
}
