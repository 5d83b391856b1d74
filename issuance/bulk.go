package issuance

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// BulkRow is one credential of a bulk creation, already checked by its
// caller with CheckNew's rules: dates as DateLayout ("" for none), the
// attributes as a JSON object, Key as CheckNew computed it ("" when the
// group allows a recipient several credentials).
type BulkRow struct {
	ID                  string // a fresh NewCredentialID
	Name, Email, Key    string
	IssuedOn, ExpiresOn string
	Attributes          string
}

// BulkResult is what BulkCreate did.
type BulkResult struct {
	Created int
	// Skipped are the ids of the rows not created because their recipient
	// received a credential in the group meanwhile, in no order.
	Skipped []string
}

// BulkCreate creates in tx, as unpublished credentials of group gid from
// source src (importID names the import they came from, 0 for none), the
// rows that next yields chunk by chunk until it returns none. next may use
// tx between chunks. The rows are COPYed into a staging table of the
// transaction, then inserted by one INSERT ... SELECT in recipient order, so
// that two overlapping bulk creations take the unique index's locks in the
// same order, ON CONFLICT DO NOTHING, so that a recipient who received a
// credential meanwhile is skipped rather than doubled. It records no audit
// entry per credential: the caller records one for the whole batch (an
// entry per credential would double the cost of a large import). It may be
// called several times in one transaction, a group at a time.
func (s *Service) BulkCreate(ctx context.Context, tx *sqlx.Tx, gid int64, src Source, importID int64, next func() ([]BulkRow, error)) (BulkResult, error) {
	if !validSource(src) {
		return BulkResult{}, fmt.Errorf("bulk create in group %d: unknown source %q", gid, src)
	}
	if err := createStaging(ctx, tx, gid); err != nil {
		return BulkResult{}, err
	}
	staged := 0
	for {
		rows, err := next()
		if err != nil {
			return BulkResult{}, err
		}
		if len(rows) == 0 {
			break
		}
		if err := stageChunk(ctx, tx, staged, rows); err != nil {
			return BulkResult{}, fmt.Errorf("bulk create in group %d: %w", gid, err)
		}
		staged += len(rows)
	}
	return s.insertStaged(ctx, tx, gid, src, importID, staged)
}

// BulkCreateFrom is BulkCreate for rows its caller holds in its own table of
// the same database: rows is the caller's SELECT (with its args) over that
// table, yielding the columns ord (the rows' order), id, name, email, key,
// issued_on, expires_on, attributes and search_key (SearchKey of the name
// and email), checked as BulkCreate's rows are. The rows go into the staging
// table inside PostgreSQL, never through this process.
func (s *Service) BulkCreateFrom(ctx context.Context, tx *sqlx.Tx, gid int64, src Source, importID int64, rows string, args ...any) (BulkResult, error) {
	if !validSource(src) {
		return BulkResult{}, fmt.Errorf("bulk create in group %d: unknown source %q", gid, src)
	}
	if err := createStaging(ctx, tx, gid); err != nil {
		return BulkResult{}, err
	}
	const q = `INSERT INTO credential_staging (ord, id, name, email, key, issued_on, expires_on, attributes, search_key) `
	res, err := tx.ExecContext(ctx, q+rows, args...)
	if err != nil {
		return BulkResult{}, fmt.Errorf("bulk create in group %d: stage: %w", gid, err)
	}
	staged, err := res.RowsAffected()
	if err != nil {
		return BulkResult{}, fmt.Errorf("bulk create in group %d: stage: %w", gid, err)
	}
	return s.insertStaged(ctx, tx, gid, src, importID, int(staged))
}

// createStaging creates the transaction's empty staging table.
func createStaging(ctx context.Context, tx *sqlx.Tx, gid int64) error {
	// A multi-group import calls this once per group in one transaction.
	const qt = `CREATE TEMP TABLE IF NOT EXISTS credential_staging (ord integer, id text, name text, email text, key text,
		issued_on date, expires_on date, attributes jsonb, search_key text) ON COMMIT DROP;
		TRUNCATE credential_staging`
	if _, err := tx.ExecContext(ctx, qt); err != nil {
		return fmt.Errorf("bulk create in group %d: staging: %w", gid, err)
	}
	return nil
}

// insertStaged inserts the staged rows (see BulkCreate).
func (s *Service) insertStaged(ctx context.Context, tx *sqlx.Tx, gid int64, src Source, importID int64, staged int) (BulkResult, error) {
	// The insert sorts the rows by recipient: in memory, not on disk.
	if _, err := tx.ExecContext(ctx, `SET LOCAL work_mem = '64MB'`); err != nil {
		return BulkResult{}, fmt.Errorf("bulk create in group %d: %w", gid, err)
	}
	var imp any
	if importID != 0 {
		imp = importID
	}
	const ins = `WITH ins AS (
			INSERT INTO credentials (id, group_id, recipient_name, recipient_email, recipient_key, issued_on, expires_on,
				attributes, source, import_id, created_at, updated_at, search_key)
			SELECT id, $1, name, email, key, issued_on, expires_on, attributes, $2, $3, $4, $4, search_key
			FROM credential_staging
			ORDER BY key, ord
			ON CONFLICT DO NOTHING
			RETURNING 1
		)
		SELECT count(*) FROM ins`
	var res BulkResult
	if err := tx.GetContext(ctx, &res.Created, ins, gid, src, imp, s.Time()); err != nil {
		return BulkResult{}, fmt.Errorf("bulk create %d credentials in group %d: insert: %w", staged, gid, err)
	}
	if res.Created < staged {
		const qs = `SELECT s.id FROM credential_staging s WHERE NOT EXISTS (SELECT 1 FROM credentials c WHERE c.id = s.id)`
		if err := tx.SelectContext(ctx, &res.Skipped, qs); err != nil {
			return BulkResult{}, fmt.Errorf("bulk create in group %d: skipped: %w", gid, err)
		}
	}
	return res, nil
}

// stageChunk COPYs rows into the staging table, numbered from ord on. Each
// chunk is its own COPY: the connection takes no other statement (next's)
// while one is open.
func stageChunk(ctx context.Context, tx *sqlx.Tx, ord int, rows []BulkRow) error {
	stmt, err := tx.PrepareContext(ctx, `COPY credential_staging (ord, id, name, email, key, issued_on, expires_on, attributes, search_key) FROM STDIN`)
	if err != nil {
		return fmt.Errorf("stage: %w", err)
	}
	defer stmt.Close()
	for i, r := range rows {
		if _, err := stmt.ExecContext(ctx, ord+i, r.ID, r.Name, r.Email, orNull(r.Key), orNull(r.IssuedOn), orNull(r.ExpiresOn), r.Attributes,
			SearchKey(r.Name, r.Email)); err != nil {
			return fmt.Errorf("stage row %d: %w", ord+i, err)
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		return fmt.Errorf("stage: %w", err)
	}
	if err := stmt.Close(); err != nil {
		return fmt.Errorf("stage: %w", err)
	}
	return nil
}

func orNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Holders returns, of keys (recipient keys as CheckNew computes them), those
// whose recipient holds a live credential in group gid, each with that
// credential's id.
func (s *Service) Holders(ctx context.Context, gid int64, keys []string) (map[string]string, error) {
	ps := make([]prepared, len(keys))
	for i, k := range keys {
		ps[i].key = k
	}
	return heldBy(ctx, s.DB, gid, ps)
}
