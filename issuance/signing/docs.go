package signing

// The issuer's published Open Badges documents: its did:web DID document
// (the Ed25519 Multikeys), its Profile, its JWKs (the VC-JWT keys) and
// every group as an Achievement.

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/jose"
	"github.com/laurel-edu/laurel/internal/keystore"
	"github.com/laurel-edu/laurel/issuance/openbadges"
)

// didDocument is a did:web DID document listing Multikeys.
type didDocument struct {
	Context            []string       `json:"@context"`
	ID                 string         `json:"id"`
	VerificationMethod []multikeyNode `json:"verificationMethod"`
	AssertionMethod    []string       `json:"assertionMethod"`
}

type multikeyNode struct {
	ID                 string `json:"id"`
	Type               string `json:"type"`
	Controller         string `json:"controller"`
	PublicKeyMultibase string `json:"publicKeyMultibase"`
}

// DIDDocument returns the issuer's DID document: every Ed25519 credential
// key as a Multikey, each an assertionMethod. It uses the DID v1 context
// (which defines assertionMethod, so JSON-LD safe mode accepts it).
func (s *Service) DIDDocument(ctx context.Context) ([]byte, error) {
	ks, err := s.signingKeys(ctx)
	if err != nil {
		return nil, err
	}
	did := s.DID()
	doc := didDocument{Context: []string{openbadges.ContextDID1, openbadges.ContextMultikey1}, ID: did,
		VerificationMethod: []multikeyNode{}, AssertionMethod: []string{}}
	for _, k := range ks.All(keystore.Ed25519) {
		vm := s.verificationMethod(k.KID)
		doc.VerificationMethod = append(doc.VerificationMethod, multikeyNode{ID: vm, Type: "Multikey", Controller: did,
			PublicKeyMultibase: openbadges.PublicKeyMultibase(k.Private.Public().(ed25519.PublicKey))})
		doc.AssertionMethod = append(doc.AssertionMethod, vm)
	}
	return json.Marshal(doc)
}

// resolveMultikey dereferences a verificationMethod through the DID
// document this service publishes: the key must be listed there and be an
// assertionMethod of the issuer's DID.
func (s *Service) resolveMultikey(ctx context.Context, vm string) (ed25519.PublicKey, error) {
	js, err := s.DIDDocument(ctx)
	if err != nil {
		return nil, err
	}
	var doc didDocument
	if err := json.Unmarshal(js, &doc); err != nil {
		return nil, err
	}
	asserts := false
	for _, a := range doc.AssertionMethod {
		asserts = asserts || a == vm
	}
	for _, k := range doc.VerificationMethod {
		if k.ID == vm && asserts && k.Controller == doc.ID {
			return openbadges.ParsePublicKeyMultibase(k.PublicKeyMultibase)
		}
	}
	return nil, fmt.Errorf("verification method %s is not an assertion key in the issuer's DID document", vm)
}

// IssuerProfile returns the issuer as a standalone Open Badges Profile.
func (s *Service) IssuerProfile(ctx context.Context) ([]byte, error) {
	iss, err := s.Identity(ctx)
	if err != nil {
		return nil, err
	}
	p := s.profile(iss)
	p.Context = []string{openbadges.ContextVC2, openbadges.ContextOB303}
	return json.Marshal(p)
}

// IssuerJWK returns the published JWK of the VC-JWT key kid (the one a
// VC-JWT's kid URL names), or NotFound.
func (s *Service) IssuerJWK(ctx context.Context, kid string) ([]byte, error) {
	ks, err := s.signingKeys(ctx)
	if err != nil {
		return nil, err
	}
	k, ok := ks.ByKID(kid)
	if !ok || k.Alg != keystore.ES256 {
		return nil, apperr.Errorf(apperr.NotFound, "Key %q does not exist.", kid)
	}
	return jose.PublicJWKES256(s.jwkURL(kid), k.Private.Public().(*ecdsa.PublicKey))
}

// IssuerJWKS returns every VC-JWT key as a JSON Web Key Set.
func (s *Service) IssuerJWKS(ctx context.Context) ([]byte, error) {
	ks, err := s.signingKeys(ctx)
	if err != nil {
		return nil, err
	}
	es := ks.All(keystore.ES256)
	keys := make([]json.RawMessage, 0, len(es))
	for _, k := range es {
		j, err := jose.PublicJWKES256(s.jwkURL(k.KID), k.Private.Public().(*ecdsa.PublicKey))
		if err != nil {
			return nil, err
		}
		keys = append(keys, j)
	}
	return json.Marshal(map[string]any{"keys": keys})
}

// jwtKey resolves a VC-JWT kid URL to its published key.
func (s *Service) jwtKey(ctx context.Context, kidURL string) (*ecdsa.PublicKey, error) {
	kid, ok := strings.CutPrefix(kidURL, s.jwkURL(""))
	if !ok {
		return nil, fmt.Errorf("the VC-JWT's kid %q is not one of the issuer's keys", kidURL)
	}
	ks, err := s.signingKeys(ctx)
	if err != nil {
		return nil, err
	}
	k, ok := ks.ByKID(kid)
	if !ok || k.Alg != keystore.ES256 {
		return nil, fmt.Errorf("the VC-JWT's kid %q is not one of the issuer's keys", kidURL)
	}
	return k.Private.Public().(*ecdsa.PublicKey), nil
}

// AchievementDocument returns group id as a standalone Open Badges
// Achievement (the same object credentials embed), or NotFound.
func (s *Service) AchievementDocument(ctx context.Context, id string) ([]byte, error) {
	g, d, err := s.Core.PublicGroup(ctx, id)
	if err != nil {
		return nil, err
	}
	iss, err := s.Identity(ctx)
	if err != nil {
		return nil, err
	}
	a := s.achievement(g, d.Kind, len(d.Image) > 0, iss)
	a.Context = []string{openbadges.ContextVC2, openbadges.ContextOB303}
	return json.Marshal(a)
}
