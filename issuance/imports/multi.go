package imports

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/sheet"
)

// A Multiple Groups import reads one file whose group column names each
// row's group (by name or ID). Its columns are mapped against every group's
// attributes at once; each row is then checked by its own group's rules.

// multiID is the ID of the stand-in group whose attributes are those of all
// the groups, against which a Multiple Groups file's columns are mapped.
const multiID = -1

// colGroup is the column key of the group column.
const colGroup = "group"

// groupSynonyms are the headers recognised as the group column.
var groupSynonyms = []string{"Group", "Group name", "Group ID", "Credential group", "Badge group", "Certificate group",
	"Groupe", "Nom du groupe", "Gruppe", "Grupo", "Groep"}

// groupSet is what a Multiple Groups import resolves group cells against.
type groupSet struct {
	byID   map[int64]issuance.Group
	byName map[string][]issuance.Group // by foldName
	scope  []int64                     // the uploader's limit; nil: every group
	union  issuance.Group
	// checkers are the per-group row checkers, made on first use.
	checkers map[int64]*rowChecker
}

func foldName(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }

// groupSet loads every group (a name outside scope is named as such, not as
// unknown) and the union of their attributes.
func (s *Service) groupSet(ctx context.Context, scope []int64) (*groupSet, error) {
	all, err := s.Core.Groups(ctx, nil)
	if err != nil {
		return nil, err
	}
	gs := &groupSet{byID: map[int64]issuance.Group{}, byName: map[string][]issuance.Group{}, scope: scope,
		checkers: map[int64]*rowChecker{}, union: issuance.Group{ID: multiID, Name: "several groups"}}
	seen := map[string]bool{}
	for _, sum := range all {
		g := sum.Group
		gs.byID[g.ID] = g
		gs.byName[foldName(g.Name)] = append(gs.byName[foldName(g.Name)], g)
		if !gs.allowed(g.ID) {
			continue
		}
		for _, a := range g.ValueAttributes() {
			if !seen[a.Key] {
				seen[a.Key] = true
				a.Required = false // each row's own group requires it
				gs.union.Attributes = append(gs.union.Attributes, a)
			}
		}
	}
	return gs, nil
}

func (gs *groupSet) allowed(id int64) bool { return gs.scope == nil || slices.Contains(gs.scope, id) }

// resolve finds the group a cell names: by ID (digits), else by name,
// case-insensitively. The message says why no group is found.
func (gs *groupSet) resolve(v string) (issuance.Group, string) {
	v = strings.TrimSpace(v)
	if v == "" {
		return issuance.Group{}, "The group is missing: write the group's name or ID."
	}
	var g issuance.Group
	if id, err := strconv.ParseInt(v, 10, 64); err == nil {
		if byID, ok := gs.byID[id]; ok {
			g = byID
		}
	}
	if g.ID == 0 {
		matches := gs.byName[foldName(v)]
		switch len(matches) {
		case 0:
			return issuance.Group{}, fmt.Sprintf("No group is named %q: write the name of the group as it is shown in Laurel, or its ID.", v)
		case 1:
			g = matches[0]
		default:
			ids := make([]string, len(matches))
			for i, m := range matches {
				ids[i] = strconv.FormatInt(m.ID, 10)
			}
			return issuance.Group{}, fmt.Sprintf("%d groups are named %q (IDs %s): write the ID of the one you mean instead of the name.", len(matches), v, strings.Join(ids, ", "))
		}
	}
	if !gs.allowed(g.ID) {
		return issuance.Group{}, fmt.Sprintf("You may not create credentials in group %q: your account is limited to other groups.", g.Name)
	}
	return g, ""
}

// checker is the row checker of group g: the union's columns, less the
// attributes g does not have and the group column.
func (gs *groupSet) checker(base *rowChecker, g issuance.Group) *rowChecker {
	if rc, ok := gs.checkers[g.ID]; ok {
		return rc
	}
	has := map[string]bool{}
	for _, a := range g.ValueAttributes() {
		has["attributes."+a.Key] = true
	}
	cols := slices.Clone(base.cols)
	for i, c := range cols {
		if c.Attribute == colGroup || (strings.HasPrefix(c.Attribute, "attributes.") && !has[c.Attribute]) {
			cols[i].Attribute = ""
		}
	}
	rc := &rowChecker{g: g, cols: cols, orders: base.orders, ambiguous: base.ambiguous, attrType: map[string]issuance.AttributeType{}, now: base.now}
	for _, a := range g.ValueAttributes() {
		rc.attrType[a.Key] = a.Type
	}
	gs.checkers[g.ID] = rc
	return rc
}

// isGroupHeader tells whether a header names the group column.
func isGroupHeader(h string) bool {
	n := sheet.Normalize(h)
	for _, syn := range groupSynonyms {
		if n == sheet.Normalize(syn) {
			return true
		}
	}
	return false
}

// markFileWideMulti is markFileWide for a Multiple Groups import: the same
// recipient twice for one group, and recipients who already hold a
// credential in the row's group.
func markFileWideMulti(ctx context.Context, tx *sqlx.Tx, id int64, held map[int64]*holders) error {
	const dup = `WITH d AS (
			SELECT row_number, min(row_number) OVER (PARTITION BY group_id, key) AS first
			FROM import_rows WHERE import_id = $1 AND key IS NOT NULL AND group_id IS NOT NULL)
		UPDATE import_rows r SET errors = coalesce(r.errors, '[]'::jsonb) || jsonb_build_array(jsonb_build_object(
				'field', 'recipient.email',
				'message', format('%s appears more than once for this group in the file (first at row %s); a recipient may hold only one credential in a group.',
					r.email, d.first)))
		FROM d WHERE r.import_id = $1 AND r.row_number = d.row_number AND d.first <> d.row_number`
	if _, err := tx.ExecContext(ctx, dup, id); err != nil {
		return fmt.Errorf("validate import %d: duplicates: %w", id, err)
	}
	const qh = `UPDATE import_rows r SET errors = coalesce(r.errors, '[]'::jsonb) || jsonb_build_array(jsonb_build_object(
				'field', 'recipient.email',
				'message', format('%s already holds credential %s in group "%s".', r.email, h.credential_id, $4::text)))
		FROM unnest($2::int[], $3::text[]) AS h(row_number, credential_id)
		WHERE r.import_id = $1 AND r.row_number = h.row_number`
	for _, h := range held {
		for k := 0; k < len(h.rows); k += holderChunk {
			end := min(k+holderChunk, len(h.rows))
			if _, err := tx.ExecContext(ctx, qh, id, pq.Array(h.rows[k:end]), pq.Array(h.ids[k:end]), h.g.Name); err != nil {
				return fmt.Errorf("validate import %d: already held: %w", id, err)
			}
		}
	}
	return nil
}
