// Package updates is the update by spreadsheet: staff download credentials
// "for update" (the Credentials tab's export of a credential ID and the
// editable columns, see Columns and Cells), change cells, upload the file
// (CSV, XLSX, XLS or ODS through issuance/sheet), see a preview of every
// change per credential and every problem by row and column, and apply it:
// each change through the core's amendment rules (issuance.AmendMany), in
// batches of one transaction each, audited, published credentials signed
// again, recipients emailed only when asked. It owns the tables
// credential_updates (one per uploaded file) and credential_update_rows
// (the rows that change something or have a problem).
package updates

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/sheet"
)

// The fixed columns of a download for update. Group is there to read; a
// change to it is ignored.
const (
	ColID      = "Credential ID"
	ColGroup   = "Group"
	ColName    = "Recipient Name"
	ColEmail   = "Recipient Email"
	ColIssued  = "Issue Date"
	ColExpires = "Expiry Date"
)

var fixed = []string{ColID, ColGroup, ColName, ColEmail, ColIssued, ColExpires}

const (
	// MaxRows bounds one uploaded update.
	MaxRows = 50000
	// MaxBytes bounds one uploaded file.
	MaxBytes = 20 << 20
	// applyBatch is how many credentials one transaction of Apply amends.
	applyBatch = 2000
)

// Service keeps and applies updates by spreadsheet.
type Service struct {
	DB   *sqlx.DB
	Core *issuance.Service
}

// New returns the service over core's database.
func New(core *issuance.Service) *Service { return &Service{DB: core.DB, Core: core} }

// updatable reports whether attribute a is changed by spreadsheet: not an
// image, which is a file, not a cell.
func updatable(a issuance.Attribute) bool { return a.Type != "image" }

// Columns is the header of a download for update of credentials of groups
// gs: the fixed columns, then each custom attribute's label once (by the
// label: a column fills the attribute of that label in each credential's
// group).
func Columns(gs []issuance.Group) []string {
	out := append([]string(nil), fixed...)
	seen := map[string]bool{}
	for _, c := range fixed {
		seen[sheet.Normalize(c)] = true
	}
	for _, g := range gs {
		for _, a := range g.Attributes {
			if k := sheet.Normalize(a.Label); updatable(a) && !seen[k] {
				seen[k] = true
				out = append(out, a.Label)
			}
		}
	}
	return out
}

// Cell is one cell of a download for update: text, or a date (Date set,
// Text YYYY-MM-DD or "" for none).
type Cell struct {
	Text string
	Date bool
}

// Cells is credential c of group g (named group) under columns.
func Cells(c issuance.Credential, g issuance.Group, group string, columns []string) []Cell {
	out := make([]Cell, len(columns))
	for i, col := range columns {
		switch col {
		case ColID:
			out[i] = Cell{Text: c.ID}
		case ColGroup:
			out[i] = Cell{Text: group}
		case ColName:
			out[i] = Cell{Text: c.Recipient.Name}
		case ColEmail:
			out[i] = Cell{Text: c.Recipient.Email}
		case ColIssued:
			out[i] = Cell{Text: c.IssuedOn.Format(issuance.DateLayout), Date: true}
		case ColExpires:
			out[i] = Cell{Date: true}
			if c.ExpiresOn != nil {
				out[i].Text = c.ExpiresOn.Format(issuance.DateLayout)
			}
		default:
			if a, ok := attrByLabel(g, col); ok {
				out[i] = Cell{Text: c.Attributes[a.Key]}
			}
		}
	}
	return out
}

func attrByLabel(g issuance.Group, label string) (issuance.Attribute, bool) {
	k := sheet.Normalize(label)
	for _, a := range g.Attributes {
		if updatable(a) && sheet.Normalize(a.Label) == k {
			return a, true
		}
	}
	return issuance.Attribute{}, false
}

// Change is one field a row changes, old → new (dates YYYY-MM-DD).
type Change struct {
	Field string `json:"field"` // "name", "email", "issued_on", "expires_on" or "attr:<key>"
	Label string `json:"label"` // the column
	Old   string `json:"old"`
	New   string `json:"new"`
	Date  bool   `json:"date,omitempty"`
}

// Problem is why a row cannot be applied, naming its column ("" for the
// whole row).
type Problem struct {
	Column  string `json:"column"`
	Message string `json:"message"`
}

// Row is one stored row of an update.
type Row struct {
	Number       int       `db:"row_number"`
	CredentialID string    `db:"credential_id"`
	Name         string    `db:"name"`
	Changes      []Change  `db:"-"`
	Problems     []Problem `db:"-"`
}

// Update is one uploaded file, checked.
type Update struct {
	ID        int64      `db:"id"`
	Actor     string     `db:"actor"`
	FileName  string     `db:"file_name"`
	RowsRead  int        `db:"rows_read"`
	Changes   int        `db:"changes"`
	Unchanged int        `db:"unchanged"`
	Problems  int        `db:"problems"`
	CreatedAt time.Time  `db:"created_at"`
	AppliedAt *time.Time `db:"applied_at"`
	Applied   int        `db:"applied"`
	Emailed   int        `db:"emailed"`
}

// Upload reads the file r (size bytes, named name) that actor uploaded,
// compares each row with the credential its Credential ID names, within
// groups (nil: every group), and keeps the result for Preview and Apply.
// A file Laurel cannot read, or one without a Credential ID column, is
// Invalid and keeps nothing; a row's problems (an unknown ID, one outside
// groups, a revoked credential, a value the group's rules refuse) are kept
// with it, naming its column.
func (s *Service) Upload(ctx context.Context, actor string, groups []int64, name string, r io.ReaderAt, size int64) (int64, error) {
	rd, err := sheet.Open(r, size, sheet.Options{MaxBytes: MaxBytes})
	if err != nil {
		return 0, err
	}
	defer rd.Close()
	header, _ := rd.Header()
	col := map[string]int{}
	for i, h := range header {
		if k := sheet.Normalize(h); k != "" {
			if _, dup := col[k]; !dup {
				col[k] = i
			}
		}
	}
	if _, ok := col[sheet.Normalize(ColID)]; !ok {
		return 0, apperr.Errorf(apperr.Invalid, "The file has no “%s” column. Use Download for update on the Credentials tab, change cells in that file and upload it.", ColID)
	}
	csv := rd.Format() == "csv"
	var rows []sheet.Row
	var bad []Row
	for {
		row, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var re *sheet.RowError
		if errors.As(err, &re) {
			bad = append(bad, Row{Number: re.Row, Problems: []Problem{{Message: re.Message}}})
			continue
		}
		if err != nil {
			return 0, err
		}
		if len(rows) >= MaxRows {
			return 0, apperr.Errorf(apperr.Invalid, "The file has more than %d rows; split it into smaller files.", MaxRows)
		}
		if csv {
			// The CSV download marked cells a spreadsheet would run as
			// formulas with a leading apostrophe; read them back as typed.
			for i, c := range row.Cells {
				if len(c) > 1 && c[0] == '\'' && strings.ContainsRune("=+-@", rune(c[1])) {
					row.Cells[i] = c[1:]
				}
			}
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 && len(bad) == 0 {
		return 0, apperr.Errorf(apperr.Invalid, "The file has no rows under its header: nothing to update.")
	}
	cell := func(row sheet.Row, column string) (string, bool) {
		i, ok := col[sheet.Normalize(column)]
		if !ok {
			return "", false
		}
		if i < len(row.Cells) {
			return row.Cells[i], true
		}
		return "", true
	}
	// The credentials the file names, and their groups.
	var ids []string
	for _, row := range rows {
		if id, _ := cell(row, ColID); id != "" {
			ids = append(ids, strings.ToLower(strings.TrimSpace(id)))
		}
	}
	creds := map[string]issuance.Credential{}
	for lo := 0; lo < len(ids); lo += 10000 {
		m, err := s.Core.CredentialsByID(ctx, ids[lo:min(lo+10000, len(ids))])
		if err != nil {
			return 0, err
		}
		for k, v := range m {
			creds[k] = v
		}
	}
	gs := map[int64]issuance.Group{}
	inScope := func(g int64) bool {
		if groups == nil {
			return true
		}
		for _, x := range groups {
			if x == g {
				return true
			}
		}
		return false
	}
	// Dates as the file writes them: ISO from the download; another order
	// when someone typed them so.
	var od sheet.OrderDetector
	for _, row := range rows {
		for _, c := range []string{ColIssued, ColExpires} {
			if v, ok := cell(row, c); ok && v != "" {
				od.Add(v)
			}
		}
	}
	order, _ := od.Order()
	now := s.Core.Time()
	seen := map[string]int{}
	type emailKey struct {
		group int64
		key   string
	}
	newEmails := map[emailKey][]int{} // → indexes into out
	var out []Row
	unchanged := 0
	for _, row := range rows {
		res := Row{Number: row.Number}
		problem := func(column, msg string) { res.Problems = append(res.Problems, Problem{Column: column, Message: msg}) }
		id, _ := cell(row, ColID)
		id = strings.ToLower(strings.TrimSpace(id))
		res.CredentialID = id
		c, found := creds[id]
		switch {
		case id == "":
			problem(ColID, "The credential ID is empty.")
		case !found || !inScope(c.GroupID):
			problem(ColID, "No credential with this ID is in your groups.")
		case seen[id] != 0:
			problem(ColID, fmt.Sprintf("This credential is also on row %d; keep one row per credential.", seen[id]))
		case c.State == issuance.Revoked:
			problem(ColID, "This credential is revoked and cannot be changed.")
		}
		if found && inScope(c.GroupID) {
			res.Name = c.Recipient.Name
		}
		if len(res.Problems) > 0 {
			out = append(out, res)
			continue
		}
		seen[id] = row.Number
		g, ok := gs[c.GroupID]
		if !ok {
			var err error
			if g, err = s.Core.Group(ctx, c.GroupID); err != nil {
				return 0, err
			}
			gs[c.GroupID] = g
		}
		item := issuance.NewCredential{Recipient: c.Recipient, IssuedOn: c.IssuedOn.Format(issuance.DateLayout),
			Attributes: map[string]string{}, EvidenceURL: c.EvidenceURL}
		for k, v := range c.Attributes {
			item.Attributes[k] = v
		}
		oldExp := ""
		if c.ExpiresOn != nil {
			oldExp = c.ExpiresOn.Format(issuance.DateLayout)
		}
		item.ExpiresOn = oldExp
		if v, ok := cell(row, ColName); ok {
			item.Recipient.Name = v
		}
		if v, ok := cell(row, ColEmail); ok {
			item.Recipient.Email = v
		}
		date := func(column, v string) (string, bool) {
			if v == "" {
				return "", true
			}
			t, err := sheet.ParseDate(v, order)
			if err != nil {
				problem(column, fmt.Sprintf("%q is not a date (%v).", v, err))
				return "", false
			}
			return t.Format(issuance.DateLayout), true
		}
		if v, ok := cell(row, ColIssued); ok {
			if d, ok := date(ColIssued, v); ok {
				item.IssuedOn = d
			}
		}
		if v, ok := cell(row, ColExpires); ok {
			if d, ok := date(ColExpires, v); ok {
				item.ExpiresOn = d
			}
		}
		attrCols := map[string]string{} // key → column
		for _, a := range g.Attributes {
			if !updatable(a) {
				continue
			}
			if v, ok := cell(row, a.Label); ok {
				item.Attributes[a.Key] = v
				attrCols[a.Key] = a.Label
			}
		}
		if len(res.Problems) > 0 {
			out = append(out, res)
			continue
		}
		checked, fe := issuance.CheckNew(g, item, now)
		for _, e := range fe {
			problem(fieldColumn(g, e.Field), e.Message)
		}
		if len(res.Problems) > 0 {
			out = append(out, res)
			continue
		}
		add := func(field, label, o, n string, isDate bool) {
			if o != n {
				res.Changes = append(res.Changes, Change{Field: field, Label: label, Old: o, New: n, Date: isDate})
			}
		}
		add("name", ColName, c.Recipient.Name, checked.Name, false)
		add("email", ColEmail, c.Recipient.Email, checked.Email, false)
		add("issued_on", ColIssued, c.IssuedOn.Format(issuance.DateLayout), checked.IssuedOn, true)
		if _, ok := cell(row, ColExpires); ok {
			add("expires_on", ColExpires, oldExp, checked.ExpiresOn, true)
		}
		for _, a := range g.Attributes {
			if label, ok := attrCols[a.Key]; ok {
				add("attr:"+a.Key, label, c.Attributes[a.Key], checked.Attributes[a.Key], a.Type == issuance.DateAttr)
			}
		}
		if len(res.Changes) == 0 {
			unchanged++
			continue
		}
		if checked.Key != "" && !strings.EqualFold(checked.Email, c.Recipient.Email) {
			k := emailKey{c.GroupID, checked.Key}
			newEmails[k] = append(newEmails[k], len(out))
		}
		out = append(out, res)
	}
	// A new email that another credential of the group holds, or that two
	// rows give: the group allows one credential per recipient.
	byGroup := map[int64][]string{}
	for k, idx := range newEmails {
		byGroup[k.group] = append(byGroup[k.group], k.key)
		if len(idx) > 1 {
			for _, i := range idx {
				out[i].Problems = append(out[i].Problems, Problem{Column: ColEmail, Message: "Another row gives this email in the same group, which allows one credential per recipient."})
			}
		}
	}
	for gid, keys := range byGroup {
		holders, err := s.Core.Holders(ctx, gid, keys)
		if err != nil {
			return 0, err
		}
		for key, holder := range holders {
			for _, i := range newEmails[emailKey{gid, key}] {
				if holder != out[i].CredentialID {
					out[i].Problems = append(out[i].Problems, Problem{Column: ColEmail,
						Message: "Another credential in this group (" + holder + ") already has this email; the group allows one credential per recipient."})
				}
			}
		}
	}
	out = append(out, bad...)
	return s.store(ctx, actor, name, len(rows)+len(bad), unchanged, out)
}

// fieldColumn names the column of one of the core's field names.
func fieldColumn(g issuance.Group, field string) string {
	switch field {
	case "recipient.name", "name":
		return ColName
	case "recipient.email", "email":
		return ColEmail
	case "issued_on":
		return ColIssued
	case "expires_on":
		return ColExpires
	}
	if key, ok := strings.CutPrefix(field, "attributes."); ok {
		for _, a := range g.Attributes {
			if a.Key == key {
				return a.Label
			}
		}
	}
	return ""
}

// store keeps an update and its rows in one transaction.
func (s *Service) store(ctx context.Context, actor, name string, read, unchanged int, rows []Row) (int64, error) {
	var id int64
	changes, problems := 0, 0
	nums := make([]int64, len(rows))
	ids, names, chs, prs := make([]string, len(rows)), make([]string, len(rows)), make([]string, len(rows)), make([]string, len(rows))
	for i, r := range rows {
		if len(r.Problems) > 0 {
			problems++
		} else {
			changes++
		}
		if r.Changes == nil {
			r.Changes = []Change{}
		}
		if r.Problems == nil {
			r.Problems = []Problem{}
		}
		c, _ := json.Marshal(r.Changes)
		p, _ := json.Marshal(r.Problems)
		nums[i], ids[i], names[i], chs[i], prs[i] = int64(r.Number), r.CredentialID, r.Name, string(c), string(p)
	}
	err := db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		const q = `INSERT INTO credential_updates (actor, file_name, rows_read, changes, unchanged, problems, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`
		if err := tx.GetContext(ctx, &id, q, actor, name, read, changes, unchanged, problems, s.Core.Time()); err != nil {
			return fmt.Errorf("store update of %d rows: %w", read, err)
		}
		const rq = `INSERT INTO credential_update_rows (update_id, row_number, credential_id, name, changes, problems)
			SELECT $1, n, i, nm, c, p FROM unnest($2::int[], $3::text[], $4::text[], $5::jsonb[], $6::jsonb[]) AS r(n, i, nm, c, p)
			ON CONFLICT DO NOTHING`
		if _, err := tx.ExecContext(ctx, rq, id, pq.Array(nums), pq.Array(ids), pq.Array(names), pq.Array(chs), pq.Array(prs)); err != nil {
			return fmt.Errorf("store %d rows of update %d: %w", len(rows), id, err)
		}
		return nil
	})
	return id, err
}

// Get returns update id as actor uploaded it; another's is NotFound.
func (s *Service) Get(ctx context.Context, actor string, id int64) (Update, error) {
	const q = `SELECT id, actor, file_name, rows_read, changes, unchanged, problems, created_at, applied_at, applied, emailed
		FROM credential_updates WHERE id = $1 AND actor = $2`
	var u Update
	switch err := s.DB.GetContext(ctx, &u, q, id, actor); {
	case errors.Is(err, sql.ErrNoRows):
		return Update{}, apperr.Errorf(apperr.NotFound, "No such update.")
	case err != nil:
		return Update{}, fmt.Errorf("update %d: %w", id, err)
	}
	return u, nil
}

// Rows returns up to limit rows of update id from offset, in file order:
// withProblems selects the rows with problems, else those that change.
func (s *Service) Rows(ctx context.Context, id int64, withProblems bool, offset, limit int) ([]Row, error) {
	const q = `SELECT row_number, credential_id, name, changes, problems FROM credential_update_rows
		WHERE update_id = $1 AND (problems <> '[]'::jsonb) = $2 ORDER BY row_number OFFSET $3 LIMIT $4`
	rs, err := s.DB.QueryxContext(ctx, q, id, withProblems, offset, limit)
	if err != nil {
		return nil, fmt.Errorf("rows of update %d: %w", id, err)
	}
	defer rs.Close()
	var out []Row
	for rs.Next() {
		var r Row
		var c, p []byte
		if err := rs.Scan(&r.Number, &r.CredentialID, &r.Name, &c, &p); err != nil {
			return nil, fmt.Errorf("rows of update %d: %w", id, err)
		}
		_ = json.Unmarshal(c, &r.Changes)
		_ = json.Unmarshal(p, &r.Problems)
		out = append(out, r)
	}
	return out, rs.Err()
}

// Applied says what Apply did.
type Applied struct{ Amended, Emailed int }

// Apply applies update id of actor within groups: every row without a
// problem, each field that still differs from the credential as it is now,
// through issuance.AmendMany, applyBatch credentials per transaction;
// notify emails the recipients of the published ones again. An update is
// applied once (Conflict after); a batch the core refuses stops it there,
// with the batches before it applied and counted.
func (s *Service) Apply(ctx context.Context, actor string, groups []int64, id int64, notify bool) (Applied, error) {
	const claim = `UPDATE credential_updates SET applied_at = $3 WHERE id = $1 AND actor = $2 AND applied_at IS NULL RETURNING id`
	var got int64
	switch err := s.DB.GetContext(ctx, &got, claim, id, actor, s.Core.Time()); {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := s.Get(ctx, actor, id); err != nil {
			return Applied{}, err
		}
		return Applied{}, apperr.Errorf(apperr.Conflict, "This update was applied already.")
	case err != nil:
		return Applied{}, fmt.Errorf("apply update %d: %w", id, err)
	}
	var done Applied
	defer func() {
		const rec = `UPDATE credential_updates SET applied = $2, emailed = $3 WHERE id = $1`
		_, _ = s.DB.ExecContext(context.WithoutCancel(ctx), rec, id, done.Amended, done.Emailed)
	}()
	for offset := 0; ; offset += applyBatch {
		rows, err := s.Rows(ctx, id, false, offset, applyBatch)
		if err != nil {
			return done, err
		}
		if len(rows) == 0 {
			return done, nil
		}
		ids := make([]string, len(rows))
		for i, r := range rows {
			ids[i] = r.CredentialID
		}
		now, err := s.Core.CredentialsByID(ctx, ids)
		if err != nil {
			return done, err
		}
		var items []issuance.AmendItem
		var nums []int
		for _, r := range rows {
			c, ok := now[r.CredentialID]
			if !ok {
				return done, apperr.Errorf(apperr.Conflict, "The credential of row %d (%s) no longer exists; %d credentials were updated before it. Download for update again.", r.Number, r.CredentialID, done.Amended)
			}
			if a, changed := amendment(c, r.Changes); changed {
				items = append(items, issuance.AmendItem{ID: c.ID, Amendment: a, Notify: notify})
				nums = append(nums, r.Number)
			}
		}
		res, err := s.Core.AmendMany(ctx, actor, groups, items)
		if err != nil {
			if fe := apperr.FieldErrors(err); len(fe) > 0 && fe[0].Index >= 0 && fe[0].Index < len(nums) {
				return done, apperr.Errorf(apperr.Conflict, "Row %d can no longer be applied (%s); %d credentials were updated before it.", nums[fe[0].Index], fe[0].Message, done.Amended)
			}
			if apperr.Is(err, apperr.Conflict) {
				return done, apperr.Errorf(apperr.Conflict, "%s %d credentials were updated before it.", apperr.Message(err), done.Amended)
			}
			return done, err
		}
		done.Amended += res.Amended
		done.Emailed += res.Emails
	}
}

// amendment is what of changes still differs from c now.
func amendment(c issuance.Credential, changes []Change) (issuance.Amendment, bool) {
	var a issuance.Amendment
	changed := false
	for _, ch := range changes {
		v := ch.New
		switch {
		case ch.Field == "name" && c.Recipient.Name != v:
			a.Name, changed = &v, true
		case ch.Field == "email" && c.Recipient.Email != v:
			a.Email, changed = &v, true
		case ch.Field == "issued_on" && c.IssuedOn.Format(issuance.DateLayout) != v:
			a.IssuedOn, changed = &v, true
		case ch.Field == "expires_on":
			cur := ""
			if c.ExpiresOn != nil {
				cur = c.ExpiresOn.Format(issuance.DateLayout)
			}
			if cur != v {
				a.ExpiresOn, changed = &v, true
			}
		case strings.HasPrefix(ch.Field, "attr:"):
			key := strings.TrimPrefix(ch.Field, "attr:")
			if c.Attributes[key] != v {
				if a.Attributes == nil {
					a.Attributes = map[string]string{}
					for k, x := range c.Attributes {
						a.Attributes[k] = x
					}
				}
				a.Attributes[key], changed = v, true
			}
		}
	}
	// A new issue date keeps the expiry date the preview showed, rather
	// than one derived again from the group's validity.
	if a.IssuedOn != nil && a.ExpiresOn == nil {
		cur := ""
		if c.ExpiresOn != nil {
			cur = c.ExpiresOn.Format(issuance.DateLayout)
		}
		a.ExpiresOn = &cur
	}
	return a, changed
}
