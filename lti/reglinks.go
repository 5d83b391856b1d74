package lti

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/locale"
	"github.com/laurel-edu/laurel/internal/secret"
)

// RegistrationLinkParam is the query parameter of a one-time registration
// link. The platform opens the link with its own openid_configuration and
// registration_token appended, so the link survives them.
const RegistrationLinkParam = "laurel_link"

// Bounds of a registration link's lifetime.
const (
	MinRegistrationLinkTTL     = time.Minute
	MaxRegistrationLinkTTL     = 30 * 24 * time.Hour
	DefaultRegistrationLinkTTL = 24 * time.Hour
	// claimTimeout frees a link whose registration never finished (the
	// process died mid-way); a registration takes at most two fetches.
	claimTimeout = 2 * time.Minute
)

// RegistrationLink is a one-time Dynamic Registration link as stored: never
// its token, which is shown once when created.
type RegistrationLink struct {
	ID            int64      `db:"id"`
	CreatedByName string     `db:"-"`
	CreatedAt     time.Time  `db:"created_at"`
	ExpiresAt     time.Time  `db:"expires_at"`
	UsedAt        *time.Time `db:"used_at"`
	PlatformID    *int64     `db:"platform_id"`
	PlatformName  string     `db:"platform_name"`
	Warnings      []string   `db:"-"`
}

// State is "used", "expired" or "unused" at now.
func (l RegistrationLink) State(now time.Time) string {
	switch {
	case l.UsedAt != nil:
		return "used"
	case !now.Before(l.ExpiresAt):
		return "expired"
	}
	return "unused"
}

// CreateRegistrationLink creates a one-time registration link valid for ttl
// and returns its URL (shown once: only its MAC is stored, as for API
// tokens and account links). createdBy is the owner's user id, 0 from the
// command line. It returns an Invalid error when ttl is outside
// MinRegistrationLinkTTL..MaxRegistrationLinkTTL.
func (t *Tool) CreateRegistrationLink(ctx context.Context, createdBy int64, ttl time.Duration) (string, RegistrationLink, error) {
	if ttl < MinRegistrationLinkTTL || ttl > MaxRegistrationLinkTTL {
		return "", RegistrationLink{}, apperr.Fields(fmt.Sprintf("expires must be between %s and %s (got %s).", MinRegistrationLinkTTL, "720h (30 days)", ttl),
			[]apperr.FieldError{{Index: -1, Field: "expires", Message: "expires is out of range"}})
	}
	tok := secret.Token(32)
	now := t.Now()
	l := RegistrationLink{CreatedAt: now, ExpiresAt: now.Add(ttl)}
	var by *int64
	if createdBy > 0 {
		by = &createdBy
	}
	const q = `INSERT INTO registration_links (token_hash, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4) RETURNING id`
	if err := t.db.GetContext(ctx, &l.ID, q, t.keys.MAC([]byte(tok)), by, l.CreatedAt, l.ExpiresAt); err != nil {
		return "", RegistrationLink{}, fmt.Errorf("create registration link: %w", err)
	}
	return t.RegisterURL() + "?" + url.Values{RegistrationLinkParam: {tok}}.Encode(), l, nil
}

// RegistrationLinks lists the latest links (newest first), with who created
// them (named by t.Staff) and the platform each registered.
func (t *Tool) RegistrationLinks(ctx context.Context, limit int) ([]RegistrationLink, error) {
	var rows []struct {
		RegistrationLink
		CreatedBy *int64 `db:"created_by"`
		Warnings  string `db:"warnings"`
	}
	const q = `SELECT l.id, l.created_by, l.created_at, l.expires_at, l.used_at,
		l.platform_id, COALESCE(p.name, '') AS platform_name, l.warnings
		FROM registration_links l
		LEFT JOIN platforms p ON p.id = l.platform_id
		ORDER BY l.id DESC LIMIT $1`
	if err := t.db.SelectContext(ctx, &rows, q, limit); err != nil {
		return nil, fmt.Errorf("list registration links: %w", err)
	}
	var names map[int64]string
	if t.Staff != nil {
		var ids []int64
		for _, r := range rows {
			if r.CreatedBy != nil {
				ids = append(ids, *r.CreatedBy)
			}
		}
		if len(ids) > 0 {
			var err error
			if names, err = t.Staff.StaffNames(ctx, ids); err != nil {
				return nil, fmt.Errorf("list registration links: %w", err)
			}
		}
	}
	out := make([]RegistrationLink, len(rows))
	for i, r := range rows {
		out[i] = r.RegistrationLink
		if r.CreatedBy != nil {
			out[i].CreatedByName = names[*r.CreatedBy]
		}
		if r.Warnings != "" {
			out[i].Warnings = strings.Split(r.Warnings, "\n")
		}
	}
	return out, nil
}

// RevokeRegistrationLink makes an unused link expire now. It returns
// NotFound for an unknown or already used link.
func (t *Tool) RevokeRegistrationLink(ctx context.Context, id int64) error {
	const q = `UPDATE registration_links SET expires_at = $2 WHERE id = $1 AND used_at IS NULL AND expires_at > $2`
	res, err := t.db.ExecContext(ctx, q, id, t.Now())
	if err != nil {
		return fmt.Errorf("revoke registration link %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return apperr.Errorf(apperr.NotFound, "Registration link %d is not an unused, unexpired link.", id)
	}
	return nil
}

const askForLink = "Ask a Laurel owner for a new one-time registration link (Laurel › Platforms, or `laurel platform link`) and paste the whole link into the platform. Nothing was registered."

// claimRegistrationLink takes the link for one registration, atomically:
// of two concurrent uses one gets it, the other a Conflict. Without a link,
// or with an unknown, expired or used one, it returns a Forbidden error
// saying which.
func (t *Tool) claimRegistrationLink(ctx context.Context, tok string) (int64, error) {
	if tok == "" {
		return 0, apperr.Errorf(apperr.Forbidden, "Laurel registers a platform only through a one-time registration link that a Laurel owner created, and this URL carries none. "+askForLink)
	}
	if len(tok) > 200 {
		return 0, apperr.Errorf(apperr.Forbidden, "This registration link is not valid. "+askForLink)
	}
	now := t.Now()
	hash := t.keys.MAC([]byte(tok))
	var id int64
	const q = `UPDATE registration_links SET claimed_at = $2
		WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 AND (claimed_at IS NULL OR claimed_at < $3)
		RETURNING id`
	err := t.db.GetContext(ctx, &id, q, hash, now, now.Add(-claimTimeout))
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("claim registration link: %w", err)
	}
	var l struct {
		ExpiresAt time.Time  `db:"expires_at"`
		UsedAt    *time.Time `db:"used_at"`
	}
	const qs = `SELECT expires_at, used_at FROM registration_links WHERE token_hash = $1`
	if err := t.db.GetContext(ctx, &l, qs, hash); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return 0, apperr.Errorf(apperr.Forbidden, "This registration link is not valid. "+askForLink)
		}
		return 0, fmt.Errorf("read registration link: %w", err)
	}
	switch {
	case l.UsedAt != nil:
		return 0, apperr.Errorf(apperr.Forbidden, "This registration link was already used: each link registers one platform. "+askForLink)
	case !now.Before(l.ExpiresAt):
		return 0, apperr.Errorf(apperr.Forbidden, "This registration link expired at %s. "+askForLink, t.locale(ctx).DateTime(l.ExpiresAt))
	}
	return 0, apperr.Errorf(apperr.Conflict, "This registration link is being used by another registration right now; each link registers one platform. Nothing was registered by this request.")
}

// releaseRegistrationLink frees a claimed link after a failed registration,
// so the owner can try again with the same link.
func (t *Tool) releaseRegistrationLink(ctx context.Context, id int64) {
	const q = `UPDATE registration_links SET claimed_at = NULL WHERE id = $1 AND used_at IS NULL`
	if _, err := t.db.ExecContext(context.WithoutCancel(ctx), q, id); err != nil {
		t.log.ErrorContext(ctx, "release registration link", "link_id", id, "err", err)
	}
}

// useRegistrationLink records, in the transaction that stores the platform,
// that the claimed link registered it.
func (t *Tool) useRegistrationLink(ctx context.Context, tx *sqlx.Tx, id, platformID int64, warnings []string) error {
	const q = `UPDATE registration_links SET used_at = $2, platform_id = $3, warnings = $4 WHERE id = $1 AND used_at IS NULL`
	res, err := tx.ExecContext(ctx, q, id, t.Now(), platformID, strings.Join(warnings, "\n"))
	if err != nil {
		return fmt.Errorf("use registration link %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return apperr.Errorf(apperr.Conflict, "This registration link was used by another registration meanwhile. Nothing was registered by this request.")
	}
	return nil
}

// RegistrationsByPlatform returns, per platform, the link that registered it.
func (t *Tool) RegistrationsByPlatform(ctx context.Context) (map[int64]RegistrationLink, error) {
	links, err := t.RegistrationLinks(ctx, 1000)
	if err != nil {
		return nil, err
	}
	out := map[int64]RegistrationLink{}
	for _, l := range links {
		if l.PlatformID != nil {
			out[*l.PlatformID] = l
		}
	}
	return out, nil
}

// locale is the locale of ctx's messages.
func (t *Tool) locale(ctx context.Context) locale.Locale {
	if t.Locale == nil {
		return locale.Default()
	}
	return t.Locale(ctx)
}
