package accounts

import (
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/web"
)

// passwordPage is /account/password, where every staff member changes
// their own password.
type passwordPage struct {
	Title   string
	Errors  map[string]string
	Problem string
}

func (u *staffUI) passwordForm(c *gin.Context) error {
	if auth.Current(c) == nil {
		return apperr.Errorf(apperr.Unauthorized, "Please sign in first.")
	}
	return u.rd.Render(c, http.StatusOK, "accounts_account_password.html", passwordPage{Title: "Change your password"})
}

func (u *staffUI) passwordChange(c *gin.Context) error {
	me := auth.Current(c)
	if me == nil || me.UserID == 0 {
		return apperr.Errorf(apperr.Unauthorized, "Please sign in first.")
	}
	ctx := c.Request.Context()
	page := passwordPage{Title: "Change your password", Errors: map[string]string{}}
	current, next, confirm := c.PostForm("current_password"), c.PostForm("new_password"), c.PostForm("confirm_password")
	if current == "" {
		page.Errors["current_password"] = "Enter your current password."
	}
	if next == "" {
		page.Errors["new_password"] = "Enter a new password."
	} else if confirm != next {
		page.Errors["confirm_password"] = "The two new passwords differ."
	}
	if len(page.Errors) > 0 {
		return u.rd.Render(c, http.StatusUnprocessableEntity, "accounts_account_password.html", page)
	}
	// A stolen session must not guess the password here faster than at
	// the sign-in page: the same counters apply.
	ip := c.ClientIP()
	if err := u.a.CheckLoginLimit(ctx, me.Email, ip); err != nil {
		if !apperr.Is(err, apperr.RateLimited) {
			return err
		}
		page.Problem = apperr.Message(err)
		return u.rd.Render(c, http.StatusTooManyRequests, "accounts_account_password.html", page)
	}
	epoch, err := u.s.changePassword(ctx, me.UserID, current, next)
	if err != nil {
		msgs, ok := fieldMessages(err)
		if !ok {
			return err
		}
		if _, wrong := msgs["current_password"]; wrong {
			if err := u.a.RecordLoginFailure(ctx, me.Email, ip); err != nil {
				return err
			}
		}
		page.Errors = msgs
		return u.rd.Render(c, web.Status(apperr.Code(err)), "accounts_account_password.html", page)
	}
	// Every other session of the account has ended; this one continues
	// under a new token and the new epoch.
	if err := u.a.RenewSession(ctx, epoch); err != nil {
		return err
	}
	slog.InfoContext(ctx, "password changed", "user_id", me.UserID)
	auth.SetFlash(c, "Your password is changed. Your other sessions have been signed out.")
	c.Redirect(http.StatusSeeOther, "/account/password")
	return nil
}
