package recipient

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/secret"
	"github.com/laurel-edu/laurel/issuance"
)

// A link proves its opener reads the credential's email: 32 random bytes,
// of which only the MAC is stored for lookup (a copy of the database opens
// nothing). It works once (used_at is set by a conditional UPDATE, so of
// two concurrent uses exactly one wins), until it expires, and only while
// it is the credential's newest.

// linkPrefix starts every link token, so a leaked one is recognisable.
const linkPrefix = "lrc_"

// sealAD binds a link's sealed token to its row.
func sealAD(id int64) string { return fmt.Sprintf("recipient-link:%d", id) }

// manageable loads credential id if its recipient may manage it: a
// published credential (revoked and unpublished ones have nothing to
// manage; erased ones have no recipient).
func (s *Service) manageable(ctx context.Context, id string) (issuance.Credential, error) {
	cr, err := s.Core.Credential(ctx, id)
	if err != nil {
		return issuance.Credential{}, err
	}
	if cr.State != issuance.Published || cr.Erased() {
		return issuance.Credential{}, apperr.Errorf(apperr.NotFound, "This credential cannot be managed by its recipient.")
	}
	return cr, nil
}

// RequestLink emails credential id's recipient a one-time link that
// proves they hold its address. Anyone may ask (the page is public), so the
// email goes only to the credential's own address, and at most LinkLimit
// links per credential are sent per LinkWindow (a RateLimited error says
// how long to wait). A new link replaces the credential's unused ones.
func (s *Service) RequestLink(ctx context.Context, id string) error {
	cr, err := s.manageable(ctx, id)
	if err != nil {
		return err
	}
	if err := s.countLink(ctx, cr.ID); err != nil {
		return err
	}
	return db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		const qd = `DELETE FROM recipient_links WHERE credential_id = $1 AND used_at IS NULL`
		if _, err := tx.ExecContext(ctx, qd, cr.ID); err != nil {
			return fmt.Errorf("replace links of credential %s: %w", cr.ID, err)
		}
		plain := linkPrefix + secret.Token(32)
		now := s.now()
		const q = `INSERT INTO recipient_links (credential_id, token_hash, created_at, expires_at)
			VALUES ($1, $2, $3, $4) RETURNING id`
		var lid int64
		if err := tx.GetContext(ctx, &lid, q, cr.ID, s.Keys.MAC([]byte(plain)), now, now.Add(s.LinkValidity)); err != nil {
			return fmt.Errorf("create link for credential %s: %w", cr.ID, err)
		}
		// Sealed for the email job alone, bound to this row, cleared once sent.
		const qs = `UPDATE recipient_links SET mail_token = $2 WHERE id = $1`
		if _, err := tx.ExecContext(ctx, qs, lid, s.Keys.Seal([]byte(plain), sealAD(lid))); err != nil {
			return fmt.Errorf("store link %d: %w", lid, err)
		}
		return s.queueMail(ctx, tx, cr.ID, mailLink, cr.Recipient.Email, mailRefs{Link: lid})
	})
}

// countLink counts one link for credential id in Redis, shared by every
// instance; the window starts at the first link (EXPIRE NX).
func (s *Service) countLink(ctx context.Context, id string) error {
	key := "laurel:recipient:links:" + id
	var incr *redis.IntCmd
	var pttl *redis.DurationCmd
	_, err := s.Redis.TxPipelined(ctx, func(p redis.Pipeliner) error {
		incr = p.Incr(ctx, key)
		p.ExpireNX(ctx, key, s.LinkWindow)
		pttl = p.PTTL(ctx, key)
		return nil
	})
	if err != nil {
		return fmt.Errorf("count links of credential %s: %w", id, err)
	}
	n, ttl := incr.Val(), pttl.Val()
	if n <= int64(s.LinkLimit) {
		return nil
	}
	mins := max(1, int((ttl+time.Minute-1)/time.Minute))
	unit := "minutes"
	if mins == 1 {
		unit = "minute"
	}
	return apperr.Errorf(apperr.RateLimited, "A link was already emailed %d times in the last hour. Look for it in your inbox (and spam folder), or ask again in %d %s.", s.LinkLimit, mins, unit)
}

// Redeem uses a link's token once and returns its credential. An unknown,
// used, replaced or expired token is an Invalid error saying to ask again.
func (s *Service) Redeem(ctx context.Context, token string) (string, error) {
	const q = `UPDATE recipient_links SET used_at = $2, mail_token = NULL
		WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING credential_id`
	var id string
	err := s.DB.GetContext(ctx, &id, q, s.Keys.MAC([]byte(token)), s.now())
	if errors.Is(err, sql.ErrNoRows) {
		return "", apperr.Errorf(apperr.Invalid, "This link has expired or was already used. Open the credential's page and ask for a new one.")
	}
	if err != nil {
		return "", fmt.Errorf("redeem recipient link: %w", err)
	}
	if _, err := s.manageable(ctx, id); err != nil {
		return "", err
	}
	return id, nil
}
