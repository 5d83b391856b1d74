package issuance

// What the features built on the core read about a credential's public
// form (signing, status lists, achievements), and the job through which
// the core tells them it changed. They read it through these methods, never
// the core's tables.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/jobs"
)

// ChangedJob is the job kind the core queues, in the transaction of the
// change, for credentials whose public form changed: published, amended
// while published, or their group's achievement changed. Signing handles
// it. The payload is {"ids": [...]}, at most changedChunk ids. The kind
// keeps its first name, so jobs queued before stay valid.
const ChangedJob = "credential_sign"

// changedChunk is how many credentials one ChangedJob covers: large
// enough that 10,000 credentials queue a few hundred jobs, small enough
// that the worker's goroutines share them out.
const changedChunk = 50

// ChangedPayload is a ChangedJob's payload.
type ChangedPayload struct {
	IDs []string `json:"ids"`
}

// QueueSigning queues ChangedJobs for ids, for a caller that was to sign
// them itself and could not (the job retries under its policy).
func (s *Service) QueueSigning(ctx context.Context, ids []string) error {
	return db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error { return enqueueChanged(ctx, tx, ids) })
}

// enqueueChanged queues ChangedJobs for ids (in chunks) through tx.
func enqueueChanged(ctx context.Context, tx *sqlx.Tx, ids []string) error {
	var payloads []json.RawMessage
	for i := 0; i < len(ids); i += changedChunk {
		b, err := json.Marshal(ChangedPayload{IDs: ids[i:min(i+changedChunk, len(ids))]})
		if err != nil {
			return err
		}
		payloads = append(payloads, b)
	}
	if _, err := jobs.EnqueueMany(ctx, tx, ChangedJob, payloads); err != nil {
		return fmt.Errorf("queue signing of %d credentials: %w", len(ids), err)
	}
	return nil
}

// PublicCredential is a public (published or revoked) credential with what
// its Open Badges form embeds.
type PublicCredential struct {
	Credential
	Seq      int64 // its place on the revocation status lists
	Group    Group
	Kind     DesignKind
	HasImage bool // its design has a badge image
	// Version is when its public form last changed: its own last change
	// or its group's achievement's, whichever is later. A signature made
	// for an older version is stale.
	Version time.Time
}

// versionSQL is a credential c's Version, with its group g joined.
const versionSQL = `greatest(c.updated_at, g.achievement_changed_at)`

// LockPublic loads those of ids that are public, ordered by id, locking
// them in tx (the caller's transaction) so that two signers of one
// credential take turns; with skipLocked a credential another transaction
// holds is left out.
func (s *Service) LockPublic(ctx context.Context, tx *sqlx.Tx, ids []string, skipLocked bool) ([]PublicCredential, error) {
	lock := ` FOR UPDATE OF c`
	if skipLocked {
		lock += ` SKIP LOCKED`
	}
	q := `SELECT ` + prefixed("c", credCols) + `, ` + prefixed("g", groupCols) + `,
			d.kind AS design_kind, coalesce(length(d.image), 0) > 0 AS has_image, ` + versionSQL + ` AS version
		FROM credentials c
		JOIN groups g ON g.id = c.group_id
		JOIN designs d ON d.id = g.design_id
		WHERE c.id = ANY($1) AND c.state <> 'unpublished'
		ORDER BY c.id` + lock
	var rows []struct {
		Cred     credRow   `db:"c"`
		Group    groupRow  `db:"g"`
		Kind     string    `db:"design_kind"`
		HasImage bool      `db:"has_image"`
		Version  time.Time `db:"version"`
	}
	if err := tx.SelectContext(ctx, &rows, q, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("lock %d public credentials: %w", len(ids), err)
	}
	out := make([]PublicCredential, len(rows))
	for i, r := range rows {
		g, err := r.Group.group()
		if err != nil {
			return nil, err
		}
		out[i] = PublicCredential{Credential: r.Cred.credential(), Seq: r.Cred.Seq, Group: g,
			Kind: DesignKind(r.Kind), HasImage: r.HasImage, Version: r.Version}
	}
	return out, nil
}

// PublicVersion is what a reader of a public credential's signature checks
// it against.
type PublicVersion struct {
	State   State     `db:"state"`
	Seq     int64     `db:"seq"`
	Version time.Time `db:"version"`
}

// PublicVersionOf returns credential id's state, sequence number and
// version; ok is false when it does not exist or is unpublished.
func (s *Service) PublicVersionOf(ctx context.Context, id string) (v PublicVersion, ok bool, err error) {
	const q = `SELECT c.state, c.seq, ` + versionSQL + ` AS version
		FROM credentials c JOIN groups g ON g.id = c.group_id
		WHERE c.id = $1 AND c.state <> 'unpublished'`
	switch err := s.DB.GetContext(ctx, &v, q, id); {
	case errors.Is(err, sql.ErrNoRows):
		return PublicVersion{}, false, nil
	case err != nil:
		return PublicVersion{}, false, fmt.Errorf("public version of credential %s: %w", id, err)
	}
	return v, true, nil
}

// RevokedSeqs returns the sequence numbers in [lo, hi) of revoked
// credentials: revoking sets a credential's state in the same transaction,
// so the next read sees it.
func (s *Service) RevokedSeqs(ctx context.Context, lo, hi int64) ([]int64, error) {
	const q = `SELECT seq FROM credentials WHERE state = 'revoked' AND seq >= $1 AND seq < $2`
	var seqs []int64
	if err := s.DB.SelectContext(ctx, &seqs, q, lo, hi); err != nil {
		return nil, fmt.Errorf("revoked credentials in [%d, %d): %w", lo, hi, err)
	}
	return seqs, nil
}

// LastSeq returns the highest credential sequence number; ok is false when
// there is no credential.
func (s *Service) LastSeq(ctx context.Context) (seq int64, ok bool, err error) {
	var n sql.NullInt64
	if err := s.DB.GetContext(ctx, &n, `SELECT max(seq) FROM credentials`); err != nil {
		return 0, false, fmt.Errorf("last credential sequence number: %w", err)
	}
	return n.Int64, n.Valid, nil
}

// PublicGroup returns group id (a path segment) and its design when the
// group has a published or revoked credential: groups nobody holds a
// credential of stay private (NotFound).
func (s *Service) PublicGroup(ctx context.Context, id string) (Group, Design, error) {
	gid, err := strconv.ParseInt(id, 10, 64)
	if err != nil || gid <= 0 {
		return Group{}, Design{}, apperr.Errorf(apperr.NotFound, "Achievement %q does not exist.", id)
	}
	var public bool
	const q = `SELECT EXISTS (SELECT 1 FROM credentials WHERE group_id = $1 AND state <> 'unpublished')`
	if err := s.DB.GetContext(ctx, &public, q, gid); err != nil {
		return Group{}, Design{}, fmt.Errorf("achievement %d: %w", gid, err)
	}
	if !public {
		return Group{}, Design{}, apperr.Errorf(apperr.NotFound, "Achievement %q does not exist.", id)
	}
	g, err := s.Group(ctx, gid)
	if err != nil {
		return Group{}, Design{}, err
	}
	d, err := s.Design(ctx, g.DesignID)
	if err != nil {
		return Group{}, Design{}, err
	}
	return g, d, nil
}

// CredentialURL is the public page of credential id.
func (s *Service) CredentialURL(id string) string {
	return strings.TrimRight(s.BaseURL, "/") + "/c/" + id
}

// PDFURL is credential id's certificate PDF.
func (s *Service) PDFURL(id string) string { return s.CredentialURL(id) + ".pdf" }

// BadgeURL is credential id's badge image.
func (s *Service) BadgeURL(id string) string { return s.CredentialURL(id) + "/badge" }

// prefixed qualifies each of cols (a comma-separated column list) with table
// alias p and names it "p.column", the name sqlx maps to a nested struct
// field tagged db:"p".
func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		c = strings.TrimSpace(c)
		parts[i] = p + "." + c + ` AS "` + p + "." + c + `"`
	}
	return strings.Join(parts, ", ")
}
