package lti_test

import (
	"context"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/internal/testenv/boundary"
	"github.com/laurel-edu/laurel/lti"
)

// Package lti is LTI as the specification defines it: its platform types
// carry nothing Canvas-only (package canvas keeps the Canvas URL, API token
// and the Instructure-hosted endpoints, through lti.PlatformExtension).
func TestPlatformTypesCarryNothingCanvasOnly(t *testing.T) {
	for _, v := range []any{lti.Platform{}, lti.PlatformInput{}, lti.User{}} {
		typ := reflect.TypeOf(v)
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			if strings.Contains(strings.ToLower(f.Name+" "+string(f.Tag)), "canvas") {
				t.Errorf("%s.%s %s is Canvas-only", typ.Name(), f.Name, f.Tag)
			}
		}
	}
}

// No SQL of package lti names a Canvas table or column.
func TestLTISQLNamesNoCanvasColumn(t *testing.T) {
	sql := regexp.MustCompile(`\b(SELECT|INSERT|UPDATE|DELETE)\b`)
	found := 0
	for _, lit := range boundary.Literals(t, ".") {
		if !sql.MatchString(lit.Value) {
			continue
		}
		found++
		if strings.Contains(lit.Value, "canvas_") {
			t.Errorf("%s: SQL names a Canvas table or column: %s", lit.Pos, lit.Value)
		}
	}
	if found == 0 {
		t.Fatal("no SQL found in package lti: the scan is broken")
	}
}

// Without package canvas's extension the registry knows no hosted issuer
// (an Instructure issuer needs its endpoints like any other) and refuses
// settings it cannot keep, naming them; nothing is stored.
func TestRegistryWithoutExtension(t *testing.T) {
	d := testenv.DB(t)
	reg := lti.NewRegistry(d)
	ctx := context.Background()
	_, err := reg.AddPlatform(ctx, lti.PlatformInput{Issuer: "https://canvas.instructure.com", ClientID: "170000000000009"})
	fields := map[string]bool{}
	for _, fe := range apperr.FieldErrors(err) {
		fields[fe.Field] = true
	}
	if !apperr.Is(err, apperr.Invalid) || !fields["auth_url"] || !fields["jwks_url"] {
		t.Fatalf("hosted issuer without endpoints, no extension: %v (fields %v)", err, fields)
	}
	if len(reg.KnownIssuers()) != 0 {
		t.Fatalf("known issuers without an extension: %v", reg.KnownIssuers())
	}
	_, err = reg.AddPlatform(ctx, lti.PlatformInput{Issuer: "https://lms.example.org", ClientID: "x",
		AuthURL: "https://lms.example.org/auth", JWKSURL: "https://lms.example.org/jwks", Extra: map[string]string{"canvas_url": "https://lms.example.org"}})
	fe := apperr.FieldErrors(err)
	if !apperr.Is(err, apperr.Invalid) || len(fe) != 1 || fe[0].Field != "canvas_url" {
		t.Fatalf("extra setting without an extension: %v %+v", err, fe)
	}
	var n int
	must(t, d.Get(&n, `SELECT count(*) FROM platforms`))
	if n != 0 {
		t.Fatalf("%d platforms stored by refused adds", n)
	}
}
