package issuance

// This file is the review and publish logic that other surfaces than the
// staff pages use (the LMS view of a course's instructors): reading the same
// forms the staff pages read, and finding a learner's credential.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
)

// FormSelection reads a publish form the way the staff review page does:
// the ticked credentials (field "ids", repeated) or, with all=1, every
// unpublished credential of group groupID. The selection is always bounded
// to groupID, so ids of other groups are never published through it. Too
// many ticked ids is an Invalid error.
func FormSelection(c *gin.Context, groupID int64) (Selection, error) {
	if c.PostForm("all") == "1" {
		return Selection{GroupID: groupID, AllUnpublished: true}, nil
	}
	var ids []string
	for _, id := range c.PostFormArray("ids") {
		id = strings.TrimSpace(id)
		if id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	if len(ids) > maxSelectedIDs {
		return Selection{}, apperr.Errorf(apperr.Invalid, "%d credentials are selected; at most %d can be published by ticking them. Use “Select all unpublished in this group” instead.", len(ids), maxSelectedIDs)
	}
	return Selection{GroupID: groupID, IDs: ids}, nil
}

// maxSelectedIDs bounds an explicit selection; "all unpublished in this
// group" covers larger ones.
const maxSelectedIDs = 1000

// FormAmendment compares a credential's amend form (fields name, email,
// issued_on, expires_on and attr_<key> for each of the group's attributes,
// read through value) with the credential and returns an Amendment holding
// only what changed, so the audit log shows real changes; changed is false
// when nothing did. Values of attributes the group no longer defines are
// kept.
func FormAmendment(cr Credential, g Group, value func(field string) string) (a Amendment, changed bool) {
	curExpires := ""
	if cr.ExpiresOn != nil {
		curExpires = cr.ExpiresOn.Format(DateLayout)
	}
	name, email, issued, expires := value("name"), value("email"), value("issued_on"), value("expires_on")
	if name != cr.Recipient.Name {
		a.Name = &name
	}
	if email != cr.Recipient.Email {
		a.Email = &email
	}
	if issued != cr.IssuedOn.Format(DateLayout) {
		a.IssuedOn = &issued
	}
	if expires != curExpires {
		a.ExpiresOn = &expires
	}
	attrs := map[string]string{}
	attrsChanged := false
	for _, at := range g.CredentialAttributes() {
		v := value("attr_" + at.Key)
		if v != "" {
			attrs[at.Key] = v
		}
		if v != cr.Attributes[at.Key] {
			attrsChanged = true
		}
	}
	if attrsChanged {
		for k, v := range cr.Attributes {
			if _, defined := attrs[k]; !defined && !g.HasAttribute(k) {
				attrs[k] = v
			}
		}
		a.Attributes = attrs
	}
	changed = a.Name != nil || a.Email != nil || a.IssuedOn != nil || a.ExpiresOn != nil || a.Attributes != nil
	return a, changed
}

// LearnerStatus is what a learner's own view shows: the group, and their
// credential in it that is not revoked, if any.
type LearnerStatus struct {
	Group Group
	// CredentialID and State are "" when the learner holds none.
	CredentialID string
	State        State
	// Values are the credential's custom attributes the learner may see
	// (AudienceRecipient), in the group's order.
	Values []VisibleValue
}

// LearnerStatus returns group groupID and a learner's credential in it that
// is not revoked — published or still awaiting review — found by
// externalRef (the completion source's identity) or, failing that, by
// email (either may be ""), in one statement: a student's launch asks on
// every visit. A published one is preferred over an unpublished one, then
// the newest. A missing group is an apperr.NotFound.
func (s *Service) LearnerStatus(ctx context.Context, groupID int64, externalRef, email string) (LearnerStatus, error) {
	const q = `SELECT ` + groupCols + groupSettingCols + `, COALESCE(c.cid, '') AS credential_id, COALESCE(c.cstate, '') AS credential_state,
	COALESCE(c.cattrs, '{}') AS credential_attributes
FROM groups LEFT JOIN LATERAL (
	SELECT id AS cid, state AS cstate, attributes AS cattrs FROM credentials
	WHERE group_id = $1 AND state IN ('published', 'unpublished')
	  AND ((external_ref = $2 AND $2 <> '') OR (lower(recipient_email) = lower($3) AND $3 <> ''))
	ORDER BY (external_ref = $2) DESC NULLS LAST, (state = 'published') DESC, seq DESC
	LIMIT 1) c ON true
WHERE groups.id = $1`
	var r struct {
		groupRow
		CredentialID    string `db:"credential_id"`
		CredentialState string `db:"credential_state"`
		CredentialAttrs []byte `db:"credential_attributes"`
	}
	err := s.stmts().GetContext(ctx, &r, q, groupID, externalRef, email)
	if errors.Is(err, sql.ErrNoRows) {
		return LearnerStatus{}, apperr.Errorf(apperr.NotFound, "Group %d does not exist.", groupID)
	}
	if err != nil {
		return LearnerStatus{}, fmt.Errorf("credential of %q / %q in group %d: %w", externalRef, email, groupID, err)
	}
	g, err := r.group()
	if err != nil {
		return LearnerStatus{}, err
	}
	c := Credential{Attributes: map[string]string{}}
	if err := json.Unmarshal(r.CredentialAttrs, &c.Attributes); err != nil {
		return LearnerStatus{}, fmt.Errorf("credential %s attributes: %w", r.CredentialID, err)
	}
	return LearnerStatus{Group: g, CredentialID: r.CredentialID, State: State(r.CredentialState),
		Values: c.VisibleValues(g, AudienceRecipient)}, nil
}
