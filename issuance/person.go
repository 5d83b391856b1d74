package issuance

// One person's credentials and credential emails, for a request to see or
// erase everything Laurel holds about them (GDPR articles 15 and 17,
// FERPA): the core's part of what internal/people orchestrates.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/db"
)

// ErasedReason is the revocation reason of a published credential whose
// recipient asked to be erased; its public page shows it.
const ErasedReason = "erased at the recipient's request"

// Tombstone is what replaces an erased person's name and email. Its email
// is in the reserved top-level domain "invalid" (RFC 2606) without a dot
// after the @, which the credential form refuses, so no live credential can
// carry one and mail to it is never deliverable.
type Tombstone struct{ Name, Email string }

// IsTombstoneEmail reports whether email is an erased person's placeholder.
func IsTombstoneEmail(email string) bool {
	return strings.HasSuffix(strings.ToLower(email), "@invalid")
}

// Erased reports whether c's recipient was erased: the public page then
// shows only that it was revoked.
func (c Credential) Erased() bool { return IsTombstoneEmail(c.Recipient.Email) }

// PersonEmail is one credential email sent or queued to a person.
type PersonEmail struct {
	CredentialID string `json:"credential_id"`
	Email
}

// PersonCredentials returns every credential addressed to email (any
// group, any state, oldest first) and every outbox row of those
// credentials or addressed to email.
func (s *Service) PersonCredentials(ctx context.Context, email string) ([]Credential, []PersonEmail, error) {
	key := strings.ToLower(strings.TrimSpace(email))
	const q = `SELECT ` + credCols + ` FROM credentials WHERE lower(recipient_email) = $1 ORDER BY seq`
	var rows []credRow
	if err := s.DB.SelectContext(ctx, &rows, q, key); err != nil {
		return nil, nil, fmt.Errorf("credentials of a person: %w", err)
	}
	out := make([]Credential, len(rows))
	ids := make([]string, len(rows))
	for i, r := range rows {
		out[i], ids[i] = r.credential(), r.ID
	}
	const qe = `SELECT credential_id, id, to_address, reason, state, attempts, last_error, created_at, sent_at, last_attempt_at
		FROM credential_emails WHERE credential_id = ANY($1) OR lower(to_address) = $2 ORDER BY id`
	var es []struct {
		CredentialID  string     `db:"credential_id"`
		ID            int64      `db:"id"`
		To            string     `db:"to_address"`
		Reason        string     `db:"reason"`
		State         string     `db:"state"`
		Attempts      int        `db:"attempts"`
		LastError     string     `db:"last_error"`
		CreatedAt     time.Time  `db:"created_at"`
		SentAt        *time.Time `db:"sent_at"`
		LastAttemptAt *time.Time `db:"last_attempt_at"`
	}
	if err := s.DB.SelectContext(ctx, &es, qe, pq.Array(ids), key); err != nil {
		return nil, nil, fmt.Errorf("credential emails of a person: %w", err)
	}
	emails := make([]PersonEmail, len(es))
	for i, e := range es {
		emails[i] = PersonEmail{CredentialID: e.CredentialID, Email: Email{ID: e.ID, To: e.To, Reason: e.Reason, State: e.State,
			Attempts: e.Attempts, LastError: e.LastError, CreatedAt: e.CreatedAt, SentAt: e.SentAt, LastAttemptAt: e.LastAttemptAt}}
	}
	return out, emails, nil
}

// PersonErasure says what ErasePerson did. Public lists every credential
// of the person that stays, revoked, under the tombstone (also those an
// earlier, interrupted run erased), so their signed documents and status
// lists can be brought up to date.
type PersonErasure struct {
	Deleted, Revoked, Scrubbed, Emails int
	Public                             []string
}

// ErasePerson erases the credentials of email in one transaction:
// unpublished ones are deleted with their emails; published ones are
// revoked with ErasedReason; every remaining one (revoked before, too) gets
// the tombstone's name and email, no attributes and no evidence link, and
// its emails the tombstone's address (queued ones are cancelled). Each
// change is audited without the erased data. Credentials already under t
// (an earlier run, with the same tombstone) are left as they are and listed
// in Public, so running it again is harmless and finishes an interrupted
// erasure.
func (s *Service) ErasePerson(ctx context.Context, actor, email string, t Tombstone) (PersonErasure, error) {
	key := strings.ToLower(strings.TrimSpace(email))
	var out PersonErasure
	err := db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		const q = `SELECT id, state, lower(recipient_email) = $2 AS done FROM credentials
			WHERE lower(recipient_email) = $1 OR lower(recipient_email) = $2 ORDER BY id FOR UPDATE`
		var rows []struct {
			ID    string `db:"id"`
			State string `db:"state"`
			Done  bool   `db:"done"`
		}
		if err := tx.SelectContext(ctx, &rows, q, key, strings.ToLower(t.Email)); err != nil {
			return fmt.Errorf("erase a person: credentials: %w", err)
		}
		var unpublished, todo []string
		wasPublished := map[string]bool{}
		for _, r := range rows {
			switch {
			case r.Done:
				out.Public = append(out.Public, r.ID)
			case r.State == string(Unpublished):
				unpublished = append(unpublished, r.ID)
			default:
				todo = append(todo, r.ID)
				out.Public = append(out.Public, r.ID)
				if r.State == string(Published) {
					wasPublished[r.ID] = true
					out.Revoked++
				} else {
					out.Scrubbed++
				}
			}
		}
		now := s.Time()
		if len(unpublished) > 0 {
			const de = `DELETE FROM credential_emails WHERE credential_id = ANY($1)`
			if _, err := tx.ExecContext(ctx, de, pq.Array(unpublished)); err != nil {
				return fmt.Errorf("erase a person: emails of %d unpublished credentials: %w", len(unpublished), err)
			}
			const dc = `DELETE FROM credentials WHERE id = ANY($1) AND state = 'unpublished'`
			if _, err := tx.ExecContext(ctx, dc, pq.Array(unpublished)); err != nil {
				return fmt.Errorf("erase a person: delete %d unpublished credentials: %w", len(unpublished), err)
			}
			out.Deleted = len(unpublished)
			for _, id := range unpublished {
				if err := audit(ctx, tx, now, actor, "erase", "credential", id, map[string]any{"state": Unpublished},
					map[string]any{"deleted": true}); err != nil {
					return err
				}
			}
		}
		if len(todo) == 0 {
			return nil
		}
		const uc = `UPDATE credentials SET
				revocation_reason = CASE WHEN state = 'published' THEN $2 ELSE revocation_reason END,
				revoked_at = COALESCE(revoked_at, $3), state = 'revoked',
				recipient_name = $4, recipient_email = $5, recipient_key = NULL, attributes = '{}', evidence_url = '', updated_at = $3,
				search_key = $6
			WHERE id = ANY($1)`
		// The search key is the name and email, folded: it is the tombstone's.
		if _, err := tx.ExecContext(ctx, uc, pq.Array(todo), ErasedReason, now, t.Name, t.Email, SearchKey(t.Name, t.Email)); err != nil {
			return fmt.Errorf("erase a person: revoke %d credentials: %w", len(todo), err)
		}
		// The error of a failed delivery may quote the address.
		const ue = `UPDATE credential_emails SET to_address = $2,
				last_error = CASE WHEN state = 'queued' THEN 'credential erased before sending'
					WHEN strpos(lower(last_error), $3) > 0 THEN 'erased' ELSE last_error END,
				state = CASE WHEN state = 'queued' THEN 'failed' ELSE state END
			WHERE credential_id = ANY($1)`
		res, err := tx.ExecContext(ctx, ue, pq.Array(todo), t.Email, key)
		if err != nil {
			return fmt.Errorf("erase a person: emails of %d credentials: %w", len(todo), err)
		}
		n, _ := res.RowsAffected()
		out.Emails = int(n)
		for _, id := range todo {
			after := map[string]any{"state": Revoked, "recipient": "erased"}
			if wasPublished[id] {
				after["revocation_reason"] = ErasedReason
			}
			if err := audit(ctx, tx, now, actor, "erase", "credential", id, nil, after); err != nil {
				return err
			}
		}
		// Re-sign under the tombstone (signing replaces the stored documents).
		return enqueueChanged(ctx, tx, todo)
	})
	return out, err
}
