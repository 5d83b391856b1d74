package issuance

// This file is the ensure engine: create-or-find credentials for automatic
// sources (completion events, reconciliation), exactly once per recipient.

import (
	"context"
	"fmt"
	"sort"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/apperr"
)

// EnsureCredential creates item in group groupID unless the group already has
// it — same ExternalRef, or (when the group forbids duplicates) a live
// credential for the same email — in which case it returns that one with
// created=false. It runs in the caller's transaction tx and is safe under
// concurrent calls: the unique indexes decide, not a prior check. publish
// publishes a newly created credential and queues its email. An invalid item
// is an apperr.Fields error. It is EnsureCredentials with one item.
func (s *Service) EnsureCredential(ctx context.Context, tx *sqlx.Tx, actor string, groupID int64, src Source, item NewCredential, publish bool) (Credential, bool, error) {
	out, err := s.EnsureCredentials(ctx, tx, actor, groupID, src, []NewCredential{item}, publish)
	if err != nil {
		return Credential{}, false, err
	}
	if out[0].Err != nil {
		return Credential{}, false, out[0].Err
	}
	return out[0].Credential, out[0].Created, nil
}

// Ensured is the outcome of one item of EnsureCredentials.
type Ensured struct {
	// Credential is the credential created for the item, or the one the
	// group already had for it; zero when Err is set.
	Credential Credential
	// Created tells whether this call created Credential.
	Created bool
	// Err is why the item has no credential: an apperr.Fields error (code
	// invalid) naming the item (Index) and its fields, or an internal error
	// when conflicting rows kept changing under concurrent writers. The other
	// items are not affected.
	Err error
}

// ensureRounds bounds how often an item is retried whose conflicting row
// vanished (revoked by a concurrent transaction) before it could be read.
const ensureRounds = 3

// EnsureCredentials is EnsureCredential for many items at once, with the same
// result as calling it for each item in order, in a number of statements that
// does not grow with len(items): out has one Ensured per item, in order. An
// invalid item gets its error in Ensured.Err and is skipped; the others are
// created or found. A later item that repeats an earlier one (same
// ExternalRef, or same email when the group forbids duplicates) gets the
// earlier one's credential with Created=false. It runs in tx and is safe
// under concurrent calls (INSERT ... ON CONFLICT DO NOTHING on the unique
// indexes, then the existing rows are read back). publish publishes the
// created credentials and queues their emails in the same transaction.
//
// err is returned only when the call as a whole failed (unknown source,
// group not found, too many items, a database error); tx should then be
// rolled back (or rolled back to a savepoint taken before the call).
func (s *Service) EnsureCredentials(ctx context.Context, tx *sqlx.Tx, actor string, groupID int64, src Source, items []NewCredential, publish bool) (out []Ensured, err error) {
	if !validSource(src) {
		return nil, fmt.Errorf("ensure credentials: unknown source %q", src)
	}
	if len(items) > maxBatch {
		return nil, apperr.Errorf(apperr.Invalid, "At most %d credentials per request (got %d).", maxBatch, len(items))
	}
	out = make([]Ensured, len(items))
	if len(items) == 0 {
		return out, nil
	}
	g, err := groupTx(ctx, tx, groupID, false)
	if err != nil {
		return nil, err
	}
	// Validate each item alone: duplicates inside the batch are not errors
	// here (they resolve to the same credential) and one bad item must not
	// poison the others.
	ps := make([]prepared, len(items))
	now := s.Time()
	var pending []int
	for i := range items {
		p, fe := prepare(g, items[i:i+1], now)
		if len(fe) > 0 {
			for k := range fe {
				fe[k].Index = i
			}
			out[i].Err = BatchError(1, fe)
			continue
		}
		ps[i] = p[0]
		pending = append(pending, i)
	}
	e := &ensurer{s: s, tx: tx, actor: actor, g: g, src: src, ps: ps, out: out,
		byRef: map[string]Credential{}, byKey: map[string]Credential{}, vanished: map[int]int{}}
	for len(pending) > 0 {
		if pending, err = e.round(ctx, pending); err != nil {
			return nil, err
		}
	}
	if publish && len(e.created) > 0 {
		if err := e.publish(ctx); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ensurer is the state of one EnsureCredentials call.
type ensurer struct {
	s     *Service
	tx    *sqlx.Tx
	actor string
	g     Group
	src   Source
	ps    []prepared
	out   []Ensured
	// byRef and byKey hold the credentials this call has resolved so far by
	// external ref and by recipient key (live ones only), so a repeat later
	// in the batch costs no statement.
	byRef, byKey map[string]Credential
	created      []string
	vanished     map[int]int // item → rounds its conflicting row was gone
}

// resolved records credential c (whose recipient_key is key) as item i's.
func (e *ensurer) resolved(i int, c Credential, key string, created bool) {
	e.out[i] = Ensured{Credential: c, Created: created}
	if c.ExternalRef != "" {
		e.byRef[c.ExternalRef] = c
	}
	if key != "" && c.State != Revoked {
		e.byKey[key] = c
	}
	if created {
		e.created = append(e.created, c.ID)
	}
}

// known answers item i from the credentials resolved so far when that is
// what EnsureCredential would find: the same external ref, or (for an item
// without one) the same recipient key. An item with a new ref but a known
// key is left to the database, which prefers a row with its ref.
func (e *ensurer) known(i int) (Credential, bool) {
	p := e.ps[i]
	if p.ref != "" {
		c, ok := e.byRef[p.ref]
		return c, ok
	}
	if p.key != "" {
		c, ok := e.byKey[p.key]
		return c, ok
	}
	return Credential{}, false
}

// round settles the pending items it can and returns those left for the
// next round: items that clash (same ref or key) with an earlier pending item
// wait for it, so each INSERT holds no two rows that conflict with each other,
// and the outcome is that of processing the items in order.
func (e *ensurer) round(ctx context.Context, pending []int) ([]int, error) {
	var leaders, next []int
	blockedRef, blockedKey := map[string]bool{}, map[string]bool{}
	for _, i := range pending {
		if c, ok := e.known(i); ok {
			e.out[i] = Ensured{Credential: c}
			continue
		}
		p := e.ps[i]
		if (p.ref != "" && blockedRef[p.ref]) || (p.key != "" && blockedKey[p.key]) {
			next = append(next, i)
		} else {
			leaders = append(leaders, i)
		}
		if p.ref != "" {
			blockedRef[p.ref] = true
		}
		if p.key != "" {
			blockedKey[p.key] = true
		}
	}
	if len(leaders) == 0 {
		return next, nil
	}
	// Insert in a canonical order so concurrent callers with overlapping
	// items take the index locks in the same order (no deadlock).
	sort.Slice(leaders, func(a, b int) bool {
		pa, pb := e.ps[leaders[a]], e.ps[leaders[b]]
		if pa.ref != pb.ref {
			return pa.ref < pb.ref
		}
		return pa.key < pb.key
	})
	rows := make([]prepared, len(leaders))
	for k, i := range leaders {
		rows[k] = e.ps[i]
	}
	ids, arrays := insertArrays(rows)
	ins := `WITH ins AS (
			INSERT INTO credentials (id, group_id, recipient_name, recipient_email, recipient_key, issued_on, expires_on,
				attributes, evidence_url, source, external_ref, created_at, updated_at, search_key)
			` + insertSelect + `
			ON CONFLICT DO NOTHING
			RETURNING ` + credCols + `
		), aud AS (
			` + auditCreates + `
		)
		SELECT ` + credCols + ` FROM ins`
	var got []credRow
	args := append([]any{e.g.ID, e.src, e.s.Time()}, arrays...)
	if err := e.tx.SelectContext(ctx, &got, ins, append(args, e.actor)...); err != nil {
		return nil, fmt.Errorf("ensure %d credentials in group %d: insert: %w", len(leaders), e.g.ID, err)
	}
	byID := make(map[string]credRow, len(got))
	for _, r := range got {
		byID[r.ID] = r
	}
	var clashed []int
	for k, i := range leaders {
		if r, ok := byID[ids[k]]; ok {
			e.resolved(i, r.credential(), e.ps[i].key, true)
		} else {
			clashed = append(clashed, i)
		}
	}
	if len(clashed) > 0 {
		again, err := e.findExisting(ctx, clashed)
		if err != nil {
			return nil, err
		}
		next = append(next, again...)
		sort.Ints(next)
	}
	return next, nil
}

// findExisting reads, in one statement, the rows the clashed items
// conflicted with (a concurrent insert waited for has committed by now, so
// this statement's snapshot sees it) and returns the items whose row
// vanished meanwhile (revoked), to be tried again.
func (e *ensurer) findExisting(ctx context.Context, clashed []int) ([]int, error) {
	refs, keys := make([]string, len(clashed)), make([]string, len(clashed))
	for k, i := range clashed {
		refs[k], keys[k] = e.ps[i].ref, e.ps[i].key
	}
	const q = `SELECT u.ord, coalesce(recipient_key, '') AS rkey, ` + credCols + `
		FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS u(ref, key, ord)
		CROSS JOIN LATERAL (
			SELECT ` + credCols + `, recipient_key FROM credentials
			WHERE group_id = $1 AND ((external_ref = u.ref AND u.ref <> '')
				OR (recipient_key = u.key AND u.key <> '' AND state <> 'revoked'))
			ORDER BY (external_ref = u.ref) DESC NULLS LAST, seq LIMIT 1) c`
	var found []struct {
		Ord  int    `db:"ord"`
		RKey string `db:"rkey"`
		credRow
	}
	if err := e.tx.SelectContext(ctx, &found, q, e.g.ID, pq.Array(refs), pq.Array(keys)); err != nil {
		return nil, fmt.Errorf("ensure %d credentials in group %d: find existing: %w", len(clashed), e.g.ID, err)
	}
	seen := make([]bool, len(clashed))
	for _, f := range found {
		seen[f.Ord-1] = true
		e.resolved(clashed[f.Ord-1], f.credential(), f.RKey, false)
	}
	var again []int
	for k, i := range clashed {
		if seen[k] {
			continue
		}
		if e.vanished[i]++; e.vanished[i] >= ensureRounds {
			e.out[i].Err = fmt.Errorf("ensure credential in group %d for %s: conflicting rows keep changing", e.g.ID, e.ps[i].email)
			continue
		}
		again = append(again, i)
	}
	return again, nil
}

// publish publishes the credentials this call created (queuing their
// emails) and refreshes them in out. Before the organisation is named they
// stay unpublished, for staff to publish once it is: a completion is never
// lost for want of a name.
func (e *ensurer) publish(ctx context.Context) error {
	if _, err := e.s.publishTx(ctx, e.tx, e.actor, Selection{IDs: e.created}); apperr.Reason(err) == ReasonOrganisationNotSet {
		e.s.Logger().Warn("auto-publish skipped: the organisation is not set up yet; the credentials stay unpublished",
			"group_id", e.g.ID, "credentials", len(e.created), "setup", OrganisationSetupURL)
		return nil
	} else if err != nil {
		return err
	}
	const q = `SELECT ` + credCols + ` FROM credentials WHERE id = ANY($1)`
	var rows []credRow
	if err := e.tx.SelectContext(ctx, &rows, q, pq.Array(e.created)); err != nil {
		return fmt.Errorf("ensure credentials: reread %d published: %w", len(e.created), err)
	}
	fresh := make(map[string]Credential, len(rows))
	for _, r := range rows {
		fresh[r.ID] = r.credential()
	}
	for i := range e.out {
		if c, ok := fresh[e.out[i].Credential.ID]; ok && e.out[i].Err == nil {
			e.out[i].Credential = c
		}
	}
	return nil
}
