package signing

// Open Badges 3.0 signing: building a credential's OpenBadgeCredential,
// signing it with both proofs (Sign, the one entrance), and serving the
// stored result.

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/laurel-edu/laurel/internal/apperr"
	auditlog "github.com/laurel-edu/laurel/internal/audit"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/internal/jose"
	"github.com/laurel-edu/laurel/internal/keystore"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/openbadges"
)

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

// Identity is where Laurel reads who issues: the organisation
// settings (the deployment's URL when they name no website), unless
// Service.Issuer says otherwise.
func (s *Service) Identity(ctx context.Context) (IssuerIdentity, error) {
	if s.Issuer != nil {
		return s.Issuer(ctx)
	}
	o, err := s.Core.Organisation(ctx)
	if err != nil {
		return IssuerIdentity{}, err
	}
	id := IssuerIdentity{Name: o.Name, URL: o.Website, LogoURL: o.LogoURL}
	if id.URL == "" {
		id.URL = s.base()
	}
	return id, nil
}

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

// signingKeys are the credential keys, loaded (and cached by the key
// store): one of each algorithm at least.
func (s *Service) signingKeys(ctx context.Context) (*keystore.Set, error) {
	ck, err := s.credentialKeys()
	if err != nil {
		return nil, err
	}
	return ck.store.Active(ctx)
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
func (s *Service) achievement(g issuance.Group, kind issuance.DesignKind, hasImage bool, iss IssuerIdentity) openbadges.Achievement {
	a := openbadges.Achievement{ID: s.achievementURL(g.ID), Type: []string{"Achievement"}, AchievementType: "Badge",
		Name: g.Name, Description: g.Description, Criteria: openbadges.Criteria{Narrative: criteriaNarrative(g, iss)}}
	if kind == issuance.Certificate {
		a.AchievementType = "Certificate"
	}
	if a.Description == "" {
		a.Description = "Awarded by " + iss.Name + " for completing " + g.CourseName + "."
	}
	if hasImage {
		a.Image = &openbadges.Image{ID: a.ID + "/image", Type: "Image"}
	}
	for _, at := range g.PublicResults() {
		a.ResultDescription = append(a.ResultDescription, openbadges.ResultDescription{ID: resultDescriptionID(a.ID, at.Key),
			Type: []string{"ResultDescription"}, Name: at.Label, ResultType: string(at.ResultType)})
	}
	return a
}

// resultDescriptionID is the stable URI of the result attribute key of the
// achievement achievementID: a fragment of the achievement's document,
// which describes it.
func resultDescriptionID(achievementID, key string) string {
	return achievementID + "#result-" + key
}

// results are the public results credential c carries: one per public
// result attribute of its group that has a value (see issuance.Group.Visible;
// nothing else of the custom attributes is signed).
func results(c issuance.PublicCredential, achievementID string) []openbadges.Result {
	var out []openbadges.Result
	for _, v := range c.VisibleValues(c.Group, issuance.AudiencePublic) {
		if v.ResultType != "" {
			out = append(out, openbadges.Result{Type: []string{"Result"}, ResultDescription: resultDescriptionID(achievementID, v.Key), Value: v.Value})
		}
	}
	return out
}

func criteriaNarrative(g issuance.Group, iss IssuerIdentity) string {
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
func (s *Service) openBadge(c issuance.PublicCredential, iss IssuerIdentity) openbadges.Credential {
	return s.openBadgeOf(c, s.profile(iss), s.achievement(c.Group, c.Kind, c.HasImage, iss))
}

// openBadgeOf builds credential c with its issuer's profile and its group's
// achievement a, which a batch builds once for all its credentials.
func (s *Service) openBadgeOf(c issuance.PublicCredential, profile openbadges.Profile, a openbadges.Achievement) openbadges.Credential {
	until := ""
	if c.ExpiresOn != nil {
		// Valid through the whole expiry day, as Credential.Expired reads it.
		until = c.ExpiresOn.Format(issuance.DateLayout) + "T23:59:59Z"
	}
	b := openbadges.NewCredential(s.Core.CredentialURL(c.ID), profile, a,
		openbadges.Recipient{Email: c.Recipient.Email, Name: c.Recipient.Name, Salt: s.salt(c.ID)},
		c.IssuedOn.Format(issuance.DateLayout)+"T00:00:00Z", until, s.statusEntry(c.Seq))
	b.CredentialSubject.Result = results(c, a.ID)
	return b
}

// signed is one credential's signed artefacts.
type signed struct {
	json, jwt string
}

// signer is what signing a batch needs that is the same for every
// credential of it: the keys, the verification method, the issuer's
// profile, and each group's achievement, all built before the batch is
// signed in parallel (then only read).
type signer struct {
	ed           ed25519.PrivateKey
	vm           string // the Ed25519 key's verificationMethod
	es           jose.ES256Key
	profile      openbadges.Profile
	iss          IssuerIdentity
	achievements map[achievementKey]openbadges.Achievement
}

// achievementKey is what a credential's achievement depends on besides the
// issuer (see Service.achievement): its group and its design.
type achievementKey struct {
	group    int64
	kind     issuance.DesignKind
	hasImage bool
}

// newSigner prepares the signing of credentials cs (their achievements
// included) with the newest keys of ks.
func (s *Service) newSigner(cs []issuance.PublicCredential, iss IssuerIdentity, ks *keystore.Set) *signer {
	ed, es := ks.Newest(keystore.Ed25519), ks.Newest(keystore.ES256)
	sg := &signer{ed: ed.Private.(ed25519.PrivateKey), vm: s.verificationMethod(ed.KID),
		es: jose.ES256Key{KID: s.jwkURL(es.KID), Priv: es.Private.(*ecdsa.PrivateKey)}, profile: s.profile(iss), iss: iss,
		achievements: map[achievementKey]openbadges.Achievement{}}
	for _, c := range cs {
		k := achievementKey{c.Group.ID, c.Kind, c.HasImage}
		if _, ok := sg.achievements[k]; !ok {
			sg.achievements[k] = s.achievement(c.Group, c.Kind, c.HasImage, iss)
		}
	}
	return sg
}

// openBadge builds credential c with the batch's profile and achievement.
func (sg *signer) openBadge(s *Service, c issuance.PublicCredential) openbadges.Credential {
	a, ok := sg.achievements[achievementKey{c.Group.ID, c.Kind, c.HasImage}]
	if !ok { // not one of the batch's credentials
		a = s.achievement(c.Group, c.Kind, c.HasImage, sg.iss)
	}
	return s.openBadgeOf(c, sg.profile, a)
}

// signOne signs b with both proofs: the embedded Data Integrity proof
// (Ed25519) and the VC-JWT (ES256) whose payload is the credential itself
// plus iss, jti, nbf and exp.
func (sg *signer) signOne(b openbadges.Credential, now time.Time) (signed, error) {
	b.Proof = nil
	body, err := json.Marshal(b)
	if err != nil {
		return signed{}, fmt.Errorf("sign credential %s: %w", b.ID, err)
	}
	withProof, err := b.Sign(sg.ed, sg.vm, now)
	if err != nil {
		return signed{}, fmt.Errorf("sign credential %s: %w", b.ID, err)
	}
	// The proof is the credential's last member (and the only one Sign
	// adds), so the signed JSON is body with it appended: one encoding of
	// the credential serves both proofs (TestSignOneMatchesMarshal).
	pj, err := json.Marshal(withProof.Proof)
	if err != nil {
		return signed{}, fmt.Errorf("sign credential %s: %w", b.ID, err)
	}
	var js strings.Builder // its String is not a copy
	js.Grow(len(body) + len(`,"proof":`) + len(pj))
	js.Write(body[:len(body)-1])
	js.WriteString(`,"proof":`)
	js.Write(pj)
	js.WriteByte('}')
	payload, err := withClaims(b, body)
	if err != nil {
		return signed{}, fmt.Errorf("sign credential %s: %w", b.ID, err)
	}
	jwt, err := jose.SignES256(sg.es, "JWT", payload)
	if err != nil {
		return signed{}, fmt.Errorf("sign credential %s: %w", b.ID, err)
	}
	return signed{json: js.String(), jwt: jwt}, nil
}

// jwtClaims are the registered claims a VC-JWT adds to the credential.
type jwtClaims struct {
	Iss string `json:"iss"`
	Jti string `json:"jti"`
	Sub string `json:"sub,omitempty"` // the holder's DID, on a wallet copy
	Nbf int64  `json:"nbf"`
	Exp int64  `json:"exp,omitempty"`
}

// jwtPayload is credential b followed by its JWT claims, as one JSON
// object: both are encoded by encoding/json, then the claims' members are
// appended to the credential's.
func jwtPayload(b openbadges.Credential) ([]byte, error) {
	body, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	return withClaims(b, body)
}

// withClaims is jwtPayload of b, whose JSON encoding is body.
func withClaims(b openbadges.Credential, body []byte) ([]byte, error) {
	cl := jwtClaims{Iss: b.Issuer.ID, Jti: b.ID, Sub: b.CredentialSubject.ID, Nbf: mustRFC3339(b.ValidFrom).Unix()}
	if b.ValidUntil != "" {
		cl.Exp = mustRFC3339(b.ValidUntil).Unix()
	}
	claims, err := json.Marshal(cl)
	if err != nil {
		return nil, err
	}
	// body ends with '}' and claims starts with '{': join the members.
	out := make([]byte, 0, len(body)+len(claims))
	out = append(append(out, body[:len(body)-1]...), ',')
	return append(out, claims[1:]...), nil
}

func mustRFC3339(s string) time.Time {
	t, _ := time.Parse(time.RFC3339, s)
	return t
}

// Sign signs those of ids that are public (published or revoked) and have
// no signature, or, when published, one made for an older version (see
// issuance.PublicCredential.Version). With skipLocked a credential another
// transaction holds is left to it (the ChangedJob); without, it waits for
// it (delivery, a page): either way a credential is signed once per
// change. Re-signing a changed credential is audited. Sign is the one
// function that writes signatures.
func (s *Service) Sign(ctx context.Context, ids []string, skipLocked bool) error {
	if len(ids) == 0 {
		return nil
	}
	ks, err := s.signingKeys(ctx)
	if err != nil {
		return err
	}
	iss, err := s.Identity(ctx)
	if err != nil {
		return fmt.Errorf("sign %d credentials: issuer: %w", len(ids), err)
	}
	return db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		creds, err := s.Core.LockPublic(ctx, tx, ids, skipLocked)
		if err != nil {
			return fmt.Errorf("sign %d credentials: %w", len(ids), err)
		}
		if len(creds) == 0 {
			return nil
		}
		// Read the signatures after taking the locks, so a signature another
		// transaction committed while we waited counts.
		locked := make([]string, len(creds))
		for i, c := range creds {
			locked[i] = c.ID
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
		var todo []issuance.PublicCredential
		var resigned []string
		for _, c := range creds {
			p, ok := prev[c.ID]
			if ok && (c.State == issuance.Revoked || p.Equal(c.Version)) {
				continue
			}
			todo = append(todo, c)
			if ok {
				resigned = append(resigned, c.ID)
			}
		}
		if len(todo) == 0 {
			return nil
		}
		outs, err := s.signAll(todo, iss, ks, now)
		if err != nil {
			return err
		}
		if err := storeSignatures(ctx, tx, todo, outs, prev, now); err != nil {
			return err
		}
		ed, es := ks.Newest(keystore.Ed25519), ks.Newest(keystore.ES256)
		for _, id := range resigned {
			if err := auditlog.Record(ctx, tx, now, "system", "re-sign", "credential", id,
				map[string]any{"signed_at": prevAt[id]},
				map[string]any{"signed_at": now, "data_integrity_key": ed.KID, "jwt_key": es.KID}); err != nil {
				return err
			}
		}
		return nil
	})
}

// storeSignatures writes the signatures outs of credentials todo, signed
// at now. First signatures (none in prev) are COPYed in: the caller holds
// the credentials' locks, so no other transaction can add theirs meanwhile,
// and COPY costs the database half of a multi-row insert of text arrays
// (which it must parse, JSON's quotes escaped). Re-signs replace theirs.
func storeSignatures(ctx context.Context, tx *sqlx.Tx, todo []issuance.PublicCredential, outs []signed, prev map[string]time.Time, now time.Time) error {
	var rIDs, rFor, rJSON, rJWT []string
	fresh := make([]int, 0, len(todo))
	for i, c := range todo {
		if _, ok := prev[c.ID]; !ok {
			fresh = append(fresh, i)
			continue
		}
		rIDs, rFor = append(rIDs, c.ID), append(rFor, c.Version.UTC().Format(time.RFC3339Nano))
		rJSON, rJWT = append(rJSON, outs[i].json), append(rJWT, outs[i].jwt)
	}
	if len(fresh) > 0 {
		stmt, err := tx.PrepareContext(ctx, `COPY credential_signatures (credential_id, signed_for, signed_json, signed_jwt, signed_at) FROM STDIN`)
		if err != nil {
			return fmt.Errorf("store %d signatures: %w", len(fresh), err)
		}
		defer stmt.Close()
		for _, i := range fresh {
			if _, err := stmt.ExecContext(ctx, todo[i].ID, todo[i].Version, outs[i].json, outs[i].jwt, now); err != nil {
				return fmt.Errorf("store signature of credential %s: %w", todo[i].ID, err)
			}
		}
		if _, err := stmt.ExecContext(ctx); err != nil {
			return fmt.Errorf("store %d signatures: %w", len(fresh), err)
		}
		if err := stmt.Close(); err != nil {
			return fmt.Errorf("store %d signatures: %w", len(fresh), err)
		}
	}
	if len(rIDs) == 0 {
		return nil
	}
	const up = `INSERT INTO credential_signatures (credential_id, signed_for, signed_json, signed_jwt, signed_at)
		SELECT u.id, u.signed_for::timestamptz, u.js, u.jwt, $5
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(id, signed_for, js, jwt)
		ON CONFLICT (credential_id) DO UPDATE SET signed_for = EXCLUDED.signed_for,
			signed_json = EXCLUDED.signed_json, signed_jwt = EXCLUDED.signed_jwt, signed_at = EXCLUDED.signed_at`
	if _, err := tx.ExecContext(ctx, up, pq.Array(rIDs), pq.Array(rFor), pq.Array(rJSON), pq.Array(rJWT), now); err != nil {
		return fmt.Errorf("store %d signatures: %w", len(rIDs), err)
	}
	return nil
}

// signParallelMin is the fewest credentials worth signing on more than one
// goroutine.
const signParallelMin = 16

// signAll signs cs (both proofs each) on up to GOMAXPROCS goroutines:
// signing is CPU only, so a batch of hundreds takes a fraction of the time
// on several cores, while the caller's transaction stays one.
func (s *Service) signAll(cs []issuance.PublicCredential, iss IssuerIdentity, ks *keystore.Set, now time.Time) ([]signed, error) {
	out := make([]signed, len(cs))
	sg := s.newSigner(cs, iss, ks)
	workers := min(runtime.GOMAXPROCS(0), (len(cs)+signParallelMin-1)/signParallelMin)
	if workers <= 1 {
		for i, c := range cs {
			var err error
			if out[i], err = sg.signOne(sg.openBadge(s, c), now); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	var next atomic.Int64
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(cs) || errs[w] != nil {
					return
				}
				out[i], errs[w] = sg.signOne(sg.openBadge(s, cs[i]), now)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// HandleChanged returns the handler of issuance.ChangedJob: it signs the
// job's credentials that still need it. Register it with
// worker.Handle(issuance.ChangedJob, ...).
func (s *Service) HandleChanged() jobs.Handler {
	return func(ctx context.Context, j jobs.Job) error {
		var p issuance.ChangedPayload
		if err := json.Unmarshal(j.Payload, &p); err != nil {
			return fmt.Errorf("sign job %d: bad payload: %w", j.ID, err)
		}
		return s.Sign(ctx, p.IDs, true)
	}
}

// Signed returns public credential id's signed Open Badges 3.0
// JSON (with its Data Integrity proof) and its VC-JWT, exactly as
// /c/:id.json and /c/:id.jwt serve them, signing it first if the sign job
// has not yet (or not since its last amendment). An unknown or unpublished
// credential is NotFound; ErrSigningUnavailable without secret keys.
func (s *Service) Signed(ctx context.Context, id string) (json []byte, jwt string, err error) {
	id = strings.ToLower(id)
	if !issuance.ValidID(id) {
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
	JSON, JWT string
	Seq       int64
	Revoked   []int64
}

// signature returns public credential id's current signature, signing it
// first when it has none or a stale one.
func (s *Service) signature(ctx context.Context, id string, status bool) (storedSig, error) {
	sig, ok, err := s.storedSignature(ctx, id, status)
	if err != nil || ok {
		return sig, err
	}
	if err := s.Sign(ctx, []string{id}, false); err != nil {
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
	v, ok, err := s.Core.PublicVersionOf(ctx, id)
	if err != nil || !ok {
		return storedSig{}, false, err
	}
	var r storedSig
	var signedFor time.Time
	const q = `SELECT signed_json, signed_jwt, signed_for FROM credential_signatures WHERE credential_id = $1`
	switch err := s.DB.QueryRowxContext(ctx, q, id).Scan(&r.JSON, &r.JWT, &signedFor); {
	case errors.Is(err, sql.ErrNoRows):
		return storedSig{}, false, nil
	case err != nil:
		return storedSig{}, false, fmt.Errorf("signature of credential %s: %w", id, err)
	}
	if v.State != issuance.Revoked && !signedFor.Equal(v.Version) {
		return storedSig{}, false, nil
	}
	r.Seq = v.Seq
	if status {
		lo := v.Seq - v.Seq%openbadges.StatusListSize
		if r.Revoked, err = s.Core.RevokedSeqs(ctx, lo, lo+openbadges.StatusListSize); err != nil {
			return storedSig{}, false, err
		}
	}
	return r, true, nil
}
