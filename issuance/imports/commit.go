package imports

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	auditlog "github.com/laurel-edu/laurel/internal/audit"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/internal/staffui"
)

// CommitImport queues the creation of a ready import's valid rows as
// unpublished credentials (source csv). allOrNothing refuses when any row
// has a problem. An import that is not ready, or has nothing to create, is a
// Conflict; WaitImport follows the job.
func (s *Service) CommitImport(ctx context.Context, actor string, id int64, allOrNothing bool) (Import, error) {
	err := db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		var r struct {
			State   string `db:"state"`
			Valid   int    `db:"valid"`
			Invalid int    `db:"invalid"`
		}
		err := tx.GetContext(ctx, &r, `SELECT state, valid, invalid FROM imports WHERE id = $1 FOR UPDATE`, id)
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.Errorf(apperr.NotFound, "There is no import %d.", id)
		}
		if err != nil {
			return fmt.Errorf("commit import %d: %w", id, err)
		}
		switch ImportState(r.State) {
		case ImportValidating:
			return apperr.Errorf(apperr.Conflict, "Import %d is still being checked; wait until its preview is ready.", id)
		case ImportCommitting:
			return apperr.Errorf(apperr.Conflict, "Import %d is already being committed.", id)
		case ImportCommitted:
			return apperr.Errorf(apperr.Conflict, "Import %d is already committed.", id)
		case ImportFailed:
			return apperr.Errorf(apperr.Conflict, "Import %d failed; upload the file again.", id)
		}
		if r.Valid == 0 {
			return apperr.Errorf(apperr.Conflict, "No row of import %d can be created; fix the rows and upload the file again.", id)
		}
		if allOrNothing && r.Invalid > 0 {
			return apperr.Errorf(apperr.Conflict, "%s of import %d have problems; nothing was created, as you asked for all rows or none.", staffui.Plural(r.Invalid, "row"), id)
		}
		const q = `UPDATE imports SET state = 'committing', all_or_nothing = $2, committed_by = $3, phase = 'committing',
				rows_done = 0, rows_total = valid, phase_started_at = $4, updated_at = $4, error = '' WHERE id = $1`
		if _, err := tx.ExecContext(ctx, q, id, allOrNothing, actor, s.now()); err != nil {
			return fmt.Errorf("commit import %d: %w", id, err)
		}
		_, err = jobs.Enqueue(ctx, tx, ImportCommitJob, importJob{ImportID: id})
		return err
	})
	if err != nil {
		return Import{}, err
	}
	return s.Import(ctx, id)
}

// WaitImport polls import id until no job works on it or ctx ends, and
// returns it as last seen.
func (s *Service) WaitImport(ctx context.Context, id int64, every time.Duration) (Import, error) {
	for {
		im, err := s.Import(ctx, id)
		if err != nil || !im.Busy() {
			return im, err
		}
		select {
		case <-ctx.Done():
			return im, nil
		case <-time.After(every):
		}
	}
}

func (s *Service) commitJob(ctx context.Context, j jobs.Job) error {
	var p importJob
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return nil
	}
	err := s.commit(ctx, j, p.ImportID)
	if err == nil {
		return nil
	}
	if apperr.Code(err) != apperr.Internal || j.LastAttempt {
		msg := apperr.Message(err)
		if apperr.Code(err) == apperr.Internal {
			msg = "Creating the credentials failed because of a problem on our side; nothing was created. Try again."
		}
		const q = `UPDATE imports SET state = 'ready', phase = '', error = $2, updated_at = $3 WHERE id = $1 AND state = 'committing'`
		if _, uerr := s.DB.ExecContext(ctx, q, p.ImportID, msg, s.now()); uerr != nil {
			return uerr
		}
		if apperr.Code(err) != apperr.Internal {
			return nil
		}
	}
	return err
}

// commit creates import id's valid rows in one transaction through the
// core's BulkCreate, which skips rather than doubles a recipient who received
// a credential meanwhile (another import, the form, Canvas). The rows are
// read from import_rows in chunks, so memory stays bounded. Each credential
// carries import_id, and the import's one audit entry (who committed, how
// many were created and skipped) is their creation record — an audit row per
// credential would double the cost of a large import; the import record says
// who uploaded which file (sha256) when. The mapping is remembered for the
// next file of the same shape.
func (s *Service) commit(ctx context.Context, j jobs.Job, id int64) error {
	return db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		var r struct {
			GroupID      sql.NullInt64 `db:"group_id"`
			Groups       pq.Int64Array `db:"groups"`
			State        string        `db:"state"`
			Rows         int           `db:"rows"`
			Valid        int           `db:"valid"`
			AllOrNothing bool          `db:"all_or_nothing"`
			Actor        string        `db:"committed_by"`
			Signature    string        `db:"header_signature"`
			Columns      []byte        `db:"columns"`
		}
		const ql = `SELECT group_id, groups, state, rows, valid, all_or_nothing, committed_by, header_signature, columns
			FROM imports WHERE id = $1 FOR UPDATE`
		err := tx.GetContext(ctx, &r, ql, id)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("commit import %d: %w", id, err)
		}
		if ImportState(r.State) != ImportCommitting {
			return jobs.MarkDone(ctx, tx, j)
		}
		now := s.now()
		// A Multiple Groups import creates each group's rows in turn, in
		// this one transaction.
		groups := []int64{r.GroupID.Int64}
		if !r.GroupID.Valid {
			groups = r.Groups
		}
		var res issuance.BulkResult
		for _, gid := range groups {
			one := int64(0) // every row of a one-group import
			if !r.GroupID.Valid {
				one = gid
			}
			part, err := s.bulkCreate(ctx, tx, id, gid, one)
			if err != nil {
				return fmt.Errorf("commit import %d: %w", id, err)
			}
			res.Created += part.Created
			res.Skipped = append(res.Skipped, part.Skipped...)
		}
		created := res.Created
		if created < r.Valid {
			if r.AllOrNothing {
				return apperr.Errorf(apperr.Conflict, "%s received a credential in this group while the import waited; nothing was created, as you asked for all rows or none. Check the file again.",
					staffui.Plural(r.Valid-created, "recipient"))
			}
			const mark = `UPDATE import_rows r SET errors = jsonb_build_array(jsonb_build_object('field', 'recipient.email',
					'message', r.email || ' received a credential in this group after the file was checked; skipped.'))
				WHERE r.import_id = $1 AND r.errors IS NULL AND r.credential_id = ANY($2)`
			if _, err := tx.ExecContext(ctx, mark, id, pq.Array(res.Skipped)); err != nil {
				return fmt.Errorf("commit import %d: mark skipped: %w", id, err)
			}
		}
		const qu = `UPDATE imports SET state = 'committed', created = $2, skipped = rows - $2, committed_at = $3, updated_at = $3,
				phase = '', rows_done = $2, error = '' WHERE id = $1`
		if _, err := tx.ExecContext(ctx, qu, id, created, now); err != nil {
			return fmt.Errorf("commit import %d: %w", id, err)
		}
		var cols []ImportColumn
		_ = json.Unmarshal(r.Columns, &cols)
		if r.GroupID.Valid {
			if err := saveMapping(ctx, tx, r.GroupID.Int64, r.Signature, cols); err != nil {
				return err
			}
		}
		if err := auditlog.Record(ctx, tx, now, r.Actor, "commit", "import", fmt.Sprint(id), nil,
			map[string]any{"group_id": r.GroupID.Int64, "groups": groups, "created": created, "skipped": r.Rows - created}); err != nil {
			return err
		}
		return jobs.MarkDone(ctx, tx, j)
	})
}

// bulkCreate creates import id's rows without problems (of group one only,
// unless it is 0) in group gid through the core. Rows checked since they
// carry their search key go from import_rows to the core's staging table
// inside PostgreSQL; an import checked before that (none of its rows has
// one) sends its rows through this process, a chunk at a time.
func (s *Service) bulkCreate(ctx context.Context, tx *sqlx.Tx, id, gid, one int64) (issuance.BulkResult, error) {
	var legacy bool
	const ql = `SELECT EXISTS (SELECT 1 FROM import_rows WHERE import_id = $1 AND errors IS NULL AND search_key IS NULL)`
	if err := tx.GetContext(ctx, &legacy, ql, id); err != nil {
		return issuance.BulkResult{}, fmt.Errorf("read rows of import %d: %w", id, err)
	}
	if legacy {
		return s.Core.BulkCreate(ctx, tx, gid, issuance.FromCSV, id, validRows(ctx, tx, id, one))
	}
	const q = `SELECT row_number, credential_id, name, email, key, issued_on, expires_on, attributes, search_key
		FROM import_rows WHERE import_id = $1 AND errors IS NULL AND ($2::bigint = 0 OR group_id = $2)`
	return s.Core.BulkCreateFrom(ctx, tx, gid, issuance.FromCSV, id, q, id, one)
}

// commitChunk is how many rows commit reads from import_rows at a time.
const commitChunk = 5000

// validRows yields import id's rows without problems (of group gid only,
// unless it is 0), in row order, a chunk at a time, for the core's
// BulkCreate.
func validRows(ctx context.Context, tx *sqlx.Tx, id, gid int64) func() ([]issuance.BulkRow, error) {
	after := 0
	return func() ([]issuance.BulkRow, error) {
		const q = `SELECT row_number, credential_id, name, email, coalesce(key, '') AS key,
				coalesce(to_char(issued_on, 'YYYY-MM-DD'), '') AS issued_on, coalesce(to_char(expires_on, 'YYYY-MM-DD'), '') AS expires_on,
				attributes::text AS attributes
			FROM import_rows WHERE import_id = $1 AND errors IS NULL AND row_number > $2 AND ($4::bigint = 0 OR group_id = $4)
			ORDER BY row_number LIMIT $3`
		rows, err := tx.QueryxContext(ctx, q, id, after, commitChunk, gid)
		if err != nil {
			return nil, fmt.Errorf("read rows of import %d: %w", id, err)
		}
		defer rows.Close()
		out := make([]issuance.BulkRow, 0, commitChunk)
		for rows.Next() {
			var b issuance.BulkRow
			if err := rows.Scan(&after, &b.ID, &b.Name, &b.Email, &b.Key, &b.IssuedOn, &b.ExpiresOn, &b.Attributes); err != nil {
				return nil, fmt.Errorf("read rows of import %d: %w", id, err)
			}
			out = append(out, b)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read rows of import %d: %w", id, err)
		}
		return out, nil
	}
}
