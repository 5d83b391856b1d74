package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/audit"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/internal/locale"
	"github.com/laurel-edu/laurel/internal/secret"
)

// One-time links let a person choose their password: an invitation or a
// password reset. The token is 32 random bytes; only its MAC is stored for
// lookup (as for API tokens), so a copy of the database cannot use a link.
// A link works once (used_at is set by a conditional UPDATE, so of two
// concurrent uses exactly one wins), until it expires, and only while it is
// the account's newest: creating a link, using one, changing the password or
// disabling the account deletes the account's other unused links.

// Link purposes.
const (
	linkInvite = "invite"
	linkReset  = "reset"
)

// How long a link works: an invitation gives the invitee a week to act on
// an email they may read late; a reset link gives an hour, as it replaces a
// password that may be known to someone else.
const (
	inviteValidity = 7 * 24 * time.Hour
	resetValidity  = time.Hour
)

func linkValidity(purpose string) time.Duration {
	if purpose == linkInvite {
		return inviteValidity
	}
	return resetValidity
}

// linkPath is the page each purpose's link opens.
func linkPath(purpose string) string {
	if purpose == linkInvite {
		return "/account/welcome"
	}
	return "/account/reset"
}

// linkPrefix starts every link token, so a leaked one is recognisable.
const linkPrefix = "lrk_"

// sealAD binds a link's encrypted token to its row.
func sealAD(id int64) string { return fmt.Sprintf("account-link:%d", id) }

// newLink replaces the account's unused links with a new one of purpose
// and queues its email, in tx. It returns when the link expires.
func (s *Service) newLink(ctx context.Context, tx *sqlx.Tx, actor string, userID int64, purpose string) (time.Time, error) {
	if err := deleteUnusedLinks(ctx, tx, userID); err != nil {
		return time.Time{}, err
	}
	plain := linkPrefix + secret.Token(32)
	now := s.now()
	exp := now.Add(linkValidity(purpose))
	const q = `INSERT INTO account_links (user_id, purpose, token_hash, created_by, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`
	var id int64
	if err := tx.GetContext(ctx, &id, q, userID, purpose, s.keys.MAC([]byte(plain)), actor, now, exp); err != nil {
		return time.Time{}, fmt.Errorf("create %s link for user %d: %w", purpose, userID, err)
	}
	// Encrypted for the email job alone, bound to this row, and cleared
	// once the email is sent.
	const qs = `UPDATE account_links SET mail_token = $2 WHERE id = $1`
	if _, err := tx.ExecContext(ctx, qs, id, s.keys.Seal([]byte(plain), sealAD(id))); err != nil {
		return time.Time{}, fmt.Errorf("store %s link %d: %w", purpose, id, err)
	}
	if _, err := jobs.Enqueue(ctx, tx, AccountEmailJob, accountEmailPayload{LinkID: id}); err != nil {
		return time.Time{}, err
	}
	return exp, nil
}

func deleteUnusedLinks(ctx context.Context, tx *sqlx.Tx, userID int64) error {
	const q = `DELETE FROM account_links WHERE user_id = $1 AND used_at IS NULL`
	if _, err := tx.ExecContext(ctx, q, userID); err != nil {
		return fmt.Errorf("cancel links of user %d: %w", userID, err)
	}
	return nil
}

// linkRow is one link as its pages check it.
type linkRow struct {
	ID        int64      `db:"id"`
	UserID    int64      `db:"user_id"`
	Purpose   string     `db:"purpose"`
	ExpiresAt time.Time  `db:"expires_at"`
	UsedAt    *time.Time `db:"used_at"`
}

// badLink explains why a link does not work; the token is a secret, so
// saying which of these it is reveals nothing to someone without one.
func badLink(l *linkRow, purpose string, now time.Time, loc locale.Locale) error {
	again := "Ask whoever invited you to send you a new one."
	if purpose == linkReset {
		again = "Ask an administrator to send you a new password reset link."
	}
	switch {
	case l == nil || l.Purpose != purpose:
		return apperr.Errorf(apperr.NotFound, "This link is not valid: it may have been replaced by a newer one, or copied incompletely. %s", again)
	case l.UsedAt != nil:
		return apperr.Errorf(apperr.NotFound, "This link was already used: each link works once. %s", again)
	case !now.Before(l.ExpiresAt):
		return apperr.Errorf(apperr.NotFound, "This link expired on %s. %s", loc.DateTime(l.ExpiresAt), again)
	}
	return nil
}

func (s *Service) findLink(ctx context.Context, q sqlx.QueryerContext, plain string) (*linkRow, error) {
	if !strings.HasPrefix(plain, linkPrefix) || len(plain) > 200 {
		return nil, nil
	}
	const sq = `SELECT id, user_id, purpose, expires_at, used_at FROM account_links WHERE token_hash = $1`
	var l linkRow
	err := sqlx.GetContext(ctx, q, &l, sq, s.keys.MAC([]byte(plain)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up account link: %w", err)
	}
	return &l, nil
}

// linkUser returns the account a working link of purpose belongs to,
// without using the link. Errors: NotFound (unknown, used, expired or
// replaced link, saying which), Conflict (the account is disabled).
func (s *Service) linkUser(ctx context.Context, plain, purpose string) (User, error) {
	l, err := s.findLink(ctx, s.db, plain)
	if err != nil {
		return User{}, err
	}
	if err := badLink(l, purpose, s.now(), s.locale(ctx)); err != nil {
		return User{}, err
	}
	u, err := s.user(ctx, l.UserID)
	if err != nil {
		return User{}, err
	}
	if u.Disabled {
		return User{}, apperr.Errorf(apperr.Conflict, "This account is disabled, so its link does not work.")
	}
	return u, nil
}

// useLink sets the password of the account a working link of purpose
// belongs to and uses the link up, atomically: of two uses of one link only
// one succeeds. It accepts a pending invitation and ends every session of
// the account. Errors: Invalid (password: too short or long), NotFound (the
// link does not work, saying why), Conflict (the account is disabled).
func (s *Service) useLink(ctx context.Context, plain, purpose, password string) (User, error) {
	if fe, bad := checkNewPassword("password", password); bad {
		return User{}, apperr.Fields(fe.Field+": "+fe.Message, []apperr.FieldError{fe})
	}
	hash := auth.HashPassword(password)
	var u User
	err := db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		now := s.now()
		const q = `UPDATE account_links SET used_at = $2, mail_token = NULL
			WHERE token_hash = $1 AND purpose = $3 AND used_at IS NULL AND expires_at > $2
			RETURNING id, user_id, purpose, expires_at, used_at`
		var l linkRow
		err := tx.GetContext(ctx, &l, q, s.keys.MAC([]byte(plain)), now, purpose)
		if errors.Is(err, sql.ErrNoRows) {
			found, ferr := s.findLink(ctx, tx, plain)
			if ferr != nil {
				return ferr
			}
			if berr := badLink(found, purpose, now, s.locale(ctx)); berr != nil {
				return berr
			}
			return apperr.Errorf(apperr.NotFound, "This link was already used: each link works once.")
		}
		if err != nil {
			return fmt.Errorf("use %s link: %w", purpose, err)
		}
		if u, err = userForUpdate(ctx, tx, l.UserID); err != nil {
			return err
		}
		if u.Disabled {
			return apperr.Errorf(apperr.Conflict, "This account is disabled, so its link does not work.")
		}
		const qu = `UPDATE users SET password_hash = $2, invitation_pending = false, session_epoch = session_epoch + 1, updated_at = $3
			WHERE id = $1 RETURNING session_epoch`
		if err := tx.GetContext(ctx, &u.epoch, qu, u.ID, hash, now); err != nil {
			return fmt.Errorf("set password of user %d: %w", u.ID, err)
		}
		const qd = `DELETE FROM account_links WHERE user_id = $1 AND used_at IS NULL AND id <> $2`
		if _, err := tx.ExecContext(ctx, qd, u.ID, l.ID); err != nil {
			return fmt.Errorf("cancel other links of user %d: %w", u.ID, err)
		}
		action := "reset_password"
		if purpose == linkInvite {
			action = "accept_invitation"
		}
		u.InvitationPending = false
		actor := (&auth.Principal{UserID: u.ID, Email: u.Email}).Actor()
		return audit.Record(ctx, tx, now, actor, action, "user", fmt.Sprint(u.ID), nil, map[string]any{"link_id": l.ID})
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}

// linkState is the newest one-time link of an account, for the staff list.
type linkState struct {
	Purpose   string
	MailState string // queued, sent, failed
	MailError string
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// latestLinks returns each account's newest link.
func (s *Service) latestLinks(ctx context.Context) (map[int64]linkState, error) {
	const q = `SELECT DISTINCT ON (user_id) user_id, purpose, mail_state, mail_error, expires_at, used_at
		FROM account_links ORDER BY user_id, id DESC`
	var rows []struct {
		UserID    int64      `db:"user_id"`
		Purpose   string     `db:"purpose"`
		MailState string     `db:"mail_state"`
		MailError string     `db:"mail_error"`
		ExpiresAt time.Time  `db:"expires_at"`
		UsedAt    *time.Time `db:"used_at"`
	}
	if err := s.db.SelectContext(ctx, &rows, q); err != nil {
		return nil, fmt.Errorf("latest account links: %w", err)
	}
	out := make(map[int64]linkState, len(rows))
	for _, r := range rows {
		out[r.UserID] = linkState{Purpose: r.Purpose, MailState: r.MailState, MailError: r.MailError, ExpiresAt: r.ExpiresAt, UsedAt: r.UsedAt}
	}
	return out, nil
}
