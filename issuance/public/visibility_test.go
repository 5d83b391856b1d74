package public_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/issuance"
)

// TestAttributeVisibilityOnPublicSurfaces: a "Final Grade" for the
// recipient and staff only, and a staff-only note, are absent from
// everything the public gets (the page, the PDF although the design ticks
// them, the baked badge, the Open Badges JSON and the VC-JWT). Making the
// grade a public result changes the group's public form: its published
// credentials are re-signed (audited), and the new signed credential
// carries the grade as an Open Badges result and verifies.
func TestAttributeVisibilityOnPublicSurfaces(t *testing.T) {
	s, d := mustService(t)
	setKeys(s, mustKeys(t))
	ctx := context.Background()
	srv := publicServer(t, s)
	w := signingWorker(s, d)
	cert, err := s.CreateDesign(ctx, actor, issuance.Design{Name: "Cert", Kind: issuance.Certificate, Title: "Certificate",
		PrintedAttributes: []string{"recipient_name", "recipient_email", "grade", "advisor_note", "course_name"}})
	if err != nil {
		t.Fatal(err)
	}
	badge, err := s.CreateDesign(ctx, actor, issuance.Design{Name: "Badge", Kind: issuance.Badge, Image: pngBytes(t), ImageType: "image/png"})
	if err != nil {
		t.Fatal(err)
	}
	attrs := func() []issuance.Attribute {
		return []issuance.Attribute{
			// A result, but not public: never signed.
			{Key: "grade", Label: "Final Grade", Type: issuance.TextAttr, Visibility: issuance.VisibilityRecipient, ResultType: "LetterGrade"},
			{Key: "advisor_note", Label: "Advisor Note", Type: issuance.TextAttr, Visibility: issuance.VisibilityStaff},
		}
	}
	cg := mustGroup(t, s, func(g *issuance.Group) { g.Name = "Cert Group"; g.DesignID = cert.ID; g.Attributes = attrs() })
	bg := mustGroup(t, s, func(g *issuance.Group) { g.Name = "Badge Group"; g.DesignID = badge.ID; g.Attributes = attrs() })
	it := func(email string) issuance.NewCredential {
		return issuance.NewCredential{Recipient: issuance.Recipient{Name: "Ada Lovelace", Email: email}, IssuedOn: "2026-06-30",
			Attributes: map[string]string{"grade": "GradeQ7", "advisor_note": "NoteZ9"}}
	}
	c := mustCreate(t, s, cg.ID, it("ada.cert@example.edu"))[0]
	b := mustCreate(t, s, bg.ID, it("ada.badge@example.edu"))[0]
	if _, err := s.Publish(ctx, actor, issuance.Selection{IDs: []string{c.ID, b.ID}}); err != nil {
		t.Fatal(err)
	}
	drain(t, w)

	absent := func(t *testing.T, where, body string, secrets ...string) {
		t.Helper()
		for _, x := range append(secrets, "GradeQ7", "Final Grade", "NoteZ9", "Advisor Note") {
			if strings.Contains(body, x) {
				t.Fatalf("%s shows %q:\n%s", where, x, body)
			}
		}
	}
	get200 := func(t *testing.T, path string) []byte {
		t.Helper()
		code, body, _ := fetch(t, srv.URL+path, "")
		if code != 200 {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		return body
	}
	jwtPayload := func(t *testing.T, jwt []byte) string {
		t.Helper()
		parts := strings.Split(string(jwt), ".")
		if len(parts) != 3 {
			t.Fatalf("not a JWT: %s", jwt)
		}
		p, err := jsonB64(parts[1])
		if err != nil {
			t.Fatal(err)
		}
		return string(p)
	}
	for _, id := range []string{c.ID, b.ID} {
		page := string(get200(t, "/c/"+id))
		if !strings.Contains(page, "Ada Lovelace") {
			t.Fatalf("page of %s:\n%s", id, page)
		}
		absent(t, "the public page", page, "ada.cert@", "ada.badge@")
		absent(t, "the Open Badges JSON", string(get200(t, "/c/"+id+".json")))
		absent(t, "the VC-JWT", jwtPayload(t, get200(t, "/c/"+id+".jwt")))
	}
	pdf := testenv.PDFText(t, get200(t, "/c/"+c.ID+".pdf"))
	if !strings.Contains(pdf, "Ada Lovelace") {
		t.Fatalf("PDF text:\n%s", pdf)
	}
	absent(t, "the PDF", pdf, "ada.cert@")
	baked := exiftoolCredential(t, get200(t, "/c/"+b.ID+"/badge"))
	if !strings.Contains(baked, `"OpenBadgeCredential"`) {
		t.Fatalf("baked badge holds no credential: %q", baked)
	}
	absent(t, "the baked badge", baked)

	// Make the grade a public result: the group's published credentials
	// are re-signed (audited), with the grade as a result.
	before, _, err := sg(s).Signed(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	g, err := s.Group(ctx, bg.ID)
	if err != nil {
		t.Fatal(err)
	}
	g.Attributes[0].Visibility = issuance.VisibilityPublic
	if _, err := s.UpdateGroup(ctx, actor, g); err != nil {
		t.Fatal(err)
	}
	drain(t, w)
	var audited int
	if err := d.Get(&audited, `SELECT count(*) FROM audit_log WHERE action = 're-sign' AND entity_type = 'credential' AND entity_id = $1`, b.ID); err != nil {
		t.Fatal(err)
	}
	if audited != 1 {
		t.Fatalf("re-sign audited %d times, want 1", audited)
	}
	if err := d.Get(&audited, `SELECT count(*) FROM audit_log WHERE action = 'update' AND entity_type = 'group' AND entity_id = $1
		AND after::text LIKE '%"visibility": "public"%'`, itoa(int(bg.ID))); err != nil {
		t.Fatal(err)
	}
	if audited != 1 {
		t.Fatalf("the visibility change audited %d times, want 1", audited)
	}
	after, jwt, err := sg(s).Signed(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(before, after) {
		t.Fatal("the signed credential did not change")
	}
	ach := "https://laurel.test/achievements/" + itoa(int(bg.ID))
	for _, want := range []string{`"result":[{"type":["Result"],"resultDescription":"` + ach + `#result-grade","value":"GradeQ7"}]`,
		`{"id":"` + ach + `#result-grade","type":["ResultDescription"],"name":"Final Grade","resultType":"LetterGrade"}`} {
		if !bytes.Contains(after, []byte(want)) || !strings.Contains(jwtPayload(t, []byte(jwt)), want) {
			t.Fatalf("re-signed credential lacks %s:\n%s", want, after)
		}
	}
	// The achievement document describes the result under the same id.
	if doc := string(get200(t, "/achievements/"+itoa(int(bg.ID)))); !strings.Contains(doc,
		`"resultDescription":[{"id":"`+ach+`#result-grade","type":["ResultDescription"],"name":"Final Grade","resultType":"LetterGrade"}]`) {
		t.Fatalf("achievement document:\n%s", doc)
	}
	absent(t, "the re-signed credential", strings.NewReplacer("GradeQ7", "", "Final Grade", "").Replace(string(after)))
	if v, err := sg(s).Verify(ctx, mustCred(t, s, b.ID)); err != nil || !v.Valid {
		t.Fatalf("after re-sign: %+v %v", v, err)
	}
	page := string(get200(t, "/c/"+b.ID))
	if !strings.Contains(page, "GradeQ7") || strings.Contains(page, "NoteZ9") {
		t.Fatalf("the page after the grade became public:\n%s", page)
	}
	// The certificate group did not change: its credential was not re-signed.
	if err := d.Get(&audited, `SELECT count(*) FROM audit_log WHERE action = 're-sign' AND entity_id = $1`, c.ID); err != nil || audited != 0 {
		t.Fatalf("the other group's credential re-signed %d times (%v)", audited, err)
	}
}
