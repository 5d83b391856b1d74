package issuance_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/secret"
	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/issuance"
)

const actor = "user:1:staff@laurel.test"

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func mustService(t testing.TB) (*issuance.Service, *sqlx.DB) {
	t.Helper()
	d := testenv.DB(t)
	s := issuance.New(d, "https://laurel.test")
	s.Log = quiet
	return s, d
}

func intp(i int) *int       { return &i }
func strp(s string) *string { return &s }

// mustGroup creates a group with two custom attributes: grade (number,
// required) and completed (date, optional).
func mustGroup(t testing.TB, s *issuance.Service, mod func(*issuance.Group)) issuance.Group {
	t.Helper()
	g := issuance.Group{Name: "Data Science Foundations", CourseName: "DS 101", Attributes: []issuance.Attribute{
		{Key: "grade", Label: "Grade", Type: issuance.NumberAttr, Required: true},
		{Key: "completed", Label: "Completed", Type: issuance.DateAttr},
	}}
	if mod != nil {
		mod(&g)
	}
	g, err := s.CreateGroup(context.Background(), actor, g)
	if err != nil {
		t.Fatalf("create group: %v", err)
	}
	return g
}

func item(name, email string) issuance.NewCredential {
	return issuance.NewCredential{Recipient: issuance.Recipient{Name: name, Email: email}, IssuedOn: "2026-06-30",
		Attributes: map[string]string{"grade": "91.5"}}
}

func mustCreate(t testing.TB, s *issuance.Service, gid int64, items ...issuance.NewCredential) []issuance.Credential {
	t.Helper()
	cs, err := s.CreateCredentials(context.Background(), actor, gid, issuance.FromForm, items)
	if err != nil {
		t.Fatalf("create credentials: %v (%+v)", err, apperr.FieldErrors(err))
	}
	return cs
}

// tableCounts is the row count of every table a write could touch, to prove
// a rejected request changed nothing.
func tableCounts(t testing.TB, d *sqlx.DB) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, tb := range []string{"credentials", "audit_log", "credential_emails", "jobs", "groups", "designs"} {
		var n int
		if err := d.Get(&n, `SELECT count(*) FROM `+tb); err != nil {
			t.Fatal(err)
		}
		out[tb] = n
	}
	return out
}

func assertUnchanged(t testing.TB, d *sqlx.DB, before map[string]int) {
	t.Helper()
	if diff := cmp.Diff(before, tableCounts(t, d)); diff != "" {
		t.Fatalf("database changed (-before +after):\n%s", diff)
	}
}

// fieldErrs renders an error's per-field problems as "index:field" strings.
func fieldErrs(err error) []string {
	var out []string
	for _, f := range apperr.FieldErrors(err) {
		out = append(out, itoa(f.Index)+":"+f.Field)
	}
	sort.Strings(out)
	return out
}

func itoa(i int) string {
	if i < 0 {
		return "-" + itoa(-i)
	}
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func mustCode(t testing.TB, err error, code string) {
	t.Helper()
	if apperr.Code(err) != code {
		t.Fatalf("error = %v (code %q), want code %q", err, apperr.Code(err), code)
	}
}

func pngBytes(t testing.TB) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	img.Set(1, 1, color.RGBA{200, 10, 10, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func contains(s string, subs ...string) error {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return errors.New("missing " + sub)
		}
	}
	return nil
}

var _ = time.Now

// mustKeys returns fresh secret keys, so the service signs credentials.
func mustKeys(t testing.TB) *secret.Keys {
	t.Helper()
	k, err := secret.Parse(secret.Generate())
	if err != nil {
		t.Fatal(err)
	}
	return k
}
