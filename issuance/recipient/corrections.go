package recipient

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/audit"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/text"
	"github.com/laurel-edu/laurel/issuance"
)

// Correction states.
const (
	Pending  = "pending"
	Approved = "approved"
	Refused  = "refused"
)

// Correction is a recipient's request to correct the name on a credential.
type Correction struct {
	ID            int64
	CredentialID  string
	GroupID       int64
	CurrentName   string // the name when the request was made
	RequestedName string
	Note          string
	State         string
	Reason        string // why staff refused
	CreatedAt     time.Time
	DecidedAt     *time.Time
}

type correctionRow struct {
	ID            int64      `db:"id"`
	CredentialID  string     `db:"credential_id"`
	GroupID       int64      `db:"group_id"`
	CurrentName   string     `db:"current_name"`
	RequestedName string     `db:"requested_name"`
	Note          string     `db:"note"`
	State         string     `db:"state"`
	Reason        string     `db:"reason"`
	CreatedAt     time.Time  `db:"created_at"`
	DecidedAt     *time.Time `db:"decided_at"`
}

const correctionCols = `id, credential_id, group_id, current_name, requested_name, note, state, reason, created_at, decided_at`

func (r correctionRow) correction() Correction { return Correction(r) }

// maxNote bounds a note or a reason.
const maxNote = 1000

func fieldError(field, msg string) error {
	return apperr.Fields("The request has a problem; nothing was changed.", []apperr.FieldError{{Index: -1, Field: field, Message: msg}})
}

// RequestCorrection records credential id's recipient asking for their name
// to read name (note optional, for staff). Field errors name "name" or
// "note"; a second open request for the same credential is a Conflict.
func (s *Service) RequestCorrection(ctx context.Context, id, name, note string) (Correction, error) {
	cr, err := s.manageable(ctx, id)
	if err != nil {
		return Correction{}, err
	}
	name, err = issuance.CheckName(name)
	switch {
	case err != nil:
		return Correction{}, fieldError("name", "New name: "+apperr.Message(err))
	case name == cr.Recipient.Name:
		return Correction{}, fieldError("name", "New name: the credential already shows this name; type the name as it should read.")
	}
	note = strings.TrimSpace(note)
	switch {
	case len([]rune(note)) > maxNote:
		return Correction{}, fieldError("note", fmt.Sprintf("Note: at most %d characters.", maxNote))
	case text.Check(note) != nil:
		return Correction{}, fieldError("note", "Note: it holds characters that cannot be stored (control characters).")
	}
	var out Correction
	err = db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		now := s.now()
		q := `INSERT INTO name_corrections (credential_id, group_id, current_name, requested_name, note, created_at)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING ` + correctionCols
		var r correctionRow
		if err := tx.GetContext(ctx, &r, q, cr.ID, cr.GroupID, cr.Recipient.Name, name, note, now); err != nil {
			if _, ok := db.IsUniqueViolation(err); ok {
				return apperr.Errorf(apperr.Conflict, "A name correction for this credential is already waiting for staff.")
			}
			return fmt.Errorf("request name correction of %s: %w", cr.ID, err)
		}
		out = r.correction()
		return audit.Record(ctx, tx, now, actor(cr.ID), "name_correction_requested", "credential", cr.ID,
			nil, map[string]string{"requested_name": name})
	})
	return out, err
}

// PendingCorrection is credential id's open request, if any.
func (s *Service) PendingCorrection(ctx context.Context, id string) (Correction, bool, error) {
	q := `SELECT ` + correctionCols + ` FROM name_corrections WHERE credential_id = $1 AND state = 'pending'`
	var r correctionRow
	err := s.DB.GetContext(ctx, &r, q, id)
	if errors.Is(err, sql.ErrNoRows) {
		return Correction{}, false, nil
	}
	if err != nil {
		return Correction{}, false, fmt.Errorf("pending correction of %s: %w", id, err)
	}
	return r.correction(), true, nil
}

// Queue returns the open corrections of the groups p may publish in,
// oldest first (at most 500).
func (s *Service) Queue(ctx context.Context, p *auth.Principal) ([]Correction, error) {
	if !p.Can(auth.PublishCredentials) {
		return nil, nil
	}
	q := `SELECT ` + correctionCols + ` FROM name_corrections
		WHERE state = 'pending' AND ($1::bigint[] IS NULL OR group_id = ANY($1)) ORDER BY created_at, id LIMIT 500`
	var groups any // NULL: every group
	if p.Groups != nil {
		groups = pq.Array(p.Groups)
	}
	var rows []correctionRow
	if err := s.DB.SelectContext(ctx, &rows, q, groups); err != nil {
		return nil, fmt.Errorf("name correction queue: %w", err)
	}
	out := make([]Correction, len(rows))
	for i, r := range rows {
		out[i] = r.correction()
	}
	return out, nil
}

// correctionFor loads correction id, still pending, once p may publish in
// its group.
func (s *Service) correctionFor(ctx context.Context, p *auth.Principal, id int64) (Correction, error) {
	q := `SELECT ` + correctionCols + ` FROM name_corrections WHERE id = $1`
	var r correctionRow
	err := s.DB.GetContext(ctx, &r, q, id)
	if errors.Is(err, sql.ErrNoRows) {
		return Correction{}, apperr.Errorf(apperr.NotFound, "There is no such name correction.")
	}
	if err != nil {
		return Correction{}, fmt.Errorf("name correction %d: %w", id, err)
	}
	if err := p.RequireGroup(auth.PublishCredentials, r.GroupID); err != nil {
		return Correction{}, err
	}
	if r.State != Pending {
		return Correction{}, apperr.Errorf(apperr.Conflict, "This name correction was already %s.", r.State)
	}
	return r.correction(), nil
}

// Approve amends the credential's name to the requested one through the
// core (re-signed and audited as p's amendment) and emails the recipient.
func (s *Service) Approve(ctx context.Context, p *auth.Principal, id int64) error {
	c, err := s.correctionFor(ctx, p, id)
	if err != nil {
		return err
	}
	name := c.RequestedName
	cr, err := s.Core.AmendCredential(ctx, p.Actor(), c.CredentialID, issuance.Amendment{Name: &name})
	if err != nil {
		return err
	}
	return s.decide(ctx, p, c, Approved, "", cr.Recipient.Email)
}

// Refuse closes the correction with reason (required: the recipient reads
// it) and emails the recipient; the credential is unchanged.
func (s *Service) Refuse(ctx context.Context, p *auth.Principal, id int64, reason string) error {
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		return fieldError("reason", "Reason: say why the name stays as it is; the recipient reads it.")
	case len([]rune(reason)) > maxNote:
		return fieldError("reason", fmt.Sprintf("Reason: at most %d characters.", maxNote))
	case text.Check(reason) != nil:
		return fieldError("reason", "Reason: it holds characters that cannot be stored (control characters).")
	}
	c, err := s.correctionFor(ctx, p, id)
	if err != nil {
		return err
	}
	cr, err := s.Core.Credential(ctx, c.CredentialID)
	if err != nil {
		return err
	}
	return s.decide(ctx, p, c, Refused, reason, cr.Recipient.Email)
}

// decide records the decision, audits a refusal (an approval's audit is the
// amendment) and queues the recipient's email, in one transaction; of two
// staff deciding at once, the second gets a Conflict.
func (s *Service) decide(ctx context.Context, p *auth.Principal, c Correction, state, reason, to string) error {
	return db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		now := s.now()
		const q = `UPDATE name_corrections SET state = $2, reason = $3, decided_at = $4, decided_by = $5
			WHERE id = $1 AND state = 'pending'`
		res, err := tx.ExecContext(ctx, q, c.ID, state, reason, now, p.Actor())
		if err != nil {
			return fmt.Errorf("decide name correction %d: %w", c.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return apperr.Errorf(apperr.Conflict, "This name correction was already decided.")
		}
		kind := mailApproved
		if state == Refused {
			kind = mailRefused
			if err := audit.Record(ctx, tx, now, p.Actor(), "name_correction_refused", "credential", c.CredentialID,
				nil, map[string]string{"requested_name": c.RequestedName, "reason": reason}); err != nil {
				return err
			}
		}
		return s.queueMail(ctx, tx, c.CredentialID, kind, to, mailRefs{Correction: c.ID})
	})
}
