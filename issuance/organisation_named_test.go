package issuance_test

import (
	"context"
	"errors"
	"testing"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/internal/issuancetest"
)

// TestPublishWaitsForTheOrganisation: before an owner names the organisation
// the publish transaction refuses (Conflict, organisation_not_set, a link to
// the setup page) and auto-publishing completions create unpublished
// credentials with no email; the first save names it and publishing works.
func TestPublishWaitsForTheOrganisation(t *testing.T) {
	s, d := mustService(t)
	issuancetest.Unname(t, d)
	ctx := context.Background()
	g := mustGroup(t, s, nil)
	cs := mustCreate(t, s, g.ID, item("Ada", "ada@example.edu"))

	o, err := s.Organisation(ctx)
	if err != nil || o.Named {
		t.Fatalf("fresh organisation %+v, %v", o, err)
	}
	_, err = s.Publish(ctx, actor, issuance.Selection{IDs: []string{cs[0].ID}})
	var ae *apperr.Error
	if apperr.Code(err) != apperr.Conflict || apperr.Reason(err) != issuance.ReasonOrganisationNotSet {
		t.Fatalf("publish before naming: %v", err)
	}
	if !errors.As(err, &ae) || ae.Link != "/admin/organisation" {
		t.Fatalf("refusal's link: %+v", ae)
	}

	out, err := ensureBatch(t, s, d, g.ID, []issuance.NewCredential{item("Grace", "grace@example.edu")}, true)
	if err != nil || out[0].Err != nil || !out[0].Created || out[0].Credential.State != issuance.Unpublished {
		t.Fatalf("auto-publish before naming: %+v, %v", out, err)
	}
	if n := jobCount(t, d, issuance.EmailJob); n != 0 {
		t.Fatalf("%d emails queued before the organisation is named", n)
	}

	o.Name = "University of Example"
	if o, err = s.UpdateOrganisation(ctx, actor, issuance.OrganisationUpdate{Organisation: o}); err != nil || !o.Named {
		t.Fatalf("name the organisation: %+v, %v", o, err)
	}
	res, err := s.Publish(ctx, actor, issuance.Selection{GroupID: g.ID, AllUnpublished: true})
	if err != nil || res.Published != 2 {
		t.Fatalf("publish once named: %+v, %v", res, err)
	}
	out, err = ensureBatch(t, s, d, g.ID, []issuance.NewCredential{item("Alan", "alan@example.edu")}, true)
	if err != nil || out[0].Credential.State != issuance.Published {
		t.Fatalf("auto-publish once named: %+v, %v", out, err)
	}
}
