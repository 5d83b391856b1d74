package imports

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
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

// HandleImportJobs registers the import jobs (validate, commit) on w.
func (s *Service) HandleImportJobs(w *jobs.Worker) {
	w.Handle(ImportValidateJob, s.validateJob)
	w.Handle(ImportCommitJob, s.commitJob)
}

// progressRows and progressInterval say how often (in rows, and at least how
// long apart) a job records its progress.
const (
	progressRows     = 2000
	progressInterval = 250 * time.Millisecond
)

// rowErr is one problem of a staged row (its row number is the row's).
type rowErr struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (s *Service) validateJob(ctx context.Context, j jobs.Job) error {
	var p importJob
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return nil // not ours to retry: a malformed payload never gets better
	}
	im, err := s.Import(ctx, p.ImportID)
	if apperr.Code(err) == apperr.NotFound {
		return nil // cancelled meanwhile
	}
	if err != nil {
		return err
	}
	if im.State != ImportValidating {
		return nil
	}
	err = s.validate(ctx, j, im)
	switch {
	case err == nil:
		return nil
	case apperr.Code(err) != apperr.Internal:
		// The file itself is the problem: say so; retrying cannot help.
		return s.failImport(ctx, im.ID, apperr.Message(err))
	case j.LastAttempt:
		if ferr := s.failImport(ctx, im.ID, "The file could not be checked because of a problem on our side; nothing was created. Please upload it again."); ferr != nil {
			s.logger().Error("import: cannot record failure", "import", im.ID, "err", ferr)
		}
		return err
	}
	return err
}

// rowChecker turns one spreadsheet row into a staged row.
type rowChecker struct {
	g         issuance.Group
	cols      []ImportColumn
	orders    map[int]sheet.DateOrder // column → date order
	ambiguous map[int]bool            // date columns whose order is unknown
	attrType  map[string]issuance.AttributeType
	now       time.Time // validation's "today" (future issue dates), from the service clock
	// multi resolves each row's group in a Multiple Groups import, from the
	// file column groupCol (-1: none is mapped).
	multi    *groupSet
	groupCol int
}

func cell(cells []string, i int) string {
	if i < len(cells) {
		return cells[i]
	}
	return ""
}

// fieldOf is the error field of a column's attribute.
func fieldOf(attr string) string {
	if attr == colFirstName || attr == colLastName {
		return colName
	}
	return attr
}

// isDate tells whether attribute attr holds dates.
func (rc *rowChecker) isDate(attr string) bool {
	if attr == colIssued || attr == colExpires {
		return true
	}
	if k, ok := strings.CutPrefix(attr, "attributes."); ok {
		return rc.attrType[k] == issuance.DateAttr
	}
	return false
}

// date reads value v of column ci as an ISO date, or says why it cannot.
func (rc *rowChecker) date(ci int, v string) (string, string) {
	label := rc.cols[ci].Header
	if o, ok := rc.orders[ci]; ok || !rc.ambiguous[ci] {
		d, err := sheet.ParseDate(v, o)
		if err != nil {
			return "", fmt.Sprintf("Column %q: %v", label, err)
		}
		return d.Format(issuance.DateLayout), ""
	}
	if d, err := sheet.ParseDate(v, ""); err == nil {
		return d.Format(issuance.DateLayout), ""
	}
	m, errM := sheet.ParseDate(v, sheet.MDY)
	d, errD := sheet.ParseDate(v, sheet.DMY)
	switch {
	case errM == nil && errD == nil && m.Equal(d):
		return m.Format(issuance.DateLayout), ""
	case errM == nil && errD == nil:
		return "", fmt.Sprintf("Column %q: %q is ambiguous (%s or %s); choose the file's date order and check again.",
			label, v, m.Format("2 January 2006"), d.Format("2 January 2006"))
	case errM != nil && errD != nil:
		return "", fmt.Sprintf("Column %q: %v", label, errM)
	}
	return "", fmt.Sprintf("Column %q: %q cannot be read without knowing the file's date order (the column mixes day-first and month-first dates); choose the date order and check again.", label, v)
}

// staged is one row ready for COPY.
type staged struct {
	name, email, key, issued, expires, attrs string
	errs                                     []rowErr
	group                                    issuance.Group // its group (Multiple Groups)
}

// check validates one row; in a Multiple Groups import, by the rules of
// the group its group cell names.
func (rc *rowChecker) check(cells []string) staged {
	if rc.multi == nil {
		return rc.checkOne(cells)
	}
	var g issuance.Group
	msg := "No column is mapped to the group."
	if rc.groupCol >= 0 {
		g, msg = rc.multi.resolve(cell(cells, rc.groupCol))
	}
	if msg != "" {
		st := rc.checkOne(cells)
		st.key, st.errs = "", []rowErr{{Field: colGroup, Message: msg}}
		return st
	}
	st := rc.multi.checker(rc, g).checkOne(cells)
	st.group = g
	return st
}

// checkOne validates one row with the same rules as every other way of
// creating credentials (prepare), after the spreadsheet-only steps: text
// hygiene, date formats, first and last name joined.
func (rc *rowChecker) checkOne(cells []string) staged {
	var out staged
	flagged := map[string]bool{}
	bad := func(field, msg string) {
		out.errs = append(out.errs, rowErr{Field: field, Message: msg})
		flagged[field] = true
	}
	item := issuance.NewCredential{Attributes: map[string]string{}}
	var first, last string
	for ci, c := range rc.cols {
		if c.Attribute == "" {
			continue
		}
		v := cell(cells, c.Index)
		if err := sheet.CleanText(v); err != nil {
			bad(fieldOf(c.Attribute), fmt.Sprintf("Column %q %v.", c.Header, err))
			continue
		}
		v = strings.TrimSpace(v)
		if v != "" && rc.isDate(c.Attribute) {
			iso, msg := rc.date(ci, v)
			if msg != "" {
				bad(fieldOf(c.Attribute), msg)
				continue
			}
			v = iso
		}
		switch c.Attribute {
		case colName:
			item.Recipient.Name = v
		case colFirstName:
			first = v
		case colLastName:
			last = v
		case colEmail:
			item.Recipient.Email = v
		case colIssued:
			item.IssuedOn = v
		case colExpires:
			item.ExpiresOn = v
		default:
			item.Attributes[strings.TrimPrefix(c.Attribute, "attributes.")] = v
		}
	}
	if item.Recipient.Name == "" {
		item.Recipient.Name = strings.TrimSpace(first + " " + last)
	}
	p, fe := issuance.CheckNew(rc.g, item, rc.now)
	for _, f := range fe {
		if !flagged[f.Field] {
			out.errs = append(out.errs, rowErr{Field: f.Field, Message: f.Message})
		}
	}
	out.name, out.email, out.key = p.Name, p.Email, p.Key
	out.issued = p.IssuedOn
	out.expires = p.ExpiresOn
	a, _ := json.Marshal(orEmpty(p.Attributes))
	out.attrs = string(a)
	if out.name == "" {
		out.name = strings.TrimSpace(item.Recipient.Name)
	}
	if out.email == "" {
		out.email = strings.TrimSpace(item.Recipient.Email)
	}
	return out
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// validate reads import im's file twice, streaming: once to count rows and
// learn each date column's order, once to check every row and COPY it into
// the staging table; then the checks that need the whole file (duplicates
// inside it, recipients who already hold a credential) run in SQL. The
// import becomes ready in the same transaction that stages its rows.
func (s *Service) validate(ctx context.Context, j jobs.Job, im Import) error {
	var g issuance.Group
	var gs *groupSet
	var err error
	if im.Multi() {
		if gs, err = s.groupSet(ctx, im.Scope); err == nil {
			g = gs.union
		}
	} else {
		g, err = s.Core.Group(ctx, im.GroupID)
	}
	if err != nil {
		return err
	}
	f, size, err := s.loadFile(ctx, im.ID)
	if err != nil {
		return err
	}
	defer func() { f.Close(); os.Remove(f.Name()) }()
	open := func() (*sheet.Reader, []string, error) {
		rd, err := sheet.Open(f, size, sheet.Options{Sheet: im.Sheet, HeaderRow: im.HeaderRow, MaxBytes: MaxImportBytes})
		if err != nil {
			return nil, nil, err
		}
		h, err := rd.Header()
		if err != nil {
			rd.Close()
			return nil, nil, err
		}
		return rd, h, nil
	}
	if im.HeaderRow, err = s.refreshLayout(ctx, im, f, size, g); err != nil {
		return err
	}
	rd, header, err := open()
	if err != nil {
		return err
	}
	headerRow := rd.HeaderRow()
	sig := headerSignature(header)
	var saved map[string]string
	if len(im.Mapping) == 0 && gs == nil {
		if saved, err = savedMapping(ctx, s.DB, g.ID, sig); err != nil {
			rd.Close()
			return err
		}
	}
	former, err := s.Core.AttributeFormerLabels(ctx)
	if err != nil {
		rd.Close()
		return err
	}
	rc := &rowChecker{g: g, cols: resolveColumns(g, header, im.Mapping, saved, former), orders: map[int]sheet.DateOrder{},
		ambiguous: map[int]bool{}, attrType: map[string]issuance.AttributeType{}, now: s.now()}
	for _, a := range g.CredentialAttributes() {
		rc.attrType[a.Key] = a.Type
	}
	if gs != nil {
		rc.multi, rc.groupCol = gs, -1
		for _, c := range rc.cols {
			if c.Attribute == colGroup {
				rc.groupCol = c.Index
			}
		}
	}
	problems := missingColumns(g, rc.cols, headerRow)

	// Pass 1: count the rows and learn each date column's order.
	detect := map[int]*sheet.OrderDetector{}
	for ci, c := range rc.cols {
		if c.Attribute != "" && rc.isDate(c.Attribute) {
			detect[ci] = &sheet.OrderDetector{}
		}
	}
	s.progress(ctx, im.ID, "reading", 0, 0, true)
	total, last := 0, time.Now()
	for {
		row, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var re *sheet.RowError
		if err != nil && !errors.As(err, &re) {
			rd.Close()
			return err
		}
		total++
		if re == nil {
			for ci, d := range detect {
				d.Add(cell(row.Cells, rc.cols[ci].Index))
			}
		}
		if total%progressRows == 0 && time.Since(last) > progressInterval {
			s.progress(ctx, im.ID, "reading", total, 0, false)
			last = time.Now()
		}
	}
	rd.Close()
	if total == 0 {
		return noDataRows(im.Sheet, headerRow)
	}
	for ci, d := range detect {
		if im.DateOrder != "" {
			rc.orders[ci] = sheet.DateOrder(im.DateOrder)
			continue
		}
		if o, ok := d.Order(); ok {
			rc.orders[ci] = o
		} else {
			rc.ambiguous[ci] = true
			problems = append(problems, ImportError{Row: headerRow, Field: fieldOf(rc.cols[ci].Attribute),
				Message: fmt.Sprintf("Column %q has dates that read differently day-first and month-first (such as 03/04/2026); choose the file's date order (day first or month first) and check again.", rc.cols[ci].Header)})
		}
	}

	// Pass 2: check and stage every row.
	rd, _, err = open()
	if err != nil {
		return err
	}
	defer rd.Close()
	return db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM import_rows WHERE import_id = $1`, im.ID); err != nil {
			return fmt.Errorf("validate import %d: clear: %w", im.ID, err)
		}
		stmt, err := tx.PrepareContext(ctx, `COPY import_rows (import_id, row_number, credential_id, name, email, key,
			issued_on, expires_on, attributes, errors, group_id, search_key) FROM STDIN`)
		if err != nil {
			return fmt.Errorf("validate import %d: copy: %w", im.ID, err)
		}
		defer stmt.Close()
		s.progress(ctx, im.ID, "validating", 0, total, true)
		done, last := 0, time.Now()
		lost := rowWarning{Kind: warnLostLetters, Rows: []int{}}
		held := map[int64]*holders{}
		holdersOf := func(g issuance.Group) *holders {
			h, ok := held[g.ID]
			if !ok {
				h = &holders{s: s, g: g}
				held[g.ID] = h
			}
			return h
		}
		var groups []int64 // of a Multiple Groups import's rows without problems
		for {
			row, err := rd.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			var re *sheet.RowError
			if err != nil && !errors.As(err, &re) {
				return err
			}
			var st staged
			if re != nil {
				st = staged{attrs: "{}", errs: []rowErr{{Field: "", Message: re.Message}}}
			} else {
				st = rc.check(row.Cells)
			}
			if im.Encoding == "Windows-1252" && lostLetters(st.name) {
				if lost.Count++; len(lost.Rows) < maxWarningRows {
					lost.Rows = append(lost.Rows, row.Number)
				}
			}
			var errs any
			if len(st.errs) > 0 {
				b, _ := json.Marshal(st.errs)
				errs = string(b)
			}
			rowGroup, gid := g, any(nil)
			if gs != nil {
				rowGroup = st.group
				if st.group.ID != 0 {
					gid = st.group.ID
					if errs == nil && !slices.Contains(groups, st.group.ID) {
						groups = append(groups, st.group.ID)
					}
				}
			}
			if _, err := stmt.ExecContext(ctx, im.ID, row.Number, issuance.NewCredentialID(), st.name, st.email, nullable(st.key),
				nullable(st.issued), nullable(st.expires), st.attrs, errs, gid, issuance.SearchKey(st.name, st.email)); err != nil {
				return fmt.Errorf("validate import %d: copy row %d: %w", im.ID, row.Number, err)
			}
			if rowGroup.ID > 0 {
				if err := holdersOf(rowGroup).add(ctx, row.Number, st.key); err != nil {
					return fmt.Errorf("validate import %d: %w", im.ID, err)
				}
			}
			done++
			if done%progressRows == 0 && time.Since(last) > progressInterval {
				s.progress(ctx, im.ID, "validating", done, max(total, done), false)
				last = time.Now()
			}
		}
		if _, err := stmt.ExecContext(ctx); err != nil {
			return fmt.Errorf("validate import %d: copy: %w", im.ID, err)
		}
		// The connection takes other statements only once the COPY is closed.
		if err := stmt.Close(); err != nil {
			return fmt.Errorf("validate import %d: copy: %w", im.ID, err)
		}
		s.progress(ctx, im.ID, "checking", done, max(total, done), false)
		// The planner must know how many rows were just staged (it would
		// otherwise take them for a handful and join them by nested loop);
		// the duplicate check sorts them by recipient in memory, not on disk.
		// Only the columns the checks and the commit filter on: the wide ones
		// (names, emails, ids, attributes) would cost most of the ANALYZE
		// and steer no plan.
		if _, err := tx.ExecContext(ctx, `ANALYZE import_rows (import_id, key, errors, group_id)`); err != nil {
			return fmt.Errorf("validate import %d: analyze: %w", im.ID, err)
		}
		if _, err := tx.ExecContext(ctx, `SET LOCAL work_mem = '64MB'`); err != nil {
			return fmt.Errorf("validate import %d: %w", im.ID, err)
		}
		for _, h := range held {
			if err := h.flush(ctx); err != nil {
				return fmt.Errorf("validate import %d: %w", im.ID, err)
			}
		}
		if gs != nil {
			if err := markFileWideMulti(ctx, tx, im.ID, held); err != nil {
				return err
			}
		} else if err := markFileWide(ctx, tx, im.ID, g, holdersOf(g)); err != nil {
			return err
		}
		var n struct {
			Rows  int `db:"rows"`
			Valid int `db:"valid"`
		}
		const qc = `SELECT count(*) AS rows, count(*) FILTER (WHERE errors IS NULL) AS valid FROM import_rows WHERE import_id = $1`
		if err := tx.GetContext(ctx, &n, qc, im.ID); err != nil {
			return fmt.Errorf("validate import %d: count: %w", im.ID, err)
		}
		cols, _ := json.Marshal(rc.cols)
		if problems == nil {
			problems = []ImportError{}
		}
		probs, _ := json.Marshal(problems)
		warnings := []rowWarning{}
		if lost.Count > 0 {
			warnings = append(warnings, lost)
		}
		warn, _ := json.Marshal(warnings)
		const qu = `UPDATE imports SET state = 'ready', columns = $2, problems = $3, header_signature = $4, header_row = $5,
				rows = $6::int, valid = $7::int, invalid = $6::int - $7::int, phase = '', rows_done = $6, rows_total = $6, error = '', updated_at = $8,
				warnings = $9, groups = $10
			WHERE id = $1 AND state = 'validating'`
		slices.Sort(groups)
		res, err := tx.ExecContext(ctx, qu, im.ID, string(cols), string(probs), sig, headerRow, n.Rows, n.Valid, s.now(), string(warn),
			pq.Array(append([]int64{}, groups...)))
		if err != nil {
			return fmt.Errorf("validate import %d: %w", im.ID, err)
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return errors.New("import changed while it was validated") // cancelled: roll back
		}
		return jobs.MarkDone(ctx, tx, j)
	})
}

// markFileWide adds the problems only the whole file shows: the same
// recipient twice (case-insensitive), and recipients who already hold a live
// credential in the group (found by held while the rows were staged). Both
// apply only where the group allows one credential per recipient (key is
// NULL otherwise).
func markFileWide(ctx context.Context, tx *sqlx.Tx, id int64, g issuance.Group, held *holders) error {
	if g.AllowDuplicates {
		return nil
	}
	const dup = `WITH d AS (
			SELECT row_number, min(row_number) OVER (PARTITION BY key) AS first
			FROM import_rows WHERE import_id = $1 AND key IS NOT NULL)
		UPDATE import_rows r SET errors = coalesce(r.errors, '[]'::jsonb) || jsonb_build_array(jsonb_build_object(
				'field', 'recipient.email',
				'message', format('%s appears more than once in the file (first at row %s); a recipient may hold only one credential in group "%s".',
					r.email, d.first, $2::text)))
		FROM d WHERE r.import_id = $1 AND r.row_number = d.row_number AND d.first <> d.row_number`
	if _, err := tx.ExecContext(ctx, dup, id, g.Name); err != nil {
		return fmt.Errorf("validate import %d: duplicates: %w", id, err)
	}
	const qh = `UPDATE import_rows r SET errors = coalesce(r.errors, '[]'::jsonb) || jsonb_build_array(jsonb_build_object(
				'field', 'recipient.email',
				'message', format('%s already holds credential %s in group "%s".', r.email, h.credential_id, $4::text)))
		FROM unnest($2::int[], $3::text[]) AS h(row_number, credential_id)
		WHERE r.import_id = $1 AND r.row_number = h.row_number`
	for k := 0; k < len(held.rows); k += holderChunk {
		end := min(k+holderChunk, len(held.rows))
		if _, err := tx.ExecContext(ctx, qh, id, pq.Array(held.rows[k:end]), pq.Array(held.ids[k:end]), g.Name); err != nil {
			return fmt.Errorf("validate import %d: already held: %w", id, err)
		}
	}
	return nil
}

// holderChunk is how many recipients holders asks the core about at once.
const holderChunk = 5000

// holders finds, while validate stages the rows, the rows whose recipient
// already holds a live credential in the group: it asks the core a chunk of
// recipient keys at a time (through the pool, as the transaction's
// connection is busy with the COPY) and keeps only the rows that hold one.
type holders struct {
	s       *Service
	g       issuance.Group
	pending []int    // row numbers of keys not asked about yet
	keys    []string // their keys
	rows    []int64  // rows whose recipient holds a credential
	ids     []string // the credential each holds
}

func (h *holders) add(ctx context.Context, row int, key string) error {
	if h.g.AllowDuplicates || key == "" {
		return nil
	}
	h.pending, h.keys = append(h.pending, row), append(h.keys, key)
	if len(h.keys) < holderChunk {
		return nil
	}
	return h.flush(ctx)
}

func (h *holders) flush(ctx context.Context) error {
	if len(h.keys) == 0 {
		return nil
	}
	held, err := h.s.Core.Holders(ctx, h.g.ID, h.keys)
	if err != nil {
		return err
	}
	for i, k := range h.keys {
		if id, ok := held[k]; ok {
			h.rows, h.ids = append(h.rows, int64(h.pending[i])), append(h.ids, id)
		}
	}
	h.pending, h.keys = h.pending[:0], h.keys[:0]
	return nil
}

// RecheckImport validates a ready import again with a new mapping and date
// order (the user re-mapped a column or picked the date order).
func (s *Service) RecheckImport(ctx context.Context, actor string, id int64, order string, mapping map[string]string) (Import, error) {
	order, err := dateOrder(order)
	if err != nil {
		return Import{}, err
	}
	im, err := s.Import(ctx, id)
	if err != nil {
		return Import{}, err
	}
	g, err := s.importGroup(ctx, im)
	if err != nil {
		return Import{}, err
	}
	header := make([]string, len(im.Columns))
	for i, c := range im.Columns {
		header[i] = c.Header
	}
	if err := checkMapping(g, header, mapping); err != nil {
		return Import{}, err
	}
	m, _ := json.Marshal(orEmpty(mapping))
	err = db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		const q = `UPDATE imports SET state = 'validating', mapping = $2, date_order = $3, phase = 'queued', rows_done = 0,
				updated_at = $4 WHERE id = $1 AND state = 'ready'`
		res, err := tx.ExecContext(ctx, q, id, string(m), order, s.now())
		if err != nil {
			return fmt.Errorf("recheck import %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return apperr.Errorf(apperr.Conflict, "Import %d is %s; only a checked import that is not committed can be checked again.", id, im.State)
		}
		if _, err := jobs.Enqueue(ctx, tx, ImportValidateJob, importJob{ImportID: id}); err != nil {
			return err
		}
		return auditlog.Record(ctx, tx, s.now(), actor, "remap", "import", fmt.Sprint(id), nil, map[string]any{"mapping": mapping, "date_order": order})
	})
	if err != nil {
		return Import{}, err
	}
	return s.Import(ctx, id)
}

// refreshLayout stores, before the file is checked, the sheets and first
// rows the page offers to choose from (the sheet may have changed since the
// upload). It runs outside the job's transaction so that a file refused
// later still shows them. A header row of 0 (the user chose another sheet)
// is found again; it returns the header row to read.
func (s *Service) refreshLayout(ctx context.Context, im Import, f *os.File, size int64, g issuance.Group) (int, error) {
	pv, err := sheet.Preview(f, size, sheet.Options{MaxBytes: MaxImportBytes}, layoutRows)
	if err != nil {
		return 0, err
	}
	_, row, lay := chooseLayout(pv, im.Sheet, im.HeaderRow, groupScore(g))
	if im.HeaderRow > 0 {
		lay.AutoSheet, lay.AutoHeader = im.Layout.AutoSheet, im.Layout.AutoHeader
	}
	b, _ := json.Marshal(lay)
	if _, err := s.DB.ExecContext(ctx, `UPDATE imports SET layout = $2, header_row = $3 WHERE id = $1`, im.ID, string(b), row); err != nil {
		return 0, fmt.Errorf("import %d: layout: %w", im.ID, err)
	}
	return row, nil
}

// ChangeLayout checks import id again reading another sheet or taking the
// column names from another row (headerRow ≥ 1; 0 finds the row that
// matches the group best); the column mapping is recognised again from the
// new header. An import that is being worked on or
// is committed is a Conflict.
func (s *Service) ChangeLayout(ctx context.Context, actor string, id int64, sheetName string, headerRow int) (Import, error) {
	if headerRow < 0 {
		return Import{}, apperr.Fields("Choose the row that holds the column names.", []apperr.FieldError{{Index: -1, Field: "header_row",
			Message: "Choose the row that holds the column names."}})
	}
	im, err := s.Import(ctx, id)
	if err != nil {
		return Import{}, err
	}
	if sheetName != "" && len(im.Layout.Sheets) > 0 && !slices.Contains(im.Layout.Sheets, sheetName) {
		return Import{}, apperr.Fields("Unknown sheet.", []apperr.FieldError{{Index: -1, Field: "sheet",
			Message: fmt.Sprintf("The workbook has no sheet named %q; its sheets are: %s.", sheetName, strings.Join(im.Layout.Sheets, ", "))}})
	}
	err = db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		const q = `UPDATE imports SET state = 'validating', sheet = $2, header_row = $3, mapping = '{}', columns = '[]', problems = '[]',
				warnings = '[]', error = '', phase = 'queued', rows_done = 0, updated_at = $4,
				layout = layout - 'auto_sheet' - 'auto_header'
			WHERE id = $1 AND state IN ('ready', 'failed')`
		res, err := tx.ExecContext(ctx, q, id, sheetName, headerRow, s.now())
		if err != nil {
			return fmt.Errorf("change layout of import %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return apperr.Errorf(apperr.Conflict, "This import is being worked on or is already committed; its sheet and header row can no longer change.")
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM import_rows WHERE import_id = $1`, id); err != nil {
			return fmt.Errorf("change layout of import %d: %w", id, err)
		}
		if _, err := jobs.Enqueue(ctx, tx, ImportValidateJob, importJob{ImportID: id}); err != nil {
			return err
		}
		return auditlog.Record(ctx, tx, s.now(), actor, "relayout", "import", fmt.Sprint(id), nil, map[string]any{"sheet": sheetName, "header_row": headerRow})
	})
	if err != nil {
		return Import{}, err
	}
	return s.Import(ctx, id)
}

// importGroup is import im's group, or the stand-in group whose attributes
// are all its groups' for a Multiple Groups import.
func (s *Service) importGroup(ctx context.Context, im Import) (issuance.Group, error) {
	if !im.Multi() {
		return s.Core.Group(ctx, im.GroupID)
	}
	gs, err := s.groupSet(ctx, im.Scope)
	if err != nil {
		return issuance.Group{}, err
	}
	return gs.union, nil
}
