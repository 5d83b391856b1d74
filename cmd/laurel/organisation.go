package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/issuance"
)

// organisationSet names the organisation (and sets its website, contact
// email and logo) without a browser, for operators who deploy by script. It
// is the owner's form on /admin/organisation with its validation; flags not
// given keep their values. The first save names the organisation, which
// lets credentials be published.
func (m *Main) organisationSet(ctx context.Context, args []string) error {
	fs := m.flags("organisation set")
	name := fs.String("name", "", "the organisation's name, e.g. \"University of Example\" (required until it has one)")
	website := fs.String("website", "", "its website, a full https:// address")
	contact := fs.String("contact-email", "", "the address recipients may write to")
	logo := fs.String("logo", "", "a PNG or SVG file, at most 1 MiB")
	zone := fs.String("time-zone", "", "the time zone pages and emails show times in, e.g. Europe/Paris")
	if err := parse(fs, args); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var upd issuance.OrganisationUpdate
	if *logo != "" {
		b, err := os.ReadFile(*logo)
		if err != nil {
			return fmt.Errorf("organisation set: --logo: %w", err)
		}
		upd.Logo = b
	}
	a, err := m.openStore(ctx)
	if err != nil {
		return err
	}
	o, err := a.Issuance.Organisation(ctx)
	if err != nil {
		return fmt.Errorf("organisation set: %w", err)
	}
	if !given["name"] && !o.Named {
		return errors.New("organisation set: --name is required: the organisation has no name yet")
	}
	if given["name"] {
		o.Name = *name
	}
	if given["time-zone"] {
		o.TimeZone = *zone
	}
	if given["website"] {
		o.Website = *website
	}
	if given["contact-email"] {
		o.ContactEmail = *contact
	}
	upd.Organisation = o
	out, err := a.Issuance.UpdateOrganisation(ctx, "system:cli", upd)
	if fe := apperr.FieldErrors(err); len(fe) > 0 {
		msgs := make([]string, len(fe))
		for i, f := range fe {
			msgs[i] = "--" + strings.ReplaceAll(f.Field, "_", "-") + ": " + f.Message
		}
		return fmt.Errorf("organisation set: %s", strings.Join(msgs, "; "))
	} else if err != nil {
		return fmt.Errorf("organisation set: %w", err)
	}
	fmt.Fprintf(m.Stdout, "organisation: %s\n", out.Name)
	fmt.Fprintf(m.Stdout, "time zone: %s\n", out.TimeZone)
	if out.LogoURL != "" {
		fmt.Fprintf(m.Stdout, "logo: %s\n", out.LogoURL)
	}
	return nil
}
