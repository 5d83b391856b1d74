package recipient

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/audit"
	"github.com/laurel-edu/laurel/internal/db"
)

// Hidden reports whether credential id's recipient hid it from the public.
func (s *Service) Hidden(ctx context.Context, id string) (bool, error) {
	const q = `SELECT EXISTS (SELECT 1 FROM recipient_hidden WHERE credential_id = $1)`
	var h bool
	if err := s.DB.GetContext(ctx, &h, q, strings.ToLower(id)); err != nil {
		return false, fmt.Errorf("hidden credential %s: %w", id, err)
	}
	return h, nil
}

// HiddenAmong returns which of ids are hidden, for a list.
func (s *Service) HiddenAmong(ctx context.Context, ids []string) (map[string]bool, error) {
	const q = `SELECT credential_id FROM recipient_hidden WHERE credential_id = ANY($1)`
	var hidden []string
	if err := s.DB.SelectContext(ctx, &hidden, q, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("hidden among %d credentials: %w", len(ids), err)
	}
	out := make(map[string]bool, len(hidden))
	for _, id := range hidden {
		out[id] = true
	}
	return out, nil
}

// SetHidden hides credential id from the public (hide) or shows it again,
// as its recipient asked; the change is audited on the credential ("hide",
// "unhide") by the recipient. Asking for the state it is in changes nothing.
func (s *Service) SetHidden(ctx context.Context, id string, hide bool) error {
	cr, err := s.manageable(ctx, id)
	if err != nil {
		return err
	}
	return db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		q, action := `DELETE FROM recipient_hidden WHERE credential_id = $1`, "unhide"
		args := []any{cr.ID}
		if hide {
			q, action = `INSERT INTO recipient_hidden (credential_id, hidden_at) VALUES ($1, $2) ON CONFLICT DO NOTHING`, "hide"
			args = append(args, s.now())
		}
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("%s credential %s: %w", action, cr.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		return audit.Record(ctx, tx, s.now(), actor(cr.ID), action, "credential", cr.ID, nil, nil)
	})
}

// ErasePerson deletes what self-service keeps of a person being erased
// (internal/people): the name corrections and emails of their credentials
// (credentialIDs), and every email sent to email (an address staff changed
// away from included). It returns how many rows it deleted; running it again
// deletes nothing more.
func (s *Service) ErasePerson(ctx context.Context, email string, credentialIDs []string) (int, error) {
	var n int64
	err := db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		ids := pq.Array(credentialIDs)
		for _, st := range []struct {
			q    string
			args []any
		}{
			{`DELETE FROM recipient_mails WHERE credential_id = ANY($1) OR lower(to_address) = lower($2)`, []any{ids, strings.TrimSpace(email)}},
			{`DELETE FROM name_corrections WHERE credential_id = ANY($1)`, []any{ids}},
			{`DELETE FROM recipient_links WHERE credential_id = ANY($1)`, []any{ids}},
		} {
			res, err := tx.ExecContext(ctx, st.q, st.args...)
			if err != nil {
				return fmt.Errorf("erase a person: self-service records: %w", err)
			}
			k, _ := res.RowsAffected()
			n += k
		}
		return nil
	})
	return int(n), err
}

// PersonRecords is what self-service keeps about one person, for their
// export (internal/people): what ErasePerson deletes, and whether their
// credentials are hidden from the public.
type PersonRecords struct {
	NameCorrections []PersonCorrection `json:"name_corrections"`
	Hidden          []PersonHidden     `json:"hidden_credentials"`
	Emails          []PersonMail       `json:"emails"`
	// Links are the one-time links emailed to the person: when, not what
	// (the token is a key; only its hash is kept, and never exported).
	Links []PersonLink `json:"links"`
}

// PersonCorrection is a name correction the person asked for.
type PersonCorrection struct {
	ID            int64      `json:"id"`
	CredentialID  string     `json:"credential_id"`
	CurrentName   string     `json:"current_name"`
	RequestedName string     `json:"requested_name"`
	Note          string     `json:"note"`
	State         string     `json:"state"`
	Reason        string     `json:"reason,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	DecidedAt     *time.Time `json:"decided_at,omitempty"`
}

// PersonHidden is a credential the person hid from the public.
type PersonHidden struct {
	CredentialID string    `json:"credential_id"`
	HiddenAt     time.Time `json:"hidden_at"`
}

// PersonMail is a self-service email to the person: a link, a decision on
// a name correction, or a notice that staff changed the address.
type PersonMail struct {
	ID           int64      `json:"id"`
	CredentialID string     `json:"credential_id"`
	Kind         string     `json:"kind"`
	To           string     `json:"to"`
	State        string     `json:"state"`
	LastError    string     `json:"last_error,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	SentAt       *time.Time `json:"sent_at,omitempty"`
}

// PersonLink is a one-time link emailed for one of the person's
// credentials.
type PersonLink struct {
	CredentialID string     `json:"credential_id"`
	CreatedAt    time.Time  `json:"created_at"`
	ExpiresAt    time.Time  `json:"expires_at"`
	UsedAt       *time.Time `json:"used_at,omitempty"`
}

// PersonRecords returns what self-service keeps about the person with
// email whose credentials are credentialIDs: the same rows ErasePerson
// deletes (every email sent to email included), and the credentials they
// hid. Every list is empty, not nil, when there is nothing.
func (s *Service) PersonRecords(ctx context.Context, email string, credentialIDs []string) (PersonRecords, error) {
	out := PersonRecords{NameCorrections: []PersonCorrection{}, Hidden: []PersonHidden{}, Emails: []PersonMail{}, Links: []PersonLink{}}
	ids := pq.Array(credentialIDs)
	const qc = `SELECT id, credential_id, current_name, requested_name, note, state, reason, created_at, decided_at
		FROM name_corrections WHERE credential_id = ANY($1) ORDER BY id`
	var cs []struct {
		ID            int64      `db:"id"`
		CredentialID  string     `db:"credential_id"`
		CurrentName   string     `db:"current_name"`
		RequestedName string     `db:"requested_name"`
		Note          string     `db:"note"`
		State         string     `db:"state"`
		Reason        string     `db:"reason"`
		CreatedAt     time.Time  `db:"created_at"`
		DecidedAt     *time.Time `db:"decided_at"`
	}
	if err := s.DB.SelectContext(ctx, &cs, qc, ids); err != nil {
		return out, fmt.Errorf("name corrections of a person: %w", err)
	}
	for _, c := range cs {
		out.NameCorrections = append(out.NameCorrections, PersonCorrection(c))
	}
	const qh = `SELECT credential_id, hidden_at FROM recipient_hidden WHERE credential_id = ANY($1) ORDER BY hidden_at, credential_id`
	var hs []struct {
		CredentialID string    `db:"credential_id"`
		HiddenAt     time.Time `db:"hidden_at"`
	}
	if err := s.DB.SelectContext(ctx, &hs, qh, ids); err != nil {
		return out, fmt.Errorf("hidden credentials of a person: %w", err)
	}
	for _, h := range hs {
		out.Hidden = append(out.Hidden, PersonHidden(h))
	}
	const qm = `SELECT id, credential_id, kind, to_address, state, last_error, created_at, sent_at
		FROM recipient_mails WHERE credential_id = ANY($1) OR lower(to_address) = lower($2) ORDER BY id`
	var ms []struct {
		ID           int64      `db:"id"`
		CredentialID string     `db:"credential_id"`
		Kind         string     `db:"kind"`
		To           string     `db:"to_address"`
		State        string     `db:"state"`
		LastError    string     `db:"last_error"`
		CreatedAt    time.Time  `db:"created_at"`
		SentAt       *time.Time `db:"sent_at"`
	}
	if err := s.DB.SelectContext(ctx, &ms, qm, ids, strings.TrimSpace(email)); err != nil {
		return out, fmt.Errorf("self-service emails of a person: %w", err)
	}
	for _, m := range ms {
		out.Emails = append(out.Emails, PersonMail(m))
	}
	// Never token_hash nor mail_token: a link's token is a key.
	const ql = `SELECT credential_id, created_at, expires_at, used_at FROM recipient_links WHERE credential_id = ANY($1) ORDER BY id`
	var ls []struct {
		CredentialID string     `db:"credential_id"`
		CreatedAt    time.Time  `db:"created_at"`
		ExpiresAt    time.Time  `db:"expires_at"`
		UsedAt       *time.Time `db:"used_at"`
	}
	if err := s.DB.SelectContext(ctx, &ls, ql, ids); err != nil {
		return out, fmt.Errorf("self-service links of a person: %w", err)
	}
	for _, l := range ls {
		out.Links = append(out.Links, PersonLink(l))
	}
	return out, nil
}
