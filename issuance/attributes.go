package issuance

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/text"
)

// The Attributes section: the organisation's registry of attribute
// variables (table attributes). Groups pick their attributes from it; a
// group keeps a copy of each (Group.Attributes) with its own Required and
// Visibility, so a variable's key never changes once created: spreadsheets
// and signed credentials name it.

// AttributeTypes lists the types a variable may have, in the order forms
// offer them.
var AttributeTypes = []AttributeType{TextAttr, NumberAttr, DateAttr, URLAttr, ImageAttr}

// Label is how pages name the type.
func (t AttributeType) Label() string {
	switch t {
	case TextAttr:
		return "Text"
	case NumberAttr:
		return "Number"
	case DateAttr:
		return "Date"
	case URLAttr:
		return "Web link"
	case ImageAttr:
		return "Image"
	}
	return string(t)
}

// PerCredential reports whether each credential holds its own value of an
// attribute of this type: every type but an image, which belongs to the
// group, not to one recipient.
func (t AttributeType) PerCredential() bool { return t != ImageAttr }

// CredentialAttributes are the attributes of g each credential holds a
// value of (AttributeType.PerCredential): the form inputs, spreadsheet
// columns and values of a credential.
func (g Group) CredentialAttributes() []Attribute {
	out := make([]Attribute, 0, len(g.Attributes))
	for _, a := range g.Attributes {
		if a.Type.PerCredential() {
			out = append(out, a)
		}
	}
	return out
}

// AttributeVariable is one attribute variable of the organisation: a
// standard one (fixed, StandardAttributes) or a custom one that groups pick.
type AttributeVariable struct {
	Key        string        `json:"key"`
	Label      string        `json:"label"`
	Type       AttributeType `json:"type"`
	Visibility Visibility    `json:"visibility"`  // the default when a group picks it
	ResultType ResultType    `json:"result_type"` // the default when a group picks it
	Standard   bool          `json:"standard"`
	// Retired variables are no longer offered to groups; groups that use
	// one keep it.
	Retired bool `json:"retired"`
	// FormerLabels are the names it had before a rename: a spreadsheet
	// column headed with one still fills it.
	FormerLabels []string   `json:"former_labels"`
	CreatedAt    *time.Time `json:"created_at,omitempty"` // nil for a standard one
	UpdatedAt    *time.Time `json:"updated_at,omitempty"`
}

// Attribute is the variable as a group's attribute (not required).
func (v AttributeVariable) Attribute() Attribute {
	return Attribute{Key: v.Key, Label: v.Label, Type: v.Type, Visibility: v.Visibility, ResultType: v.ResultType}
}

type variableRow struct {
	Key        string         `db:"key"`
	Label      string         `db:"label"`
	Type       string         `db:"type"`
	Visibility string         `db:"visibility"`
	ResultType string         `db:"result_type"`
	RetiredAt  sql.NullTime   `db:"retired_at"`
	Former     pq.StringArray `db:"former_labels"`
	CreatedAt  time.Time      `db:"created_at"`
	UpdatedAt  time.Time      `db:"updated_at"`
}

const variableCols = `key, label, type, visibility, result_type, retired_at, former_labels, created_at, updated_at`

func (r variableRow) variable() AttributeVariable {
	return AttributeVariable{Key: r.Key, Label: r.Label, Type: AttributeType(r.Type), Visibility: Visibility(r.Visibility),
		ResultType: ResultType(r.ResultType), Retired: r.RetiredAt.Valid, FormerLabels: []string(r.Former), CreatedAt: &r.CreatedAt, UpdatedAt: &r.UpdatedAt}
}

func standardVariables() []AttributeVariable {
	out := make([]AttributeVariable, 0, len(StandardAttributes))
	for _, a := range StandardAttributes {
		out = append(out, AttributeVariable{Key: a.Key, Label: a.Label, Type: a.Type, Visibility: stdVisibility(a.Key), Standard: true, FormerLabels: []string{}})
	}
	return out
}

// AttributeVariables lists the standard variables, then the custom ones by
// label; retired ones only when withRetired.
func (s *Service) AttributeVariables(ctx context.Context, withRetired bool) ([]AttributeVariable, error) {
	const q = `SELECT ` + variableCols + ` FROM attributes WHERE $1 OR retired_at IS NULL ORDER BY lower(label), key`
	var rows []variableRow
	if err := s.DB.SelectContext(ctx, &rows, q, withRetired); err != nil {
		return nil, fmt.Errorf("attribute variables: %w", err)
	}
	out := standardVariables()
	for _, r := range rows {
		out = append(out, r.variable())
	}
	return out, nil
}

// AttributeVariable returns the variable key, standard or custom, or
// NotFound.
func (s *Service) AttributeVariable(ctx context.Context, key string) (AttributeVariable, error) {
	return variableTx(ctx, s.DB, key, false)
}

func variableTx(ctx context.Context, q getter, key string, lock bool) (AttributeVariable, error) {
	for _, v := range standardVariables() {
		if v.Key == key {
			return v, nil
		}
	}
	query := `SELECT ` + variableCols + ` FROM attributes WHERE key = $1`
	if lock {
		query += ` FOR UPDATE`
	}
	var r variableRow
	err := q.GetContext(ctx, &r, query, key)
	if errors.Is(err, sql.ErrNoRows) {
		return AttributeVariable{}, apperr.Errorf(apperr.NotFound, "There is no attribute variable %q.", key)
	}
	if err != nil {
		return AttributeVariable{}, fmt.Errorf("attribute variable %q: %w", key, err)
	}
	return r.variable(), nil
}

// checkVariable normalises v and returns its problems, named by API field.
func checkVariable(v *AttributeVariable) []apperr.FieldError {
	var fe []apperr.FieldError
	bad := func(field, msg string) { fe = append(fe, apperr.FieldError{Index: -1, Field: field, Message: msg}) }
	v.Key = strings.TrimSpace(v.Key)
	switch {
	case !attributeKeyRE.MatchString(v.Key):
		bad("key", fmt.Sprintf("Key %q must start with a letter and use only a-z, 0-9 and _ (at most 40).", v.Key))
	case isStandardKey(v.Key):
		bad("key", fmt.Sprintf("Key %q is a standard attribute; choose another.", v.Key))
	}
	bad = labelProblem(v, bad)
	if v.Type == "" {
		v.Type = TextAttr
	}
	if !slices.Contains(AttributeTypes, v.Type) {
		bad("type", fmt.Sprintf("Type %q must be text, number, date, url or image.", v.Type))
	}
	a := v.Attribute()
	checkAttributeVisibility(&a, "", func(field, msg string) { bad(strings.TrimPrefix(field, "."), msg) })
	checkResultFor(a, "", func(field, msg string) { bad(strings.TrimPrefix(field, "."), msg) })
	v.Visibility = a.Visibility
	return fe
}

// labelProblem normalises v.Label and reports its problem through bad,
// which it returns.
func labelProblem(v *AttributeVariable, bad func(field, msg string)) func(field, msg string) {
	v.Label = strings.TrimSpace(v.Label)
	switch {
	case v.Label == "":
		bad("label", "Label is required (e.g. Grade).")
	case len(v.Label) > 100:
		bad("label", "Label must be at most 100 characters.")
	case text.Check(v.Label) != nil || strings.ContainsAny(v.Label, "\n\t"):
		bad("label", "Label must be one line without control characters.")
	}
	return bad
}

// checkResultFor refuses a result type on types that cannot carry a
// result (checkAttributeVisibility handles dates).
func checkResultFor(a Attribute, f string, bad func(field, msg string)) {
	if a.ResultType != "" && (a.Type == URLAttr || a.Type == ImageAttr) {
		bad(f+".result_type", fmt.Sprintf("A %s cannot be a result (a grade or a score): leave its result type empty.", strings.ToLower(a.Type.Label())))
	}
}

// labelTaken reports a variable other than key whose label reads the same
// as label ignoring case and accents, which would make spreadsheet columns
// ambiguous.
func labelTaken(ctx context.Context, q sqlx.QueryerContext, key, label string) (string, error) {
	const sel = `SELECT key, label FROM attributes WHERE key <> $1`
	rows, err := q.QueryxContext(ctx, sel, key)
	if err != nil {
		return "", fmt.Errorf("attribute labels: %w", err)
	}
	defer rows.Close()
	want := text.Fold(label)
	for _, a := range StandardAttributes {
		if text.Fold(a.Label) == want {
			return a.Label, nil
		}
	}
	for rows.Next() {
		var k, l string
		if err := rows.Scan(&k, &l); err != nil {
			return "", fmt.Errorf("attribute labels: %w", err)
		}
		if text.Fold(l) == want {
			return l, nil
		}
	}
	return "", rows.Err()
}

// CreateAttributeVariable adds a custom variable. Invalid input is an
// apperr.Fields error naming each field; a key or label already used is a
// Conflict.
func (s *Service) CreateAttributeVariable(ctx context.Context, actor string, v AttributeVariable) (AttributeVariable, error) {
	if fe := checkVariable(&v); len(fe) > 0 {
		return AttributeVariable{}, apperr.Fields("The attribute variable has problems.", fe)
	}
	var out AttributeVariable
	err := db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		var err error
		out, err = createVariable(ctx, tx, s.Time(), actor, v)
		return err
	})
	return out, err
}

func createVariable(ctx context.Context, tx *sqlx.Tx, now time.Time, actor string, v AttributeVariable) (AttributeVariable, error) {
	if other, err := labelTaken(ctx, tx, v.Key, v.Label); err != nil {
		return AttributeVariable{}, err
	} else if other != "" {
		return AttributeVariable{}, apperr.Fields("The attribute variable has problems.", []apperr.FieldError{{Index: -1, Field: "label",
			Message: fmt.Sprintf("The label %q is already used by the variable %q; spreadsheet columns could not tell them apart.", v.Label, other)}})
	}
	const q = `INSERT INTO attributes (key, label, type, visibility, result_type, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING ` + variableCols
	var r variableRow
	if err := tx.GetContext(ctx, &r, q, v.Key, v.Label, v.Type, v.Visibility, v.ResultType, now); err != nil {
		if _, ok := db.IsUniqueViolation(err); ok {
			return AttributeVariable{}, apperr.Fields("The attribute variable has problems.", []apperr.FieldError{{Index: -1, Field: "key",
				Message: fmt.Sprintf("The key %q is already used by another variable.", v.Key)}})
		}
		return AttributeVariable{}, fmt.Errorf("create attribute variable %q: %w", v.Key, err)
	}
	out := r.variable()
	return out, audit(ctx, tx, now, actor, "create", "attribute", out.Key, nil, auditVariable(out))
}

func auditVariable(v AttributeVariable) map[string]any {
	return map[string]any{"label": v.Label, "type": v.Type, "visibility": v.Visibility, "result_type": v.ResultType, "retired": v.Retired}
}

// RenameAttributeVariable changes the label of custom variable key (its key
// stays, so spreadsheets and signed credentials keep working) and of the
// attribute in every group that uses it with the same type; groups whose
// signed credentials name the label are re-signed. A standard variable is
// Invalid; an unknown one NotFound.
func (s *Service) RenameAttributeVariable(ctx context.Context, actor, key, label string) (AttributeVariable, error) {
	v := AttributeVariable{Key: key, Label: label}
	var fe []apperr.FieldError
	labelProblem(&v, func(field, msg string) { fe = append(fe, apperr.FieldError{Index: -1, Field: field, Message: msg}) })
	if len(fe) > 0 {
		return AttributeVariable{}, apperr.Fields("The attribute variable has problems.", fe)
	}
	if isStandardKey(key) {
		return AttributeVariable{}, apperr.Errorf(apperr.Invalid, "The standard variable %q cannot be renamed.", key)
	}
	var out AttributeVariable
	err := db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		old, err := variableTx(ctx, tx, key, true)
		if err != nil {
			return err
		}
		if other, err := labelTaken(ctx, tx, key, v.Label); err != nil {
			return err
		} else if other != "" {
			return apperr.Fields("The attribute variable has problems.", []apperr.FieldError{{Index: -1, Field: "label",
				Message: fmt.Sprintf("The label %q is already used by the variable %q; spreadsheet columns could not tell them apart.", v.Label, other)}})
		}
		now := s.Time()
		// The old name joins the former ones (the new one leaves them, for
		// a variable renamed back).
		const q = `UPDATE attributes SET label = $2, updated_at = $3,
				former_labels = array_remove(CASE WHEN label = $2 OR label = ANY (former_labels) THEN former_labels
					ELSE array_append(former_labels, label) END, $2)
			WHERE key = $1 RETURNING ` + variableCols
		var r variableRow
		if err := tx.GetContext(ctx, &r, q, key, v.Label, now); err != nil {
			return fmt.Errorf("rename attribute variable %q: %w", key, err)
		}
		out = r.variable()
		if err := relabelGroups(ctx, tx, now, out); err != nil {
			return err
		}
		return audit(ctx, tx, now, actor, "update", "attribute", key, auditVariable(old), auditVariable(out))
	})
	return out, err
}

// relabelGroups gives v's new label to the groups that use v with its type.
func relabelGroups(ctx context.Context, tx *sqlx.Tx, now time.Time, v AttributeVariable) error {
	const q = `SELECT id FROM groups WHERE attributes @> jsonb_build_array(jsonb_build_object('key', $1::text, 'type', $2::text)) ORDER BY id FOR UPDATE`
	var ids []int64
	if err := tx.SelectContext(ctx, &ids, q, v.Key, v.Type); err != nil {
		return fmt.Errorf("groups using %q: %w", v.Key, err)
	}
	for _, id := range ids {
		old, err := groupTx(ctx, tx, id, false)
		if err != nil {
			return err
		}
		g := old
		g.Attributes = slices.Clone(old.Attributes)
		for i := range g.Attributes {
			if g.Attributes[i].Key == v.Key {
				g.Attributes[i].Label = v.Label
			}
		}
		attrs, err := jsonAttributes(g.Attributes)
		if err != nil {
			return err
		}
		const u = `UPDATE groups SET attributes = $2, updated_at = $3 WHERE id = $1`
		if _, err := tx.ExecContext(ctx, u, id, attrs, now); err != nil {
			return fmt.Errorf("relabel group %d: %w", id, err)
		}
		if signedAttributesChanged(old, g) {
			if err := achievementChanged(ctx, tx, id, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// RetireAttributeVariable hides custom variable key from groups that do not
// use it yet (retire true) or offers it again (false). Groups that use it
// keep it. A standard variable is Invalid; an unknown one NotFound.
func (s *Service) RetireAttributeVariable(ctx context.Context, actor, key string, retire bool) (AttributeVariable, error) {
	if isStandardKey(key) {
		return AttributeVariable{}, apperr.Errorf(apperr.Invalid, "The standard variable %q cannot be retired: every credential has it.", key)
	}
	var out AttributeVariable
	err := db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		old, err := variableTx(ctx, tx, key, true)
		if err != nil {
			return err
		}
		if old.Retired == retire {
			out = old
			return nil
		}
		now := s.Time()
		const q = `UPDATE attributes SET retired_at = CASE WHEN $2 THEN $3::timestamptz END, updated_at = $3
			WHERE key = $1 RETURNING ` + variableCols
		var r variableRow
		if err := tx.GetContext(ctx, &r, q, key, retire, now); err != nil {
			return fmt.Errorf("retire attribute variable %q: %w", key, err)
		}
		out = r.variable()
		action := "retire"
		if !retire {
			action = "restore"
		}
		return audit(ctx, tx, now, actor, action, "attribute", key, auditVariable(old), auditVariable(out))
	})
	return out, err
}

// AttributeUse names a group or design that uses a variable.
type AttributeUse struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// AttributeUses says where a variable is used: the groups that carry it and
// the designs that print it.
type AttributeUses struct {
	Groups  []AttributeUse `json:"groups"`
	Designs []AttributeUse `json:"designs"`
}

// AttributeVariableUses returns where each variable key is used, by key
// (a key used nowhere is absent).
func (s *Service) AttributeVariableUses(ctx context.Context) (map[string]AttributeUses, error) {
	out := map[string]AttributeUses{}
	type use struct {
		Key  string `db:"key"`
		ID   int64  `db:"id"`
		Name string `db:"name"`
	}
	const qg = `SELECT x.a->>'key' AS key, g.id, g.name
		FROM groups g, jsonb_array_elements(g.attributes) AS x(a) ORDER BY lower(g.name), g.id`
	var gs []use
	if err := s.DB.SelectContext(ctx, &gs, qg); err != nil {
		return nil, fmt.Errorf("attribute uses by groups: %w", err)
	}
	for _, u := range gs {
		e := out[u.Key]
		e.Groups = append(e.Groups, AttributeUse{ID: u.ID, Name: u.Name})
		out[u.Key] = e
	}
	const qd = `SELECT k AS key, d.id, d.name FROM designs d, unnest(d.printed_attributes) AS k ORDER BY lower(d.name), d.id`
	var ds []use
	if err := s.DB.SelectContext(ctx, &ds, qd); err != nil {
		return nil, fmt.Errorf("attribute uses by designs: %w", err)
	}
	for _, u := range ds {
		e := out[u.Key]
		e.Designs = append(e.Designs, AttributeUse{ID: u.ID, Name: u.Name})
		out[u.Key] = e
	}
	return out, nil
}

// pickAttributes ties g's attributes to the registry before a group is
// stored: a known variable fills what the attribute leaves empty (label,
// type, visibility) and must keep its type unless the group already had it
// with another one (two groups that disagreed before the registry existed);
// a retired variable cannot be added to a group that does not use it; an
// unknown key creates its variable from the attribute (the API's groups).
// Problems are named by API field (attributes[i].key).
func pickAttributes(ctx context.Context, tx *sqlx.Tx, now time.Time, actor string, g *Group, old *Group) ([]apperr.FieldError, error) {
	var fe []apperr.FieldError
	var unknown []int
	had := func(key string) (Attribute, bool) {
		if old == nil {
			return Attribute{}, false
		}
		for _, a := range old.Attributes {
			if a.Key == key {
				return a, true
			}
		}
		return Attribute{}, false
	}
	for i := range g.Attributes {
		a := &g.Attributes[i]
		a.Key = strings.TrimSpace(a.Key)
		if !attributeKeyRE.MatchString(a.Key) || isStandardKey(a.Key) {
			continue // checkGroup names it
		}
		v, err := variableTx(ctx, tx, a.Key, false)
		if apperr.Is(err, apperr.NotFound) {
			unknown = append(unknown, i)
			continue
		}
		if err != nil {
			return nil, err
		}
		f := fmt.Sprintf("attributes[%d]", i)
		prev, ok := had(a.Key)
		if v.Retired && !ok {
			fe = append(fe, apperr.FieldError{Index: -1, Field: f + ".key",
				Message: fmt.Sprintf("The variable %q (%s) is retired in the Attributes section; restore it there to add it to a group.", v.Label, v.Key)})
			continue
		}
		if strings.TrimSpace(a.Label) == "" {
			a.Label = v.Label
		}
		if a.Visibility == "" && !ok {
			a.Visibility = v.Visibility
		}
		switch {
		case a.Type == "":
			a.Type = v.Type
			if ok {
				a.Type = prev.Type
			}
		case a.Type == v.Type, ok && a.Type == prev.Type:
		default:
			fe = append(fe, apperr.FieldError{Index: -1, Field: f + ".type",
				Message: fmt.Sprintf("The variable %q (%s) is of type %s in the Attributes section, not %s.", v.Label, v.Key, v.Type, a.Type)})
		}
	}
	if len(fe) > 0 {
		return fe, nil
	}
	// Unknown keys become variables once the whole group is valid.
	if cfe := checkGroup(g); len(cfe) > 0 {
		return cfe, nil
	}
	for _, i := range unknown {
		a := g.Attributes[i]
		v := AttributeVariable{Key: a.Key, Label: a.Label, Type: a.Type, Visibility: a.Visibility, ResultType: a.ResultType}
		if _, err := createVariable(ctx, tx, now, actor, v); err != nil {
			for _, f := range apperr.FieldErrors(err) {
				fe = append(fe, apperr.FieldError{Index: -1, Field: fmt.Sprintf("attributes[%d].%s", i, f.Field), Message: f.Message})
			}
			if len(apperr.FieldErrors(err)) == 0 {
				return nil, err
			}
		}
	}
	return fe, nil
}

// stdVisibility is who sees standard attribute key.
func stdVisibility(key string) Visibility {
	v, _ := standardVisibility(key)
	return v
}

// Label is how pages name the result type: its words ("Letter grade").
func (r ResultType) Label() string {
	var b strings.Builder
	for i, c := range string(r) {
		if i > 0 && c >= 'A' && c <= 'Z' {
			b.WriteByte(' ')
			c += 'a' - 'A'
		}
		b.WriteRune(c)
	}
	return b.String()
}

// AttributeFormerLabels returns, by key, the names variables had before they
// were renamed (only variables that were renamed).
func (s *Service) AttributeFormerLabels(ctx context.Context) (map[string][]string, error) {
	const q = `SELECT key, former_labels FROM attributes WHERE cardinality(former_labels) > 0`
	rows, err := s.DB.QueryxContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("attribute former labels: %w", err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var k string
		var l pq.StringArray
		if err := rows.Scan(&k, &l); err != nil {
			return nil, fmt.Errorf("attribute former labels: %w", err)
		}
		out[k] = l
	}
	return out, rows.Err()
}
