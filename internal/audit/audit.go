// Package audit writes and reads the audit log: who changed what, with the
// state before and after. Every feature records its changes here, in the
// transaction that makes them, so the log never disagrees with the data.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// Entry is one change in the audit log.
type Entry struct {
	ID            int64
	At            time.Time
	Actor, Action string
	Before, After json.RawMessage
	// Who is the actor as people read it: the staff member's or launching
	// person's name as it is now, the API token's name, or what an
	// automatic actor does (see who).
	Who string
}

// Record adds one entry through ext, which must be the transaction making
// the change. before and after are marshalled to JSON (nil stays NULL); they
// must never hold a password or a token.
func Record(ctx context.Context, ext sqlx.ExecerContext, at time.Time, actor, action, entityType, entityID string, before, after any) error {
	var b, a []byte
	var err error
	if before != nil {
		if b, err = json.Marshal(before); err != nil {
			return fmt.Errorf("audit %s %s %s: %w", action, entityType, entityID, err)
		}
	}
	if after != nil {
		if a, err = json.Marshal(after); err != nil {
			return fmt.Errorf("audit %s %s %s: %w", action, entityType, entityID, err)
		}
	}
	const q = `INSERT INTO audit_log (at, actor, action, entity_type, entity_id, before, after)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`
	if _, err := ext.ExecContext(ctx, q, at, actor, action, entityType, entityID, nullJSON(b), nullJSON(a)); err != nil {
		return fmt.Errorf("audit %s %s %s: %w", action, entityType, entityID, err)
	}
	return nil
}

// Columns are SQL expressions, one per column of an entry, for a
// set-based statement that audits many rows at once (see InsertSelect). An
// empty Before or After stays NULL.
type Columns struct {
	At, Actor, Action, EntityType, EntityID, Before, After string
}

// InsertSelect returns an INSERT that adds one entry per row of from (a
// table or a CTE name) with the values of c, evaluated over from's rows. The
// owner of the change puts it in a CTE of the statement that makes the
// change, so that a bulk change and its entries take one round trip and
// cannot disagree, without naming the audit log's table or columns itself.
func InsertSelect(c Columns, from string) string {
	orNull := func(e string) string {
		if e == "" {
			return "NULL"
		}
		return e
	}
	return `INSERT INTO audit_log (at, actor, action, entity_type, entity_id, before, after)
			SELECT ` + c.At + `, ` + c.Actor + `, ` + c.Action + `, ` + c.EntityType + `, ` + c.EntityID + `, ` +
		orNull(c.Before) + `, ` + orNull(c.After) + ` FROM ` + from
}

func nullJSON(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

// Namer tells what actors are called now. The package owning each kind of
// actor implements it (accounts: "user" and "token"; lti: "lti"), so the
// log names people without reading their tables.
type Namer interface {
	// ActorNames returns the current name of each actor in actors that it
	// knows, keyed by the actor string; others (another kind, a removed
	// account) are left out.
	ActorNames(ctx context.Context, actors []string) (map[string]string, error)
}

// Namers asks each of its namers in turn.
type Namers []Namer

// ActorNames merges the answers of every namer.
func (ns Namers) ActorNames(ctx context.Context, actors []string) (map[string]string, error) {
	out := map[string]string{}
	for _, n := range ns {
		m, err := n.ActorNames(ctx, actors)
		if err != nil {
			return nil, err
		}
		for k, v := range m {
			out[k] = v
		}
	}
	return out, nil
}

// ParseActor splits an actor string, "<kind>:<num>:<rest>" as in
// "user:<id>:<email>", "token:<id>:<name>" or "lti:<platform>:<sub>" (the
// sub may hold colons). num is 0 when the second part is not a number.
func ParseActor(actor string) (kind string, num int64, rest string) {
	kind, after, _ := strings.Cut(actor, ":")
	part, rest, _ := strings.Cut(after, ":")
	if len(part) > 0 && len(part) <= 18 && strings.Trim(part, "0123456789") == "" {
		num, _ = strconv.ParseInt(part, 10, 64)
	}
	return kind, num, rest
}

// History returns the entries of one entity, oldest first, each with Who
// named by names (nil: no names, so staff show by email).
func History(ctx context.Context, q sqlx.QueryerContext, names Namer, entityType, entityID string) ([]Entry, error) {
	const sq = `SELECT id, at, actor, action, before, after FROM audit_log
		WHERE entity_type = $1 AND entity_id = $2 ORDER BY id`
	rows, err := q.QueryxContext(ctx, sq, entityType, entityID)
	if err != nil {
		return nil, fmt.Errorf("history of %s %s: %w", entityType, entityID, err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		var b, a []byte
		if err := rows.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &b, &a); err != nil {
			return nil, fmt.Errorf("history of %s %s: %w", entityType, entityID, err)
		}
		if b != nil {
			e.Before = json.RawMessage(b)
		}
		if a != nil {
			e.After = json.RawMessage(a)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("history of %s %s: %w", entityType, entityID, err)
	}
	// Names as they are now: a renamed person shows their new name.
	var current map[string]string
	if names != nil && len(out) > 0 {
		actors := make([]string, 0, len(out))
		for _, e := range out {
			actors = append(actors, e.Actor)
		}
		if current, err = names.ActorNames(ctx, actors); err != nil {
			return nil, fmt.Errorf("history of %s %s: actor names: %w", entityType, entityID, err)
		}
	}
	for i := range out {
		out[i].Who = who(out[i].Actor, current[out[i].Actor])
	}
	return out, nil
}

// who describes actor for people, given the name its account has now (""
// when none was found): a staff member by name (their email when the
// account is gone or unnamed), an API token by its name, a person who
// launched from an LMS by name, and Laurel's automatic actors by what they do.
func who(actor, name string) string {
	kind, rest, _ := strings.Cut(actor, ":")
	_, detail, _ := strings.Cut(rest, ":")
	switch kind {
	case "user":
		if name != "" {
			return name
		}
		if detail != "" {
			return detail
		}
		return "A removed staff account"
	case "token":
		if name == "" {
			name = detail
		}
		return "API token “" + name + "”"
	case "lti":
		if name != "" {
			return name + " (from the LMS)"
		}
		return "An LMS user"
	case "recipient":
		// The credential's recipient: from their wallet (detail is the
		// holder's DID), or proven by a link to its email.
		if strings.HasPrefix(detail, "did:") {
			return "the recipient, from their wallet"
		}
		return "the recipient"
	}
	switch actor {
	case "canvas:live-events":
		return "Canvas course completion"
	case "canvas:reconciliation":
		return "Canvas completion check"
	case "system", "":
		return "Laurel (automatic)"
	}
	return actor
}
