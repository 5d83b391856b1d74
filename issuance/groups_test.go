package issuance_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/laurel-edu/laurel/internal/apperr"
	auditlog "github.com/laurel-edu/laurel/internal/audit"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/issuance"
)

func TestDesigns(t *testing.T) {
	s, d := mustService(t)
	ctx := context.Background()

	// A fresh installation gets a built-in default certificate design.
	def, err := s.DefaultDesign(ctx)
	if err != nil || !def.IsDefault || def.Kind != issuance.Certificate {
		t.Fatalf("default design %+v %v", def, err)
	}
	img := pngBytes(t)
	badge, err := s.CreateDesign(ctx, actor, issuance.Design{Name: "Gold badge", Kind: issuance.Badge, Image: img, PrimaryColor: "#aa8800"})
	if err != nil {
		t.Fatal(err)
	}
	if badge.ImageType != "image/png" || badge.IsDefault || badge.SecondaryColor != "#c9a227" {
		t.Fatalf("badge %+v", badge)
	}
	// Update without a new image keeps the stored one.
	badge.Name = "Gold"
	badge.Image = nil
	up, err := s.UpdateDesign(ctx, actor, nil, badge)
	if err != nil || up.Name != "Gold" || len(up.Image) != len(img) {
		t.Fatalf("update: %+v %v", up, err)
	}
	svg := []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><circle r="4" cx="5" cy="5"/></svg>`)
	if up, err = s.UpdateDesign(ctx, actor, nil, issuance.Design{ID: badge.ID, Name: "Gold", Kind: issuance.Badge, Image: svg}); err != nil || up.ImageType != "image/svg+xml" {
		t.Fatalf("svg update: %+v %v", up.ImageType, err)
	}
	ds, err := s.Designs(ctx)
	if err != nil || len(ds) != 2 {
		t.Fatalf("designs %d %v", len(ds), err)
	}

	tests := []struct {
		name string
		d    issuance.Design
		want []string
	}{
		{"no name", issuance.Design{Kind: issuance.Certificate}, []string{"-1:name"}},
		{"bad kind", issuance.Design{Name: "x", Kind: "poster"}, []string{"-1:kind"}},
		{"badge without image", issuance.Design{Name: "x", Kind: issuance.Badge}, []string{"-1:image"}},
		{"image not png/svg", issuance.Design{Name: "x", Kind: issuance.Badge, Image: []byte("GIF89a....")}, []string{"-1:image"}},
		{"svg with script", issuance.Design{Name: "x", Kind: issuance.Badge, Image: []byte(`<svg><script>alert(1)</script></svg>`)}, []string{"-1:image"}},
		{"svg with svg:script", issuance.Design{Name: "x", Kind: issuance.Badge, Image: []byte(`<svg:svg xmlns:svg="http://www.w3.org/2000/svg"><svg:script>alert(1)</svg:script></svg:svg>`)}, []string{"-1:image"}},
		{"svg with onload", issuance.Design{Name: "x", Kind: issuance.Badge, Image: []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`)}, []string{"-1:image"}},
		{"bad colour", issuance.Design{Name: "x", Kind: issuance.Certificate, PrimaryColor: "red; background:url(x)"}, []string{"-1:primary_color"}},
		{"bad printed key", issuance.Design{Name: "x", Kind: issuance.Certificate, PrintedAttributes: []string{"Bad Key"}}, []string{"-1:printed_attributes"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			snap := tableCounts(t, d)
			_, err := s.CreateDesign(ctx, actor, tc.d)
			mustCode(t, err, apperr.Invalid)
			if diff := cmp.Diff(tc.want, fieldErrs(err)); diff != "" {
				t.Fatal(diff)
			}
			assertUnchanged(t, d, snap)
		})
	}
	_, err = s.UpdateDesign(ctx, actor, nil, issuance.Design{ID: 999, Name: "x", Kind: issuance.Certificate})
	mustCode(t, err, apperr.NotFound)
}

func TestGroups(t *testing.T) {
	s, d := mustService(t)
	ctx := context.Background()
	g := mustGroup(t, s, func(g *issuance.Group) { g.CourseLink = "https://canvas.example.edu/courses/1"; g.Language = "pt-br" })
	def, _ := s.DefaultDesign(ctx)
	if g.DesignID != def.ID || g.Language != "pt-BR" || len(g.Attributes) != 2 {
		t.Fatalf("group %+v", g)
	}
	got, err := s.Group(ctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(g, got); diff != "" {
		t.Fatal(diff)
	}
	g.Name = "Renamed"
	g.ValidityMonths = intp(6)
	if g, err = s.UpdateGroup(ctx, actor, g); err != nil || g.Name != "Renamed" || *g.ValidityMonths != 6 {
		t.Fatalf("update %+v %v", g, err)
	}
	h, _ := auditlog.History(ctx, d, nil, "group", fmt.Sprint(g.ID))
	if len(h) != 2 || h[0].Action != "create" || h[1].Action != "update" {
		t.Fatalf("history %+v", h)
	}
	var before map[string]any
	_ = json.Unmarshal(h[1].Before, &before)
	if before["name"] != "Data Science Foundations" {
		t.Fatalf("audit before %s", h[1].Before)
	}

	other := mustGroup(t, s, func(g *issuance.Group) { g.Name = "Another" })
	mustCreate(t, s, g.ID, item("A", "a@example.edu"), item("B", "b@example.edu"))
	sums, err := s.Groups(ctx, nil)
	if err != nil || len(sums) != 2 || sums[0].ID != other.ID || sums[1].Unpublished != 2 {
		t.Fatalf("groups %+v %v", sums, err)
	}
	if sums, _ = s.Groups(ctx, []int64{g.ID}); len(sums) != 1 || sums[0].ID != g.ID {
		t.Fatalf("limited groups %+v", sums)
	}
	if sums, _ = s.Groups(ctx, []int64{}); len(sums) != 0 {
		t.Fatal("empty limit shows groups")
	}

	bad := func(mod func(*issuance.Group)) issuance.Group {
		x := issuance.Group{Name: "N", CourseName: "C"}
		mod(&x)
		return x
	}
	tests := []struct {
		name string
		g    issuance.Group
		want []string
	}{
		{"no name", bad(func(g *issuance.Group) { g.Name = "" }), []string{"-1:name"}},
		{"no course name", bad(func(g *issuance.Group) { g.CourseName = " " }), []string{"-1:course_name"}},
		{"bad link", bad(func(g *issuance.Group) { g.CourseLink = "javascript:alert(1)" }), []string{"-1:course_link"}},
		{"bad language", bad(func(g *issuance.Group) { g.Language = "not a language!" }), []string{"-1:language"}},
		{"bad validity", bad(func(g *issuance.Group) { g.ValidityMonths = intp(0) }), []string{"-1:validity_months"}},
		{"no design", bad(func(g *issuance.Group) { g.DesignID = 999 }), []string{"-1:design_id"}},
		{"bad attribute key", bad(func(g *issuance.Group) { g.Attributes = []issuance.Attribute{{Key: "Grade!"}} }), []string{"-1:attributes[0].key"}},
		{"standard attribute key", bad(func(g *issuance.Group) { g.Attributes = []issuance.Attribute{{Key: "recipient_name"}} }), []string{"-1:attributes[0].key"}},
		{"duplicate attribute", bad(func(g *issuance.Group) {
			g.Attributes = []issuance.Attribute{{Key: "grade"}, {Key: "grade"}}
		}), []string{"-1:attributes[1].key"}},
		{"bad attribute type", bad(func(g *issuance.Group) { g.Attributes = []issuance.Attribute{{Key: "grade", Type: "money"}} }), []string{"-1:attributes[0].type"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			snap := tableCounts(t, d)
			_, err := s.CreateGroup(ctx, actor, tc.g)
			mustCode(t, err, apperr.Invalid)
			if diff := cmp.Diff(tc.want, fieldErrs(err)); diff != "" {
				t.Fatal(diff)
			}
			assertUnchanged(t, d, snap)
		})
	}
	_, err = s.Group(ctx, 999)
	mustCode(t, err, apperr.NotFound)
}

// The instructor settings are off for a new group, round-trip through the
// JSON API, and a PATCH without them keeps them.
func TestGroupInstructorSettingsAPI(t *testing.T) {
	s, _ := mustService(t)
	srv := apiServer(t, s, map[string]*auth.Principal{"owner": {TokenID: 1, Name: "ci", Role: auth.Owner}})
	api := apiClient{T: t, URL: srv.URL}
	code, body := api.Do("owner", "POST", "/groups", map[string]any{"name": "Plain", "course_name": "P 1"})
	if code != 201 || body["available_to_instructors"] != false || body["allow_auto_publish"] != false {
		t.Fatalf("defaults: %d %v", code, body)
	}
	code, body = api.Do("owner", "POST", "/groups", map[string]any{"name": "Open", "course_name": "O 1",
		"available_to_instructors": true, "allow_auto_publish": true})
	if code != 201 || body["available_to_instructors"] != true || body["allow_auto_publish"] != true {
		t.Fatalf("create with settings: %d %v", code, body)
	}
	gp := "/groups/" + itoa(int(body["id"].(float64)))
	if code, body = api.Do("owner", "PATCH", gp, map[string]any{"description": "x"}); code != 200 ||
		body["available_to_instructors"] != true || body["allow_auto_publish"] != true {
		t.Fatalf("patch keeps settings: %d %v", code, body)
	}
	if code, body = api.Do("owner", "PATCH", gp, map[string]any{"allow_auto_publish": false}); code != 200 ||
		body["available_to_instructors"] != true || body["allow_auto_publish"] != false {
		t.Fatalf("patch one setting: %d %v", code, body)
	}
	g, err := s.Group(context.Background(), int64(body["id"].(float64)))
	if err != nil || !g.AvailableToInstructors || g.AllowAutoPublish {
		t.Fatalf("stored group %+v, %v", g, err)
	}
	sums, err := s.Groups(context.Background(), []int64{g.ID})
	if err != nil || len(sums) != 1 || !sums[0].AvailableToInstructors {
		t.Fatalf("Groups lists the settings: %+v %v", sums, err)
	}
	code, body = api.Do("owner", "POST", "/groups", `{"name": "Bad", "course_name": "B", "allow_auto_publish": "yes"}`)
	if code != 400 || !strings.Contains(body["error"].(map[string]any)["message"].(string), "allow_auto_publish") {
		t.Fatalf("bad setting: %d %v", code, body)
	}
}
