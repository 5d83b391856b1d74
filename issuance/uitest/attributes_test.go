package uitest

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/issuance"
)

// attributesState is the registry as one string, to prove a refused
// request changed nothing.
func (e *env) attributesState() string {
	e.t.Helper()
	var s string
	if err := e.db.Get(&s, `SELECT COALESCE(string_agg(key || ':' || label || ':' || type || ':' || (retired_at IS NULL)::text, ',' ORDER BY key), '')
		FROM attributes`); err != nil {
		e.t.Fatal(err)
	}
	return s + "/" + e.snapshot()
}

// Who may do what on /attributes: everyone reads; whoever may create a
// group creates a variable; only owners and admins rename and retire. Bad
// input is refused next to its field and changes nothing.
func TestAttributesPagePermissions(t *testing.T) {
	e := mustEnv(t)
	viewer := e.signIn("viewer@example.edu", auth.Viewer)
	team := e.signIn("tm@example.edu", auth.TeamMember)
	limited := e.signIn("limited@example.edu", auth.TeamMember, e.other.ID)
	admin := e.signIn("admin@example.edu", auth.Admin)

	r := viewer.get("/attributes")
	if r.code != 200 {
		t.Fatalf("viewer: %d", r.code)
	}
	contains(t, r.body, `id="attr-grade"`, "Recipient Email", `href="/groups/`+gid(e.group)+`"`)
	if strings.Contains(r.body, `id="new-attribute"`) || strings.Contains(r.body, `id="rename-grade"`) {
		t.Error("a viewer is offered forms")
	}
	// A member limited to other groups sees how many groups use it, not
	// which.
	r = limited.get("/attributes")
	contains(t, r.body, "1 other group")
	if strings.Contains(r.body, `href="/groups/`+gid(e.group)+`"`) || strings.Contains(r.body, e.group.Name) {
		t.Error("a limited member sees the name of a group outside their limit")
	}
	e.setLimitedCreate(false)
	before := e.attributesState()
	forbidden(t, viewer.post("/attributes", url.Values{"label": {"Mentor"}, "type": {"text"}}), "viewer creates")
	forbidden(t, team.post("/attributes/grade/rename", url.Values{"label": {"Mark"}}), "team member renames")
	forbidden(t, team.post("/attributes/grade/retire", nil), "team member retires")
	forbidden(t, limited.post("/attributes", url.Values{"label": {"Mentor"}, "type": {"text"}}), "limited member creates while group creation is off")
	for _, tc := range []struct {
		who        *client
		path       string
		form       url.Values
		field, msg string
	}{
		{team, "/attributes", url.Values{"label": {""}, "type": {"text"}}, "new-label", "Label is required"},
		{team, "/attributes", url.Values{"label": {"GRADE"}, "type": {"text"}}, "new-label", "already used"},
		{team, "/attributes", url.Values{"label": {"Mentor"}, "type": {"money"}}, "new-type", "must be text, number, date, url or image"},
		{team, "/attributes", url.Values{"label": {"Shot"}, "type": {"image"}, "result_type": {"Percent"}}, "new-result", "cannot be a result"},
		{admin, "/attributes/grade/rename", url.Values{"label": {"Hours"}}, "label-grade", "already used"},
		{admin, "/attributes/grade/rename", url.Values{"label": {""}}, "label-grade", "Label is required"},
	} {
		r := tc.who.post(tc.path, tc.form)
		if r.code != 422 {
			t.Errorf("%s %v: %d", tc.path, tc.form, r.code)
			continue
		}
		fieldError(t, r.body, tc.field, tc.msg)
	}
	if r := admin.post("/attributes/recipient_name/retire", nil); r.code != 422 || !strings.Contains(r.body, "cannot be retired") {
		t.Errorf("retire a standard one: %d", r.code)
	}
	if after := e.attributesState(); after != before {
		t.Fatalf("a refused request changed the database:\n%s\n%s", before, after)
	}

	if r := team.post("/attributes", url.Values{"label": {"Mentor"}, "type": {"text"}, "visibility": {"staff"}}); r.code != 303 || r.location != "/attributes#attr-mentor" {
		t.Fatalf("team member creates: %d %s\n%s", r.code, r.location, r.body)
	}
	if r := admin.post("/attributes/mentor/rename", url.Values{"label": {"Tutor"}}); r.code != 303 {
		t.Fatalf("admin renames: %d\n%s", r.code, r.body)
	}
	if r := admin.post("/attributes/mentor/retire", nil); r.code != 303 {
		t.Fatalf("admin retires: %d", r.code)
	}
	r = admin.follow(admin.post("/attributes/mentor/restore", nil))
	contains(t, r.body, "Attribute “Tutor” restored")
	v, err := e.svc.AttributeVariable(context.Background(), "mentor")
	if err != nil || v.Label != "Tutor" || v.Retired || v.Visibility != issuance.VisibilityStaff {
		t.Fatalf("mentor %+v %v", v, err)
	}
}

// A group picks a variable made in the Attributes section (from the group
// form's "new attribute variable" link, which brings the user back), its
// import template names it but not an image of the group, and a CSV whose
// column is the variable's name in other case and accents imports into it.
func TestGroupPicksAVariableAndACSVFillsIt(t *testing.T) {
	e := mustEnv(t)
	e.runImportWorker()
	owner := e.signIn("owner@example.edu", auth.Owner)
	r := owner.get("/groups/new")
	contains(t, r.body, `href="/attributes?back=%2fgroups%2fnew#new-attribute"`)
	r = owner.get("/attributes?back=/groups/new")
	contains(t, r.body, `name="back" value="/groups/new"`)
	if r = owner.post("/attributes", url.Values{"label": {"Note finale"}, "type": {"number"}, "back": {"/groups/new"}}); r.code != 303 || r.location != "/groups/new" {
		t.Fatalf("create and come back: %d %s", r.code, r.location)
	}
	if r = owner.post("/attributes", url.Values{"label": {"Signature"}, "type": {"image"}, "back": {"https://evil.example/"}}); r.code != 303 || r.location != "/attributes#attr-signature" {
		t.Fatalf("create with a foreign back link: %d %s", r.code, r.location)
	}
	r = owner.get("/groups/new")
	contains(t, r.body, `<option value="note_finale">Note finale (Number)</option>`, `<option value="signature">Signature (Image)</option>`)
	r = owner.post("/groups/new", url.Values{"name": {"Cohort"}, "course_name": {"C 1"}, "language": {"en"},
		"attr_key_0": {"note_finale"}, "attr_required_0": {"1"}, "attr_visibility_0": {""}, "attr_key_1": {"signature"}, "attr_visibility_1": {""}})
	if r.code != 303 {
		t.Fatalf("create group: %d\n%s", r.code, r.body)
	}
	g := strings.TrimPrefix(r.location, "/groups/")
	var attrs string
	if err := e.db.Get(&attrs, `SELECT attributes::text FROM groups WHERE id = $1`, g); err != nil {
		t.Fatal(err)
	}
	var got []issuance.Attribute
	_ = json.Unmarshal([]byte(attrs), &got)
	if len(got) != 2 || got[0].Label != "Note finale" || got[0].Type != issuance.NumberAttr || !got[0].Required || got[1].Type != issuance.ImageAttr {
		t.Fatalf("group attributes %s", attrs)
	}
	r = owner.get("/groups/" + g + "/imports/template.csv")
	header := strings.SplitN(strings.TrimPrefix(r.body, "\ufeff"), "\r\n", 2)[0]
	if header != "Recipient name,Recipient email,Issue date,Expiry date,Note finale" {
		t.Errorf("template header %q", header)
	}
	r = owner.get("/groups/" + g + "/credentials/new")
	if strings.Contains(r.body, "attr_signature_") || !strings.Contains(r.body, "attr_note_finale_0") {
		t.Error("the form asks for the image per credential, or not for the number")
	}

	r = owner.upload("/groups/"+g+"/imports", "cohort.csv", []byte("Name,Email,Issue date,NOTE FINALE\nAda,ada@example.edu,2026-06-30,91\n"))
	if r.code != 303 {
		t.Fatalf("upload: %d\n%s", r.code, r.body)
	}
	p := owner.waitImport(r.location)
	contains(t, p.body, `id="count-valid">1<`)
	if c := owner.post(r.location+"/commit", url.Values{}); c.code != 303 {
		t.Fatalf("commit: %d\n%s", c.code, c.body)
	}
	contains(t, owner.waitImport(r.location).body, "Created 1 unpublished credential")
	var mark string
	if err := e.db.Get(&mark, `SELECT attributes->>'note_finale' FROM credentials WHERE group_id = $1`, g); err != nil || mark != "91" {
		t.Fatalf("imported value %q %v", mark, err)
	}

	// Renamed, the variable is filled by a column with its new name or
	// its old one.
	if r := owner.post("/attributes/note_finale/rename", url.Values{"label": {"Final mark"}}); r.code != 303 {
		t.Fatalf("rename: %d\n%s", r.code, r.body)
	}
	for _, file := range []string{"Name,Email,Issue date,Final Mark\nAlan,alan@example.edu,2026-06-30,80\n", "Name,Email,Issue date,Note Finale\nGrace,grace@example.edu,2026-06-30,70\n"} {
		r = owner.upload("/groups/"+g+"/imports", "again.csv", []byte(file))
		if r.code != 303 {
			t.Fatalf("upload: %d\n%s", r.code, r.body)
		}
		contains(t, owner.waitImport(r.location).body, `id="count-valid">1<`)
		if c := owner.post(r.location+"/commit", url.Values{}); c.code != 303 {
			t.Fatalf("commit: %d\n%s", c.code, c.body)
		}
		owner.waitImport(r.location)
	}
	var marks string
	if err := e.db.Get(&marks, `SELECT string_agg(attributes->>'note_finale', ',' ORDER BY recipient_name) FROM credentials WHERE group_id = $1`, g); err != nil || marks != "91,80,70" {
		t.Fatalf("imported values %q %v", marks, err)
	}
}
