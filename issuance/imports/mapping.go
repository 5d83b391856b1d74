package imports

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/sheet"
)

// headerSynonyms are the header texts, as registrars' exports spell them,
// recognised for each standard column (compared after sheet.Normalize).
var headerSynonyms = map[string][]string{
	colName: {"Name", "Full name", "Fullname", "Student name", "Recipient", "Recipient name", "Learner", "Learner name",
		"Participant", "Participant name", "Student", "Display name", "Nom", "Nom complet", "Nombre", "Nombre completo",
		"Name of recipient", "Awardee", "Earner", "Earner name"},
	colFirstName: {"First name", "Firstname", "Given name", "Given names", "Forename", "Prénom", "Nombre de pila", "Vorname",
		"Student first name"},
	colLastName: {"Last name", "Lastname", "Surname", "Family name", "Nom de famille", "Apellido", "Apellidos", "Nachname",
		"Student last name"},
	colEmail: {"Email", "E-mail", "Email address", "E-mail address", "Mail", "Courriel", "Adresse e-mail", "Adresse courriel",
		"Correo", "Correo electrónico", "Student email", "Recipient email", "Learner email", "Earner email", "Emailaddress"},
	colIssued: {"Issue date", "Issued on", "Issued", "Date issued", "Completion date", "Completed", "Completed on",
		"Date completed", "Date", "Award date", "Date awarded", "Awarded on", "Date de délivrance", "Date d'obtention",
		"Fecha", "Fecha de emisión", "Issued date", "Ausstellungsdatum", "Ausgestellt am", "Abschlussdatum", "Datum"},
	colExpires: {"Expiry date", "Expiration date", "Expires", "Expires on", "Expiry", "Valid until", "Date d'expiration",
		"Fecha de vencimiento", "Expiration", "Gültig bis", "Ablaufdatum"},
}

// standardColumns are the import attributes every group has, in the order
// the mapping form offers them.
var standardColumns = []struct{ Key, Label string }{
	{colName, "Recipient name"},
	{colFirstName, "Recipient first name"},
	{colLastName, "Recipient last name"},
	{colEmail, "Recipient email"},
	{colIssued, "Issue date"},
	{colExpires, "Expiry date"},
}

// ImportTarget is an attribute a column can be mapped to.
type ImportTarget struct{ Key, Label string }

// importTargets lists what g's columns can be mapped to.
func importTargets(g issuance.Group) []ImportTarget {
	out := make([]ImportTarget, 0, len(standardColumns)+len(g.Attributes))
	if g.ID == multiID {
		out = append(out, ImportTarget{colGroup, "Group (name or ID)"})
	}
	for _, c := range standardColumns {
		out = append(out, ImportTarget{c.Key, c.Label})
	}
	for _, a := range g.ValueAttributes() {
		out = append(out, ImportTarget{"attributes." + a.Key, a.Label})
	}
	return out
}

func validTarget(g issuance.Group, key string) bool {
	for _, t := range importTargets(g) {
		if t.Key == key {
			return true
		}
	}
	return false
}

// autoTarget recognises a header: a custom attribute's key or label first
// (a group's "Completed" attribute wins over the issue-date synonym), then
// the standard synonyms.
func autoTarget(g issuance.Group, header string) string {
	n := sheet.Normalize(header)
	if n == "" {
		return ""
	}
	if g.ID == multiID && isGroupHeader(header) {
		return colGroup
	}
	for _, a := range g.ValueAttributes() {
		if n == sheet.Normalize(a.Key) || n == sheet.Normalize(a.Label) {
			return "attributes." + a.Key
		}
	}
	for _, c := range standardColumns {
		for _, syn := range headerSynonyms[c.Key] {
			if n == sheet.Normalize(syn) {
				return c.Key
			}
		}
	}
	return ""
}

// headerSignature identifies a file's shape: its normalised headers in order.
func headerSignature(header []string) string {
	n := make([]string, len(header))
	for i, h := range header {
		n[i] = sheet.Normalize(h)
	}
	sum := sha256.Sum256([]byte(strings.Join(n, "\x1f")))
	return hex.EncodeToString(sum[:])
}

// mappingHeader finds the column of header h in header (exact text first,
// then normalised), -1 when the file has none.
func mappingHeader(header []string, h string) int {
	for i, x := range header {
		if x == h {
			return i
		}
	}
	n := sheet.Normalize(h)
	for i, x := range header {
		if sheet.Normalize(x) == n {
			return i
		}
	}
	return -1
}

// checkMapping refuses a user mapping that names a header the file lacks or
// an attribute group g lacks, or maps two columns to one attribute.
func checkMapping(g issuance.Group, header []string, m map[string]string) error {
	var fe []apperr.FieldError
	used := map[string]string{}
	keys := make([]string, 0, len(m))
	for h := range m {
		keys = append(keys, h)
	}
	sort.Strings(keys)
	for _, h := range keys {
		k := m[h]
		if mappingHeader(header, h) < 0 {
			fe = append(fe, apperr.FieldError{Index: -1, Field: "mapping", Message: fmt.Sprintf("The file has no column %q.", h)})
			continue
		}
		if k == "" {
			continue
		}
		if !validTarget(g, k) {
			fe = append(fe, apperr.FieldError{Index: -1, Field: "mapping",
				Message: fmt.Sprintf("Column %q is mapped to %q, which is not an attribute of group %q.", h, k, g.Name)})
			continue
		}
		if other, dup := used[k]; dup {
			fe = append(fe, apperr.FieldError{Index: -1, Field: "mapping",
				Message: fmt.Sprintf("Columns %q and %q are both mapped to %s.", other, h, k)})
			continue
		}
		used[k] = h
	}
	if len(fe) > 0 {
		return apperr.Fields("The column mapping has problems.", fe)
	}
	return nil
}

// resolveColumns maps each header column: the user's choice, else the
// mapping saved for this file shape, else recognition by header; an
// attribute is filled by one column only (the first that claims it).
func resolveColumns(g issuance.Group, header []string, user, saved map[string]string) []ImportColumn {
	cols := make([]ImportColumn, len(header))
	taken := map[string]bool{}
	decided := make([]bool, len(header))
	for i, h := range header {
		cols[i] = ImportColumn{Header: h, Index: i}
	}
	apply := func(m map[string]string, source string) {
		keys := make([]string, 0, len(m))
		for h := range m {
			keys = append(keys, h)
		}
		sort.Strings(keys)
		for _, h := range keys {
			i := mappingHeader(header, h)
			if i < 0 || decided[i] {
				continue
			}
			k := m[h]
			if k != "" && (taken[k] || !validTarget(g, k)) {
				continue
			}
			decided[i] = true
			cols[i].Attribute, cols[i].Source = k, source
			if k != "" {
				taken[k] = true
			}
		}
	}
	apply(user, "user")
	apply(saved, "saved")
	for i, h := range header {
		if decided[i] {
			continue
		}
		if k := autoTarget(g, h); k != "" && !taken[k] {
			cols[i].Attribute, cols[i].Source = k, "auto"
			taken[k] = true
		}
	}
	return cols
}

// missingColumns names the required attributes no column fills, as
// problems on the header row.
func missingColumns(g issuance.Group, cols []ImportColumn, headerRow int) []ImportError {
	has := map[string]bool{}
	for _, c := range cols {
		if c.Attribute != "" {
			has[c.Attribute] = true
		}
	}
	var out []ImportError
	if g.ID == multiID && !has[colGroup] {
		out = append(out, ImportError{Row: headerRow, Field: colGroup, Message: "No column is mapped to the group: map the column that names each row's group (by name or ID)."})
	}
	if !has[colName] && !(has[colFirstName] && has[colLastName]) {
		msg := "No column is mapped to the recipient name: map a column to Recipient name (or two to first and last name)."
		if has[colFirstName] != has[colLastName] {
			msg = "Only one of first and last name is mapped: map the other too, or one column to Recipient name."
		}
		out = append(out, ImportError{Row: headerRow, Field: colName, Message: msg})
	}
	if !has[colEmail] {
		out = append(out, ImportError{Row: headerRow, Field: colEmail, Message: "No column is mapped to the recipient email."})
	}
	if !has[colIssued] {
		out = append(out, ImportError{Row: headerRow, Field: colIssued, Message: "No column is mapped to the issue date."})
	}
	for _, a := range g.ValueAttributes() {
		if a.Required && !has["attributes."+a.Key] {
			out = append(out, ImportError{Row: headerRow, Field: "attributes." + a.Key,
				Message: fmt.Sprintf("No column is mapped to %s, which group %q requires.", a.Label, g.Name)})
		}
	}
	return out
}

// savedMapping returns the mapping remembered for group gid and signature.
func savedMapping(ctx context.Context, q sqlx.QueryerContext, gid int64, sig string) (map[string]string, error) {
	var raw []byte
	err := sqlx.GetContext(ctx, q, &raw, `SELECT mapping FROM import_mappings WHERE group_id = $1 AND signature = $2`, gid, sig)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("saved mapping of group %d: %w", gid, err)
	}
	m := map[string]string{}
	_ = json.Unmarshal(raw, &m)
	return m, nil
}

// saveMapping remembers cols for the next file of the same shape in group gid.
func saveMapping(ctx context.Context, ext sqlx.ExecerContext, gid int64, sig string, cols []ImportColumn) error {
	m := map[string]string{}
	for _, c := range cols {
		m[c.Header] = c.Attribute
	}
	b, _ := json.Marshal(m)
	const q = `INSERT INTO import_mappings (group_id, signature, mapping, updated_at) VALUES ($1, $2, $3, now())
		ON CONFLICT (group_id, signature) DO UPDATE SET mapping = EXCLUDED.mapping, updated_at = now()`
	if _, err := ext.ExecContext(ctx, q, gid, sig, string(b)); err != nil {
		return fmt.Errorf("save mapping of group %d: %w", gid, err)
	}
	return nil
}
