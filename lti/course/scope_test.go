package course_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/lti/course"
)

// staffGroup creates a group as staff would, with the instructor settings.
func staffGroup(t *testing.T, e *env, name string, available, autoPublish bool) issuance.Group {
	t.Helper()
	g, err := e.iss.CreateGroup(context.Background(), "test", issuance.Group{Name: name, CourseName: name, Language: "en",
		AvailableToInstructors: available, AllowAutoPublish: autoPublish})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func groupRadio(id int64) string { return `name="group" value="` + itoa(id) + `"` }

// An instructor may map a course only onto a group created for it or one
// staff made available to instructors, and choose auto-publish only where
// the group allows it; a refused form stores nothing.
func TestInstructorMapsOnlyOntoPermittedGroups(t *testing.T) {
	e := newLaunchEnv(t)
	ctx := context.Background()
	cert := staffGroup(t, e.env, "Professional Certificate", false, false)
	open := staffGroup(t, e.env, "Open Badge", true, false)
	auto := staffGroup(t, e.env, "Auto Badge", true, true)

	// A second course with its own teacher, who creates a group for it.
	courseB := e.sim.AddCourse(canvassim.Course{Title: "Botany 200", Label: "BOT200"})
	teacherB := e.sim.AddUser(canvassim.User{Name: "Bea Botanist", Email: "bea@example.edu"})
	if err := e.sim.Enroll(courseB.ID, teacherB.ID, canvassim.Teacher); err != nil {
		t.Fatal(err)
	}
	_, page := e.launchOn(e.sim, courseB.ID, teacherB.ID, canvassim.LaunchOptions{})
	st, page := e.post("/lti/app/map", url.Values{"ltik": {ltik(t, page)}, "group": {"new"}, "group_name": {"Botany 200"},
		"course_name": {"Botany 200"}, "completion_rule": {"canvas_completion"}, "auto_publish": {"0"}})
	if st != 200 {
		t.Fatalf("course B maps onto a new group: %d %s", st, page)
	}
	var groupB int64
	if err := e.db.Get(&groupB, `SELECT id FROM groups WHERE name = 'Botany 200'`); err != nil {
		t.Fatal(err)
	}

	// Course A's teacher is offered only the groups open to instructors.
	page = mustLaunch(t, e, e.teacher.ID)
	mustContain(t, page, groupRadio(open.ID), groupRadio(auto.ID), "only in a group whose staff allow it: Auto Badge")
	for _, g := range []int64{cert.ID, e.group.ID, groupB} {
		if strings.Contains(page, groupRadio(g)) {
			t.Fatalf("course A's teacher is offered group %d:\n%s", g, page)
		}
	}
	tok := ltik(t, page)
	form := func(group, autoPublish string) url.Values {
		return url.Values{"ltik": {tok}, "group": {group}, "completion_rule": {"canvas_completion"}, "auto_publish": {autoPublish}}
	}
	before := e.count(`SELECT count(*) FROM course_mappings`)
	for _, tc := range []struct {
		name, group, autoPublish, want string
	}{
		{"a staff group not available to instructors", itoa(cert.ID), "0", "only onto a group created for it or one staff made available"},
		{"another course's group", itoa(groupB), "0", "only onto a group created for it or one staff made available"},
		{"a group that does not exist", "987654", "0", "only onto a group created for it or one staff made available"},
		{"auto-publish where the group does not allow it", itoa(open.ID), "1", `Group &#34;Open Badge&#34; does not let instructors publish at once`},
		{"auto-publish in a new group", "new", "1", "Completions in a new group wait for staff review"},
	} {
		f := form(tc.group, tc.autoPublish)
		if tc.group == "new" {
			f.Set("group_name", "Sneaky")
			f.Set("course_name", "Sneaky")
		}
		st, page := e.post("/lti/app/map", f)
		if st != http.StatusUnprocessableEntity {
			t.Fatalf("%s: %d, want 422", tc.name, st)
		}
		mustContain(t, page, tc.want)
		if n := e.count(`SELECT count(*) FROM course_mappings`); n != before {
			t.Fatalf("%s: %d mappings stored, want %d", tc.name, n, before)
		}
		if n := e.count(`SELECT count(*) FROM groups WHERE name = 'Sneaky'`); n != 0 {
			t.Fatalf("%s: a refused form created a group", tc.name)
		}
	}

	// An available group is fine, and staff see who mapped it.
	st, page = e.post("/lti/app/map", form(itoa(open.ID), "0"))
	if st != 200 {
		t.Fatalf("map onto an available group: %d %s", st, page)
	}
	mustContain(t, page, "Credential group: Open Badge", `id="mapped-by">Mapped by Tina Teacher &lt;tina@example.edu&gt;, instructor via`)
	m, err := e.courses.MappingForCourse(ctx, e.ltiPlat.ID, e.course.ContextID, "")
	if err != nil {
		t.Fatal(err)
	}
	if m.GroupID != open.ID || m.AutoPublish || m.CreatedBy != fmt.Sprintf("lti:%d:%s", e.ltiPlat.ID, e.teacher.LTIID) ||
		!strings.HasPrefix(m.CreatedByName, "Tina Teacher <tina@example.edu>, instructor via ") {
		t.Fatalf("mapping %+v", m)
	}
	st, body := e.api("GET", "/mappings/"+itoa(m.ID), e.token(auth.Admin), "")
	var got map[string]any
	json.Unmarshal([]byte(body), &got)
	if st != 200 || got["created_by"] != m.CreatedBy || got["created_by_name"] != m.CreatedByName {
		t.Fatalf("mapping API: %d %s", st, body)
	}

	// Course B's teacher may map onto the group created for course B again,
	// and onto a group that allows auto-publish with auto-publish.
	if err := e.courses.DeleteMapping(ctx, mustMappingID(t, e, e.ltiPlat.ID, courseB.ContextID)); err != nil {
		t.Fatal(err)
	}
	_, page = e.launchOn(e.sim, courseB.ID, teacherB.ID, canvassim.LaunchOptions{})
	mustContain(t, page, groupRadio(groupB))
	st, page = e.post("/lti/app/map", url.Values{"ltik": {ltik(t, page)}, "group": {itoa(auto.ID)},
		"completion_rule": {"canvas_completion"}, "auto_publish": {"1"}})
	if st != 200 {
		t.Fatalf("auto-publish where allowed: %d %s", st, page)
	}
	mustContain(t, page, "published at once")
	mb, err := e.courses.Mapping(ctx, mustMappingID(t, e, e.ltiPlat.ID, courseB.ContextID))
	if err != nil || mb.GroupID != auto.ID || !mb.AutoPublish {
		t.Fatalf("course B mapping %+v %v", mb, err)
	}
}

func mustMappingID(t *testing.T, e *launchEnv, platformID int64, contextID string) int64 {
	t.Helper()
	m, err := e.courses.MappingForCourse(context.Background(), platformID, contextID, "")
	if err != nil {
		t.Fatal(err)
	}
	return m.ID
}

// A Moodle-like platform (no Canvas variables, product family "moodle") sees
// no Canvas wording, and its course defaults to manual, the only rule it
// can deliver.
func TestNonCanvasPlatformLaunch(t *testing.T) {
	e := newLaunchEnv(t)
	ctx := context.Background()
	moodle := canvassim.New()
	moodle.ProductFamilyCode = "moodle"
	moodle.CustomFields = map[string]string{}
	moodle.Start()
	t.Cleanup(moodle.Close)
	plat, err := moodle.Register(ctx, e.tool, "Moodle 4.5")
	if err != nil {
		t.Fatal(err)
	}
	geology := moodle.AddCourse(canvassim.Course{Title: "Geology 300", Label: "GEO300"})
	teacher := moodle.AddUser(canvassim.User{Name: "Gil Geologist", Email: "gil@example.edu"})
	student := moodle.AddUser(canvassim.User{Name: "Stu Dent", Email: "stu@example.edu"})
	if err := moodle.Enroll(geology.ID, teacher.ID, canvassim.Teacher); err != nil {
		t.Fatal(err)
	}
	if err := moodle.Enroll(geology.ID, student.ID, canvassim.Student); err != nil {
		t.Fatal(err)
	}
	noCanvas := func(page string) {
		t.Helper()
		if strings.Contains(page, "Canvas") {
			t.Fatalf("a Moodle course's page mentions Canvas:\n%s", page)
		}
	}
	st, page := e.launchOn(moodle, geology.ID, teacher.ID, canvassim.LaunchOptions{})
	if st != 200 {
		t.Fatalf("launch: %d %s", st, page)
	}
	noCanvas(page)
	mustContain(t, page, `value="manual" checked`, `id="manual-only-note">Moodle does not send course completions to Laurel, so this course is manual only.`)
	if strings.Contains(page, `value="canvas_completion"`) {
		t.Fatal("a Moodle course is offered Canvas course completion")
	}
	tok := ltik(t, page)
	base := url.Values{"ltik": {tok}, "group": {"new"}, "group_name": {"Geology 300"}, "course_name": {"Geology 300"}, "auto_publish": {"0"}}
	f := url.Values{}
	for k, v := range base {
		f[k] = v
	}
	f.Set("completion_rule", "canvas_completion")
	st, page = e.post("/lti/app/map", f)
	if st != http.StatusUnprocessableEntity {
		t.Fatalf("canvas_completion on Moodle: %d", st)
	}
	mustContain(t, page, "Moodle does not send course completions to Laurel: choose manual only.")
	if n := e.count(`SELECT count(*) FROM course_mappings`); n != 0 {
		t.Fatalf("%d mappings after a refused form", n)
	}
	base.Set("completion_rule", "manual")
	st, page = e.post("/lti/app/map", base)
	if st != 200 {
		t.Fatalf("map manual: %d %s", st, page)
	}
	noCanvas(page)
	mustContain(t, page, "The course is mapped. Staff create its credentials in this group.", `id="no-completions"`,
		"Moodle does not send course completions to Laurel", "Stu Dent")
	m, err := e.courses.MappingForCourse(ctx, plat.ID, geology.ContextID, "")
	if err != nil || m.CompletionRule != course.RuleManual || !strings.Contains(m.CreatedByName, "Gil Geologist") {
		t.Fatalf("mapping %+v %v", m, err)
	}
	// Without the roster service, the teacher is told which platform did
	// not offer it.
	moodle.SetNoNRPS(true)
	_, page = e.launchOn(moodle, geology.ID, teacher.ID, canvassim.LaunchOptions{})
	noCanvas(page)
	mustContain(t, page, "Moodle did not offer the course roster (Names and Roles service) in this launch.")
	moodle.SetNoNRPS(false)
	// The student's view: nothing about Canvas either.
	_, page = e.launchOn(moodle, geology.ID, student.ID, canvassim.LaunchOptions{})
	noCanvas(page)
	mustContain(t, page, "Staff award this credential by hand")
}
