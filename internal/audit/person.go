package audit

// A person's entries: those about their credentials and those whose
// before/after data names them, for a request to see or erase everything
// Laurel holds about a person.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Person names someone in the log: by email (anywhere in an entry's data)
// and by the entities that are theirs (their credentials).
type Person struct {
	Email      string
	EntityType string   // e.g. "credential"
	EntityIDs  []string // the person's entities of EntityType
	Names      []string // their names, replaced where an entry holds one
	TombName   string
	TombEmail  string
	DropKeys   []string // keys whose values are the person's data (attributes), emptied
}

// PersonEntry is one entry that names a person, with its entity.
type PersonEntry struct {
	Entry
	EntityType string `json:"entity_type"`
	EntityID   string `json:"entity_id"`
}

const personSQL = `SELECT id, at, actor, action, entity_type, entity_id, before, after FROM audit_log
	WHERE (entity_type = $1 AND entity_id = ANY($2))
		OR strpos(lower(coalesce(before::text, '') || coalesce(after::text, '')), $3) > 0
	ORDER BY id`

// PersonEntries returns the entries about p's entities or whose data holds
// p's email, oldest first.
func PersonEntries(ctx context.Context, q sqlx.QueryerContext, p Person) ([]PersonEntry, error) {
	rows, err := q.QueryxContext(ctx, personSQL, p.EntityType, pq.Array(p.EntityIDs), strings.ToLower(strings.TrimSpace(p.Email)))
	if err != nil {
		return nil, fmt.Errorf("audit entries of a person: %w", err)
	}
	defer rows.Close()
	var out []PersonEntry
	for rows.Next() {
		var e PersonEntry
		var b, a []byte
		if err := rows.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.EntityType, &e.EntityID, &b, &a); err != nil {
			return nil, fmt.Errorf("audit entries of a person: %w", err)
		}
		if b != nil {
			e.Before = json.RawMessage(b)
		}
		if a != nil {
			e.After = json.RawMessage(a)
		}
		e.Who = who(e.Actor, "")
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit entries of a person: %w", err)
	}
	return out, nil
}

// ErasePerson replaces p's data in the before/after of their entries
// (PersonEntries): any string holding the email becomes the tombstone's
// email, a string equal to one of the names its name, and the values under
// DropKeys emptied; a name beside the email in one object becomes the
// tombstone's name too. Who did what, and when, stays. It returns how
// many entries changed; a second run finds nothing left to change.
func ErasePerson(ctx context.Context, ext sqlx.ExtContext, p Person) (int, error) {
	es, err := PersonEntries(ctx, ext, p)
	if err != nil {
		return 0, err
	}
	key := strings.ToLower(strings.TrimSpace(p.Email))
	n := 0
	for _, e := range es {
		b, bc := scrub(e.Before, key, p)
		a, ac := scrub(e.After, key, p)
		if !bc && !ac {
			continue
		}
		const q = `UPDATE audit_log SET before = $2, after = $3 WHERE id = $1`
		if _, err := ext.ExecContext(ctx, q, e.ID, nullJSON(b), nullJSON(a)); err != nil {
			return n, fmt.Errorf("erase a person from audit entry %d: %w", e.ID, err)
		}
		n++
	}
	return n, nil
}

// scrub returns raw without p's data, and whether anything changed.
func scrub(raw json.RawMessage, key string, p Person) ([]byte, bool) {
	if raw == nil {
		return nil, false
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return raw, false
	}
	changed := false
	var walk func(v any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			// A recipient object: its name goes with its email.
			e, _ := x["email"].(string)
			mine := key != "" && strings.Contains(strings.ToLower(e), key)
			for k, val := range x {
				if containsFold(p.DropKeys, k) {
					switch d := val.(type) {
					case map[string]any:
						if len(d) > 0 {
							x[k], changed = map[string]any{}, true
						}
					case string:
						if d != "" {
							x[k], changed = "", true
						}
					}
					continue
				}
				x[k] = walk(val)
			}
			if mine {
				if n, ok := x["name"].(string); ok && n != p.TombName {
					x["name"], changed = p.TombName, true
				}
			}
			return x
		case []any:
			for i := range x {
				x[i] = walk(x[i])
			}
			return x
		case string:
			if key != "" && strings.Contains(strings.ToLower(x), key) {
				changed = true
				return p.TombEmail
			}
			if containsFold(p.Names, strings.Join(strings.Fields(x), " ")) {
				changed = true
				return p.TombName
			}
		}
		return v
	}
	v = walk(v)
	if !changed {
		return raw, false
	}
	b, err := json.Marshal(v)
	if err != nil {
		return raw, false
	}
	return b, true
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if x != "" && strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
