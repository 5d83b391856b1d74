// Package issuancetest holds the test helpers the issuance packages' tests
// share: a core service on a fresh database, a group, credentials, and the
// "database unchanged" assertion.
package issuancetest

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

	"github.com/google/go-cmp/cmp"
	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/secret"
	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/issuance"
)

// Actor is the actor of the changes tests make.
const Actor = "user:1:staff@laurel.test"

// Quiet is a logger that discards everything.
var Quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// MustService is a core service on a fresh database, and the database.
func MustService(t testing.TB) (*issuance.Service, *sqlx.DB) {
	t.Helper()
	d := testenv.DB(t)
	s := issuance.New(d, "https://laurel.test")
	s.Log = Quiet
	return s, d
}

// IntP returns a pointer to i.
func IntP(i int) *int { return &i }

// StrP returns a pointer to s.
func StrP(s string) *string { return &s }

// MustGroup creates a group with two custom attributes: grade (number,
// required) and completed (date, optional).
func MustGroup(t testing.TB, s *issuance.Service, mod func(*issuance.Group)) issuance.Group {
	t.Helper()
	g := issuance.Group{Name: "Data Science Foundations", CourseName: "DS 101", Attributes: []issuance.Attribute{
		{Key: "grade", Label: "Grade", Type: issuance.NumberAttr, Required: true},
		{Key: "completed", Label: "Completed", Type: issuance.DateAttr},
	}}
	if mod != nil {
		mod(&g)
	}
	g, err := s.CreateGroup(context.Background(), Actor, g)
	if err != nil {
		t.Fatalf("create group: %v", err)
	}
	return g
}

// Item is a new credential for name and email in a MustGroup group.
func Item(name, email string) issuance.NewCredential {
	return issuance.NewCredential{Recipient: issuance.Recipient{Name: name, Email: email}, IssuedOn: "2026-06-30",
		Attributes: map[string]string{"grade": "91.5"}}
}

// MustCreate creates items in group gid from the form.
func MustCreate(t testing.TB, s *issuance.Service, gid int64, items ...issuance.NewCredential) []issuance.Credential {
	t.Helper()
	cs, err := s.CreateCredentials(context.Background(), Actor, gid, issuance.FromForm, items)
	if err != nil {
		t.Fatalf("create credentials: %v (%+v)", err, apperr.FieldErrors(err))
	}
	return cs
}

// TableCounts is the row count of every table a write could touch, to prove
// a rejected request changed nothing.
func TableCounts(t testing.TB, d *sqlx.DB) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, tb := range []string{"credentials", "audit_log", "credential_emails", "jobs", "groups", "designs", "attributes"} {
		var n int
		if err := d.Get(&n, `SELECT count(*) FROM `+tb); err != nil {
			t.Fatal(err)
		}
		out[tb] = n
	}
	return out
}

// AssertUnchanged fails t when a table's row count differs from before.
func AssertUnchanged(t testing.TB, d *sqlx.DB, before map[string]int) {
	t.Helper()
	if diff := cmp.Diff(before, TableCounts(t, d)); diff != "" {
		t.Fatalf("database changed (-before +after):\n%s", diff)
	}
}

// FieldErrs renders an error's per-field problems as "index:field" strings.
func FieldErrs(err error) []string {
	var out []string
	for _, f := range apperr.FieldErrors(err) {
		out = append(out, Itoa(f.Index)+":"+f.Field)
	}
	sort.Strings(out)
	return out
}

// Itoa formats i in decimal.
func Itoa(i int) string {
	if i < 0 {
		return "-" + Itoa(-i)
	}
	if i < 10 {
		return string(rune('0' + i))
	}
	return Itoa(i/10) + string(rune('0'+i%10))
}

// MustCode fails t unless err has code.
func MustCode(t testing.TB, err error, code string) {
	t.Helper()
	if apperr.Code(err) != code {
		t.Fatalf("error = %v (code %q), want code %q", err, apperr.Code(err), code)
	}
}

// PNGBytes is a small PNG image.
func PNGBytes(t testing.TB) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	img.Set(1, 1, color.RGBA{200, 10, 10, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Contains returns an error naming the first of subs that s lacks.
func Contains(s string, subs ...string) error {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return errors.New("missing " + sub)
		}
	}
	return nil
}

// MustKeys returns fresh secret keys, so the service signs credentials.
func MustKeys(t testing.TB) *secret.Keys {
	t.Helper()
	k, err := secret.Parse(secret.Generate())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// BulkCreate fills group gid with n unpublished credentials (10,000 per statement).
func BulkCreate(b *testing.B, s *issuance.Service, gid int64, n int, prefix string) {
	b.Helper()
	for start := 0; start < n; start += 10000 {
		var items []issuance.NewCredential
		for i := start; i < min(n, start+10000); i++ {
			items = append(items, Item("Recipient "+Itoa(i), prefix+Itoa(i)+"@example.edu"))
		}
		if _, err := s.CreateCredentials(context.Background(), Actor, gid, issuance.FromCSV, items); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublishAndDeliver10k publishes 10,000 unpublished credentials and

// JobCount counts the queued jobs of kind.
func JobCount(t testing.TB, d *sqlx.DB, kind string) int {
	t.Helper()
	var n int
	if err := d.Get(&n, `SELECT count(*) FROM jobs WHERE kind = $1`, kind); err != nil {
		t.Fatal(err)
	}
	return n
}

// Unname puts d's organisation back in the state of a fresh installation:
// no owner has named it, so nothing may be published. (Test databases start
// named; see testenv.) Call it before the Service first reads the settings.
func Unname(t testing.TB, d *sqlx.DB) {
	t.Helper()
	if _, err := d.Exec(`UPDATE organisation SET named_at = NULL, name = 'Laurel'`); err != nil {
		t.Fatal(err)
	}
}
