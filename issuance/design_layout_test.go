package issuance_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/svgcheck"
)

func TestDesignLayoutsAndSlots(t *testing.T) {
	s, d := mustService(t)
	ctx := context.Background()
	before := tableCounts(t, d)
	for _, tc := range []struct {
		name  string
		d     issuance.Design
		field string
	}{
		{"a badge layout on a certificate", issuance.Design{Name: "A", Kind: issuance.Certificate, Layout: issuance.LayoutShield}, "layout"},
		{"an unknown layout", issuance.Design{Name: "A", Kind: issuance.Certificate, Layout: "baroque"}, "layout"},
		{"an unknown place", issuance.Design{Name: "A", Kind: issuance.Certificate, ImageSlots: map[string]string{"top": "signature"}}, "image_slots"},
		{"a bad key", issuance.Design{Name: "A", Kind: issuance.Certificate, ImageSlots: map[string]string{"left": "Not a key"}}, "image_slots"},
		{"one image twice", issuance.Design{Name: "A", Kind: issuance.Certificate, ImageSlots: map[string]string{"left": "sig", "right": "sig"}}, "image_slots"},
		{"a badge placing images", issuance.Design{Name: "A", Kind: issuance.Badge, Image: pngBytes(t), ImageSlots: map[string]string{"left": "sig"}}, "image_slots"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.CreateDesign(ctx, actor, tc.d)
			if diff := cmp.Diff([]string{"-1:" + tc.field}, fieldErrs(err)); !apperr.Is(err, apperr.Invalid) || diff != "" {
				t.Fatalf("%v %s", err, diff)
			}
			assertUnchanged(t, d, before)
		})
	}
	// No layout named: the kind's first, Classic for a certificate (the
	// look before layouts).
	c, err := s.CreateDesign(ctx, actor, issuance.Design{Name: "Plain", Kind: issuance.Certificate, Title: "Certificate"})
	if err != nil || c.Layout != issuance.LayoutClassic || len(c.ImageSlots) != 0 {
		t.Fatalf("default layout: %+v %v", c, err)
	}
	c.Layout, c.ImageSlots = issuance.LayoutModern, map[string]string{"centre": "signature", "left": ""}
	if c, err = s.UpdateDesign(ctx, actor, nil, c); err != nil || c.Layout != issuance.LayoutModern || !cmp.Equal(c.ImageSlots, map[string]string{"centre": "signature"}) {
		t.Fatalf("update: %+v %v", c, err)
	}
	c.Layout = ""
	if c, err = s.UpdateDesign(ctx, actor, nil, c); err != nil || c.Layout != issuance.LayoutModern {
		t.Fatalf("an update naming no layout changed it: %q %v", c.Layout, err)
	}
	// Each badge template's design carries its image, svgcheck-clean.
	for _, tpl := range issuance.DesignTemplates(issuance.Badge) {
		des := tpl.Design()
		des.Name = tpl.Name
		got, err := s.CreateDesign(ctx, actor, des)
		if err != nil || got.Layout != tpl.Layout || got.ImageType != "image/svg+xml" || svgcheck.Problem(got.Image) != "" {
			t.Fatalf("%s: %v %q %q", tpl.Name, err, got.Layout, svgcheck.Problem(got.Image))
		}
	}
}
