package issuance

// This file lists credentials across groups: the staff Credentials tab, its
// export and GET /api/v1/credentials.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/apperr"
)

// Sort is the order of a list across groups. Each is a keyset order on an
// index, so any page costs what the first does.
type Sort string

// The orders of a list across groups.
const (
	SortNewest     Sort = ""            // most recently created first
	SortOldest     Sort = "oldest"      // first created first
	SortName       Sort = "name"        // recipient name A–Z (as searches compare: case and accents ignored; other scripts before Latin)
	SortNameDesc   Sort = "name_desc"   // recipient name Z–A
	SortIssued     Sort = "issued"      // issue date, earliest first
	SortIssuedDesc Sort = "issued_desc" // issue date, latest first
)

// Sorts are the orders a caller may ask for, in the order a menu offers them.
var Sorts = []Sort{SortNewest, SortOldest, SortName, SortNameDesc, SortIssuedDesc, SortIssued}

// Label is the order in words, for a menu.
func (s Sort) Label() string {
	switch s {
	case SortOldest:
		return "Oldest first"
	case SortName:
		return "Name, A to Z"
	case SortNameDesc:
		return "Name, Z to A"
	case SortIssued:
		return "Issue date, earliest first"
	case SortIssuedDesc:
		return "Issue date, latest first"
	}
	return "Newest first"
}

// sortSQL is each order's key expression (besides seq, the tie-break) and
// direction.
var sortSQL = map[Sort]struct {
	key  string
	desc bool
}{
	SortNewest: {"", true}, SortOldest: {"", false},
	SortName: {"search_key", false}, SortNameDesc: {"search_key", true},
	SortIssued: {"issued_on", false}, SortIssuedDesc: {"issued_on", true},
}

// AcrossOptions selects a page of credentials across groups.
type AcrossOptions struct {
	// ListOptions' search, state, source, issue dates, cursor and limit
	// (its Recipients is not used here).
	ListOptions
	// Groups is the caller's scope: only these groups' credentials (nil:
	// every group; empty: none).
	Groups []int64
	// GroupID keeps one group's credentials; 0 keeps all (in scope).
	GroupID int64
	// ExpiresFrom and ExpiresTo (YYYY-MM-DD, inclusive; "" for open) bound
	// the expiry date; a credential without one matches no bound.
	ExpiresFrom, ExpiresTo string
	Sort                   Sort
}

// acrossCursor is the position after a page's last row in its order.
type acrossCursor struct {
	Sort Sort   `json:"s"`
	Key  string `json:"k,omitempty"` // the sort key's value (a search key or a date)
	Seq  int64  `json:"q"`
}

func (c acrossCursor) encode() string {
	b, _ := json.Marshal(c)
	return "x" + base64.RawURLEncoding.EncodeToString(b)
}

func decodeAcrossCursor(s string, sort Sort) (acrossCursor, error) {
	var c acrossCursor
	b, err := base64.RawURLEncoding.DecodeString(s[min(1, len(s)):])
	if err != nil || len(s) < 2 || s[0] != 'x' || json.Unmarshal(b, &c) != nil || c.Sort != sort || c.Seq <= 0 {
		return c, apperr.Fields("The cursor is not valid.", []apperr.FieldError{{Index: -1, Field: "cursor", Message: "Use the next_cursor of a previous page with the same sort."}})
	}
	if sortSQL[sort].key == "issued_on" {
		if _, err := time.Parse(DateLayout, c.Key); err != nil {
			return c, apperr.Fields("The cursor is not valid.", []apperr.FieldError{{Index: -1, Field: "cursor", Message: "Use the next_cursor of a previous page with the same sort."}})
		}
	}
	return c, nil
}

// acrossQuery is the SQL and arguments of a page of opt after cursor (nil:
// the first page) of at most limit rows, and the row's sort key.
func acrossQuery(opt AcrossOptions, after *acrossCursor, limit int) (acrossSQL, error) {
	order, ok := sortSQL[opt.Sort]
	var fe []apperr.FieldError
	if !ok {
		fe = append(fe, apperr.FieldError{Index: -1, Field: "sort", Message: fmt.Sprintf("Sort %q must be one of oldest, name, name_desc, issued or issued_desc (or empty for newest first).", opt.Sort)})
	}
	if opt.GroupID < 0 {
		fe = append(fe, apperr.FieldError{Index: -1, Field: "group_id", Message: "The group must be a group's number."})
	}
	var from, to time.Time
	for _, d := range []struct {
		field, val string
		t          *time.Time
	}{{"expires_from", opt.ExpiresFrom, &from}, {"expires_to", opt.ExpiresTo, &to}} {
		if d.val == "" {
			continue
		}
		t, err := time.Parse(DateLayout, d.val)
		if err != nil {
			fe = append(fe, apperr.FieldError{Index: -1, Field: d.field, Message: fmt.Sprintf("%q is not a date; use YYYY-MM-DD.", d.val)})
			continue
		}
		*d.t = t
	}
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		fe = append(fe, apperr.FieldError{Index: -1, Field: "expires_to", Message: "The end date is before the start date."})
	}
	lo := opt.ListOptions
	lo.Recipients = nil
	cond, args, err := listFilter(lo, 3)
	if err != nil {
		fe = append(apperr.FieldErrors(err), fe...)
	}
	if len(fe) > 0 {
		return acrossSQL{}, apperr.Fields("The list filter is not valid.", fe)
	}
	var scope any
	if opt.Groups != nil {
		scope = pq.Array(opt.Groups)
	}
	args = append([]any{scope, limit}, args...)
	// param adds arg and returns its placeholder.
	param := func(arg any) string {
		args = append(args, arg)
		return fmt.Sprintf("$%d", len(args))
	}
	if opt.GroupID != 0 {
		cond += ` AND group_id = ` + param(opt.GroupID)
	}
	if opt.ExpiresFrom != "" {
		cond += ` AND expires_on >= ` + param(opt.ExpiresFrom) + `::date`
	}
	if opt.ExpiresTo != "" {
		cond += ` AND expires_on <= ` + param(opt.ExpiresTo) + `::date`
	}
	cmp, dir := ">", "ASC"
	if order.desc {
		cmp, dir = "<", "DESC"
	}
	orderBy, keyset := "seq "+dir, ""
	switch order.key {
	case "":
		if after != nil {
			keyset = ` AND seq ` + cmp + ` ` + param(after.Seq)
		}
	case "issued_on":
		orderBy = "issued_on " + dir + ", seq " + dir
		if after != nil {
			keyset = ` AND (issued_on, seq) ` + cmp + ` (` + param(after.Key) + `::date, ` + param(after.Seq) + `::bigint)`
		}
	default:
		// The expression of the credentials_name_seq index: a row without
		// a key yet (before the search key job ran) sorts as "".
		orderBy = `COALESCE(search_key, '') COLLATE "C" ` + dir + ", seq " + dir
		if after != nil {
			keyset = ` AND (COALESCE(search_key, '') COLLATE "C", seq) ` + cmp + ` (` + param(after.Key) + `::text COLLATE "C", ` + param(after.Seq) + `::bigint)`
		}
	}
	return acrossSQL{filter: cond, keyset: keyset, orderBy: orderBy, args: args}, nil
}

// acrossSQL is a page query across groups in parts: scope ($1) and limit
// ($2) are fixed; filter and keyset are conditions, orderBy the order. All
// are built only from constant text; every value is one of args.
type acrossSQL struct {
	filter, keyset, orderBy string
	args                    []any
}

// plain is the page as one query, the planner choosing how.
func (a acrossSQL) plain() string {
	return `SELECT ` + credCols + `, COALESCE(search_key, '') AS search_key FROM credentials
		WHERE ($1::bigint[] IS NULL OR group_id = ANY($1))` + a.filter + a.keyset + `
		ORDER BY ` + a.orderBy + ` LIMIT $2`
}

// walk reads the next credentials in order, at most searchWalk along seq
// and a quarter of that along the name or issue-date index (whose rows are
// scattered on disk, so the planner would rather sort the whole table than
// fetch more in order), and keeps those that pass the filter (see
// searchPage).
func (a acrossSQL) walk() string {
	budget := searchWalk
	if !strings.HasPrefix(a.orderBy, "seq ") {
		budget = searchWalk / 4
	}
	return `SELECT ` + credCols + `, COALESCE(search_key, '') AS search_key FROM (
			SELECT ` + credCols + `, search_key FROM credentials
			WHERE ($1::bigint[] IS NULL OR group_id = ANY($1))` + a.keyset + `
			ORDER BY ` + a.orderBy + ` LIMIT ` + strconv.Itoa(budget) + `
		) AS next WHERE true` + a.filter + ` ORDER BY ` + a.orderBy + ` LIMIT $2`
}

// fetch fetches every match from the indexes and sorts them (see
// searchPage).
func (a acrossSQL) fetch() string {
	return `SELECT ` + credCols + `, COALESCE(search_key, '') AS search_key FROM (
			SELECT ` + credCols + `, search_key FROM credentials
			WHERE ($1::bigint[] IS NULL OR group_id = ANY($1))` + a.filter + a.keyset + ` OFFSET 0
		) AS matches ORDER BY ` + a.orderBy + ` LIMIT $2`
}

// acrossRow is a credential row with its sort key.
type acrossRow struct {
	credRow
	SearchKey string `db:"search_key"`
}

func (r acrossRow) cursor(s Sort) acrossCursor {
	c := acrossCursor{Sort: s, Seq: r.Seq}
	switch sortSQL[s].key {
	case "search_key":
		c.Key = r.SearchKey
	case "issued_on":
		c.Key = r.IssuedOn.Format(DateLayout)
	}
	return c
}

// CredentialsAcross lists the credentials of every group in opt.Groups
// (nil: all), one page at a time in opt.Sort's order (keyset pagination on
// an index), filtered by opt; next is "" on the last page. A bad filter is
// an apperr.Fields error naming it.
func (s *Service) CredentialsAcross(ctx context.Context, opt AcrossOptions) ([]Credential, string, error) {
	if opt.Groups != nil && len(opt.Groups) == 0 {
		return nil, "", nil
	}
	limit := opt.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 500)
	var after *acrossCursor
	if opt.Cursor != "" {
		c, err := decodeAcrossCursor(opt.Cursor, opt.Sort)
		if err != nil {
			return nil, "", err
		}
		after = &c
	}
	rows, err := s.acrossPage(ctx, opt, after, limit+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = rows[limit-1].cursor(opt.Sort).encode()
	}
	out := make([]Credential, len(rows))
	for i, r := range rows {
		out[i] = r.credential()
	}
	return out, next, nil
}

// acrossPage reads a page of opt after after: a search in two bounded
// steps, like a group's (searchPage), else as one query.
func (s *Service) acrossPage(ctx context.Context, opt AcrossOptions, after *acrossCursor, limit int) ([]acrossRow, error) {
	return s.acrossRows(ctx, opt, after, limit, strings.TrimSpace(opt.Query) != "")
}

// acrossRows reads limit rows of opt after after, in two steps when
// twoStep, else in one query.
func (s *Service) acrossRows(ctx context.Context, opt AcrossOptions, after *acrossCursor, limit int, twoStep bool) ([]acrossRow, error) {
	a, err := acrossQuery(opt, after, limit)
	if err != nil {
		return nil, err
	}
	var rows []acrossRow
	if !twoStep {
		if err := s.DB.SelectContext(ctx, &rows, a.plain(), a.args...); err != nil {
			return nil, fmt.Errorf("credentials across groups (%+v): %w", opt, err)
		}
		return rows, nil
	}
	if err := s.DB.SelectContext(ctx, &rows, a.walk(), a.args...); err != nil {
		return nil, fmt.Errorf("credentials across groups (%+v): walk: %w", opt, err)
	}
	if len(rows) == limit {
		return rows, nil
	}
	rows = rows[:0]
	if err := s.DB.SelectContext(ctx, &rows, a.fetch(), a.args...); err != nil {
		return nil, fmt.Errorf("credentials across groups (%+v): fetch: %w", opt, err)
	}
	return rows, nil
}

// exportBatch is how many rows one statement of EachCredentialAcross reads.
const exportBatch = 2000

// EachCredentialAcross calls fn with every credential opt selects (its
// cursor and limit ignored), in opt.Sort's order, reading them a batch at a
// time along the same keyset as the pages, so an export of a million holds
// one batch in memory and no transaction open. It stops at fn's first
// error, which it returns.
func (s *Service) EachCredentialAcross(ctx context.Context, opt AcrossOptions, fn func(Credential) error) error {
	if opt.Groups != nil && len(opt.Groups) == 0 {
		return nil
	}
	var after *acrossCursor
	for {
		// One query a batch: the two steps of a page would fetch every
		// match again for each batch of a common search.
		rows, err := s.acrossRows(ctx, opt, after, exportBatch, false)
		if err != nil {
			return err
		}
		for _, r := range rows {
			if err := fn(r.credential()); err != nil {
				return err
			}
		}
		if len(rows) < exportBatch {
			return nil
		}
		c := rows[len(rows)-1].cursor(opt.Sort)
		after = &c
	}
}

// GroupName is a group's id and name.
type GroupName struct {
	ID   int64  `db:"id"`
	Name string `db:"name"`
}

// GroupNames returns the id and name of the groups in only (nil: every
// group), by name: what a filter menu lists, without counting anything.
func (s *Service) GroupNames(ctx context.Context, only []int64) ([]GroupName, error) {
	if only != nil && len(only) == 0 {
		return []GroupName{}, nil
	}
	const q = `SELECT id, name FROM groups WHERE $1::bigint[] IS NULL OR id = ANY($1) ORDER BY lower(name), id`
	var ids any
	if only != nil {
		ids = pq.Array(only)
	}
	out := []GroupName{}
	if err := s.DB.SelectContext(ctx, &out, q, ids); err != nil {
		return nil, fmt.Errorf("group names %v: %w", only, err)
	}
	return out, nil
}
