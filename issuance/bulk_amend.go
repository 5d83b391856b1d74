package issuance

// Amending many credentials at once (an update by spreadsheet): each
// through the rules of AmendCredential, all in one transaction of a few
// set-based statements rather than a round trip per credential.

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/apperr"
	auditlog "github.com/laurel-edu/laurel/internal/audit"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/jobs"
)

// AmendItem is one credential's amendment in AmendMany.
type AmendItem struct {
	ID        string
	Amendment Amendment
	// Notify emails the recipient again (published credentials only).
	Notify bool
}

// AmendManyResult says what AmendMany did: Amended credentials, of which
// Resigned were published (and are signed again), and Emails queued.
type AmendManyResult struct {
	Amended, Resigned, Emails int
}

// maxAmendMany bounds one AmendMany call (one transaction).
const maxAmendMany = 5000

// CredentialsByID returns the credentials with the given IDs that exist,
// by ID.
func (s *Service) CredentialsByID(ctx context.Context, ids []string) (map[string]Credential, error) {
	const q = `SELECT ` + credCols + ` FROM credentials WHERE id = ANY($1)`
	var rows []credRow
	if err := s.DB.SelectContext(ctx, &rows, q, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("credentials by id (%d ids): %w", len(ids), err)
	}
	out := make(map[string]Credential, len(rows))
	for _, r := range rows {
		out[r.ID] = r.credential()
	}
	return out, nil
}

// AmendMany amends every item as AmendCredential would (the group's rules
// for each field, revoked credentials refused, an audit entry with before
// and after, published ones signed again), all or nothing, in one
// transaction, only within groups (nil: every group). A problem with an
// item is an apperr.Fields error whose Index is the item's; a credential
// that is missing, outside groups or revoked is a Conflict naming it.
// Items with Notify that are published get their credential email again.
func (s *Service) AmendMany(ctx context.Context, actor string, groups []int64, items []AmendItem) (AmendManyResult, error) {
	if len(items) == 0 {
		return AmendManyResult{}, nil
	}
	if len(items) > maxAmendMany {
		return AmendManyResult{}, apperr.Errorf(apperr.Invalid, "At most %d credentials per batch (got %d).", maxAmendMany, len(items))
	}
	var res AmendManyResult
	err := db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		ids := make([]string, len(items))
		for i, it := range items {
			ids[i] = it.ID
		}
		// Locked in seq order, as every bulk statement takes them.
		const lock = `SELECT ` + credCols + ` FROM credentials WHERE id = ANY($1) ORDER BY seq FOR UPDATE`
		var rows []credRow
		if err := tx.SelectContext(ctx, &rows, lock, pq.Array(ids)); err != nil {
			return fmt.Errorf("amend %d credentials: lock: %w", len(items), err)
		}
		old := make(map[string]Credential, len(rows))
		for _, r := range rows {
			old[r.ID] = r.credential()
		}
		inScope := func(g int64) bool {
			if groups == nil {
				return true
			}
			for _, x := range groups {
				if x == g {
					return true
				}
			}
			return false
		}
		gs := map[int64]Group{}
		var v struct {
			id, name, email, key, issued, expires, attrs, evidence, search []string
		}
		notify := map[string]bool{}
		var fe []apperr.FieldError
		for i, it := range items {
			o, ok := old[it.ID]
			switch {
			case !ok || !inScope(o.GroupID):
				return apperr.Errorf(apperr.Conflict, "No credential %s is in your groups.", it.ID)
			case o.State == Revoked:
				return apperr.Errorf(apperr.Conflict, "Credential %s is revoked and cannot be amended.", it.ID)
			}
			g, ok := gs[o.GroupID]
			if !ok {
				var err error
				if g, err = groupTx(ctx, tx, o.GroupID, false); err != nil {
					return err
				}
				gs[o.GroupID] = g
			}
			p, perr := amended(g, o, it.Amendment, s.Time())
			for _, e := range perr {
				e.Index = i
				fe = append(fe, e)
			}
			if len(perr) > 0 {
				continue
			}
			attrs, _ := json.Marshal(p.attrs)
			v.id = append(v.id, it.ID)
			v.name = append(v.name, p.name)
			v.email = append(v.email, p.email)
			v.key = append(v.key, p.key)
			v.issued = append(v.issued, p.issued.Format(DateLayout))
			v.expires = append(v.expires, p.expiresString())
			v.attrs = append(v.attrs, string(attrs))
			v.evidence = append(v.evidence, p.evidence)
			v.search = append(v.search, SearchKey(p.name, p.email))
			if it.Notify {
				notify[it.ID] = true
			}
		}
		if len(fe) > 0 {
			return apperr.Fields("Some credentials have problems; nothing was changed.", fe)
		}
		now := s.Time()
		q := `WITH v AS (
				SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::date[], $6::text[], $7::jsonb[], $8::text[], $9::text[])
					AS v(vid, vname, vemail, vkey, vissued, vexpires, vattrs, vevidence, vsearch)
			), sel AS (
				SELECT id AS sid, ` + credAuditSQL + ` AS old_snap FROM credentials JOIN v ON v.vid = credentials.id
			), ch AS (
				UPDATE credentials SET recipient_name = vname, recipient_email = vemail, recipient_key = NULLIF(vkey, ''),
					issued_on = vissued, expires_on = NULLIF(vexpires, '')::date, attributes = vattrs, evidence_url = vevidence,
					updated_at = $10, search_key = vsearch
				FROM v, sel WHERE id = v.vid AND sel.sid = v.vid
				RETURNING id, state, recipient_email, old_snap, ` + credAuditSQL + ` AS new_snap
			), aud AS (
				` + auditlog.InsertSelect(auditlog.Columns{At: "$10", Actor: "$11", Action: "'amend'", EntityType: "'credential'",
			EntityID: "id", Before: "old_snap", After: "new_snap"}, "ch") + `
			)
			SELECT id, state, recipient_email FROM ch`
		var changed []struct {
			ID    string `db:"id"`
			State string `db:"state"`
			Email string `db:"recipient_email"`
		}
		if err := tx.SelectContext(ctx, &changed, q, pq.Array(v.id), pq.Array(v.name), pq.Array(v.email), pq.Array(v.key),
			pq.Array(v.issued), pq.Array(v.expires), pq.Array(v.attrs), pq.Array(v.evidence), pq.Array(v.search), now, actor); err != nil {
			if c, ok := db.IsUniqueViolation(err); ok {
				return uniqueConflict(c, err)
			}
			return fmt.Errorf("amend %d credentials: %w", len(items), err)
		}
		var resign, mail, to []string
		for _, c := range changed {
			if c.State != string(Published) {
				continue
			}
			resign = append(resign, c.ID)
			if notify[c.ID] {
				mail, to = append(mail, c.ID), append(to, c.Email)
			}
		}
		if len(resign) > 0 {
			if err := enqueueChanged(ctx, tx, resign); err != nil {
				return err
			}
		}
		if len(mail) > 0 {
			eq := `WITH e AS (
					INSERT INTO credential_emails (credential_id, to_address, reason, created_at)
					SELECT m.id, m.addr, 'resend', $3::timestamptz FROM unnest($1::text[], $2::text[]) AS m(id, addr)
					RETURNING id, credential_id, to_address
				), aud AS (
					` + auditlog.InsertSelect(auditlog.Columns{At: "$3", Actor: "$4", Action: "'resend'", EntityType: "'credential'",
				EntityID: "credential_id", After: "jsonb_build_object('email_id', id, 'to', to_address)"}, "e") + `
				)
				SELECT id FROM e`
			var emailIDs []int64
			if err := tx.SelectContext(ctx, &emailIDs, eq, pq.Array(mail), pq.Array(to), now, actor); err != nil {
				return fmt.Errorf("amend %d credentials: email %d: %w", len(items), len(mail), err)
			}
			kind, payloads := emailJobs(emailIDs, false)
			if _, err := jobs.EnqueueMany(ctx, tx, kind, payloads); err != nil {
				return fmt.Errorf("amend %d credentials: email %d: %w", len(items), len(mail), err)
			}
			res.Emails = len(emailIDs)
		}
		res.Amended, res.Resigned = len(changed), len(resign)
		return nil
	})
	return res, err
}

// amended is credential o of group g with amendment a applied, validated
// as AmendCredential validates it (problems with Index -1).
func amended(g Group, o Credential, a Amendment, now time.Time) (prepared, []apperr.FieldError) {
	item := NewCredential{Recipient: o.Recipient, IssuedOn: o.IssuedOn.Format(DateLayout), Attributes: o.Attributes, EvidenceURL: o.EvidenceURL}
	if o.ExpiresOn != nil {
		item.ExpiresOn = o.ExpiresOn.Format(DateLayout)
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
	ps, fe := prepare(g, []NewCredential{item}, now)
	for i := range fe {
		fe[i].Index = -1
	}
	return ps[0], fe
}
