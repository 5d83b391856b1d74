package issuance

// This file validates new credentials: each field, duplicates within a
// batch, and recipients who already hold one in the group.

import (
	"context"
	"fmt"
	"maps"
	"net/mail"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/text"
)

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

// CheckName is the rule every recipient name follows (spaces collapsed;
// 1 to 200 characters; no control characters): the name as stored, or an
// Invalid error whose message says what is wrong.
func CheckName(s string) (string, error) {
	n, msg := checkName(s)
	if msg != "" {
		return "", apperr.Errorf(apperr.Invalid, "%s", msg)
	}
	return n, nil
}

func checkName(s string) (string, string) {
	s = strings.Join(strings.Fields(s), " ")
	switch {
	case s == "":
		return "", "Recipient name is required."
	case len([]rune(s)) > 200:
		return "", "Recipient name must be at most 200 characters."
	case text.Check(s) != nil:
		// The signed Open Badges credential carries the name.
		return "", "Recipient name must not contain control characters."
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
		if a, ok := defs[k]; !ok {
			bad("attributes."+k, fmt.Sprintf("Group %q has no attribute %q.", g.Name, k))
		} else if !a.Type.PerCredential() && strings.TrimSpace(in[k]) != "" {
			bad("attributes."+k, fmt.Sprintf("%s is an image the group holds once for every credential; upload it on the group, not per credential.", a.Label))
		}
	}
	for _, a := range g.CredentialAttributes() {
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
		case URLAttr:
			if len(v) > 2000 || !isWebURL(v) {
				bad(f, fmt.Sprintf("%s must be a web address starting with http:// or https://, not %q.", a.Label, v))
				continue
			}
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
// field of every item, and duplicates within the batch. now is the service's
// clock (Service.now): an issue date may be at most a year after it.
func prepare(g Group, items []NewCredential, now time.Time) ([]prepared, []apperr.FieldError) {
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
		} else if d.Year() < 1900 || d.After(now.AddDate(1, 0, 0)) {
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

// BatchError is the Invalid error of a batch of n new credentials with
// per-item problems fe: nothing was created.
func BatchError(n int, fe []apperr.FieldError) error {
	items := map[int]bool{}
	for _, f := range fe {
		items[f.Index] = true
	}
	sort.SliceStable(fe, func(a, b int) bool { return fe[a].Index < fe[b].Index })
	return apperr.Fields(fmt.Sprintf("%d of %d credentials have problems; nothing was created.", len(items), n), fe)
}

// validateNew checks items against group g (every field, duplicates in the
// batch, recipients who already hold a live credential in g) and returns an
// apperr.Fields error with one entry per problem, naming item and field. It
// writes nothing. Only the tests call it (to prove CreateCredentials' checks
// need no write); they reach it through export_test.go.
func (s *Service) validateNew(ctx context.Context, g Group, items []NewCredential) error {
	if len(items) == 0 {
		return apperr.Errorf(apperr.Invalid, "Add at least one recipient.")
	}
	ps, fe := prepare(g, items, s.Time())
	held, err := heldBy(ctx, s.DB, g.ID, ps)
	if err != nil {
		return err
	}
	if fe = append(fe, heldErrors(g, ps, held)...); len(fe) > 0 {
		return BatchError(len(items), fe)
	}
	return nil
}

// Checked is one new credential as CheckNew leaves it: trimmed and
// normalised, dates as YYYY-MM-DD ("" when missing or invalid).
type Checked struct {
	Name, Email string
	// Key is lower(Email) when the group forbids duplicates, else "".
	Key                 string
	IssuedOn, ExpiresOn string
	Attributes          map[string]string
}

// CheckNew checks item for group g as CreateCredentials does, without the
// checks that need the database (a recipient already holding one), and
// returns it normalised with its per-field problems (Index 0).
func CheckNew(g Group, item NewCredential, now time.Time) (Checked, []apperr.FieldError) {
	ps, fe := prepare(g, []NewCredential{item}, now)
	p := ps[0]
	out := Checked{Name: p.name, Email: p.email, Key: p.key, ExpiresOn: p.expiresString(), Attributes: p.attrs}
	if !p.issued.IsZero() {
		out.IssuedOn = p.issued.Format(DateLayout)
	}
	return out, fe
}

// ExpiryFor is the expiry a credential of group g issued on issued gets
// when none is given: the issue date plus the group's validity, if any.
func ExpiryFor(g Group, issued time.Time) *time.Time { return deriveExpiry(g, issued) }
