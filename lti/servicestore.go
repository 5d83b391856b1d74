package lti

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/secret"
)

// ServiceSettings are a platform's web service settings as an LMS room keeps
// them: the service's URL and whether a token is stored.
type ServiceSettings struct {
	PlatformID int64
	URL        string
	// HasToken tells whether a token is stored; read it with
	// ServiceStore.Token.
	HasToken bool
}

// ServiceStore reads and writes a platform's web service URL and token,
// sealed with Keys under "<Label>-token:<platform id>", in a table of the
// LMS room that owns them (canvas, moodle): the room names its table and
// columns, so its SQL stays its own while the sealing, the reads and the
// upserts are written once.
type ServiceStore struct {
	DB   *sqlx.DB
	Keys *secret.Keys
	// Table has the columns platform_id, URLColumn, TokenColumn and
	// updated_at. The names are the room's constants, never input.
	Table, URLColumn, TokenColumn string
	// Label names the platform kind in errors and the sealing's additional
	// data ("canvas"); TokenName the token in messages ("Canvas API token").
	Label, TokenName string
}

func (s *ServiceStore) tokenAD(platformID int64) string {
	return s.Label + "-token:" + strconv.FormatInt(platformID, 10)
}

type serviceRow struct {
	PlatformID int64  `db:"platform_id"`
	URL        string `db:"url"`
	HasToken   bool   `db:"has_token"`
}

func (s *ServiceStore) selectSQL() string {
	return `SELECT platform_id, ` + s.URLColumn + ` AS url, ` + s.TokenColumn + ` IS NOT NULL AS has_token FROM ` + s.Table
}

// Settings returns the settings of platformID (zero values when none are
// stored).
func (s *ServiceStore) Settings(ctx context.Context, platformID int64) (ServiceSettings, error) {
	var row serviceRow
	err := s.DB.GetContext(ctx, &row, s.selectSQL()+` WHERE platform_id = $1`, platformID)
	if errors.Is(err, sql.ErrNoRows) {
		return ServiceSettings{PlatformID: platformID}, nil
	}
	if err != nil {
		return ServiceSettings{}, fmt.Errorf("%s settings of platform %d: %w", s.Label, platformID, err)
	}
	return ServiceSettings(row), nil
}

// All returns the settings of every platform that has any, by id.
func (s *ServiceStore) All(ctx context.Context) (map[int64]ServiceSettings, error) {
	var rows []serviceRow
	if err := s.DB.SelectContext(ctx, &rows, s.selectSQL()); err != nil {
		return nil, fmt.Errorf("%s settings: %w", s.Label, err)
	}
	out := make(map[int64]ServiceSettings, len(rows))
	for _, r := range rows {
		out[r.PlatformID] = ServiceSettings(r)
	}
	return out, nil
}

// Token returns the platform's decrypted token, or a NotFound error when
// none is stored.
func (s *ServiceStore) Token(ctx context.Context, platformID int64) (string, error) {
	var sealed []byte
	q := `SELECT ` + s.TokenColumn + ` FROM ` + s.Table + ` WHERE platform_id = $1`
	err := s.DB.GetContext(ctx, &sealed, q, platformID)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("%s token of platform %d: %w", s.Label, platformID, err)
	}
	if sealed == nil {
		return "", apperr.Errorf(apperr.NotFound, "Platform %d has no %s.", platformID, s.TokenName)
	}
	tok, err := s.Keys.Open(sealed, s.tokenAD(platformID))
	if err != nil {
		return "", fmt.Errorf("%s token of platform %d: %w", s.Label, platformID, err)
	}
	return string(tok), nil
}

// Save stores, in the platform's transaction, the URL unless it is "" and
// the token (sealed) unless it is "": an empty value keeps the stored one.
func (s *ServiceStore) Save(ctx context.Context, tx *sqlx.Tx, platformID int64, url, token string) error {
	upsert := func(col string, v any) error {
		q := `INSERT INTO ` + s.Table + ` (platform_id, ` + col + `, updated_at) VALUES ($1, $2, now())
ON CONFLICT (platform_id) DO UPDATE SET ` + col + ` = EXCLUDED.` + col + `, updated_at = now()`
		_, err := tx.ExecContext(ctx, q, platformID, v)
		return err
	}
	if url != "" {
		if err := upsert(s.URLColumn, url); err != nil {
			return fmt.Errorf("set %s url of platform %d: %w", s.Label, platformID, err)
		}
	}
	if token != "" {
		if err := upsert(s.TokenColumn, s.Keys.Seal([]byte(token), s.tokenAD(platformID))); err != nil {
			return fmt.Errorf("set %s token of platform %d: %w", s.Label, platformID, err)
		}
	}
	return nil
}
