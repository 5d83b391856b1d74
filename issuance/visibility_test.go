package issuance_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pressly/goose/v3"

	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/migrations"
)

// TestVisibleDecidesForEveryAudience is the one rule: who sees which
// attribute, standard or custom.
func TestVisibleDecidesForEveryAudience(t *testing.T) {
	g := issuance.Group{Attributes: []issuance.Attribute{
		{Key: "honours", Visibility: issuance.VisibilityPublic},
		{Key: "grade", Visibility: issuance.VisibilityRecipient, ResultType: "LetterGrade"},
		{Key: "note", Visibility: issuance.VisibilityStaff},
		{Key: "unset"}, // stored before visibilities: the default
		{Key: "score", Visibility: issuance.VisibilityPublic, ResultType: "RawScore"},
	}}
	aud := []issuance.Audience{issuance.AudiencePublic, issuance.AudienceRecipient, issuance.AudienceStaff}
	for key, want := range map[string][3]bool{
		"recipient_name": {true, true, true}, "course_name": {true, true, true}, "issued_on": {true, true, true},
		"expires_on": {true, true, true}, "credential_id": {true, true, true}, "group_name": {true, true, true},
		"recipient_email": {false, true, true},
		"honours":         {true, true, true}, "score": {true, true, true},
		"grade": {false, true, true}, "unset": {false, true, true},
		"note": {false, false, true}, "undefined": {false, false, true},
	} {
		for i, a := range aud {
			if got := g.Visible(key, a); got != want[i] {
				t.Errorf("Visible(%q, audience %d) = %v, want %v", key, a, got, want[i])
			}
		}
	}
	keys := func(as []issuance.Attribute) (out []string) {
		for _, a := range as {
			out = append(out, a.Key)
		}
		return out
	}
	if d := cmp.Diff([]string{"honours", "score"}, keys(g.VisibleAttributes(issuance.AudiencePublic))); d != "" {
		t.Error(d)
	}
	if d := cmp.Diff([]string{"honours", "grade", "unset", "score"}, keys(g.VisibleAttributes(issuance.AudienceRecipient))); d != "" {
		t.Error(d)
	}
	if d := cmp.Diff([]string{"score"}, keys(g.PublicResults())); d != "" {
		t.Errorf("public results: %s", d)
	}
	c := issuance.Credential{Attributes: map[string]string{"honours": "", "grade": "A", "note": "n", "score": "9"}}
	var got []string
	for _, v := range c.VisibleValues(g, issuance.AudienceRecipient) {
		got = append(got, v.Key+"="+v.Value)
	}
	if d := cmp.Diff([]string{"grade=A", "score=9"}, got); d != "" {
		t.Errorf("values the recipient sees (empty ones left out): %s", d)
	}
}

// TestMigrationAttributeVisibility: migration 0050 on groups made before
// it: an attribute the group's design prints was on the public
// certificate, so it becomes public; every other one becomes recipient;
// one that already has a visibility keeps it; the order stays.
func TestMigrationAttributeVisibility(t *testing.T) {
	s, d := mustService(t)
	ctx := context.Background()
	p, err := goose.NewProvider(goose.DialectPostgres, d.DB, migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 49); err != nil {
		t.Fatalf("down to before 0050: %v", err)
	}
	var cert, badge int64
	if err := d.Get(&cert, `INSERT INTO designs (name, kind, printed_attributes) VALUES ('Cert', 'certificate', '{recipient_name,grade}') RETURNING id`); err != nil {
		t.Fatal(err)
	}
	if err := d.Get(&badge, `INSERT INTO designs (name, kind) VALUES ('Badge', 'badge') RETURNING id`); err != nil {
		t.Fatal(err)
	}
	old := `[{"key": "grade", "label": "Grade", "type": "text", "required": true}, {"key": "hours", "label": "Hours", "type": "number", "required": false}]`
	ids := map[string]int64{}
	for name, g := range map[string]struct {
		design int64
		attrs  string
	}{"printed": {cert, old}, "badge": {badge, old}, "none": {cert, `[]`},
		"set": {cert, `[{"key": "hours", "label": "Hours", "type": "number", "required": false, "visibility": "staff"}]`}} {
		var id int64
		if err := d.Get(&id, `INSERT INTO groups (name, course_name, design_id, attributes) VALUES ($1, $1, $2, $3) RETURNING id`, name, g.design, g.attrs); err != nil {
			t.Fatal(err)
		}
		ids[name] = id
	}
	if _, err := db.Migrate(ctx, d.DB); err != nil {
		t.Fatal(err)
	}
	vis := func(name string) []string {
		g, err := s.Group(ctx, ids[name])
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, a := range g.Attributes {
			out = append(out, a.Key+":"+string(a.Visibility))
		}
		return out
	}
	for name, want := range map[string][]string{
		"printed": {"grade:public", "hours:recipient"},
		"badge":   {"grade:recipient", "hours:recipient"}, // a badge prints nothing
		"none":    nil,
		"set":     {"hours:staff"},
	} {
		if d := cmp.Diff(want, vis(name)); d != "" {
			t.Errorf("group %s after the migration (-want +got):\n%s", name, d)
		}
	}
	var raw string
	if err := d.Get(&raw, `SELECT attributes::text FROM groups WHERE id = $1`, ids["printed"]); err != nil {
		t.Fatal(err)
	}
	var attrs []map[string]any
	if err := json.Unmarshal([]byte(raw), &attrs); err != nil || attrs[0]["required"] != true || attrs[1]["label"] != "Hours" {
		t.Fatalf("the migration lost attribute settings: %s (%v)", raw, err)
	}
}
