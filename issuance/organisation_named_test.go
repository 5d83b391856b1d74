package issuance_test

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/internal/issuancetest"
	"github.com/laurel-edu/laurel/migrations"
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

// TestMigrationNamesRenamedOrganisations: migration 0042 counts an
// installation whose owner already renamed the organisation as named, and
// leaves one still called "Laurel" unnamed.
func TestMigrationNamesRenamedOrganisations(t *testing.T) {
	b, err := fs.ReadFile(migrations.FS, "0042_organisation_named.sql")
	if err != nil {
		t.Fatal(err)
	}
	up := strings.SplitN(strings.SplitN(string(b), "-- +goose Down", 2)[0], "-- +goose Up", 2)[1]
	for _, tc := range []struct {
		name  string
		named bool
	}{{"Laurel", false}, {"University of Example", true}} {
		_, d := mustService(t)
		// The table as it was before the migration.
		if _, err := d.Exec(`ALTER TABLE organisation DROP COLUMN named_at`); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Exec(`UPDATE organisation SET name = $1`, tc.name); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Exec(up); err != nil {
			t.Fatal(err)
		}
		var named bool
		if err := d.Get(&named, `SELECT named_at IS NOT NULL FROM organisation`); err != nil || named != tc.named {
			t.Errorf("organisation %q named after the migration: %v (%v), want %v", tc.name, named, err, tc.named)
		}
	}
}
