package issuance

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/mail"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/apperr"
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

func dateOnly(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func (r credRow) credential() Credential {
	c := Credential{ID: r.ID, GroupID: r.GroupID, State: State(r.State), Recipient: Recipient{Name: r.Name, Email: r.Email},
		IssuedOn: dateOnly(r.IssuedOn), EvidenceURL: r.EvidenceURL, Source: Source(r.Source), ExternalRef: r.ExternalRef.String,
		RevocationReason: r.RevocationReason, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, PublishedAt: r.PublishedAt, RevokedAt: r.RevokedAt}
	if r.ExpiresOn != nil {
		e := dateOnly(*r.ExpiresOn)
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

// prepared is a validated NewCredential ready to insert.
type prepared struct {
	name, email, key string // key: lower(email) when the group forbids duplicates
	issued           time.Time
	expires          *time.Time
	attrs            map[string]string
	evidence, ref    string
}

func (p prepared) expiresString() string {
	if p.expires == nil {
		return ""
	}
	return p.expires.Format(DateLayout)
}

// parseDate parses a YYYY-MM-DD date strictly.
func parseDate(s string) (time.Time, error) {
	return time.Parse(DateLayout, strings.TrimSpace(s))
}

// checkEmail accepts one bare address (no display name, no list).
func checkEmail(s string) (string, string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", "Recipient email is required."
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s || len(s) > 254 || !strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".") {
		return "", fmt.Sprintf("%q is not a valid email address.", s)
	}
	return s, ""
}

func checkName(s string) (string, string) {
	s = strings.Join(strings.Fields(s), " ")
	switch {
	case s == "":
		return "", "Recipient name is required."
	case len([]rune(s)) > 200:
		return "", "Recipient name must be at most 200 characters."
	}
	return s, ""
}

// deriveExpiry is the issue date plus the group's validity, if it has one.
func deriveExpiry(g Group, issued time.Time) *time.Time {
	if g.ValidityMonths == nil {
		return nil
	}
	e := issued.AddDate(0, *g.ValidityMonths, 0)
	return &e
}

// checkAttributes validates values against the group's definitions and
// returns the normalised map.
func checkAttributes(g Group, in map[string]string, bad func(field, msg string)) map[string]string {
	out := map[string]string{}
	defs := map[string]Attribute{}
	for _, a := range g.Attributes {
		defs[a.Key] = a
	}
	keys := sort.StringSlice(slicesKeys(in))
	keys.Sort()
	for _, k := range keys {
		if _, ok := defs[k]; !ok {
			bad("attributes."+k, fmt.Sprintf("Group %q has no attribute %q.", g.Name, k))
		}
	}
	for _, a := range g.Attributes {
		v := strings.TrimSpace(in[a.Key])
		f := "attributes." + a.Key
		if v == "" {
			if a.Required {
				bad(f, fmt.Sprintf("%s is required.", a.Label))
			}
			continue
		}
		switch a.Type {
		case DateAttr:
			d, err := parseDate(v)
			if err != nil {
				bad(f, fmt.Sprintf("%s must be a date like 2026-06-30, not %q.", a.Label, v))
				continue
			}
			v = d.Format(DateLayout)
		case NumberAttr:
			if _, err := strconv.ParseFloat(v, 64); err != nil || strings.ContainsAny(v, "xXpPnN_") {
				bad(f, fmt.Sprintf("%s must be a number, not %q.", a.Label, v))
				continue
			}
		default:
			if len(v) > 1000 {
				bad(f, fmt.Sprintf("%s must be at most 1000 characters.", a.Label))
				continue
			}
		}
		out[a.Key] = v
	}
	return out
}

func slicesKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range maps.Keys(m) {
		out = append(out, k)
	}
	return out
}

// prepare validates items against g without touching the database: every
// field of every item, and duplicates within the batch.
func prepare(g Group, items []NewCredential) ([]prepared, []apperr.FieldError) {
	var fe []apperr.FieldError
	out := make([]prepared, len(items))
	firstIndex := map[string]int{}
	for i, it := range items {
		bad := func(field, msg string) { fe = append(fe, apperr.FieldError{Index: i, Field: field, Message: msg}) }
		p := &out[i]
		var msg string
		if p.name, msg = checkName(it.Recipient.Name); msg != "" {
			bad("recipient.name", msg)
		}
		if p.email, msg = checkEmail(it.Recipient.Email); msg != "" {
			bad("recipient.email", msg)
		} else if !g.AllowDuplicates {
			p.key = strings.ToLower(p.email)
			if j, dup := firstIndex[p.key]; dup {
				bad("recipient.email", fmt.Sprintf("%s appears more than once (also item %d); a recipient may hold only one credential in group %q.", p.email, j+1, g.Name))
			} else {
				firstIndex[p.key] = i
			}
		}
		issuedOK := false
		if strings.TrimSpace(it.IssuedOn) == "" {
			bad("issued_on", "Issue date is required.")
		} else if d, err := parseDate(it.IssuedOn); err != nil {
			bad("issued_on", fmt.Sprintf("Issue date must be a date like 2026-06-30, not %q.", it.IssuedOn))
		} else if d.Year() < 1900 || d.After(time.Now().AddDate(1, 0, 0)) {
			bad("issued_on", fmt.Sprintf("Issue date %s is out of range.", it.IssuedOn))
		} else {
			p.issued, issuedOK = d, true
		}
		if strings.TrimSpace(it.ExpiresOn) != "" {
			if d, err := parseDate(it.ExpiresOn); err != nil {
				bad("expires_on", fmt.Sprintf("Expiry date must be a date like 2027-06-30, not %q.", it.ExpiresOn))
			} else if issuedOK && d.Before(p.issued) {
				bad("expires_on", fmt.Sprintf("Expiry date %s is before the issue date %s.", d.Format(DateLayout), p.issued.Format(DateLayout)))
			} else {
				p.expires = &d
			}
		} else if issuedOK {
			p.expires = deriveExpiry(g, p.issued)
		}
		p.attrs = checkAttributes(g, it.Attributes, bad)
		p.evidence = strings.TrimSpace(it.EvidenceURL)
		if p.evidence != "" && !isWebURL(p.evidence) {
			bad("evidence_url", "Evidence URL must be an http:// or https:// address.")
		}
		p.ref = strings.TrimSpace(it.ExternalRef)
	}
	return out, fe
}

// heldBy finds which of the prepared recipients already hold a live
// credential in group gid.
func heldBy(ctx context.Context, q sqlx.QueryerContext, gid int64, ps []prepared) (map[string]string, error) {
	var keys []string
	for _, p := range ps {
		if p.key != "" {
			keys = append(keys, p.key)
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	const sq = `SELECT recipient_key, id FROM credentials
		WHERE group_id = $1 AND recipient_key = ANY($2) AND state <> 'revoked'`
	rows, err := q.QueryxContext(ctx, sq, gid, pq.Array(keys))
	if err != nil {
		return nil, fmt.Errorf("check %d recipients in group %d: %w", len(keys), gid, err)
	}
	defer rows.Close()
	held := map[string]string{}
	for rows.Next() {
		var k, id string
		if err := rows.Scan(&k, &id); err != nil {
			return nil, fmt.Errorf("check %d recipients in group %d: %w", len(keys), gid, err)
		}
		held[k] = id
	}
	return held, rows.Err()
}

func heldErrors(g Group, ps []prepared, held map[string]string) []apperr.FieldError {
	var fe []apperr.FieldError
	for i, p := range ps {
		if id, ok := held[p.key]; ok && p.key != "" {
			fe = append(fe, apperr.FieldError{Index: i, Field: "recipient.email",
				Message: fmt.Sprintf("%s already holds credential %s in group %q.", p.email, id, g.Name)})
		}
	}
	return fe
}

func batchError(n int, fe []apperr.FieldError) error {
	items := map[int]bool{}
	for _, f := range fe {
		items[f.Index] = true
	}
	sort.SliceStable(fe, func(a, b int) bool { return fe[a].Index < fe[b].Index })
	return apperr.Fields(fmt.Sprintf("%d of %d credentials have problems; nothing was created.", len(items), n), fe)
}

// ValidateNew checks items against group g (every field, duplicates in the
// batch, recipients who already hold a live credential in g) and returns an
// apperr.Fields error with one entry per problem, naming item and field. It
// writes nothing.
func (s *Service) ValidateNew(ctx context.Context, g Group, items []NewCredential) error {
	if len(items) == 0 {
		return apperr.Errorf(apperr.Invalid, "Add at least one recipient.")
	}
	ps, fe := prepare(g, items)
	held, err := heldBy(ctx, s.DB, g.ID, ps)
	if err != nil {
		return err
	}
	if fe = append(fe, heldErrors(g, ps, held)...); len(fe) > 0 {
		return batchError(len(items), fe)
	}
	return nil
}

// maxBatch bounds one create request.
const maxBatch = 50000

// CreateCredentials creates items in group groupID as unpublished credentials,
// all or nothing: any problem (see ValidateNew) creates none and returns an
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
	ps, fe := prepare(g, items)
	if len(fe) > 0 {
		return nil, batchError(len(items), fe)
	}
	var out []Credential
	err = db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		held, err := heldBy(ctx, tx, g.ID, ps)
		if err != nil {
			return err
		}
		if fe := heldErrors(g, ps, held); len(fe) > 0 {
			return batchError(len(items), fe)
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
	const q = `WITH ins AS (
			INSERT INTO credentials (id, group_id, recipient_name, recipient_email, recipient_key, issued_on, expires_on,
				attributes, evidence_url, source, external_ref, created_at, updated_at)
			` + insertSelect + `
			RETURNING ` + credCols + `
		), aud AS (
			INSERT INTO audit_log (at, actor, action, entity_type, entity_id, after)
			SELECT $3, $13, 'create', 'credential', id, ` + credAuditSQL + ` FROM ins
		)
		SELECT ` + credCols + ` FROM ins ORDER BY seq`
	var rows []credRow
	_, arrays := insertArrays(ps)
	args := append([]any{gid, src, s.now()}, arrays...)
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

// insertSelect is the row source of a set-based credential insert: group $1,
// source $2, time $3, and the nine arrays of insertArrays as $4..$12.
const insertSelect = `SELECT u.id, $1, u.name, u.email, NULLIF(u.key, ''), u.issued::date, NULLIF(u.expires, '')::date,
				u.attrs::jsonb, u.evidence, $2, NULLIF(u.ref, ''), $3, $3
			FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[])
				WITH ORDINALITY AS u(id, name, email, key, issued, expires, attrs, evidence, ref, ord)
			ORDER BY u.ord`

// insertArrays turns ps into insertSelect's nine array parameters, with a
// fresh public id for each (returned too, in the order of ps).
func insertArrays(ps []prepared) ([]string, []any) {
	n := len(ps)
	ids, names, emails, keys, issued, expires, attrs, evidence, refs :=
		make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, p := range ps {
		ids[i] = newCredentialID()
		names[i], emails[i], keys[i] = p.name, p.email, p.key
		issued[i], expires[i] = p.issued.Format(DateLayout), p.expiresString()
		a, _ := json.Marshal(p.attrs)
		attrs[i], evidence[i], refs[i] = string(a), p.evidence, p.ref
	}
	return ids, []any{pq.Array(ids), pq.Array(names), pq.Array(emails), pq.Array(keys), pq.Array(issued), pq.Array(expires),
		pq.Array(attrs), pq.Array(evidence), pq.Array(refs)}
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
	if !validID(id) {
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

// Credentials lists a group's credentials, newest first, one page at a time
// (keyset pagination on an index, so page 1,000 costs what page 1 does).
// next is "" on the last page.
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
	var rows []credRow
	var err error
	switch opt.State {
	case "":
		const q = `SELECT ` + credCols + ` FROM credentials WHERE group_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`
		err = s.DB.SelectContext(ctx, &rows, q, groupID, after, limit+1)
	case Unpublished, Published, Revoked:
		const q = `SELECT ` + credCols + ` FROM credentials WHERE group_id = $1 AND state = $2 AND seq < $3
			ORDER BY seq DESC LIMIT $4`
		err = s.DB.SelectContext(ctx, &rows, q, groupID, opt.State, after, limit+1)
	default:
		return nil, "", apperr.Fields("Unknown state.", []apperr.FieldError{{Index: -1, Field: "state", Message: fmt.Sprintf("State %q must be unpublished, published or revoked.", opt.State)}})
	}
	if err != nil {
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
		item := NewCredential{Recipient: old.Recipient, IssuedOn: old.IssuedOn.Format(DateLayout), Attributes: old.Attributes, EvidenceURL: old.EvidenceURL}
		if old.ExpiresOn != nil {
			item.ExpiresOn = old.ExpiresOn.Format(DateLayout)
		}
		if a.Name != nil {
			item.Recipient.Name = *a.Name
		}
		if a.Email != nil {
			item.Recipient.Email = *a.Email
		}
		if a.IssuedOn != nil {
			item.IssuedOn = *a.IssuedOn
			if a.ExpiresOn == nil && g.ValidityMonths != nil {
				item.ExpiresOn = "" // re-derive from the new issue date
			}
		}
		if a.ExpiresOn != nil {
			item.ExpiresOn = *a.ExpiresOn
		}
		if a.Attributes != nil {
			item.Attributes = a.Attributes
		}
		ps, fe := prepare(g, []NewCredential{item})
		if len(fe) > 0 {
			for i := range fe {
				fe[i].Index = -1
			}
			return apperr.Fields("The credential has problems; nothing was changed.", fe)
		}
		p := ps[0]
		attrs, _ := json.Marshal(p.attrs)
		now := s.now()
		const q = `UPDATE credentials SET recipient_name = $2, recipient_email = $3, recipient_key = NULLIF($4, ''),
				issued_on = $5::date, expires_on = NULLIF($6, '')::date, attributes = $7, evidence_url = $8, updated_at = $9
			WHERE id = $1 RETURNING ` + credCols
		var r credRow
		if err := tx.GetContext(ctx, &r, q, id, p.name, p.email, p.key, p.issued.Format(DateLayout), p.expiresString(),
			string(attrs), p.evidence, now); err != nil {
			if c, ok := db.IsUniqueViolation(err); ok {
				return uniqueConflict(c, err)
			}
			return fmt.Errorf("amend credential %s: %w", id, err)
		}
		out = r.credential()
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
		now := s.now()
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
	var pending []int
	for i := range items {
		p, fe := prepare(g, items[i:i+1])
		if len(fe) > 0 {
			for k := range fe {
				fe[k].Index = i
			}
			out[i].Err = batchError(1, fe)
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
	const ins = `WITH ins AS (
			INSERT INTO credentials (id, group_id, recipient_name, recipient_email, recipient_key, issued_on, expires_on,
				attributes, evidence_url, source, external_ref, created_at, updated_at)
			` + insertSelect + `
			ON CONFLICT DO NOTHING
			RETURNING ` + credCols + `
		), aud AS (
			INSERT INTO audit_log (at, actor, action, entity_type, entity_id, after)
			SELECT $3, $13, 'create', 'credential', id, ` + credAuditSQL + ` FROM ins
		)
		SELECT ` + credCols + ` FROM ins`
	var got []credRow
	args := append([]any{e.g.ID, e.src, e.s.now()}, arrays...)
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
// emails) and refreshes them in out.
func (e *ensurer) publish(ctx context.Context) error {
	if _, err := e.s.publishTx(ctx, e.tx, e.actor, Selection{IDs: e.created}); err != nil {
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
