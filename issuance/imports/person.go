package imports

// One person's import rows, and erasing them from the rows and from the
// stored files: the imports' part of a request to see or erase everything
// Laurel holds about a person (internal/people orchestrates).

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/sheet"
)

// PersonRow is one data row of an import that names a person.
type PersonRow struct {
	ImportID     int64             `json:"import_id" db:"import_id"`
	GroupID      int64             `json:"group_id" db:"group_id"`
	FileName     string            `json:"file_name" db:"file_name"`
	UploadedAt   time.Time         `json:"uploaded_at" db:"created_at"`
	Row          int               `json:"row" db:"row_number"`
	CredentialID string            `json:"credential_id" db:"credential_id"`
	Name         string            `json:"name" db:"name"`
	Email        string            `json:"email" db:"email"`
	IssuedOn     *time.Time        `json:"issued_on,omitempty" db:"issued_on"`
	ExpiresOn    *time.Time        `json:"expires_on,omitempty" db:"expires_on"`
	Attributes   map[string]string `json:"attributes" db:"-"`
	Errors       []ImportError     `json:"errors,omitempty" db:"-"`
}

// PersonRows returns every import row whose email is email (any import,
// any group), in upload and row order.
func (s *Service) PersonRows(ctx context.Context, email string) ([]PersonRow, error) {
	const q = `SELECT r.import_id, i.group_id, i.file_name, i.created_at, r.row_number, r.credential_id, r.name, r.email,
			r.issued_on, r.expires_on, r.attributes, r.errors
		FROM import_rows r JOIN imports i ON i.id = r.import_id
		WHERE lower(r.email) = $1 ORDER BY r.import_id, r.row_number`
	rows, err := s.DB.QueryxContext(ctx, q, strings.ToLower(strings.TrimSpace(email)))
	if err != nil {
		return nil, fmt.Errorf("import rows of a person: %w", err)
	}
	defer rows.Close()
	var out []PersonRow
	for rows.Next() {
		var r PersonRow
		var attrs, errs []byte
		if err := rows.Scan(&r.ImportID, &r.GroupID, &r.FileName, &r.UploadedAt, &r.Row, &r.CredentialID, &r.Name, &r.Email,
			&r.IssuedOn, &r.ExpiresOn, &attrs, &errs); err != nil {
			return nil, fmt.Errorf("import rows of a person: %w", err)
		}
		_ = json.Unmarshal(attrs, &r.Attributes)
		if errs != nil {
			_ = json.Unmarshal(errs, &r.Errors)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("import rows of a person: %w", err)
	}
	return out, nil
}

// PersonErasure says what ErasePerson did.
type PersonErasure struct{ Rows, Files int }

// ErasePerson erases email from every import: each import row with that
// email gets the tombstone's name and email and loses its attributes, and
// the import's stored file is rewritten without the person, one import per
// transaction. In the file, the cells of each row that holds the email
// become the tombstone's email (the email cell), its name (a cell equal to
// one of names) or empty (the rest: dates, grades); every other row stays
// as it was. The file is stored again as a UTF-8 CSV of the imported sheet
// (an XLSX keeps no other sheet, formatting or formulas), with the same
// row numbers, so the errors download still lines up. A row the reader
// could not parse is left blank. Imports already erased are not found
// again, so running it twice is harmless.
func (s *Service) ErasePerson(ctx context.Context, email string, names []string, t issuance.Tombstone) (PersonErasure, error) {
	key := strings.ToLower(strings.TrimSpace(email))
	var ids []int64
	const q = `SELECT DISTINCT import_id FROM import_rows WHERE lower(email) = $1 ORDER BY import_id`
	if err := s.DB.SelectContext(ctx, &ids, q, key); err != nil {
		return PersonErasure{}, fmt.Errorf("erase a person: imports: %w", err)
	}
	var out PersonErasure
	for _, id := range ids {
		n, err := s.erasePersonFrom(ctx, id, key, names, t)
		if err != nil {
			return out, err
		}
		out.Rows += n
		out.Files++
	}
	return out, nil
}

// erasePersonFrom erases the person from import id's rows and file.
func (s *Service) erasePersonFrom(ctx context.Context, id int64, key string, names []string, t issuance.Tombstone) (int, error) {
	im, err := s.Import(ctx, id)
	if err != nil {
		return 0, err
	}
	rewritten, size, sum, err := s.fileWithout(ctx, im, key, names, t)
	if err != nil {
		return 0, err
	}
	if rewritten != nil {
		defer func() { rewritten.Close(); os.Remove(rewritten.Name()) }()
	}
	var n int
	err = db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		const qr = `UPDATE import_rows SET name = $3, email = $4, key = CASE WHEN key IS NULL THEN NULL ELSE $5 END,
				attributes = '{}', errors = replace(errors::text, email, $4)::jsonb, search_key = $6
			WHERE import_id = $1 AND lower(email) = $2`
		res, err := tx.ExecContext(ctx, qr, id, key, t.Name, t.Email, strings.ToLower(t.Email), issuance.SearchKey(t.Name, t.Email))
		if err != nil {
			return fmt.Errorf("erase a person from import %d: rows: %w", id, err)
		}
		k, _ := res.RowsAffected()
		n = int(k)
		// The sheet and header-row chooser keeps the first rows' text: the
		// person's rows leave it.
		if layout, changed := layoutWithout(im.Layout, key, names); changed {
			b, err := json.Marshal(layout)
			if err != nil {
				return fmt.Errorf("erase a person from import %d: layout: %w", id, err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE imports SET layout = $2 WHERE id = $1`, id, string(b)); err != nil {
				return fmt.Errorf("erase a person from import %d: layout: %w", id, err)
			}
		}
		if rewritten == nil {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM import_chunks WHERE import_id = $1`, id); err != nil {
			return fmt.Errorf("erase a person from import %d: file: %w", id, err)
		}
		if err := storeChunks(ctx, tx, id, rewritten); err != nil {
			return err
		}
		const qi = `UPDATE imports SET file_size = $2, sha256 = $3, format = 'csv', encoding = 'UTF-8', delimiter = $4, sheet = ''
			WHERE id = $1`
		if _, err := tx.ExecContext(ctx, qi, id, size, sum, csvDelimiter(im)); err != nil {
			return fmt.Errorf("erase a person from import %d: %w", id, err)
		}
		return nil
	})
	return n, err
}

// layoutWithout is l without the preview rows that name the person (by
// email or one of names, in any case), and whether any went.
func layoutWithout(l ImportLayout, email string, names []string) (ImportLayout, bool) {
	kept := l.Rows[:0:0]
	for _, r := range l.Rows {
		text := strings.ToLower(r.Text)
		named := strings.Contains(text, email) || slices.ContainsFunc(names, func(n string) bool {
			return n != "" && strings.Contains(text, strings.ToLower(n))
		})
		if !named {
			kept = append(kept, r)
		}
	}
	changed := len(kept) != len(l.Rows)
	l.Rows = kept
	return l, changed
}

// csvDelimiter is the delimiter of import im's rewritten file: its own
// for a CSV, a comma for an XLSX.
func csvDelimiter(im Import) string {
	if im.Format == "csv" && im.Delimiter != "" {
		return im.Delimiter
	}
	return ","
}

// fileWithout writes import im's stored file, without the person, to a
// temporary file (nil when the import has no stored file).
func (s *Service) fileWithout(ctx context.Context, im Import, key string, names []string, t issuance.Tombstone) (*os.File, int64, string, error) {
	f, size, err := s.loadFile(ctx, im.ID)
	if err != nil {
		return nil, 0, "", err
	}
	defer func() { f.Close(); os.Remove(f.Name()) }()
	if size == 0 {
		return nil, 0, "", nil
	}
	rd, err := sheet.Open(f, size, sheet.Options{Sheet: im.Sheet, MaxBytes: MaxImportBytes})
	if err != nil {
		return nil, 0, "", fmt.Errorf("erase a person from import %d: read the file: %w", im.ID, err)
	}
	defer rd.Close()
	out, err := os.CreateTemp("", "laurel-import-*")
	if err != nil {
		return nil, 0, "", fmt.Errorf("erase a person from import %d: %w", im.ID, err)
	}
	fail := func(err error) (*os.File, int64, string, error) {
		out.Close()
		os.Remove(out.Name())
		return nil, 0, "", fmt.Errorf("erase a person from import %d: write the file: %w", im.ID, err)
	}
	h := sha256.New()
	cw := csv.NewWriter(io.MultiWriter(out, h))
	cw.Comma = []rune(csvDelimiter(im))[0]
	row := 0
	// write puts cells at spreadsheet row n, with blank lines before it so
	// the rows keep their numbers (the reader counts blank lines).
	write := func(n int, cells []string) error {
		cw.Flush()
		for ; row < n-1; row++ {
			if _, err := io.WriteString(io.MultiWriter(out, h), "\n"); err != nil {
				return err
			}
		}
		row = n
		if err := cw.Write(cells); err != nil {
			return err
		}
		return cw.Error()
	}
	header, _ := rd.Header()
	if err := write(rd.HeaderRow(), header); err != nil {
		return fail(err)
	}
	for {
		r, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var re *sheet.RowError
		if errors.As(err, &re) {
			continue // unreadable: left blank
		}
		if err != nil {
			return fail(err)
		}
		if err := write(r.Number, withoutPerson(r.Cells, key, names, t)); err != nil {
			return fail(err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fail(err)
	}
	n, err := out.Seek(0, io.SeekCurrent)
	if err != nil {
		return fail(err)
	}
	return out, n, hex.EncodeToString(h.Sum(nil)), nil
}

// withoutPerson returns cells unchanged unless one holds the email key;
// then that row is the person's: email cells become the tombstone's email,
// cells equal to one of names its name, and the rest empty.
func withoutPerson(cells []string, key string, names []string, t issuance.Tombstone) []string {
	mine := false
	for _, c := range cells {
		if strings.Contains(strings.ToLower(c), key) {
			mine = true
			break
		}
	}
	if !mine {
		return cells
	}
	out := make([]string, len(cells))
	for i, c := range cells {
		switch {
		case strings.Contains(strings.ToLower(c), key):
			out[i] = t.Email
		case c != "" && matchesName(c, names):
			out[i] = t.Name
		}
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

func matchesName(c string, names []string) bool {
	c = strings.Join(strings.Fields(c), " ")
	for _, n := range names {
		if strings.EqualFold(c, n) {
			return true
		}
	}
	return false
}
