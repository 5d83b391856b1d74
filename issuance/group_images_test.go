package issuance_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/issuance"
)

func signatureGroup(t *testing.T, s *issuance.Service) issuance.Group {
	t.Helper()
	return mustGroup(t, s, func(g *issuance.Group) {
		g.Attributes = append(g.Attributes, issuance.Attribute{Key: "signature", Label: "Signature", Type: issuance.ImageAttr,
			Visibility: issuance.VisibilityPublic})
	})
}

// An image attribute is the group's: never required of a credential, never
// given per credential, and skipped where credentials take values.
func TestImageAttributeIsTheGroups(t *testing.T) {
	s, d := mustService(t)
	g := signatureGroup(t, s)
	if a := g.Attributes[len(g.Attributes)-1]; a.Type != issuance.ImageAttr || a.Required {
		t.Fatalf("stored image attribute %+v; want type image, not required", a)
	}
	for _, a := range g.CredentialAttributes() {
		if a.Type == issuance.ImageAttr {
			t.Fatalf("CredentialAttributes lists %q", a.Key)
		}
	}
	// Required makes no sense for it: refused, naming the field.
	bad := g
	bad.Attributes = append([]issuance.Attribute(nil), g.Attributes...)
	k := len(bad.Attributes) - 1
	bad.Attributes[k].Required = true
	if _, err := s.UpdateGroup(context.Background(), actor, bad); !apperr.Is(err, apperr.Invalid) ||
		!strings.Contains(strings.Join(fieldErrs(err), " "), fmt.Sprintf("attributes[%d].required", k)) {
		t.Fatalf("a required image attribute: %v %v", err, fieldErrs(err))
	}
	mustCreate(t, s, g.ID, item("Ada", "ada@example.edu")) // no signature needed
	before := tableCounts(t, d)
	it := item("Bea", "bea@example.edu")
	it.Attributes["signature"] = "a.png"
	_, err := s.CreateCredentials(context.Background(), actor, g.ID, issuance.FromForm, []issuance.NewCredential{it})
	if !apperr.Is(err, apperr.Invalid) || !strings.Contains(strings.Join(fieldErrs(err), " "), "attributes.signature") ||
		!strings.Contains(apperr.FieldErrors(err)[0].Message, "upload it on the group") {
		t.Fatalf("a per-credential value for an image attribute: %v %v", err, fieldErrs(err))
	}
	assertUnchanged(t, d, before)
}

func TestGroupImages(t *testing.T) {
	s, d := mustService(t)
	ctx := context.Background()
	g := signatureGroup(t, s)
	count := func() int {
		var n int
		if err := d.Get(&n, `SELECT count(*) FROM group_images`); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, tc := range []struct {
		name, key string
		data      []byte
		msg       string
	}{
		{"not an image attribute", "grade", pngBytes(t), `has no image attribute "grade"`},
		{"unknown key", "seal", pngBytes(t), `has no image attribute "seal"`},
		{"a GIF", "signature", []byte("GIF89a......"), "must be a PNG, JPEG or SVG file"},
		{"an SVG with script", "signature", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), "without scripts"},
		{"too large", "signature", append(pngBytes(t), make([]byte, issuance.MaxImageBytes)...), "at most 1024 KiB"},
		{"empty", "signature", nil, "is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := tableCounts(t, d)
			err := s.SetGroupImage(ctx, actor, g.ID, tc.key, tc.data)
			fe := apperr.FieldErrors(err)
			if len(fe) != 1 || fe[0].Field != "image_"+tc.key || !strings.Contains(fe[0].Message, tc.msg) {
				t.Fatalf("got %v %+v; want a field error on image_%s saying %q", err, fe, tc.key, tc.msg)
			}
			assertUnchanged(t, d, before)
			if count() != 0 {
				t.Fatal("an image was stored")
			}
		})
	}
	if err := s.SetGroupImage(ctx, actor, 999999, "signature", pngBytes(t)); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("unknown group: %v", err)
	}

	// A PNG, then a JPEG replacing it: one image per attribute.
	if err := s.SetGroupImage(ctx, actor, g.ID, "signature", pngBytes(t)); err != nil {
		t.Fatal(err)
	}
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, image.NewGray(image.Rect(0, 0, 8, 4)), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.SetGroupImage(ctx, actor, g.ID, "signature", jb.Bytes()); err != nil {
		t.Fatal(err)
	}
	im, err := s.GroupImageOf(ctx, g.ID, "signature")
	if err != nil || im.Type != "image/jpeg" || !bytes.Equal(im.Image, jb.Bytes()) || count() != 1 {
		t.Fatalf("stored image %q %d bytes (%v), %d rows", im.Type, len(im.Image), err, count())
	}
	list, err := s.GroupImages(ctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"signature/image/jpeg"}, []string{list[0].Key + "/" + list[0].Type}); diff != "" || list[0].Image != nil || list[0].Size != jb.Len() {
		t.Fatalf("listed %+v %s", list, diff)
	}
	var audits int
	if err := d.Get(&audits, `SELECT count(*) FROM audit_log WHERE entity_type = 'group' AND action = 'set_image'`); err != nil || audits != 2 {
		t.Fatalf("%d set_image audit rows (%v)", audits, err)
	}

	// The attribute removed from the group (its type is the Attributes
	// section's, which the group cannot change): its image goes with it.
	g.Attributes = g.Attributes[:len(g.Attributes)-1]
	if _, err := s.UpdateGroup(ctx, actor, g); err != nil {
		t.Fatal(err)
	}
	if count() != 0 {
		t.Fatal("the image outlived its image attribute")
	}
	if _, err := s.GroupImageOf(ctx, g.ID, "signature"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("after removal: %v", err)
	}
}
