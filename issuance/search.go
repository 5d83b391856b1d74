package issuance

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/text"
)

// This file is the credential search: the search key each credential stores
// (credentials.search_key, written by every insert and amend), the LIKE
// pattern a typed search becomes, and the background job that gives the
// credentials created before the key existed theirs.

// SearchKey is what a search of the credential lists matches: the
// recipient's name and email folded (text.Fold: case, accents and the
// compatibility forms of every script gone) and spelt in ASCII, each
// character outside ASCII as a marker (X, Y or Z) and its code point in
// four, five or six hex digits written A to P. The spelling makes the key
// independent of the database's locale, whose pg_trgm would ignore every
// non-ASCII letter under C, and gives a single Chinese character the five
// ASCII characters a trigram index needs. A spelt name is one run of
// letters, so trigrams span its characters and a surname is as selective
// in Cyrillic as in Latin. Folded text has no capitals, so a spelt
// character never matches typed ASCII (LIKE is case-sensitive; the index
// only narrows), and only markers are X, Y or Z, so a spelt search never
// matches across two characters.
func SearchKey(name, email string) string {
	return spell(text.Fold(name) + " " + text.Fold(email))
}

// spell writes folded text in ASCII (see SearchKey).
func spell(s string) string {
	var b strings.Builder
	b.Grow(len(s) * 2)
	for _, r := range s {
		if r < utf8.RuneSelf {
			b.WriteRune(r)
			continue
		}
		width := 4
		switch {
		case r <= 0xFFFF:
			b.WriteByte('X')
		case r <= 0xFFFFF:
			b.WriteByte('Y')
			width = 5
		default:
			b.WriteByte('Z')
			width = 6
		}
		for i := width - 1; i >= 0; i-- {
			b.WriteByte(byte('A' + (r>>(4*i))&0xF))
		}
	}
	return b.String()
}

// minSpelt is the shortest spelt search the trigram index can answer: a
// shorter one would read every credential. Three ASCII characters, or one
// character of any other script (spelt as five).
const minSpelt = 3

// searchPattern is the LIKE pattern (a substring anywhere) of what the user
// typed, and whether the index can answer it (see minSpelt).
func searchPattern(q string) (string, bool) {
	s := spell(text.Fold(q))
	return `%` + likeEscaper.Replace(s) + `%`, len(s) >= minSpelt
}

// SearchKeysJob fills in the search key of credentials created before it
// existed (migration 0060 enqueues it when there are any), a batch at a
// time; new and amended credentials get theirs when they are written.
const SearchKeysJob = "credential_search_keys"

// searchKeyBatch is how many credentials one statement of FillSearchKeys
// updates: small enough that a batch's locks are held for milliseconds.
const searchKeyBatch = 2000

// FillSearchKeys gives every credential without a search key its key, in
// batches, until none is left; it is the SearchKeysJob handler and may run
// again (it only touches rows still without a key). It returns how many it
// filled.
func (s *Service) FillSearchKeys(ctx context.Context) (int, error) {
	total := 0
	for {
		const sel = `SELECT id, recipient_name, recipient_email FROM credentials
			WHERE search_key IS NULL LIMIT $1 FOR UPDATE SKIP LOCKED`
		var rows []struct {
			ID    string `db:"id"`
			Name  string `db:"recipient_name"`
			Email string `db:"recipient_email"`
		}
		tx, err := s.DB.BeginTxx(ctx, nil)
		if err != nil {
			return total, fmt.Errorf("fill search keys: %w", err)
		}
		if err := tx.SelectContext(ctx, &rows, sel, searchKeyBatch); err != nil {
			_ = tx.Rollback()
			return total, fmt.Errorf("fill search keys: select: %w", err)
		}
		if len(rows) == 0 {
			return total, tx.Rollback()
		}
		ids, keys := make([]string, len(rows)), make([]string, len(rows))
		for i, r := range rows {
			ids[i], keys[i] = r.ID, SearchKey(r.Name, r.Email)
		}
		const upd = `UPDATE credentials c SET search_key = u.key
			FROM unnest($1::text[], $2::text[]) AS u (id, key) WHERE c.id = u.id`
		if _, err := tx.ExecContext(ctx, upd, pq.Array(ids), pq.Array(keys)); err != nil {
			_ = tx.Rollback()
			return total, fmt.Errorf("fill search keys of %d credentials: %w", len(rows), err)
		}
		if err := tx.Commit(); err != nil {
			return total, fmt.Errorf("fill search keys of %d credentials: commit: %w", len(rows), err)
		}
		total += len(rows)
	}
}
