package issuance

// Open Badges 3.0 signing: building a credential's OpenBadgeCredential,
// signing it with both proofs in a job queued by Publish (and by amending a
// published credential), and serving the stored result.

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/internal/jose"
	"github.com/laurel-edu/laurel/issuance/openbadges"
)

// SignJob is the job kind that signs published credentials (payload
// {"ids": [...]}, at most signChunk each).
const SignJob = "credential_sign"

// signChunk is how many credentials one sign job covers: large enough that
// 10,000 credentials queue a few hundred jobs, small enough that the
// worker's goroutines share them out.
const signChunk = 50

type signPayload struct {
	IDs []string `json:"ids"`
}

// IssuerIdentity is the organisation that issues: its name, website and
// logo as the Open Badges Profile shows them.
type IssuerIdentity struct {
	Name    string
	URL     string // website
	LogoURL string // "" when none
}

// ErrSigningUnavailable is returned when the service has no secret keys to
// open its signing keys with (a Service built without Keys).
var ErrSigningUnavailable = errors.New("credential signing is not configured (no secret keys)")

// issuerIdentity is where Laurel reads who issues: the organisation
// settings (the deployment's URL when they name no website), unless
// Service.Issuer says otherwise.
func (s *Service) issuerIdentity(ctx context.Context) (IssuerIdentity, error) {
	if s.Issuer != nil {
		return s.Issuer(ctx)
	}
	o, err := s.Organisation(ctx)
	if err != nil {
		return IssuerIdentity{}, err
	}
	id := IssuerIdentity{Name: o.Name, URL: o.Website, LogoURL: o.LogoURL}
	if id.URL == "" {
		id.URL = s.base()
	}
	return id, nil
}

func (s *Service) base() string { return strings.TrimRight(s.BaseURL, "/") }

// DID is the issuer's did:web identifier for this deployment's host (and
// path, if LAUREL_BASE_URL has one): the id of its Profile and the
// controller of its keys, resolved through /.well-known/did.json.
func (s *Service) DID() string {
	u, err := url.Parse(s.base())
	if err != nil || u.Host == "" {
		return "did:web:localhost"
	}
	id := "did:web:" + strings.ReplaceAll(url.PathEscape(u.Host), ":", "%3A")
	for _, seg := range strings.Split(strings.Trim(u.Path, "/"), "/") {
		if seg != "" {
			id += ":" + url.PathEscape(seg)
		}
	}
	return id
}

// credentialKeys is the service's key store, made on first use.
func (s *Service) credentialKeys() (*CredentialKeys, error) {
	if s.Keys == nil {
		return nil, ErrSigningUnavailable
	}
	s.keysOnce.Do(func() { s.credKeys = NewCredentialKeys(s.DB, s.Keys) })
	return s.credKeys, nil
}

// signingKeys are the credential keys, loaded (and cached by CredentialKeys).
func (s *Service) signingKeys(ctx context.Context) (*keySet, error) {
	ck, err := s.credentialKeys()
	if err != nil {
		return nil, err
	}
	return ck.load(ctx)
}

// RotateCredentialKeys adds a new Ed25519 and ES256 credential key (the
// new ones sign from now on; old ones stay published).
func (s *Service) RotateCredentialKeys(ctx context.Context) (string, string, error) {
	k, err := s.credentialKeys()
	if err != nil {
		return "", "", err
	}
	return k.Rotate(ctx)
}

// Public URLs of the Open Badges documents.
func (s *Service) achievementURL(groupID int64) string {
	return s.base() + "/achievements/" + strconv.FormatInt(groupID, 10)
}
func (s *Service) statusListURL(list int64) string {
	return s.base() + "/status/" + strconv.FormatInt(list, 10)
}
func (s *Service) jwkURL(kid string) string             { return s.base() + "/issuer/keys/" + kid }
func (s *Service) verificationMethod(kid string) string { return s.DID() + "#" + kid }

// salt is the credential's identity salt: derived from the secret key and
// the credential id, so it is stable across re-signing and unguessable.
func (s *Service) salt(id string) string {
	return hex.EncodeToString(s.Keys.MAC([]byte("ob-identity-salt:" + id))[:16])
}

// profile is the issuer as an Open Badges Profile.
func (s *Service) profile(iss IssuerIdentity) openbadges.Profile {
	p := openbadges.Profile{ID: s.DID(), Type: []string{"Profile"}, Name: iss.Name, URL: iss.URL}
	if iss.LogoURL != "" {
		p.Image = &openbadges.Image{ID: iss.LogoURL, Type: "Image"}
	}
	return p
}

// achievement is group g (with its design's kind and whether it has an
// image) as an Open Badges Achievement.
func (s *Service) achievement(g Group, kind DesignKind, hasImage bool, iss IssuerIdentity) openbadges.Achievement {
	a := openbadges.Achievement{ID: s.achievementURL(g.ID), Type: []string{"Achievement"}, AchievementType: "Badge",
		Name: g.Name, Description: g.Description, Criteria: openbadges.Criteria{Narrative: criteriaNarrative(g, iss)}}
	if kind == Certificate {
		a.AchievementType = "Certificate"
	}
	if a.Description == "" {
		a.Description = "Awarded by " + iss.Name + " for completing " + g.CourseName + "."
	}
	if hasImage {
		a.Image = &openbadges.Image{ID: a.ID + "/image", Type: "Image"}
	}
	return a
}

func criteriaNarrative(g Group, iss IssuerIdentity) string {
	n := "Completed the course " + g.CourseName + ", as recorded by " + iss.Name + "."
	if g.CourseLink != "" {
		n += " Course: " + g.CourseLink
	}
	return n
}

// statusEntry places credential seq on the revocation status lists.
func (s *Service) statusEntry(seq int64) openbadges.StatusEntry {
	list, idx := seq/openbadges.StatusListSize, seq%openbadges.StatusListSize
	u := s.statusListURL(list)
	return openbadges.StatusEntry{ID: u + "#" + strconv.FormatInt(idx, 10), Type: "BitstringStatusListEntry",
		StatusPurpose: "revocation", StatusListIndex: strconv.FormatInt(idx, 10), StatusListCredential: u}
}

// openBadge builds credential c (sequence number seq) of group g.
func (s *Service) openBadge(c Credential, seq int64, g Group, kind DesignKind, hasImage bool, iss IssuerIdentity) openbadges.Credential {
	until := ""
	if c.ExpiresOn != nil {
		// Valid through the whole expiry day, as Credential.Expired reads it.
		until = c.ExpiresOn.Format(DateLayout) + "T23:59:59Z"
	}
	return openbadges.NewCredential(s.CredentialURL(c.ID), s.profile(iss), s.achievement(g, kind, hasImage, iss),
		openbadges.Recipient{Email: c.Recipient.Email, Name: c.Recipient.Name, Salt: s.salt(c.ID)},
		c.IssuedOn.Format(DateLayout)+"T00:00:00Z", until, s.statusEntry(seq))
}

// signed is one credential's signed artefacts.
type signed struct {
	json, jwt string
}

// signOne signs b with both proofs: the embedded Data Integrity proof
// (Ed25519) and the VC-JWT (ES256) whose payload is the credential itself
// plus iss, jti, nbf and exp.
func (s *Service) signOne(b openbadges.Credential, ks *keySet, now time.Time) (signed, error) {
	ed, es := ks.ed[len(ks.ed)-1], ks.es[len(ks.es)-1]
	withProof, err := b.Sign(ed.priv, s.verificationMethod(ed.kid), now)
	if err != nil {
		return signed{}, fmt.Errorf("sign credential %s: %w", b.ID, err)
	}
	js, err := json.Marshal(withProof)
	if err != nil {
		return signed{}, fmt.Errorf("sign credential %s: %w", b.ID, err)
	}
	b.Proof = nil
	payload, err := json.Marshal(b)
	if err != nil {
		return signed{}, fmt.Errorf("sign credential %s: %w", b.ID, err)
	}
	claims := fmt.Sprintf(`,"iss":%q,"jti":%q,"nbf":%d`, b.Issuer.ID, b.ID, mustRFC3339(b.ValidFrom).Unix())
	if b.ValidUntil != "" {
		claims += fmt.Sprintf(`,"exp":%d`, mustRFC3339(b.ValidUntil).Unix())
	}
	payload = append(append(payload[:len(payload)-1:len(payload)-1], claims...), '}')
	jwt, err := jose.SignES256(jose.ES256Key{KID: s.jwkURL(es.kid), Priv: es.priv}, "JWT", payload)
	if err != nil {
		return signed{}, fmt.Errorf("sign credential %s: %w", b.ID, err)
	}
	return signed{json: string(js), jwt: jwt}, nil
}

func mustRFC3339(s string) time.Time {
	t, _ := time.Parse(time.RFC3339, s)
	return t
}

// signRow is what signing one credential reads.
type signRow struct {
	Cred     credRow  `db:"c"`
	Group    groupRow `db:"g"`
	Kind     string   `db:"design_kind"`
	HasImage bool     `db:"has_image"`
}

// signStale signs those of ids that are public (published or revoked) and
// have no signature, or, when published, one older than their last change.
// With skipLocked a credential another transaction holds is left to it (a
// sign job); without, it waits for it (the email job, a page): either way
// a credential is signed once per change. Re-signing an amended credential
// is audited.
func (s *Service) signStale(ctx context.Context, ids []string, skipLocked bool) error {
	if len(ids) == 0 {
		return nil
	}
	ks, err := s.signingKeys(ctx)
	if err != nil {
		return err
	}
	iss, err := s.issuerIdentity(ctx)
	if err != nil {
		return fmt.Errorf("sign %d credentials: issuer: %w", len(ids), err)
	}
	lock := ` FOR UPDATE OF c`
	if skipLocked {
		lock += ` SKIP LOCKED`
	}
	q := `SELECT ` + prefixed("c", credCols) + `, ` + prefixed("g", groupCols) + `,
			d.kind AS design_kind, coalesce(length(d.image), 0) > 0 AS has_image
		FROM credentials c
		JOIN groups g ON g.id = c.group_id
		JOIN designs d ON d.id = g.design_id
		WHERE c.id = ANY($1) AND c.state <> 'unpublished'
		ORDER BY c.id` + lock
	return db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		var rows []signRow
		if err := tx.SelectContext(ctx, &rows, q, pq.Array(ids)); err != nil {
			return fmt.Errorf("sign %d credentials: load: %w", len(ids), err)
		}
		if len(rows) == 0 {
			return nil
		}
		// Read the signatures after taking the locks, so a signature another
		// transaction committed while we waited counts.
		locked := make([]string, len(rows))
		for i, r := range rows {
			locked[i] = r.Cred.ID
		}
		var have []struct {
			ID        string    `db:"credential_id"`
			SignedFor time.Time `db:"signed_for"`
			SignedAt  time.Time `db:"signed_at"`
		}
		const hq = `SELECT credential_id, signed_for, signed_at FROM credential_signatures WHERE credential_id = ANY($1)`
		if err := tx.SelectContext(ctx, &have, hq, pq.Array(locked)); err != nil {
			return fmt.Errorf("sign %d credentials: signatures: %w", len(ids), err)
		}
		prev := make(map[string]time.Time, len(have))
		prevAt := make(map[string]time.Time, len(have))
		for _, h := range have {
			prev[h.ID], prevAt[h.ID] = h.SignedFor, h.SignedAt
		}
		now := s.now()
		var sIDs, sFor, sJSON, sJWT []string
		var resigned []string
		for _, r := range rows {
			c := r.Cred.credential()
			p, ok := prev[c.ID]
			if ok && (c.State == Revoked || p.Equal(c.UpdatedAt)) {
				continue
			}
			g, err := r.Group.group()
			if err != nil {
				return err
			}
			out, err := s.signOne(s.openBadge(c, r.Cred.Seq, g, DesignKind(r.Kind), r.HasImage, iss), ks, now)
			if err != nil {
				return err
			}
			sIDs = append(sIDs, c.ID)
			sFor = append(sFor, c.UpdatedAt.UTC().Format(time.RFC3339Nano))
			sJSON = append(sJSON, out.json)
			sJWT = append(sJWT, out.jwt)
			if ok {
				resigned = append(resigned, c.ID)
			}
		}
		if len(sIDs) == 0 {
			return nil
		}
		const up = `INSERT INTO credential_signatures (credential_id, signed_for, signed_json, signed_jwt, signed_at)
			SELECT u.id, u.signed_for::timestamptz, u.js, u.jwt, $5
			FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(id, signed_for, js, jwt)
			ON CONFLICT (credential_id) DO UPDATE SET signed_for = EXCLUDED.signed_for,
				signed_json = EXCLUDED.signed_json, signed_jwt = EXCLUDED.signed_jwt, signed_at = EXCLUDED.signed_at`
		if _, err := tx.ExecContext(ctx, up, pq.Array(sIDs), pq.Array(sFor), pq.Array(sJSON), pq.Array(sJWT), now); err != nil {
			return fmt.Errorf("store %d signatures: %w", len(sIDs), err)
		}
		ed, es := ks.ed[len(ks.ed)-1], ks.es[len(ks.es)-1]
		for _, id := range resigned {
			if err := audit(ctx, tx, now, "system", "re-sign", "credential", id,
				map[string]any{"signed_at": prevAt[id]},
				map[string]any{"signed_at": now, "data_integrity_key": ed.kid, "jwt_key": es.kid}); err != nil {
				return err
			}
		}
		return nil
	})
}

// enqueueSign queues sign jobs for ids (in chunks) through tx.
func enqueueSign(ctx context.Context, tx *sqlx.Tx, ids []string) error {
	var payloads []json.RawMessage
	for i := 0; i < len(ids); i += signChunk {
		b, err := json.Marshal(signPayload{IDs: ids[i:min(i+signChunk, len(ids))]})
		if err != nil {
			return err
		}
		payloads = append(payloads, b)
	}
	if _, err := jobs.EnqueueMany(ctx, tx, SignJob, payloads); err != nil {
		return fmt.Errorf("queue signing of %d credentials: %w", len(ids), err)
	}
	return nil
}

// SignCredentialsJob returns the handler of SignJob: it signs the job's
// credentials that still need it. Register it with
// worker.Handle(issuance.SignJob, ...).
func (s *Service) SignCredentialsJob() jobs.Handler {
	return func(ctx context.Context, j jobs.Job) error {
		var p signPayload
		if err := json.Unmarshal(j.Payload, &p); err != nil {
			return fmt.Errorf("sign job %d: bad payload: %w", j.ID, err)
		}
		return s.signStale(ctx, p.IDs, true)
	}
}

// SignedCredential returns public credential id's signed Open Badges 3.0
// JSON (with its Data Integrity proof) and its VC-JWT, exactly as
// /c/:id.json and /c/:id.jwt serve them, signing it first if the sign job
// has not yet (or not since its last amendment). An unknown or unpublished
// credential is NotFound; ErrSigningUnavailable without secret keys.
func (s *Service) SignedCredential(ctx context.Context, id string) (json []byte, jwt string, err error) {
	id = strings.ToLower(id)
	if !validID(id) {
		return nil, "", apperr.Errorf(apperr.NotFound, "Credential %q does not exist.", id)
	}
	sig, err := s.signature(ctx, id, false)
	if err != nil {
		return nil, "", err
	}
	return []byte(sig.JSON), sig.JWT, nil
}

// storedSig is a credential's current signature and its sequence number
// (its place on the status lists); with status, also the revoked sequence
// numbers of its status list (read in the same query, for verification).
type storedSig struct {
	JSON    string        `db:"signed_json"`
	JWT     string        `db:"signed_jwt"`
	Seq     int64         `db:"seq"`
	Revoked pq.Int64Array `db:"revoked"`
}

// signature returns public credential id's current signature, signing it
// first when it has none or a stale one.
func (s *Service) signature(ctx context.Context, id string, status bool) (storedSig, error) {
	sig, ok, err := s.storedSignature(ctx, id, status)
	if err != nil || ok {
		return sig, err
	}
	if err := s.signStale(ctx, []string{id}, false); err != nil {
		return storedSig{}, err
	}
	if sig, ok, err = s.storedSignature(ctx, id, status); err != nil {
		return storedSig{}, err
	}
	if !ok {
		return storedSig{}, apperr.Errorf(apperr.NotFound, "Credential %q does not exist.", id)
	}
	return sig, nil
}

// storedSignature reads id's signature when it is current (ok false when
// missing, stale, or the credential is not public).
func (s *Service) storedSignature(ctx context.Context, id string, status bool) (storedSig, bool, error) {
	revoked := `NULL::bigint[]`
	if status {
		revoked = `ARRAY(SELECT r.seq FROM credentials r WHERE r.state = 'revoked'
			AND r.seq >= c.seq - c.seq % $2 AND r.seq < c.seq - c.seq % $2 + $2)`
	}
	q := `SELECT s.signed_json, s.signed_jwt, c.seq, ` + revoked + ` AS revoked
		FROM credential_signatures s JOIN credentials c ON c.id = s.credential_id
		WHERE s.credential_id = $1 AND (c.state = 'revoked' OR (c.state = 'published' AND s.signed_for = c.updated_at))`
	args := []any{id}
	if status {
		args = append(args, openbadges.StatusListSize)
	}
	var r storedSig
	switch err := s.DB.GetContext(ctx, &r, q, args...); {
	case errors.Is(err, sql.ErrNoRows):
		return storedSig{}, false, nil
	case err != nil:
		return storedSig{}, false, fmt.Errorf("signature of credential %s: %w", id, err)
	}
	return r, true, nil
}

// signBeforeSending signs the credentials of a batch of emails that the
// sign job has not reached yet (waiting for one it is signing), so the link
// a recipient opens shows a signed credential. A failure is logged, not
// fatal: the page signs on demand too.
func (s *Service) signBeforeSending(ctx context.Context, emails map[int64]loadedEmail) {
	if s.Keys == nil {
		return
	}
	ids := make([]string, 0, len(emails))
	for _, e := range emails {
		if e.state == "queued" && e.cred.State == Published {
			ids = append(ids, e.cred.ID)
		}
	}
	if err := s.signStale(ctx, ids, false); err != nil {
		s.logger().Warn("email: cannot sign credentials before sending", "count", len(ids), "err", err)
	}
}

// resignGroupTx marks the signatures of group gid's published credentials
// stale (their embedded Achievement changed) and queues their re-signing;
// until a job reaches one, its page and /c/:id.json sign it on demand.
func resignGroupTx(ctx context.Context, tx *sqlx.Tx, gid int64) error {
	const q = `UPDATE credential_signatures s SET signed_for = 'epoch'
		FROM credentials c WHERE c.id = s.credential_id AND c.group_id = $1 AND c.state = 'published'
		RETURNING s.credential_id`
	var ids []string
	if err := tx.SelectContext(ctx, &ids, q, gid); err != nil {
		return fmt.Errorf("re-sign group %d: %w", gid, err)
	}
	return enqueueSign(ctx, tx, ids)
}
