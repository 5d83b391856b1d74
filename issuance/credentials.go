package issuance

// This file is the credential store: rows and their columns, creating,
// reading, listing, amending and revoking. Validation is in
// credential_validation.go, the ensure engine in credential_ensure.go.

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/apperr"
	auditlog "github.com/laurel-edu/laurel/internal/audit"
	"github.com/laurel-edu/laurel/internal/db"
)

type credRow struct {
	Seq              int64          `db:"seq"`
	ID               string         `db:"id"`
	GroupID          int64          `db:"group_id"`
	State            string         `db:"state"`
	Name             string         `db:"recipient_name"`
	Email            string         `db:"recipient_email"`
	IssuedOn         time.Time      `db:"issued_on"`
	ExpiresOn        *time.Time     `db:"expires_on"`
	Attributes       []byte         `db:"attributes"`
	EvidenceURL      string         `db:"evidence_url"`
	Source           string         `db:"source"`
	ExternalRef      sql.NullString `db:"external_ref"`
	RevocationReason string         `db:"revocation_reason"`
	CreatedAt        time.Time      `db:"created_at"`
	UpdatedAt        time.Time      `db:"updated_at"`
	PublishedAt      *time.Time     `db:"published_at"`
	RevokedAt        *time.Time     `db:"revoked_at"`
}

const credCols = `seq, id, group_id, state, recipient_name, recipient_email, issued_on, expires_on, attributes,
	evidence_url, source, external_ref, revocation_reason, created_at, updated_at, published_at, revoked_at`

// credAuditSQL builds, in SQL, the same JSON as credSnapshot, for set-based
// statements that audit thousands of rows at once.
const credAuditSQL = `jsonb_build_object('state', state, 'recipient', jsonb_build_object('name', recipient_name, 'email', recipient_email),
	'issued_on', issued_on, 'expires_on', expires_on, 'attributes', attributes, 'evidence_url', evidence_url,
	'revocation_reason', revocation_reason)`

// DateOnly is t's date as UTC midnight, how credentials store dates.
func DateOnly(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func (r credRow) credential() Credential {
	c := Credential{ID: r.ID, GroupID: r.GroupID, State: State(r.State), Recipient: Recipient{Name: r.Name, Email: r.Email},
		IssuedOn: DateOnly(r.IssuedOn), EvidenceURL: r.EvidenceURL, Source: Source(r.Source), ExternalRef: r.ExternalRef.String,
		RevocationReason: r.RevocationReason, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, PublishedAt: r.PublishedAt, RevokedAt: r.RevokedAt}
	if r.ExpiresOn != nil {
		e := DateOnly(*r.ExpiresOn)
		c.ExpiresOn = &e
	}
	c.Attributes = map[string]string{}
	_ = json.Unmarshal(r.Attributes, &c.Attributes)
	return c
}

// credSnapshot is what the audit log keeps of a credential.
type credSnapshot struct {
	State            State             `json:"state"`
	Recipient        Recipient         `json:"recipient"`
	IssuedOn         string            `json:"issued_on"`
	ExpiresOn        *string           `json:"expires_on"`
	Attributes       map[string]string `json:"attributes"`
	EvidenceURL      string            `json:"evidence_url"`
	RevocationReason string            `json:"revocation_reason"`
}

func snapshot(c Credential) credSnapshot {
	s := credSnapshot{State: c.State, Recipient: c.Recipient, IssuedOn: c.IssuedOn.Format(DateLayout),
		Attributes: c.Attributes, EvidenceURL: c.EvidenceURL, RevocationReason: c.RevocationReason}
	if c.ExpiresOn != nil {
		e := c.ExpiresOn.Format(DateLayout)
		s.ExpiresOn = &e
	}
	return s
}

// maxBatch bounds one create request.
const maxBatch = 50000

// CreateCredentials creates items in group groupID as unpublished credentials,
// all or nothing: any problem (see validateNew) creates none and returns an
// apperr.Fields error. Nothing is emailed.
func (s *Service) CreateCredentials(ctx context.Context, actor string, groupID int64, src Source, items []NewCredential) ([]Credential, error) {
	if len(items) == 0 {
		return nil, apperr.Errorf(apperr.Invalid, "Add at least one recipient.")
	}
	if len(items) > maxBatch {
		return nil, apperr.Errorf(apperr.Invalid, "At most %d credentials per request (got %d).", maxBatch, len(items))
	}
	if !validSource(src) {
		return nil, fmt.Errorf("create credentials: unknown source %q", src)
	}
	g, err := s.Group(ctx, groupID)
	if err != nil {
		return nil, err
	}
	ps, fe := prepare(g, items, s.Time())
	if len(fe) > 0 {
		return nil, BatchError(len(items), fe)
	}
	var out []Credential
	err = db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		held, err := heldBy(ctx, tx, g.ID, ps)
		if err != nil {
			return err
		}
		if fe := heldErrors(g, ps, held); len(fe) > 0 {
			return BatchError(len(items), fe)
		}
		out, err = s.insert(ctx, tx, actor, g.ID, src, ps)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func validSource(s Source) bool {
	switch s {
	case FromCompletion, FromReconciliation, FromForm, FromCSV, FromAPI:
		return true
	}
	return false
}

// insert writes ps in one statement (arrays unnested server-side) together
// with one audit row each.
func (s *Service) insert(ctx context.Context, tx *sqlx.Tx, actor string, gid int64, src Source, ps []prepared) ([]Credential, error) {
	q := `WITH ins AS (
			INSERT INTO credentials (id, group_id, recipient_name, recipient_email, recipient_key, issued_on, expires_on,
				attributes, evidence_url, source, external_ref, created_at, updated_at, search_key)
			` + insertSelect + `
			RETURNING ` + credCols + `
		), aud AS (
			` + auditCreates + `
		)
		SELECT ` + credCols + ` FROM ins ORDER BY seq`
	var rows []credRow
	_, arrays := insertArrays(ps)
	args := append([]any{gid, src, s.Time()}, arrays...)
	err := tx.SelectContext(ctx, &rows, q, append(args, actor)...)
	if err != nil {
		if c, ok := db.IsUniqueViolation(err); ok {
			return nil, uniqueConflict(c, err)
		}
		return nil, fmt.Errorf("insert %d credentials in group %d: %w", len(ps), gid, err)
	}
	out := make([]Credential, len(rows))
	for i, r := range rows {
		out[i] = r.credential()
	}
	return out, nil
}

// auditCreates records each row of a statement's CTE ins as created by
// actor $14 at $3, in that statement (insertSelect's parameters end at $13).
var auditCreates = auditlog.InsertSelect(auditlog.Columns{At: "$3", Actor: "$14", Action: "'create'",
	EntityType: "'credential'", EntityID: "id", After: credAuditSQL}, "ins")

// insertSelect is the row source of a set-based credential insert: group $1,
// source $2, time $3, and the ten arrays of insertArrays as $4..$13.
const insertSelect = `SELECT u.id, $1, u.name, u.email, NULLIF(u.key, ''), u.issued::date, NULLIF(u.expires, '')::date,
				u.attrs::jsonb, u.evidence, $2, NULLIF(u.ref, ''), $3, $3, u.search
			FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[])
				WITH ORDINALITY AS u(id, name, email, key, issued, expires, attrs, evidence, ref, search, ord)
			ORDER BY u.ord`

// insertArrays turns ps into insertSelect's ten array parameters, with a
// fresh public id for each (returned too, in the order of ps).
func insertArrays(ps []prepared) ([]string, []any) {
	n := len(ps)
	ids, names, emails, keys, issued, expires, attrs, evidence, refs, search :=
		make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, p := range ps {
		ids[i] = NewCredentialID()
		names[i], emails[i], keys[i], search[i] = p.name, p.email, p.key, SearchKey(p.name, p.email)
		issued[i], expires[i] = p.issued.Format(DateLayout), p.expiresString()
		a, _ := json.Marshal(p.attrs)
		attrs[i], evidence[i], refs[i] = string(a), p.evidence, p.ref
	}
	return ids, []any{pq.Array(ids), pq.Array(names), pq.Array(emails), pq.Array(keys), pq.Array(issued), pq.Array(expires),
		pq.Array(attrs), pq.Array(evidence), pq.Array(refs), pq.Array(search)}
}

var detailRE = regexp.MustCompile(`\)=\(\d+, (.*)\) already exists`)

// dupDetail extracts the duplicated value (an email or external reference)
// from a unique violation's detail.
func dupDetail(err error) string {
	var pqe *pq.Error
	if errors.As(err, &pqe) {
		if m := detailRE.FindStringSubmatch(pqe.Detail); m != nil {
			return m[1]
		}
	}
	return "a recipient"
}

func uniqueConflict(constraint string, err error) error {
	switch constraint {
	case "credentials_one_per_recipient":
		return apperr.Errorf(apperr.Conflict, "%s already holds a credential in this group.", dupDetail(err))
	case "credentials_one_per_external_ref":
		return apperr.Errorf(apperr.Conflict, "A credential for %s already exists in this group.", dupDetail(err))
	}
	return apperr.Errorf(apperr.Conflict, "This clashes with an existing credential.")
}

// Credential returns credential id in any state, or NotFound.
func (s *Service) Credential(ctx context.Context, id string) (Credential, error) {
	return credentialTx(ctx, s.DB, id, false)
}

func credentialTx(ctx context.Context, q sqlx.QueryerContext, id string, lock bool) (Credential, error) {
	if !ValidID(id) {
		return Credential{}, apperr.Errorf(apperr.NotFound, "Credential %q does not exist.", id)
	}
	query := `SELECT ` + credCols + ` FROM credentials WHERE id = $1`
	if lock {
		query += ` FOR UPDATE`
	}
	var r credRow
	err := sqlx.GetContext(ctx, q, &r, query, id)
	if errors.Is(err, sql.ErrNoRows) {
		return Credential{}, apperr.Errorf(apperr.NotFound, "Credential %q does not exist.", id)
	}
	if err != nil {
		return Credential{}, fmt.Errorf("credential %s: %w", id, err)
	}
	return r.credential(), nil
}

func encodeCursor(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("c1:" + strconv.FormatInt(seq, 10)))
}

func decodeCursor(s string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil && strings.HasPrefix(string(b), "c1:") {
		if n, err := strconv.ParseInt(string(b[3:]), 10, 64); err == nil && n > 0 {
			return n, nil
		}
	}
	return 0, apperr.Fields("The cursor is not valid.", []apperr.FieldError{{Index: -1, Field: "cursor", Message: "Use the next_cursor of a previous page."}})
}

// maxQuery bounds a search string (in characters); searchPattern says
// whether it is long enough.
const maxQuery = 200

// likeEscaper makes a search string literal inside a LIKE pattern.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// listFilter checks opt's filters and turns them into SQL conditions on
// bound parameters numbered from next, with their arguments.
func listFilter(opt ListOptions, next int) (string, []any, error) {
	var fe []apperr.FieldError
	var cond strings.Builder
	var args []any
	add := func(sql string, arg any) {
		fmt.Fprintf(&cond, sql, next)
		args = append(args, arg)
		next++
	}
	switch opt.State {
	case "":
	case Unpublished, Published, Revoked:
		add(` AND state = $%d`, string(opt.State))
	default:
		fe = append(fe, apperr.FieldError{Index: -1, Field: "state", Message: fmt.Sprintf("State %q must be unpublished, published or revoked.", opt.State)})
	}
	if q := strings.TrimSpace(opt.Query); q != "" {
		pattern, indexed := searchPattern(q)
		switch {
		case !indexed:
			// The trigram index needs three ASCII characters; fewer would
			// read every credential.
			fe = append(fe, apperr.FieldError{Index: -1, Field: "q", Message: "Type at least 3 letters of the name or email (one Chinese, Japanese or Korean character is enough)."})
		case utf8.RuneCountInString(q) > maxQuery:
			fe = append(fe, apperr.FieldError{Index: -1, Field: "q", Message: fmt.Sprintf("Search for at most %d characters.", maxQuery)})
		case ValidID(strings.ToLower(q)):
			// A pasted credential ID finds that credential (and, like any
			// search, names or emails containing it).
			add(` AND (search_key LIKE $%d`, pattern)
			add(` OR id = $%d)`, strings.ToLower(q))
		default:
			// The column of the credentials_search_key trigram index.
			add(` AND search_key LIKE $%d`, pattern)
		}
	}
	if opt.Source != "" {
		if !validSource(opt.Source) {
			fe = append(fe, apperr.FieldError{Index: -1, Field: "source", Message: fmt.Sprintf("Source %q must be completion, reconciliation, form, csv or api.", opt.Source)})
		} else {
			add(` AND source = $%d`, string(opt.Source))
		}
	}
	var from, to time.Time
	for _, d := range []struct {
		field, val, op string
		t              *time.Time
	}{{"issued_from", opt.IssuedFrom, ">=", &from}, {"issued_to", opt.IssuedTo, "<=", &to}} {
		if d.val == "" {
			continue
		}
		t, err := time.Parse(DateLayout, d.val)
		if err != nil {
			fe = append(fe, apperr.FieldError{Index: -1, Field: d.field, Message: fmt.Sprintf("%q is not a date; use YYYY-MM-DD.", d.val)})
			continue
		}
		*d.t = t
		add(` AND issued_on `+d.op+` $%d::date`, d.val)
	}
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		fe = append(fe, apperr.FieldError{Index: -1, Field: "issued_to", Message: "The end date is before the start date."})
	}
	if len(fe) > 0 {
		return "", nil, apperr.Fields("The list filter is not valid.", fe)
	}
	rc, rargs := opt.Recipients.cond(next)
	cond.WriteString(rc)
	return cond.String(), append(args, rargs...), nil
}

// Credentials lists a group's credentials, newest first, one page at a time
// (keyset pagination on an index, so page 1,000 costs what page 1 does),
// filtered by opt. next is "" on the last page. A bad filter is an
// apperr.Fields error naming it.
func (s *Service) Credentials(ctx context.Context, groupID int64, opt ListOptions) ([]Credential, string, error) {
	limit := opt.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 500)
	after := int64(1<<63 - 1)
	if opt.Cursor != "" {
		var err error
		if after, err = decodeCursor(opt.Cursor); err != nil {
			return nil, "", err
		}
	}
	cond, args, err := listFilter(opt, 4)
	if err != nil {
		return nil, "", err
	}
	all := append([]any{groupID, after, limit + 1}, args...)
	var rows []credRow
	if strings.TrimSpace(opt.Query) == "" {
		// cond is built only from constant text; every value is a parameter.
		q := `SELECT ` + credCols + ` FROM credentials WHERE group_id = $1 AND seq < $2` + cond + ` ORDER BY seq DESC LIMIT $3`
		if err := s.DB.SelectContext(ctx, &rows, q, all...); err != nil {
			return nil, "", fmt.Errorf("credentials of group %d (%+v): %w", groupID, opt, err)
		}
	} else if rows, err = s.searchPage(ctx, groupID, cond, all); err != nil {
		return nil, "", fmt.Errorf("credentials of group %d (%+v): %w", groupID, opt, err)
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = encodeCursor(rows[limit-1].Seq)
	}
	out := make([]Credential, len(rows))
	for i, r := range rows {
		out[i] = r.credential()
	}
	return out, next, nil
}

// searchWalk is how many of the newest credentials a search reads in
// order before it asks the trigram index instead: reading them costs about
// what fetching 51·1M/searchWalk scattered matches does, which bounds the
// worst case of both at a million credentials.
const searchWalk = 20000

// searchPage runs a search's page (Credentials' parameters: group $1,
// before seq $2, limit $3, cond's from $4) in two bounded steps rather than
// trusting the planner, which cannot know whether the matches of
// "%pattern%" are many or few, nor how they are spread: first it reads the
// newest searchWalk credentials in order, which fills the page when
// matches are common; when they are rarer than a page per searchWalk, it
// fetches every match from the trigram index (an OFFSET 0 fence keeps
// the planner from walking the whole group in order for them) and sorts
// them, which is cheap because they are few.
func (s *Service) searchPage(ctx context.Context, groupID int64, cond string, args []any) ([]credRow, error) {
	// cond is built only from constant text; every value is a parameter.
	walk := `SELECT ` + credCols + ` FROM (
			SELECT ` + credCols + `, search_key FROM credentials WHERE group_id = $1 AND seq < $2
			ORDER BY seq DESC LIMIT ` + strconv.Itoa(searchWalk) + `
		) AS newest WHERE true` + cond + ` ORDER BY seq DESC LIMIT $3`
	var rows []credRow
	if err := s.DB.SelectContext(ctx, &rows, walk, args...); err != nil {
		return nil, fmt.Errorf("search the newest: %w", err)
	}
	if len(rows) == args[2].(int) {
		return rows, nil
	}
	fetch := `SELECT ` + credCols + ` FROM (
			SELECT ` + credCols + ` FROM credentials WHERE group_id = $1 AND seq < $2` + cond + ` OFFSET 0
		) AS matches ORDER BY seq DESC LIMIT $3`
	rows = rows[:0]
	if err := s.DB.SelectContext(ctx, &rows, fetch, args...); err != nil {
		return nil, fmt.Errorf("search the index: %w", err)
	}
	return rows, nil
}

// CountUnpublishedUpTo counts a group's unpublished credentials, stopping at
// limit, along the (group_id, state, seq) index.
func (s *Service) CountUnpublishedUpTo(ctx context.Context, groupID int64, limit int) (int, error) {
	const q = `SELECT count(*) FROM (
		SELECT 1 FROM credentials WHERE group_id = $1 AND state = 'unpublished' LIMIT $2) AS capped`
	var n int
	if err := s.DB.GetContext(ctx, &n, q, groupID, limit); err != nil {
		return 0, fmt.Errorf("count unpublished of group %d up to %d: %w", groupID, limit, err)
	}
	return n, nil
}

// AmendCredential changes an unpublished or published credential's recipient,
// dates or attributes (a published one's public page shows the change at
// once), audited with before and after. Revoked credentials are a Conflict.
func (s *Service) AmendCredential(ctx context.Context, actor, id string, a Amendment) (Credential, error) {
	var out Credential
	err := db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		old, err := credentialTx(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if old.State == Revoked {
			return apperr.Errorf(apperr.Conflict, "Credential %s is revoked and cannot be amended.", id)
		}
		g, err := groupTx(ctx, tx, old.GroupID, false)
		if err != nil {
			return err
		}
		p, fe := amended(g, old, a, s.Time())
		if len(fe) > 0 {
			return apperr.Fields("The credential has problems; nothing was changed.", fe)
		}
		attrs, _ := json.Marshal(p.attrs)
		now := s.Time()
		const q = `UPDATE credentials SET recipient_name = $2, recipient_email = $3, recipient_key = NULLIF($4, ''),
				issued_on = $5::date, expires_on = NULLIF($6, '')::date, attributes = $7, evidence_url = $8, updated_at = $9,
				search_key = $10
			WHERE id = $1 RETURNING ` + credCols
		var r credRow
		if err := tx.GetContext(ctx, &r, q, id, p.name, p.email, p.key, p.issued.Format(DateLayout), p.expiresString(),
			string(attrs), p.evidence, now, SearchKey(p.name, p.email)); err != nil {
			if c, ok := db.IsUniqueViolation(err); ok {
				return uniqueConflict(c, err)
			}
			return fmt.Errorf("amend credential %s: %w", id, err)
		}
		out = r.credential()
		if out.State == Published {
			// The signed credential must say what the page says: re-sign.
			if err := enqueueChanged(ctx, tx, []string{id}); err != nil {
				return err
			}
			if s.AddressChanged != nil && !strings.EqualFold(old.Recipient.Email, out.Recipient.Email) {
				if err := s.AddressChanged(ctx, tx, out, old.Recipient.Email); err != nil {
					return err
				}
			}
		}
		return audit(ctx, tx, now, actor, "amend", "credential", id, snapshot(old), snapshot(out))
	})
	return out, err
}

// Revoke revokes credential id with a reason the public page shows; its
// queued emails are cancelled. Revoking twice is a Conflict.
func (s *Service) Revoke(ctx context.Context, actor, id, reason string) (Credential, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		return Credential{}, apperr.Fields("A reason is required.", []apperr.FieldError{{Index: -1, Field: "reason", Message: "Say why the credential is revoked; the public page shows it."}})
	case len(reason) > 1000:
		return Credential{}, apperr.Fields("The reason is too long.", []apperr.FieldError{{Index: -1, Field: "reason", Message: "At most 1000 characters."}})
	}
	var out Credential
	err := db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		old, err := credentialTx(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if old.State == Revoked {
			return apperr.Errorf(apperr.Conflict, "Credential %s is already revoked.", id)
		}
		now := s.Time()
		const q = `UPDATE credentials SET state = 'revoked', revocation_reason = $2, revoked_at = $3, updated_at = $3
			WHERE id = $1 RETURNING ` + credCols
		var r credRow
		if err := tx.GetContext(ctx, &r, q, id, reason, now); err != nil {
			return fmt.Errorf("revoke credential %s: %w", id, err)
		}
		const cancel = `UPDATE credential_emails SET state = 'failed', last_error = 'credential revoked before sending'
			WHERE credential_id = $1 AND state = 'queued'`
		if _, err := tx.ExecContext(ctx, cancel, id); err != nil {
			return fmt.Errorf("revoke credential %s: cancel emails: %w", id, err)
		}
		out = r.credential()
		return audit(ctx, tx, now, actor, "revoke", "credential", id, snapshot(old), snapshot(out))
	})
	return out, err
}

// DeleteUnpublished deletes credential id, which must be unpublished (a
// published one has been emailed and may have been shared: revoke it
// instead, which is a Conflict here), audited with what was deleted.
func (s *Service) DeleteUnpublished(ctx context.Context, actor, id string) (Credential, error) {
	var out Credential
	err := db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		old, err := credentialTx(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if old.State != Unpublished {
			return apperr.Errorf(apperr.Conflict, "Credential %s is %s; only unpublished credentials can be deleted (revoke a published one).", id, old.State)
		}
		// An unpublished credential has no email unless one was queued for
		// it in a past life; none may outlive it.
		const emails = `DELETE FROM credential_emails WHERE credential_id = $1`
		if _, err := tx.ExecContext(ctx, emails, id); err != nil {
			return fmt.Errorf("delete credential %s: emails: %w", id, err)
		}
		const q = `DELETE FROM credentials WHERE id = $1 AND state = 'unpublished'`
		if _, err := tx.ExecContext(ctx, q, id); err != nil {
			return fmt.Errorf("delete credential %s: %w", id, err)
		}
		out = old
		return audit(ctx, tx, s.Time(), actor, "delete", "credential", id, snapshot(old), nil)
	})
	return out, err
}
