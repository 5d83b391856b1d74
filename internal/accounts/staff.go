package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/audit"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/db"
)

// Staff administration: what an owner does to other accounts from
// /admin/users. Every change is audited (entity "user") in its transaction,
// with the actor, and never a password or a link token.

func uniqueSorted(ids []int64) []int64 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}

// userForUpdate loads and locks one account in tx. Errors: NotFound.
func userForUpdate(ctx context.Context, tx *sqlx.Tx, id int64) (User, error) {
	const q = `SELECT ` + userColumns + ` FROM users u WHERE u.id = $1 FOR UPDATE OF u`
	var r userRow
	err := tx.GetContext(ctx, &r, q, id)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, apperr.Errorf(apperr.NotFound, "No user %d.", id)
	}
	if err != nil {
		return User{}, fmt.Errorf("load user %d for update: %w", id, err)
	}
	return r.user(), nil
}

// activeOwner is an account that can sign in as owner.
func (u User) activeOwner() bool {
	return u.Role == auth.Owner && !u.Disabled && !u.InvitationPending
}

// lockOwners locks every owner row first, in id order, so two owners
// demoting or disabling each other at once are serialised and cannot both
// succeed and leave Laurel without an owner.
func lockOwners(ctx context.Context, tx *sqlx.Tx) error {
	const q = `SELECT id FROM users WHERE role = 'owner' ORDER BY id FOR UPDATE`
	var ids []int64
	if err := tx.SelectContext(ctx, &ids, q); err != nil {
		return fmt.Errorf("lock owners: %w", err)
	}
	return nil
}

// checkOwnerLeft refuses a change that leaves no owner able to sign in: the
// last owner cannot disable or demote themselves (or be disabled or demoted).
func checkOwnerLeft(ctx context.Context, tx *sqlx.Tx, u User, field string) error {
	const q = `SELECT count(*) FROM users WHERE role = 'owner' AND NOT disabled AND NOT invitation_pending`
	var n int
	if err := tx.GetContext(ctx, &n, q); err != nil {
		return fmt.Errorf("count owners: %w", err)
	}
	if n > 0 {
		return nil
	}
	const why = "make another account an owner first, so that someone can still manage staff"
	return &apperr.Error{Code: apperr.Conflict, Message: fmt.Sprintf("%s is the last owner: %s.", u.Email, why),
		Fields: []apperr.FieldError{{Index: -1, Field: field, Message: "this is the last owner: " + why}}}
}

// updateUser changes an account's role and group limit (groups replace the
// old limit; empty means every group). Errors: NotFound, Invalid (bad role,
// groups for a role other than team_member, unknown group), Conflict (it
// would leave no owner).
func (s *Service) updateUser(ctx context.Context, actor string, id int64, role auth.Role, groups []int64) (User, error) {
	var fields []apperr.FieldError
	if _, err := auth.ParseRole(string(role)); err != nil {
		fields = append(fields, apperr.FieldError{Index: -1, Field: "role", Message: apperr.Message(err)})
	}
	if fe, bad := checkGroupLimit(role, groups); bad {
		fields = append(fields, fe)
	}
	if len(fields) > 0 {
		return User{}, apperr.Fields(fields[0].Field+": "+fields[0].Message, fields)
	}
	groups = uniqueSorted(groups)
	var out User
	err := db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		if err := lockOwners(ctx, tx); err != nil {
			return err
		}
		old, err := userForUpdate(ctx, tx, id)
		if err != nil {
			return err
		}
		const q = `UPDATE users SET role = $2, updated_at = $3 WHERE id = $1`
		if _, err := tx.ExecContext(ctx, q, id, string(role), s.now()); err != nil {
			return fmt.Errorf("update user %d: %w", id, err)
		}
		const qd = `DELETE FROM user_groups WHERE user_id = $1`
		if _, err := tx.ExecContext(ctx, qd, id); err != nil {
			return fmt.Errorf("update user %d groups: %w", id, err)
		}
		if len(groups) > 0 {
			if err := limitUser(ctx, tx, id, groups); err != nil {
				return err
			}
		}
		out = old
		out.Role = role
		out.Groups = nil
		if len(groups) > 0 {
			out.Groups = groups
		}
		if old.activeOwner() && role != auth.Owner {
			if err := checkOwnerLeft(ctx, tx, old, "role"); err != nil {
				return err
			}
		}
		if old.Role == out.Role && slices.Equal(old.Groups, out.Groups) {
			return nil // nothing changed: nothing to audit
		}
		return audit.Record(ctx, tx, s.now(), actor, "update", "user", fmt.Sprint(id),
			map[string]any{"role": old.Role, "groups": orEmpty(old.Groups)}, map[string]any{"role": out.Role, "groups": orEmpty(out.Groups)})
	})
	if err != nil {
		return User{}, err
	}
	return out, nil
}

func orEmpty(ids []int64) []int64 {
	if ids == nil {
		return []int64{}
	}
	return ids
}

// setUserDisabled disables or re-enables an account. Disabling ends every
// session of the account at once (its session epoch moves on, so enabling it
// again does not revive them), refuses its sign-in and cancels its unused
// one-time links. Errors: NotFound, Conflict (the last owner).
func (s *Service) setUserDisabled(ctx context.Context, actor string, id int64, disabled bool) (User, error) {
	var out User
	err := db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		if err := lockOwners(ctx, tx); err != nil {
			return err
		}
		old, err := userForUpdate(ctx, tx, id)
		if err != nil {
			return err
		}
		out = old
		if old.Disabled == disabled {
			return nil
		}
		out.Disabled = disabled
		const q = `UPDATE users SET disabled = $2, session_epoch = session_epoch + CASE WHEN $2 THEN 1 ELSE 0 END, updated_at = $3
			WHERE id = $1 RETURNING session_epoch`
		if err := tx.GetContext(ctx, &out.epoch, q, id, disabled, s.now()); err != nil {
			return fmt.Errorf("set user %d disabled=%t: %w", id, disabled, err)
		}
		action := "enable"
		if disabled {
			action = "disable"
			if old.activeOwner() {
				if err := checkOwnerLeft(ctx, tx, old, "disabled"); err != nil {
					return err
				}
			}
			if err := deleteUnusedLinks(ctx, tx, id); err != nil {
				return err
			}
		}
		return audit.Record(ctx, tx, s.now(), actor, action, "user", fmt.Sprint(id),
			map[string]any{"disabled": old.Disabled}, map[string]any{"disabled": disabled})
	})
	if err != nil {
		return User{}, err
	}
	return out, nil
}

// InviteUser creates an account that has no usable password yet and queues
// an email with a one-time link (valid inviteValidity) through which the
// invitee chooses one. Errors: Invalid (bad email, name, role, groups),
// Conflict (email taken).
func (s *Service) InviteUser(ctx context.Context, actor, email, name string, role auth.Role, groups []int64) (User, error) {
	email, name = strings.TrimSpace(email), strings.TrimSpace(name)
	if fields := checkNewUser(email, name, role, groups); len(fields) > 0 {
		return User{}, apperr.Fields(fields[0].Field+": "+fields[0].Message, fields)
	}
	// Nobody knows this password: the account signs in only once the
	// invitation is accepted (and Authenticate refuses pending accounts).
	hash := auth.HashPassword(auth.GeneratePassword())
	var u User
	err := db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		var err error
		if u, err = insertUser(ctx, tx, email, name, role, groups, hash, true); err != nil {
			return err
		}
		exp, err := s.newLink(ctx, tx, actor, u.ID, linkInvite)
		if err != nil {
			return err
		}
		after := auditUser(u)
		after["link_expires_at"] = exp
		return audit.Record(ctx, tx, s.now(), actor, "invite", "user", fmt.Sprint(u.ID), nil, after)
	})
	if err != nil {
		return User{}, err
	}
	s.staffEmails.Invalidate()
	return u, nil
}

// sendPasswordLink queues a one-time link for account id: a password reset
// (valid resetValidity), or for an account whose invitation is pending a
// new invitation (the old link stops working). It returns the link's
// purpose. Errors: NotFound, Conflict (the account is disabled).
func (s *Service) sendPasswordLink(ctx context.Context, actor string, id int64) (string, error) {
	purpose := linkReset
	err := db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		u, err := userForUpdate(ctx, tx, id)
		if err != nil {
			return err
		}
		if u.Disabled {
			return apperr.Errorf(apperr.Conflict, "%s is disabled: enable the account before sending it a link.", u.Email)
		}
		action := "send_password_reset"
		if u.InvitationPending {
			purpose, action = linkInvite, "resend_invitation"
		}
		exp, err := s.newLink(ctx, tx, actor, id, purpose)
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, s.now(), actor, action, "user", fmt.Sprint(id), nil,
			map[string]any{"to": u.Email, "link_expires_at": exp})
	})
	return purpose, err
}

// changePassword changes the signed-in user's own password after checking
// the current one, and ends the account's other sessions: it returns the new
// session epoch for the caller's own session. Errors: NotFound, Invalid
// (current password wrong: field current_password; new one too short or
// long: field new_password).
func (s *Service) changePassword(ctx context.Context, userID int64, current, next string) (int, error) {
	if fe, bad := checkNewPassword("new_password", next); bad {
		return 0, apperr.Fields(fe.Field+": "+fe.Message, []apperr.FieldError{fe})
	}
	u, err := s.user(ctx, userID)
	if err != nil {
		return 0, err
	}
	var stored string
	const qh = `SELECT password_hash FROM users WHERE id = $1`
	if err := s.db.GetContext(ctx, &stored, qh, userID); err != nil {
		return 0, fmt.Errorf("load password of user %d: %w", userID, err)
	}
	ok, err := auth.CheckPassword(stored, current)
	if err != nil {
		return 0, fmt.Errorf("check password of user %d: %w", userID, err)
	}
	if !ok {
		fe := apperr.FieldError{Index: -1, Field: "current_password", Message: "the current password is wrong"}
		return 0, apperr.Fields(fe.Field+": "+fe.Message, []apperr.FieldError{fe})
	}
	hash := auth.HashPassword(next)
	var epoch int
	err = db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		// The hash compared above must still be the stored one: two changes
		// at once cannot both pass with the same current password.
		const q = `UPDATE users SET password_hash = $2, session_epoch = session_epoch + 1, updated_at = $4
			WHERE id = $1 AND password_hash = $3 RETURNING session_epoch`
		err := tx.GetContext(ctx, &epoch, q, userID, hash, stored, s.now())
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.Errorf(apperr.Conflict, "Your password was changed meanwhile; sign in again.")
		}
		if err != nil {
			return fmt.Errorf("change password of user %d: %w", userID, err)
		}
		if err := deleteUnusedLinks(ctx, tx, userID); err != nil {
			return err
		}
		actor := (&auth.Principal{UserID: u.ID, Email: u.Email}).Actor()
		return audit.Record(ctx, tx, s.now(), actor, "change_password", "user", fmt.Sprint(userID), nil, nil)
	})
	return epoch, err
}

// userHistory returns the audit entries of account id, oldest first, each
// actor named by Actors (nil: by s alone, which knows staff and tokens).
func (s *Service) userHistory(ctx context.Context, id int64) ([]audit.Entry, error) {
	var names audit.Namer = s
	if s.Actors != nil {
		names = s.Actors
	}
	return audit.History(ctx, s.db, names, "user", fmt.Sprint(id))
}
