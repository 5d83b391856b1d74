package issuance

import (
	"context"
	"fmt"
	"time"
)

// CredentialJSON is a credential as JSON API v1 shows it (the contract's
// credential object): the one JSON shape of a credential, for every surface
// that answers with one (the credentials API, a mapping's reconciliation).
type CredentialJSON struct {
	ID               string            `json:"id"`
	GroupID          int64             `json:"group_id"`
	State            State             `json:"state"`
	Recipient        Recipient         `json:"recipient"`
	IssuedOn         string            `json:"issued_on"`
	ExpiresOn        *string           `json:"expires_on"`
	Attributes       map[string]string `json:"attributes"`
	EvidenceURL      string            `json:"evidence_url"`
	URL              string            `json:"url"`
	Source           Source            `json:"source"`
	CreatedAt        time.Time         `json:"created_at"`
	UpdatedAt        time.Time         `json:"updated_at"`
	PublishedAt      *time.Time        `json:"published_at"`
	RevokedAt        *time.Time        `json:"revoked_at"`
	RevocationReason string            `json:"revocation_reason"`
}

// CredentialJSON returns c in its JSON shape, with its public URL.
func (s *Service) CredentialJSON(c Credential) CredentialJSON {
	o := CredentialJSON{ID: c.ID, GroupID: c.GroupID, State: c.State, Recipient: c.Recipient,
		IssuedOn: c.IssuedOn.Format(DateLayout), Attributes: c.Attributes, EvidenceURL: c.EvidenceURL,
		URL: s.CredentialURL(c.ID), Source: c.Source, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
		PublishedAt: c.PublishedAt, RevokedAt: c.RevokedAt, RevocationReason: c.RevocationReason}
	if c.ExpiresOn != nil {
		e := c.ExpiresOn.Format(DateLayout)
		o.ExpiresOn = &e
	}
	if o.Attributes == nil {
		o.Attributes = map[string]string{}
	}
	return o
}

// Holding is who holds one credential of a group, for matching a course
// roster to it: by the automatic source's identity or by email.
type Holding struct {
	CredentialID string `db:"id"`
	State        State  `db:"state"`
	// Email is the recipient's email, lower-case.
	Email string `db:"email"`
	// ExternalRef is the automatic source's identity ("" for none).
	ExternalRef string `db:"external_ref"`
}

// Holdings lists who holds each credential of group groupID, of people
// only (nil: everyone), oldest first, in one query (a course roster is
// matched against them).
func (s *Service) Holdings(ctx context.Context, groupID int64, people *Recipients) ([]Holding, error) {
	cond, args := people.cond(2)
	// cond is constant text; every value is a parameter.
	q := `SELECT id, state, lower(recipient_email) AS email, COALESCE(external_ref, '') AS external_ref
FROM credentials WHERE group_id = $1` + cond + ` ORDER BY seq`
	var out []Holding
	if err := s.DB.SelectContext(ctx, &out, q, append([]any{groupID}, args...)...); err != nil {
		return nil, fmt.Errorf("holdings of group %d: %w", groupID, err)
	}
	return out, nil
}
