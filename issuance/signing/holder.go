package signing

// Holder-bound copies: the credential a wallet claims, signed for the
// holder's DID. They are made on demand and not stored: the published
// credential's signature (credential_signatures) stays the one Sign writes.

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/jose"
	"github.com/laurel-edu/laurel/internal/keystore"
	"github.com/laurel-edu/laurel/issuance"
)

// HolderCopy is a published credential signed for a holder: the same
// Open Badges credential (id, achievement, dates, results, status entry)
// whose credentialSubject.id is the holder's DID.
type HolderCopy struct {
	JSON []byte // with its Data Integrity proof (eddsa-rdfc-2022)
	JWT  string // the VC-JWT (ES256), sub = the holder's DID
}

// SignForHolder signs published credential id for holder (a DID). It
// carries the published credential's status entry, so revoking the
// credential revokes every copy. An unknown, unpublished or revoked
// credential is NotFound (revoked: Gone); ErrSigningUnavailable without
// secret keys.
func (s *Service) SignForHolder(ctx context.Context, id, holder string) (HolderCopy, error) {
	if !strings.HasPrefix(holder, "did:") {
		return HolderCopy{}, apperr.Errorf(apperr.Invalid, "The holder %q is not a DID.", holder)
	}
	ks, err := s.signingKeys(ctx)
	if err != nil {
		return HolderCopy{}, err
	}
	iss, err := s.Identity(ctx)
	if err != nil {
		return HolderCopy{}, fmt.Errorf("sign credential %s for a holder: issuer: %w", id, err)
	}
	var c issuance.PublicCredential
	err = db.InTx(ctx, s.DB, func(tx *sqlx.Tx) error {
		cs, err := s.Core.LockPublic(ctx, tx, []string{id}, false)
		if err != nil {
			return fmt.Errorf("sign credential %s for a holder: %w", id, err)
		}
		if len(cs) == 0 {
			return apperr.Errorf(apperr.NotFound, "Credential %q does not exist.", id)
		}
		c = cs[0]
		return nil
	})
	if err != nil {
		return HolderCopy{}, err
	}
	if c.State != issuance.Published {
		return HolderCopy{}, apperr.Errorf(apperr.Gone, "Credential %q has been revoked.", id)
	}
	b := s.openBadge(c, iss)
	b.CredentialSubject.ID = holder
	ed, es := ks.Newest(keystore.Ed25519), ks.Newest(keystore.ES256)
	withProof, err := b.Sign(ed.Private.(ed25519.PrivateKey), s.verificationMethod(ed.KID), s.now())
	if err != nil {
		return HolderCopy{}, fmt.Errorf("sign credential %s for a holder: %w", id, err)
	}
	js, err := json.Marshal(withProof)
	if err != nil {
		return HolderCopy{}, fmt.Errorf("sign credential %s for a holder: %w", id, err)
	}
	payload, err := jwtPayload(b)
	if err != nil {
		return HolderCopy{}, fmt.Errorf("sign credential %s for a holder: %w", id, err)
	}
	jwt, err := jose.SignES256(jose.ES256Key{KID: s.jwkURL(es.KID), Priv: es.Private.(*ecdsa.PrivateKey)}, "JWT", payload)
	if err != nil {
		return HolderCopy{}, fmt.Errorf("sign credential %s for a holder: %w", id, err)
	}
	return HolderCopy{JSON: js, JWT: jwt}, nil
}
