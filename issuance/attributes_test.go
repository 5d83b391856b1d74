package issuance_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/laurel-edu/laurel/internal/apperr"
	auditlog "github.com/laurel-edu/laurel/internal/audit"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/issuance"
)

// The registry: create, rename (groups follow, key stays), retire (hidden
// from new groups, kept by those that use it), each audited; standard
// variables are fixed; bad input changes nothing.
func TestAttributeVariables(t *testing.T) {
	s, d := mustService(t)
	ctx := context.Background()

	hours, err := s.CreateAttributeVariable(ctx, actor, issuance.AttributeVariable{Key: "hours", Label: "Hours", Type: issuance.NumberAttr})
	if err != nil {
		t.Fatal(err)
	}
	if hours.Visibility != issuance.VisibilityRecipient || hours.Standard || hours.Retired {
		t.Fatalf("created %+v", hours)
	}
	bad := []struct {
		name string
		v    issuance.AttributeVariable
		want []string
	}{
		{"bad key", issuance.AttributeVariable{Key: "Hours!", Label: "H"}, []string{"-1:key"}},
		{"standard key", issuance.AttributeVariable{Key: "issued_on", Label: "When"}, []string{"-1:key"}},
		{"no label", issuance.AttributeVariable{Key: "x", Label: " "}, []string{"-1:label"}},
		{"bad type", issuance.AttributeVariable{Key: "x", Label: "X", Type: "money"}, []string{"-1:type"}},
		{"image result", issuance.AttributeVariable{Key: "x", Label: "X", Type: issuance.ImageAttr, ResultType: "Percent"}, []string{"-1:result_type"}},
		{"same key", issuance.AttributeVariable{Key: "hours", Label: "Other"}, []string{"-1:key"}},
		{"same label, other case and accents", issuance.AttributeVariable{Key: "hours2", Label: "HÖURS"}, []string{"-1:label"}},
		{"label of a standard one", issuance.AttributeVariable{Key: "issue", Label: "issue date"}, []string{"-1:label"}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			snap := tableCounts(t, d)
			_, err := s.CreateAttributeVariable(ctx, actor, tc.v)
			mustCode(t, err, apperr.Invalid)
			if diff := cmp.Diff(tc.want, fieldErrs(err)); diff != "" {
				t.Fatal(diff)
			}
			assertUnchanged(t, d, snap)
		})
	}

	// A group picks it by key: label and type come from the registry.
	g, err := s.CreateGroup(ctx, actor, issuance.Group{Name: "G", CourseName: "C", Attributes: []issuance.Attribute{{Key: "hours", Visibility: issuance.VisibilityPublic}}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []issuance.Attribute{{Key: "hours", Label: "Hours", Type: issuance.NumberAttr, Visibility: issuance.VisibilityPublic}}; !cmp.Equal(g.Attributes, want) {
		t.Fatalf("picked %+v", g.Attributes)
	}
	// Its type is the registry's.
	snap := tableCounts(t, d)
	_, err = s.CreateGroup(ctx, actor, issuance.Group{Name: "G2", CourseName: "C", Attributes: []issuance.Attribute{{Key: "hours", Type: issuance.DateAttr}}})
	mustCode(t, err, apperr.Invalid)
	if diff := cmp.Diff([]string{"-1:attributes[0].type"}, fieldErrs(err)); diff != "" {
		t.Fatal(diff)
	}
	assertUnchanged(t, d, snap)

	// Rename: the group's label follows, the key stays.
	if _, err := s.RenameAttributeVariable(ctx, actor, "hours", "Study hours"); err != nil {
		t.Fatal(err)
	}
	if g, _ = s.Group(ctx, g.ID); g.Attributes[0].Label != "Study hours" || g.Attributes[0].Key != "hours" {
		t.Fatalf("after rename %+v", g.Attributes)
	}
	// Its former names are kept for spreadsheet columns; renamed back, a
	// name is no longer a former one.
	if _, err := s.RenameAttributeVariable(ctx, actor, "hours", "Hours of study"); err != nil {
		t.Fatal(err)
	}
	if v, err := s.RenameAttributeVariable(ctx, actor, "hours", "Study hours"); err != nil || !cmp.Equal(v.FormerLabels, []string{"Hours", "Hours of study"}) {
		t.Fatalf("former labels %+v %v", v, err)
	}
	if f, err := s.AttributeFormerLabels(ctx); err != nil || !cmp.Equal(f, map[string][]string{"hours": {"Hours", "Hours of study"}}) {
		t.Fatalf("former labels %v %v", f, err)
	}
	_, err = s.RenameAttributeVariable(ctx, actor, "recipient_name", "Name")
	mustCode(t, err, apperr.Invalid)
	_, err = s.RenameAttributeVariable(ctx, actor, "nope", "Name")
	mustCode(t, err, apperr.NotFound)

	// Retire: not offered, not addable, but kept by the group that uses it.
	if _, err := s.RetireAttributeVariable(ctx, actor, "hours", true); err != nil {
		t.Fatal(err)
	}
	_, err = s.RetireAttributeVariable(ctx, actor, "issued_on", true)
	mustCode(t, err, apperr.Invalid)
	live, _ := s.AttributeVariables(ctx, false)
	for _, v := range live {
		if v.Key == "hours" {
			t.Fatal("retired variable still offered")
		}
	}
	if len(live) != len(issuance.StandardAttributes) {
		t.Fatalf("variables %+v", live)
	}
	_, err = s.CreateGroup(ctx, actor, issuance.Group{Name: "G3", CourseName: "C", Attributes: []issuance.Attribute{{Key: "hours"}}})
	mustCode(t, err, apperr.Invalid)
	if diff := cmp.Diff([]string{"-1:attributes[0].key"}, fieldErrs(err)); diff != "" {
		t.Fatal(diff)
	}
	g.Name = "G renamed"
	if _, err := s.UpdateGroup(ctx, actor, g); err != nil {
		t.Fatalf("group keeps its retired variable: %v", err)
	}
	mustCreate(t, s, g.ID, func() issuance.NewCredential {
		it := item("Ada", "ada@example.edu")
		it.Attributes = map[string]string{"hours": "12"}
		return it
	}())

	h, err := auditlog.History(ctx, d, nil, "attribute", "hours")
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range h {
		actions = append(actions, e.Action)
	}
	if diff := cmp.Diff([]string{"create", "update", "update", "update", "retire"}, actions); diff != "" {
		t.Fatalf("audit (-want +got):\n%s", diff)
	}
	if !strings.Contains(string(h[1].Before), `"Hours"`) || !strings.Contains(string(h[1].After), `"Study hours"`) {
		t.Fatalf("rename audit %s → %s", h[1].Before, h[1].After)
	}

	// An API group naming an unknown key creates its variable.
	g2, err := s.CreateGroup(ctx, actor, issuance.Group{Name: "API", CourseName: "C", Attributes: []issuance.Attribute{
		{Key: "portfolio", Label: "Portfolio", Type: issuance.URLAttr}, {Key: "signature", Label: "Signature", Type: issuance.ImageAttr}}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.AttributeVariable(ctx, "portfolio")
	if err != nil || v.Type != issuance.URLAttr || v.Label != "Portfolio" {
		t.Fatalf("variable made by the API %+v %v", v, err)
	}
	if ca := g2.CredentialAttributes(); len(ca) != 1 || ca[0].Key != "portfolio" {
		t.Fatalf("per-credential attributes %+v", ca)
	}
	uses, err := s.AttributeVariableUses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []issuance.AttributeUse{{ID: g.ID, Name: "G renamed"}}; !cmp.Equal(uses["hours"].Groups, want) {
		t.Fatalf("uses %+v", uses["hours"])
	}

	// URL values are web addresses; an image holds no value per credential.
	for _, tc := range []struct {
		attrs map[string]string
		want  string
	}{
		{map[string]string{"portfolio": "javascript:alert(1)"}, "attributes.portfolio"},
		{map[string]string{"portfolio": "example.edu/me"}, "attributes.portfolio"},
		{map[string]string{"signature": "x.png"}, "attributes.signature"},
	} {
		it := item("Bo", "bo@example.edu")
		it.Attributes = tc.attrs
		_, err := s.CreateCredentials(ctx, actor, g2.ID, issuance.FromForm, []issuance.NewCredential{it})
		mustCode(t, err, apperr.Invalid)
		if fe := fieldErrs(err); len(fe) != 1 || !strings.HasSuffix(fe[0], tc.want) {
			t.Fatalf("%v: %v", tc.attrs, fe)
		}
	}
	it := item("Bo", "bo@example.edu")
	it.Attributes = map[string]string{"portfolio": "https://example.edu/bo?a=1&b=<2>"}
	mustCreate(t, s, g2.ID, it)
}

// Migration 0090 fills the registry from the groups' own attributes: one
// variable per key, the oldest group's label and type winning a conflict,
// and the other group keeps (and can still save) its own type.
func TestAttributeRegistryMigration(t *testing.T) {
	s, d := mustService(t)
	ctx := context.Background()
	sql, err := os.ReadFile("../migrations/0090_attributes.sql")
	if err != nil {
		t.Fatal(err)
	}
	body := string(sql)
	fill := body[strings.Index(body, "INSERT INTO attributes"):strings.Index(body, "-- +goose Down")]
	def, _ := s.DefaultDesign(ctx)
	for _, attrs := range []string{
		`[{"key":"grade","label":"Grade","type":"number","required":true,"visibility":"public","result_type":"Percent"},{"key":"mentor","label":"Mentor","type":"text","visibility":"staff"}]`,
		`[{"key":"grade","label":"Letter","type":"text","visibility":"recipient","result_type":""}]`,
	} {
		if _, err := d.Exec(`INSERT INTO groups (name, course_name, design_id, attributes) VALUES ('Old', 'C', $1, $2)`, def.ID, attrs); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Exec(fill); err != nil {
		t.Fatal(err)
	}
	vars, err := s.AttributeVariables(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]issuance.AttributeVariable{}
	for _, v := range vars[len(issuance.StandardAttributes):] {
		v.CreatedAt, v.UpdatedAt = nil, nil
		got[v.Key] = v
	}
	want := map[string]issuance.AttributeVariable{
		"grade":  {Key: "grade", Label: "Grade", Type: issuance.NumberAttr, Visibility: issuance.VisibilityPublic, ResultType: "Percent", FormerLabels: []string{}},
		"mentor": {Key: "mentor", Label: "Mentor", Type: issuance.TextAttr, Visibility: issuance.VisibilityStaff, FormerLabels: []string{}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatal(diff)
	}
	// The second group keeps its text grade: it saves, and takes text values.
	var id int64
	if err := d.Get(&id, `SELECT max(id) FROM groups`); err != nil {
		t.Fatal(err)
	}
	g, err := s.Group(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	g.Description = "Saved again"
	if g, err = s.UpdateGroup(ctx, actor, g); err != nil || g.Attributes[0].Type != issuance.TextAttr || g.Attributes[0].Label != "Letter" {
		t.Fatalf("the other group %+v %v", g, err)
	}
	it := item("Ada", "ada@example.edu")
	it.Attributes = map[string]string{"grade": "A+"}
	mustCreate(t, s, g.ID, it)
	// A rename leaves the group of the other type alone.
	if _, err := s.RenameAttributeVariable(ctx, actor, "grade", "Final grade"); err != nil {
		t.Fatal(err)
	}
	if g, _ = s.Group(ctx, id); g.Attributes[0].Label != "Letter" {
		t.Fatalf("renamed the other type's label: %+v", g.Attributes)
	}
}

// GET/POST/PATCH /api/v1/attributes: every role reads, a team member
// creates, only an owner or admin renames and retires; an API group naming
// an unknown key creates its variable, one naming a variable with another
// type is refused at attributes[N].type.
func TestAttributesAPI(t *testing.T) {
	s, d := mustService(t)
	srv := apiServer(t, s, map[string]*auth.Principal{
		"owner":  {TokenID: 1, Name: "ci", Role: auth.Owner},
		"team":   {TokenID: 2, Name: "tm", Role: auth.TeamMember},
		"viewer": {TokenID: 3, Name: "v", Role: auth.Viewer},
	})
	api := apiClient{T: t, URL: srv.URL}
	if code, body := api.Do("viewer", "POST", "/attributes", map[string]any{"key": "grade", "label": "Grade"}); code != 403 {
		t.Fatalf("viewer creates: %d %v", code, body)
	}
	code, body := api.Do("team", "POST", "/attributes", map[string]any{"key": "grade", "label": "Grade", "type": "number", "visibility": "public"})
	if code != 201 || body["key"] != "grade" || body["type"] != "number" || body["standard"] != false {
		t.Fatalf("create: %d %v", code, body)
	}
	if _, err := s.DefaultDesign(context.Background()); err != nil { // made with the first group otherwise
		t.Fatal(err)
	}
	snap := tableCounts(t, d)
	if code, body = api.Do("team", "POST", "/attributes", map[string]any{"key": "Grade 2", "label": "Grade"}); code != 422 {
		t.Fatalf("bad create: %d %v", code, body)
	}
	if code, body = api.Do("owner", "POST", "/groups", map[string]any{"name": "G", "course_name": "C",
		"attributes": []any{map[string]any{"key": "grade", "type": "text"}}}); code != 422 || !strings.Contains(fmt.Sprint(body), "attributes[0].type") {
		t.Fatalf("group with another type: %d %v", code, body)
	}
	assertUnchanged(t, d, snap)
	if code, body = api.Do("owner", "POST", "/groups", map[string]any{"name": "G", "course_name": "C",
		"attributes": []any{map[string]any{"key": "grade"}, map[string]any{"key": "mentor", "label": "Mentor"}}}); code != 201 {
		t.Fatalf("group: %d %v", code, body)
	}
	if code, body = api.Do("team", "PATCH", "/attributes/grade", map[string]any{"label": "Final grade"}); code != 403 {
		t.Fatalf("team renames: %d %v", code, body)
	}
	if code, body = api.Do("owner", "PATCH", "/attributes/grade", map[string]any{"label": "Final grade", "retired": true}); code != 200 ||
		body["label"] != "Final grade" || body["retired"] != true {
		t.Fatalf("rename and retire: %d %v", code, body)
	}
	if code, body = api.Do("owner", "PATCH", "/attributes/issued_on", map[string]any{"retired": true}); code != 422 {
		t.Fatalf("retire a standard one: %d %v", code, body)
	}
	code, body = api.Do("viewer", "GET", "/attributes", nil)
	if code != 200 {
		t.Fatalf("list: %d %v", code, body)
	}
	got := map[string]string{}
	for _, x := range body["attributes"].([]any) {
		m := x.(map[string]any)
		got[m["key"].(string)] = fmt.Sprint(m["label"], " ", m["type"], " ", m["retired"], " ", len(m["used_by"].(map[string]any)["groups"].([]any)))
	}
	want := map[string]string{"grade": "Final grade number true 1", "mentor": "Mentor text false 1", "issued_on": "Issue Date date false 0"}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %q, want %q", k, got[k], w)
		}
	}
}
