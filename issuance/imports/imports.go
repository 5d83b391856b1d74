package imports

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	auditlog "github.com/laurel-edu/laurel/internal/audit"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/sheet"
)

// ImportState is where a CSV/XLSX import is in its life cycle.
type ImportState string

// Import states (docs/api.md).
const (
	ImportValidating ImportState = "validating"
	ImportReady      ImportState = "ready"
	ImportCommitting ImportState = "committing"
	ImportCommitted  ImportState = "committed"
	ImportFailed     ImportState = "failed"
)

// Label is the state as pages name it.
func (st ImportState) Label() string {
	switch st {
	case ImportValidating:
		return "Checking"
	case ImportReady:
		return "Ready to import"
	case ImportCommitting:
		return "Importing"
	case ImportCommitted:
		return "Imported"
	case ImportFailed:
		return "Failed"
	}
	return string(st)
}

// Job kinds of imports: reading and validating an uploaded file, and
// creating its valid rows.
const (
	ImportValidateJob = "import.validate"
	ImportCommitJob   = "import.commit"
)

// MaxImportBytes is the largest file an import accepts (issue 9: 100 MB).
const MaxImportBytes = 100 << 20

// importChunk is the size of the pieces the uploaded file is stored in.
const importChunk = 1 << 20

// Column attribute keys of an import besides "attributes.<key>": the
// standard fields, and first/last name columns that are joined into the
// recipient name.
const (
	colName      = "recipient.name"
	colFirstName = "recipient.first_name"
	colLastName  = "recipient.last_name"
	colEmail     = "recipient.email"
	colIssued    = "issued_on"
	colExpires   = "expires_on"
)

// ImportColumn is one column of the file and the attribute it fills ("" =
// skipped).
type ImportColumn struct {
	Header    string `json:"header"`
	Attribute string `json:"attribute"`
	Index     int    `json:"index"`
	// Saved tells that the mapping came from a previous file of the same
	// shape; Auto that it was recognised from the header.
	Source string `json:"source,omitempty"` // "user", "saved", "auto" or ""
}

// ImportError is one problem of an import: the row as the spreadsheet
// numbers it (the header row for problems of the whole file), the attribute
// key and a message for a registrar.
type ImportError struct {
	Row     int    `json:"row"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Import is one uploaded spreadsheet and what became of it.
type Import struct {
	ID int64
	// GroupID is the group the credentials go to; 0 for a Multiple Groups
	// import, whose rows name their groups.
	GroupID        int64
	Actor          string
	ActorName      string
	FileName       string
	FileSize       int64
	SHA256         string
	Format         string
	Encoding       string
	Delimiter      string
	Sheet          string
	State          ImportState
	DateOrder      string
	Mapping        map[string]string
	Columns        []ImportColumn
	Problems       []ImportError
	HeaderRow      int
	Phase          string
	RowsTotal      int
	RowsDone       int
	PhaseStartedAt *time.Time
	Rows           int
	Valid          int
	Invalid        int
	Created        int
	Skipped        int
	AllOrNothing   bool
	CommittedBy    string
	DuplicateOf    *int64
	Error          string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	CommittedAt    *time.Time
	Layout         ImportLayout
	Warnings       []rowWarning
	// Scope is a Multiple Groups import's uploader's group limit (nil:
	// every group); Groups are the groups its valid rows go to.
	Scope  []int64
	Groups []int64
}

// FormatName is the file's kind as a person calls it.
func (im Import) FormatName() string {
	switch im.Format {
	case "csv":
		return "CSV"
	case "xlsx":
		return "Excel workbook"
	case "xls":
		return "Excel 97–2003 workbook"
	case "ods":
		return "OpenDocument spreadsheet"
	}
	return im.Format
}

// Multi tells a Multiple Groups import.
func (im Import) Multi() bool { return im.GroupID == 0 }

// Rate is the rows per second of the current phase, 0 when unknown.
func (im Import) Rate() int {
	if im.PhaseStartedAt == nil || im.RowsDone == 0 {
		return 0
	}
	d := im.UpdatedAt.Sub(*im.PhaseStartedAt).Seconds()
	if d <= 0 {
		return 0
	}
	return int(float64(im.RowsDone) / d)
}

// Percent is the progress of the current phase, 0-100.
func (im Import) Percent() int {
	if im.RowsTotal <= 0 {
		return 0
	}
	return min(100, im.RowsDone*100/im.RowsTotal)
}

// Busy tells whether a job is working on the import.
func (im Import) Busy() bool { return im.State == ImportValidating || im.State == ImportCommitting }

type importRow struct {
	ID             int64         `db:"id"`
	GroupID        sql.NullInt64 `db:"group_id"`
	Actor          string        `db:"actor"`
	ActorName      string        `db:"actor_name"`
	FileName       string        `db:"file_name"`
	FileSize       int64         `db:"file_size"`
	SHA256         string        `db:"sha256"`
	Format         string        `db:"format"`
	Encoding       string        `db:"encoding"`
	Delimiter      string        `db:"delimiter"`
	Sheet          string        `db:"sheet"`
	State          string        `db:"state"`
	DateOrder      string        `db:"date_order"`
	Mapping        []byte        `db:"mapping"`
	Columns        []byte        `db:"columns"`
	Problems       []byte        `db:"problems"`
	HeaderRow      int           `db:"header_row"`
	Phase          string        `db:"phase"`
	RowsTotal      int           `db:"rows_total"`
	RowsDone       int           `db:"rows_done"`
	PhaseStartedAt *time.Time    `db:"phase_started_at"`
	Rows           int           `db:"rows"`
	Valid          int           `db:"valid"`
	Invalid        int           `db:"invalid"`
	Created        int           `db:"created"`
	Skipped        int           `db:"skipped"`
	AllOrNothing   bool          `db:"all_or_nothing"`
	CommittedBy    string        `db:"committed_by"`
	DuplicateOf    sql.NullInt64 `db:"duplicate_of"`
	Error          string        `db:"error"`
	CreatedAt      time.Time     `db:"created_at"`
	UpdatedAt      time.Time     `db:"updated_at"`
	CommittedAt    *time.Time    `db:"committed_at"`
	Layout         []byte        `db:"layout"`
	Warnings       []byte        `db:"warnings"`
	Scope          pq.Int64Array `db:"group_scope"`
	Groups         pq.Int64Array `db:"groups"`
}

const importCols = `id, group_id, actor, actor_name, file_name, file_size, sha256, format, encoding, delimiter, sheet, state,
	date_order, mapping, columns, problems, header_row, phase, rows_total, rows_done, phase_started_at, rows, valid, invalid,
	created, skipped, all_or_nothing, committed_by, duplicate_of, error, created_at, updated_at, committed_at, layout, warnings, group_scope, groups`

func (r importRow) imp() Import {
	im := Import{ID: r.ID, GroupID: r.GroupID.Int64, Scope: r.Scope, Groups: r.Groups, Actor: r.Actor, ActorName: r.ActorName, FileName: r.FileName, FileSize: r.FileSize,
		SHA256: r.SHA256, Format: r.Format, Encoding: r.Encoding, Delimiter: r.Delimiter, Sheet: r.Sheet, State: ImportState(r.State),
		DateOrder: r.DateOrder, HeaderRow: r.HeaderRow, Phase: r.Phase, RowsTotal: r.RowsTotal, RowsDone: r.RowsDone,
		PhaseStartedAt: r.PhaseStartedAt, Rows: r.Rows, Valid: r.Valid, Invalid: r.Invalid, Created: r.Created, Skipped: r.Skipped,
		AllOrNothing: r.AllOrNothing, CommittedBy: r.CommittedBy, Error: r.Error, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, CommittedAt: r.CommittedAt}
	if r.DuplicateOf.Valid {
		d := r.DuplicateOf.Int64
		im.DuplicateOf = &d
	}
	_ = json.Unmarshal(r.Mapping, &im.Mapping)
	_ = json.Unmarshal(r.Columns, &im.Columns)
	_ = json.Unmarshal(r.Problems, &im.Problems)
	_ = json.Unmarshal(r.Layout, &im.Layout)
	_ = json.Unmarshal(r.Warnings, &im.Warnings)
	if im.Mapping == nil {
		im.Mapping = map[string]string{}
	}
	return im
}

// ImportOptions are the user's choices for one import.
type ImportOptions struct {
	FileName  string
	Sheet     string            // workbooks: the sheet to read; "" = the one whose header matches best
	HeaderRow int               // the row holding the column names; 0 = the one that matches best
	DateOrder string            // "", YMD, MDY or DMY
	Mapping   map[string]string // header → attribute key; "" skips the column
	ActorName string            // who, as the imports list shows it
}

// StartImport stores an uploaded file (read from r, at most MaxImportBytes)
// as a new import of group groupID and queues its validation. A file that
// cannot be read as a spreadsheet, a bad date order or a mapping that names
// unknown headers or attributes is an apperr.Fields error naming the field
// ("file", "date_order", "mapping"); nothing is then stored.
func (s *Service) StartImport(ctx context.Context, actor string, groupID int64, r io.Reader, opt ImportOptions) (Import, error) {
	g, err := s.Core.Group(ctx, groupID)
	if err != nil {
		return Import{}, err
	}
	return s.start(ctx, actor, g, nil, r, opt)
}

// StartMultiImport stores an uploaded file with a group column as a new
// Multiple Groups import and queues its validation, as StartImport does.
// scope is the uploader's group limit (nil: every group): a row naming a
// group outside it is refused.
func (s *Service) StartMultiImport(ctx context.Context, actor string, scope []int64, r io.Reader, opt ImportOptions) (Import, error) {
	gs, err := s.groupSet(ctx, scope)
	if err != nil {
		return Import{}, err
	}
	return s.start(ctx, actor, gs.union, scope, r, opt)
}

// start stores an import of group g (the stand-in group of a Multiple
// Groups import, whose uploader's limit is scope).
func (s *Service) start(ctx context.Context, actor string, g issuance.Group, scope []int64, r io.Reader, opt ImportOptions) (Import, error) {
	var err error
	var groupID any = g.ID
	if g.ID == multiID {
		groupID = nil
	}
	if opt.DateOrder, err = dateOrder(opt.DateOrder); err != nil {
		return Import{}, err
	}
	opt.FileName = cleanFileName(opt.FileName)
	f, size, sum, err := spool(r)
	if err != nil {
		return Import{}, err
	}
	defer func() { f.Close(); os.Remove(f.Name()) }()
	pv, err := sheet.Preview(f, size, sheet.Options{MaxBytes: MaxImportBytes}, layoutRows)
	if err != nil {
		return Import{}, fileError(err)
	}
	sheetName, headerRow, layout := chooseLayout(pv, opt.Sheet, opt.HeaderRow, groupScore(g))
	rd, err := sheet.Open(f, size, sheet.Options{Sheet: sheetName, HeaderRow: headerRow, MaxBytes: MaxImportBytes})
	if err != nil {
		return Import{}, fileError(err)
	}
	header, err := rd.Header()
	format, enc, delim, headerRow := rd.Format(), rd.Encoding(), rd.Delimiter(), rd.HeaderRow()
	if err == nil {
		if _, err = rd.Next(); errors.Is(err, io.EOF) {
			err = noDataRows(sheetName, headerRow)
		} else {
			var re *sheet.RowError
			if errors.As(err, &re) {
				err = nil
			}
		}
	}
	rd.Close()
	if err != nil {
		return Import{}, fileError(err)
	}
	if err := checkMapping(g, header, opt.Mapping); err != nil {
		return Import{}, err
	}
	mapping, _ := json.Marshal(orEmpty(opt.Mapping))
	lay, _ := json.Marshal(layout)
	delimStr := ""
	if delim != 0 {
		delimStr = string(delim)
	}
	var id int64
	err = db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		var dup sql.NullInt64
		const qd = `SELECT max(id) FROM imports WHERE group_id IS NOT DISTINCT FROM $1 AND sha256 = $2`
		if err := tx.GetContext(ctx, &dup, qd, groupID, sum); err != nil {
			return fmt.Errorf("start import: find same file: %w", err)
		}
		const q = `INSERT INTO imports (group_id, actor, actor_name, file_name, file_size, sha256, format, encoding, delimiter,
				sheet, date_order, mapping, header_row, duplicate_of, phase, created_at, updated_at, layout, group_scope)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'queued', $15, $15, $16, $17) RETURNING id`
		if err := tx.GetContext(ctx, &id, q, groupID, actor, opt.ActorName, opt.FileName, size, sum, format, enc, delimStr,
			sheetName, opt.DateOrder, string(mapping), headerRow, dup, s.now(), string(lay), pq.Array(scope)); err != nil {
			return fmt.Errorf("start import: %w", err)
		}
		if err := storeChunks(ctx, tx, id, f); err != nil {
			return err
		}
		if _, err := jobs.Enqueue(ctx, tx, ImportValidateJob, importJob{ImportID: id}); err != nil {
			return err
		}
		return auditlog.Record(ctx, tx, s.now(), actor, "upload", "import", fmt.Sprint(id), nil,
			map[string]any{"group_id": groupID, "file_name": opt.FileName, "sha256": sum, "size": size, "multiple_groups": groupID == nil})
	})
	if err != nil {
		return Import{}, err
	}
	return s.Import(ctx, id)
}

type importJob struct {
	ImportID int64 `json:"import_id"`
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// dateOrder is the date order the user picked, normalised by sheet.ParseOrder
// ("" for none), or a field error naming date_order.
func dateOrder(o string) (string, error) {
	d, err := sheet.ParseOrder(o)
	if err != nil {
		return "", apperr.Fields("Unknown date order.", []apperr.FieldError{{Index: -1, Field: "date_order",
			Message: fmt.Sprintf("date_order must be YMD, MDY or DMY, not %q.", o)}})
	}
	return string(d), nil
}

// cleanFileName keeps a file name fit for display: no path, no control
// characters, at most 200 characters.
func cleanFileName(n string) string {
	if i := strings.LastIndexAny(n, `/\`); i >= 0 {
		n = n[i+1:]
	}
	n = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return -1
		}
		return r
	}, n)
	if rs := []rune(strings.TrimSpace(n)); len(rs) > 200 {
		n = string(rs[:200])
	}
	if strings.TrimSpace(n) == "" {
		return "upload"
	}
	return strings.TrimSpace(n)
}

// fileError names the "file" field in an error from the sheet reader.
func fileError(err error) error {
	if apperr.Code(err) == apperr.Internal {
		return err
	}
	msg := apperr.Message(err)
	return apperr.Fields(msg, []apperr.FieldError{{Index: -1, Field: "file", Message: msg}})
}

// spool copies r to a temporary file (never memory), refusing more than
// MaxImportBytes, and returns it with its size and SHA-256.
func spool(r io.Reader) (*os.File, int64, string, error) {
	f, err := os.CreateTemp("", "laurel-import-*")
	if err != nil {
		return nil, 0, "", fmt.Errorf("spool upload: %w", err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, MaxImportBytes+1))
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, 0, "", tooLarge()
		}
		return nil, 0, "", apperr.Fields("The upload was interrupted.", []apperr.FieldError{{Index: -1, Field: "file", Message: "The upload was interrupted; please try again."}})
	}
	if n > MaxImportBytes {
		f.Close()
		os.Remove(f.Name())
		return nil, 0, "", tooLarge()
	}
	if n == 0 {
		f.Close()
		os.Remove(f.Name())
		return nil, 0, "", apperr.Fields("The file is empty.", []apperr.FieldError{{Index: -1, Field: "file", Message: "The file is empty: export the spreadsheet with a header row and at least one recipient."}})
	}
	return f, n, hex.EncodeToString(h.Sum(nil)), nil
}

// tooLarge is the answer to a file over MaxImportBytes: 413 too_large
// (docs/api.md), still naming the "file" field.
func tooLarge() error {
	return &apperr.Error{Code: apperr.TooLarge, Message: "The file is larger than 100 MB.", Fields: []apperr.FieldError{{Index: -1, Field: "file",
		Message: "The file is larger than 100 MB; split it into several files."}}}
}

// storeChunks writes f into import_chunks in importChunk pieces.
func storeChunks(ctx context.Context, tx *sqlx.Tx, id int64, f *os.File) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("store import %d: %w", id, err)
	}
	buf := make([]byte, importChunk)
	const q = `INSERT INTO import_chunks (import_id, n, data) VALUES ($1, $2, $3)`
	for n := 0; ; n++ {
		k, err := io.ReadFull(f, buf)
		if k > 0 {
			if _, err := tx.ExecContext(ctx, q, id, n, buf[:k]); err != nil {
				return fmt.Errorf("store import %d chunk %d: %w", id, n, err)
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("store import %d: %w", id, err)
		}
	}
}

// loadFile copies import id's stored file into a temporary file.
func (s *Service) loadFile(ctx context.Context, id int64) (*os.File, int64, error) {
	f, err := os.CreateTemp("", "laurel-import-*")
	if err != nil {
		return nil, 0, fmt.Errorf("load import %d: %w", id, err)
	}
	fail := func(err error) (*os.File, int64, error) {
		f.Close()
		os.Remove(f.Name())
		return nil, 0, fmt.Errorf("load import %d: %w", id, err)
	}
	var size int64
	for n := 0; ; n++ {
		var data []byte
		const q = `SELECT data FROM import_chunks WHERE import_id = $1 AND n = $2`
		err := s.DB.GetContext(ctx, &data, q, id, n)
		if errors.Is(err, sql.ErrNoRows) {
			break
		}
		if err != nil {
			return fail(err)
		}
		if _, err := f.Write(data); err != nil {
			return fail(err)
		}
		size += int64(len(data))
	}
	return f, size, nil
}

// Import returns import id; an unknown id is NotFound.
func (s *Service) Import(ctx context.Context, id int64) (Import, error) {
	var r importRow
	err := s.DB.GetContext(ctx, &r, `SELECT `+importCols+` FROM imports WHERE id = $1`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return Import{}, apperr.Errorf(apperr.NotFound, "There is no import %d.", id)
	}
	if err != nil {
		return Import{}, fmt.Errorf("import %d: %w", id, err)
	}
	return r.imp(), nil
}

// Imports lists group groupID's imports, newest first (at most limit).
func (s *Service) Imports(ctx context.Context, groupID int64, limit int) ([]Import, error) {
	var rows []importRow
	const q = `SELECT ` + importCols + ` FROM imports WHERE group_id = $1 ORDER BY id DESC LIMIT $2`
	if err := s.DB.SelectContext(ctx, &rows, q, groupID, limit); err != nil {
		return nil, fmt.Errorf("imports of group %d: %w", groupID, err)
	}
	out := make([]Import, len(rows))
	for i, r := range rows {
		out[i] = r.imp()
	}
	return out, nil
}

// ImportErrors returns import id's problems in row order, file-level ones
// first, at most limit of them (limit ≤ 0: all).
func (s *Service) ImportErrors(ctx context.Context, im Import, limit int) ([]ImportError, error) {
	out := append([]ImportError{}, im.Problems...)
	if limit > 0 && len(out) >= limit {
		return out[:limit], nil
	}
	err := s.eachRowErrors(ctx, im.ID, func(row int, errs []ImportError) bool {
		for _, e := range errs {
			out = append(out, e)
			if limit > 0 && len(out) >= limit {
				return false
			}
		}
		return true
	})
	return out, err
}

// eachRowErrors calls fn for each invalid staged row of import id in row
// order until fn returns false, streaming (never all rows at once).
func (s *Service) eachRowErrors(ctx context.Context, id int64, fn func(row int, errs []ImportError) bool) error {
	const q = `SELECT row_number, errors FROM import_rows WHERE import_id = $1 AND errors IS NOT NULL ORDER BY row_number`
	rows, err := s.DB.QueryContext(ctx, q, id)
	if err != nil {
		return fmt.Errorf("errors of import %d: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var n int
		var raw []byte
		if err := rows.Scan(&n, &raw); err != nil {
			return fmt.Errorf("errors of import %d: %w", id, err)
		}
		var errs []ImportError
		_ = json.Unmarshal(raw, &errs)
		for i := range errs {
			errs[i].Row = n
		}
		if !fn(n, errs) {
			return nil
		}
	}
	return rows.Err()
}

// ImportPreviewRow is a valid row as it will be created.
type ImportPreviewRow struct {
	Row        int
	GroupID    int64 // Multiple Groups: the row's group
	Name       string
	Email      string
	IssuedOn   string
	ExpiresOn  string
	Attributes map[string]string
}

// Issued and Expires are the row's dates as a person reads them.
func (r ImportPreviewRow) Issued() string  { return readableDate(r.IssuedOn) }
func (r ImportPreviewRow) Expires() string { return readableDate(r.ExpiresOn) }

func readableDate(iso string) string {
	t, err := time.Parse(time.DateOnly, iso)
	if err != nil {
		return iso
	}
	return t.Format("2 Jan 2006")
}

// ImportPreview returns the first limit valid rows of import id.
func (s *Service) ImportPreview(ctx context.Context, id int64, limit int) ([]ImportPreviewRow, error) {
	const q = `SELECT row_number, name, email, coalesce(to_char(issued_on, 'YYYY-MM-DD'), '') AS issued,
			coalesce(to_char(expires_on, 'YYYY-MM-DD'), '') AS expires, attributes, coalesce(group_id, 0) AS group_id
		FROM import_rows WHERE import_id = $1 AND errors IS NULL ORDER BY row_number LIMIT $2`
	var rows []struct {
		Row     int    `db:"row_number"`
		Name    string `db:"name"`
		Email   string `db:"email"`
		Issued  string `db:"issued"`
		Expires string `db:"expires"`
		Attrs   []byte `db:"attributes"`
		GroupID int64  `db:"group_id"`
	}
	if err := s.DB.SelectContext(ctx, &rows, q, id, limit); err != nil {
		return nil, fmt.Errorf("preview import %d: %w", id, err)
	}
	out := make([]ImportPreviewRow, len(rows))
	for i, r := range rows {
		out[i] = ImportPreviewRow{Row: r.Row, GroupID: r.GroupID, Name: r.Name, Email: r.Email, IssuedOn: r.Issued, ExpiresOn: r.Expires}
		_ = json.Unmarshal(r.Attrs, &out[i].Attributes)
	}
	return out, nil
}

// CancelImport deletes an import that has not been committed, with its file
// and staged rows. Committing or committed imports are a Conflict.
func (s *Service) CancelImport(ctx context.Context, actor string, id int64) error {
	return db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		var state string
		err := tx.GetContext(ctx, &state, `SELECT state FROM imports WHERE id = $1 FOR UPDATE`, id)
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.Errorf(apperr.NotFound, "There is no import %d.", id)
		}
		if err != nil {
			return fmt.Errorf("cancel import %d: %w", id, err)
		}
		switch ImportState(state) {
		case ImportCommitting:
			return apperr.Errorf(apperr.Conflict, "This import is creating its credentials and can no longer be cancelled.")
		case ImportCommitted:
			return apperr.Errorf(apperr.Conflict, "This import is done; its credentials are in Review Unpublished.")
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM import_rows WHERE import_id = $1`, id); err != nil {
			return fmt.Errorf("cancel import %d: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM imports WHERE id = $1`, id); err != nil {
			return fmt.Errorf("cancel import %d: %w", id, err)
		}
		return auditlog.Record(ctx, tx, s.now(), actor, "cancel", "import", fmt.Sprint(id), nil, nil)
	})
}

// progress records how far the current phase of import id is. It runs
// outside the job's transaction so that pages see it while the job works.
func (s *Service) progress(ctx context.Context, id int64, phase string, done, total int, restart bool) {
	const q = `UPDATE imports SET phase = $2, rows_done = $3, rows_total = $4, updated_at = $5,
			phase_started_at = CASE WHEN $6 OR phase_started_at IS NULL THEN $5 ELSE phase_started_at END
		WHERE id = $1`
	if _, err := s.DB.ExecContext(ctx, q, id, phase, done, total, s.now(), restart); err != nil {
		s.logger().Warn("import progress not recorded", "import", id, "err", err)
	}
}

// failImport marks import id failed with a message for the user; nothing it
// staged remains.
func (s *Service) failImport(ctx context.Context, id int64, msg string) error {
	return db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM import_rows WHERE import_id = $1`, id); err != nil {
			return fmt.Errorf("fail import %d: %w", id, err)
		}
		const q = `UPDATE imports SET state = 'failed', error = $2, phase = '', updated_at = $3 WHERE id = $1`
		if _, err := tx.ExecContext(ctx, q, id, msg, s.now()); err != nil {
			return fmt.Errorf("fail import %d: %w", id, err)
		}
		return nil
	})
}
