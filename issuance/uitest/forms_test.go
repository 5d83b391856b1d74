package uitest

import (
	"bytes"
	"html"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/issuance/svgcheck"
)

func fieldError(t *testing.T, body, field, msg string) {
	t.Helper()
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(field) + `-error">([^<]*)<`).FindStringSubmatch(body)
	if m == nil || !strings.Contains(html.UnescapeString(m[1]), msg) {
		t.Errorf("no error %q next to %s (got %v)", msg, field, m)
	}
}

func TestGroupForm(t *testing.T) {
	e := mustEnv(t)
	c := e.signIn("admin@example.edu", auth.Admin)
	good := func() url.Values {
		return url.Values{"name": {"Intro to Go"}, "course_name": {"CS 150"}, "description": {"Go basics"}, "course_link": {"https://canvas.example.edu/courses/7"},
			"language": {"en"}, "validity_months": {"24"}, "attr_key_0": {"grade"}, "attr_required_0": {"1"},
			"attr_key_1": {""}, "attr_visibility_1": {""}}
	}
	cases := []struct {
		name, field, value, errField, msg string
	}{
		{"no name", "name", "", "name", "Enter the group's name."},
		{"no course name", "course_name", " ", "course_name", "Enter the course name."},
		{"bad link", "course_link", "canvas/courses/7", "course_link", "https://"},
		{"bad language", "language", "english!!", "language", "is not a language code"},
		{"bad validity", "validity_months", "two", "validity_months", "whole number of months"},
		{"zero validity", "validity_months", "0", "validity_months", "whole number of months"},
		{"attribute not in the list", "attr_key_0", "Grade!", "attr_key_0", "Choose an attribute from the list."},
		{"standard key", "attr_key_0", "recipient_name", "attr_key_0", "Choose an attribute from the list."},
		{"bad visibility", "attr_visibility_0", "everyone", "attr_visibility_0", `Visibility "everyone" must be public, recipient or staff.`},
		{"bad result type", "attr_result_type_0", "Grade", "attr_result_type_0", `Result type "Grade" must be one of`},
		{"bad design", "design_id", "x", "design_id", "Choose a design"},
		{"unknown design", "design_id", "999", "design_id", "does not exist"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot()
			f := good()
			f.Set(tc.field, tc.value)
			r := c.post("/groups/new", f)
			if r.code != http.StatusUnprocessableEntity {
				t.Fatalf("status %d\n%s", r.code, r.body)
			}
			fieldError(t, r.body, tc.errField, tc.msg)
			contains(t, r.body, "Nothing was saved.", "Go basics", "Go basics")
			if after := e.snapshot(); after != before {
				t.Fatalf("database changed:\n%s\n%s", before, after)
			}
		})
	}
	// Two rows with the same key: the second one is marked.
	f := good()
	f.Set("attr_key_1", "grade")
	r := c.post("/groups/new", f)
	fieldError(t, r.body, "attr_key_1", "already picked in row 1")

	// A good form creates the group (PRG) with its attribute; editing it
	// adds a second attribute through a spare row.
	r = c.post("/groups/new", good())
	if r.code != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", r.code, r.body)
	}
	r = c.follow(r)
	contains(t, r.body, "Group “Intro to Go” created.", "CS 150", "<td>Grade</td>", "24 months")
	var gid int64
	if err := e.db.Get(&gid, `SELECT id FROM groups WHERE name = 'Intro to Go'`); err != nil {
		t.Fatal(err)
	}
	path := "/groups/" + sprint(gid) + "/edit"
	r = c.get(path)
	contains(t, r.body, `<option value="grade" selected>Grade (Text)</option>`, `id="attr_key_1"`, `id="attr_key_3"`, `id="add-attribute"`,
		`<option value="hours">Hours (Number)</option>`)
	f = good()
	f.Set("attr_key_1", "hours")
	f.Set("allow_duplicates", "1")
	r = c.follow(c.post(path, f))
	contains(t, r.body, "Group saved.", "<td>Hours</td>", "A recipient may hold several credentials",
		"Only instructors of a course it was created for may map onto it; their completions wait for staff review")
	// The instructor settings: off until staff tick them.
	f.Set("available_to_instructors", "1")
	f.Set("allow_auto_publish", "1")
	r = c.follow(c.post(path, f))
	contains(t, r.body, "Group saved.", "Any course's instructors may map onto it; they may choose to publish completions at once")
	r = c.get(path)
	contains(t, r.body, `name="available_to_instructors" value="1" checked`, `name="allow_auto_publish" value="1" checked`)

	// Visibility: a new attribute is for the recipient and staff unless
	// chosen otherwise; a public result keeps its result type.
	var attrs string
	if err := e.db.Get(&attrs, `SELECT attributes::text FROM groups WHERE id = $1`, gid); err != nil {
		t.Fatal(err)
	}
	contains(t, attrs, `"key": "grade"`, `"visibility": "recipient"`, `"result_type": ""`)
	contains(t, r.body, `<option value="recipient" selected>Recipient and staff only</option>`, `id="visibility-help"`)
	f.Set("attr_visibility_0", "public")
	f.Set("attr_result_type_0", "LetterGrade")
	f.Set("attr_visibility_1", "staff")
	r = c.follow(c.post(path, f))
	contains(t, r.body, "Group saved.")
	r = c.get(path)
	contains(t, r.body, `<option value="public" selected>Public</option>`, `<option value="LetterGrade" selected>Letter grade</option>`,
		`<option value="staff" selected>Staff only</option>`)
}

// multipartForm builds a design form with optional file uploads.
func multipartForm(t *testing.T, fields map[string]string, files map[string][]byte) (string, *bytes.Buffer) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, v := range fields {
		w.WriteField(k, v)
	}
	for k, v := range files {
		fw, _ := w.CreateFormFile(k, k+".bin")
		fw.Write(v)
	}
	w.Close()
	return w.FormDataContentType(), &b
}

func (c *client) postMultipart(path string, fields map[string]string, files map[string][]byte) response {
	c.e.t.Helper()
	ct, body := multipartForm(c.e.t.(*testing.T), fields, files)
	req, _ := http.NewRequest("POST", c.e.srv.URL+path, body)
	req.Header.Set("Content-Type", ct)
	return c.do(req)
}

var pngBytes = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")

func TestDesignForm(t *testing.T) {
	e := mustEnv(t)
	c := e.signIn("tm@example.edu", auth.TeamMember)
	good := func() map[string]string {
		return map[string]string{"name": "Gold badge", "kind": "badge", "title": "", "primary_color": "#123456", "secondary_color": "#abcdef"}
	}
	svg := []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>`)
	cases := []struct {
		name  string
		set   map[string]string
		files map[string][]byte
		field string
		msg   string
	}{
		{"no name", map[string]string{"name": ""}, map[string][]byte{"image": pngBytes}, "name", "Enter a name"},
		{"bad kind", map[string]string{"kind": "poster"}, map[string][]byte{"image": pngBytes}, "kind", "badge or certificate"},
		{"bad colour", map[string]string{"primary_color": "blue"}, map[string][]byte{"image": pngBytes}, "primary_color", "#rrggbb"},
		{"short colour", map[string]string{"secondary_color": "#abc"}, map[string][]byte{"image": pngBytes}, "secondary_color", "#rrggbb"},
		{"unknown layout", map[string]string{"layout": "modern"}, nil, "layout", "Choose one of the templates"},
		{"not an image", nil, map[string][]byte{"image": []byte("GIF89a not allowed")}, "image", "not a PNG or SVG"},
		{"too large", nil, map[string][]byte{"image": append(append([]byte{}, pngBytes...), make([]byte, 1<<20)...)}, "image", "at most 1024 KiB"},
		{"svg with script", nil, map[string][]byte{"image": []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)}, "image", "without scripts"},
		{"bad logo", map[string]string{"kind": "certificate", "title": "Cert"}, map[string][]byte{"logo": []byte("%PDF-1.4")}, "logo", "not a PNG or SVG"},
		{"certificate without title", map[string]string{"kind": "certificate", "title": ""}, nil, "title", "heading"},
		{"bad printed key", map[string]string{"kind": "certificate", "title": "Cert", "printed_extra": "grade, Not A Key"}, nil, "printed_attributes", "is not an attribute key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot()
			f := good()
			for k, v := range tc.set {
				f[k] = v
			}
			r := c.postMultipart("/designs/new", f, tc.files)
			if r.code != http.StatusUnprocessableEntity {
				t.Fatalf("status %d\n%s", r.code, r.body)
			}
			fieldError(t, r.body, tc.field, tc.msg)
			if after := e.snapshot(); after != before {
				t.Fatalf("database changed")
			}
		})
	}
	// A PNG badge and an SVG certificate logo are accepted and served as
	// inert images.
	r := c.postMultipart("/designs/new", good(), map[string][]byte{"image": pngBytes})
	if r.code != http.StatusSeeOther {
		t.Fatalf("create badge: %d\n%s", r.code, r.body)
	}
	f := good()
	f["name"], f["kind"], f["title"], f["print_recipient_name"], f["printed_extra"] = "Cert", "certificate", "Certificate of Achievement", "1", "grade"
	if r := c.postMultipart("/designs/new", f, map[string][]byte{"logo": svg}); r.code != http.StatusSeeOther {
		t.Fatalf("create certificate: %d\n%s", r.code, r.body)
	}
	var badgeID, certID int64
	e.db.Get(&badgeID, `SELECT id FROM designs WHERE name = 'Gold badge'`)
	e.db.Get(&certID, `SELECT id FROM designs WHERE name = 'Cert'`)
	img := c.get("/designs/" + sprint(badgeID) + "/image")
	if img.code != 200 || img.header.Get("Content-Type") != "image/png" || !strings.Contains(img.header.Get("Content-Security-Policy"), "sandbox") {
		t.Errorf("badge image: %d %v", img.code, img.header)
	}
	// A badge made from a template without a file gets the template's
	// image, drawn by Laurel in the chosen colours, and svgcheck-clean.
	f = good()
	f["name"], f["layout"] = "Ribbon badge", "ribbon"
	if r := c.postMultipart("/designs/new", f, nil); r.code != http.StatusSeeOther {
		t.Fatalf("create badge from template: %d\n%s", r.code, r.body)
	}
	var gen struct {
		Image  []byte `db:"image"`
		Layout string `db:"layout"`
	}
	if err := e.db.Get(&gen, `SELECT image, layout FROM designs WHERE name = 'Ribbon badge'`); err != nil {
		t.Fatal(err)
	}
	if gen.Layout != "ribbon" || !bytes.Contains(gen.Image, []byte(`fill="#123456"`)) || !bytes.Contains(gen.Image, []byte(`fill="#abcdef"`)) || svgcheck.Problem(gen.Image) != "" {
		t.Errorf("generated badge: layout %q, %d bytes, problem %q", gen.Layout, len(gen.Image), svgcheck.Problem(gen.Image))
	}
	// On an existing badge, the template's image can be drawn again in new
	// colours, replacing the uploaded one.
	f = good()
	f["name"], f["layout"], f["primary_color"], f["redraw_image"] = "Gold badge", "shield", "#550000", "1"
	if r := c.postMultipart("/designs/"+sprint(badgeID)+"/edit", f, nil); r.code != http.StatusSeeOther {
		t.Fatalf("redraw badge: %d\n%s", r.code, r.body)
	}
	if img := c.get("/designs/" + sprint(badgeID) + "/image"); img.header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(img.body, `fill="#550000"`) {
		t.Errorf("redrawn badge: %s %.80s", img.header.Get("Content-Type"), img.body)
	}
	logo := c.get("/designs/" + sprint(certID) + "/logo")
	if logo.code != 200 || logo.header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(logo.header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("svg logo: %d %v", logo.code, logo.header)
	}
	contains(t, c.get("/designs").body, "Gold badge", "Cert", "Certificate of Achievement")
	// Editing keeps the image when no new file is uploaded.
	f = good()
	f["name"] = "Gold badge v2"
	if r := c.postMultipart("/designs/"+sprint(badgeID)+"/edit", f, nil); r.code != http.StatusSeeOther {
		t.Fatalf("edit badge: %d\n%s", r.code, r.body)
	}
	if img := c.get("/designs/" + sprint(badgeID) + "/image"); img.code != 200 {
		t.Errorf("image lost on edit: %d", img.code)
	}
}
