package signing

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/cache"
	"github.com/laurel-edu/laurel/internal/keystore"
	"github.com/laurel-edu/laurel/issuance/openbadges"
)

// cachedList is what statusLists keeps of a status list: its last
// signed form and, once checked, the verified bits, so pages need not
// re-verify an unchanged list. It needs no expiry: an entry is used only
// while its hash or JSON matches what the caller just read.
type cachedList struct {
	hash     [32]byte
	json     []byte
	verified []byte // the bits, once the proof verified; nil before
}

// statusLists is s.status, made on first use.
func (s *Service) statusLists() *cache.TTL[int64, cachedList] {
	s.statusOnce.Do(func() { s.status = cache.New[int64, cachedList](0, 0, nil) })
	return s.status
}

// statusBits reads list's bits from the revoked credentials.
func (s *Service) statusBits(ctx context.Context, list int64) ([]byte, error) {
	lo := list * openbadges.StatusListSize
	seqs, err := s.Core.RevokedSeqs(ctx, lo, lo+openbadges.StatusListSize)
	if err != nil {
		return nil, fmt.Errorf("status list %d: %w", list, err)
	}
	bits := make([]byte, openbadges.StatusListSize/8)
	for _, n := range seqs {
		openbadges.SetBit(bits, int(n-lo))
	}
	return bits, nil
}

// StatusList returns the signed BitstringStatusListCredential list as
// /status/:list serves it, re-signing it when its bits changed since it was
// last signed. A list past the last credential is NotFound.
func (s *Service) StatusList(ctx context.Context, list int64) ([]byte, error) {
	if list < 0 {
		return nil, errNoSuchList(list)
	}
	last, ok, err := s.Core.LastSeq(ctx)
	if err != nil {
		return nil, fmt.Errorf("status list %d: %w", list, err)
	}
	if !ok || list > last/openbadges.StatusListSize {
		return nil, errNoSuchList(list)
	}
	return s.statusList(ctx, list)
}

// statusList is StatusList for a list known to exist.
func (s *Service) statusList(ctx context.Context, list int64) ([]byte, error) {
	bits, err := s.statusBits(ctx, list)
	if err != nil {
		return nil, err
	}
	return s.statusListOf(ctx, list, bits)
}

// statusListOf returns list signed with bits (its current bits), signing
// it when they changed since it was last signed.
func (s *Service) statusListOf(ctx context.Context, list int64, bits []byte) ([]byte, error) {
	hash := sha256.Sum256(bits)
	if c, ok := s.statusLists().Get(list); ok && c.hash == hash {
		return c.json, nil
	}
	var row struct {
		Hash []byte `db:"bits_hash"`
		JSON string `db:"signed_json"`
	}
	err := s.DB.GetContext(ctx, &row, `SELECT bits_hash, signed_json FROM status_lists WHERE list = $1`, list)
	switch {
	case err == nil && bytes.Equal(row.Hash, hash[:]):
		s.statusLists().Set(list, cachedList{hash: hash, json: []byte(row.JSON)})
		return []byte(row.JSON), nil
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("status list %d: %w", list, err)
	}
	signed, err := s.signStatusList(ctx, list, bits)
	if err != nil {
		return nil, err
	}
	const up = `INSERT INTO status_lists (list, bits_hash, signed_json, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (list) DO UPDATE SET bits_hash = EXCLUDED.bits_hash, signed_json = EXCLUDED.signed_json, updated_at = EXCLUDED.updated_at`
	if _, err := s.DB.ExecContext(ctx, up, list, hash[:], string(signed), s.now()); err != nil {
		return nil, fmt.Errorf("store status list %d: %w", list, err)
	}
	s.statusLists().Set(list, cachedList{hash: hash, json: signed})
	return signed, nil
}

func errNoSuchList(list int64) error {
	return apperr.Errorf(apperr.NotFound, "Status list %d does not exist.", list)
}

func (s *Service) signStatusList(ctx context.Context, list int64, bits []byte) ([]byte, error) {
	ks, err := s.signingKeys(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Second)
	doc, err := openbadges.NewStatusList(s.statusListURL(list), s.DID(), now.Format(time.RFC3339), bits)
	if err != nil {
		return nil, fmt.Errorf("status list %d: %w", list, err)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	ed := ks.Newest(keystore.Ed25519)
	signed, _, _, err := openbadges.SignDocument(b, openbadges.NewProof(s.verificationMethod(ed.KID), now), ed.Private.(ed25519.PrivateKey), nil)
	if err != nil {
		return nil, fmt.Errorf("sign status list %d: %w", list, err)
	}
	return signed, nil
}

// revokedBit reads credential seq's bit from its published status list
// (whose current revoked sequence numbers the caller read), after verifying
// the list's proof (once per version of the list).
func (s *Service) revokedBit(ctx context.Context, seq int64, revokedSeqs []int64) (bool, error) {
	list, idx := seq/openbadges.StatusListSize, int(seq%openbadges.StatusListSize)
	bits := make([]byte, openbadges.StatusListSize/8)
	for _, n := range revokedSeqs {
		openbadges.SetBit(bits, int(n-list*openbadges.StatusListSize))
	}
	js, err := s.statusListOf(ctx, list, bits)
	if err != nil {
		return false, err
	}
	c, _ := s.statusLists().Get(list)
	if c.verified != nil && bytes.Equal(c.json, js) {
		return openbadges.Bit(c.verified, idx), nil
	}
	if err := openbadges.VerifyDocument(js, func(vm string) (ed25519.PublicKey, error) { return s.resolveMultikey(ctx, vm) }, nil); err != nil {
		return false, fmt.Errorf("status list %d: %w", list, err)
	}
	var doc openbadges.StatusListCredential
	if err := json.Unmarshal(js, &doc); err != nil {
		return false, fmt.Errorf("status list %d: %w", list, err)
	}
	published, err := openbadges.DecodeBits(doc.CredentialSubject.EncodedList, openbadges.StatusListSize/8)
	if err != nil {
		return false, fmt.Errorf("status list %d: %w", list, err)
	}
	c.verified, c.json = published, js
	c.hash = sha256.Sum256(published)
	s.statusLists().Set(list, c)
	return openbadges.Bit(published, idx), nil
}
