package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/imports"
	"github.com/laurel-edu/laurel/issuance/openbadges"
)

// The two people of the erasure tests: Ada asks to be erased; Bob shares
// her group, her import file and her course, and must keep everything.
const (
	adaName, adaEmail, adaGrade = "Ada Lovelace", "ada.lovelace@uni.example.edu", "A+ with distinction"
	bobName, bobEmail, bobGrade = "Bob Babbage", "bob.babbage@uni.example.edu", "B minus"
)

// peopleFixture is Ada's and Bob's data in every room that keeps people.
type peopleFixture struct {
	group            issuance.Group
	adaPub, adaUnpub issuance.Credential
	bobPub           issuance.Credential
	importID         int64
	platformID       int64
	adaSeq           int64
}

// mustPeople gives Ada and Bob a credential each in one group from one
// imported CSV, published, signed and emailed (through the real SMTP
// catcher); Ada also an unpublished one in a second group (her email in
// other letter case); both a course membership, an LMS user, a Canvas user
// and a handled Canvas event.
func mustPeople(t *testing.T, app *running) peopleFixture {
	t.Helper()
	ctx := context.Background()
	var f peopleFixture
	var err error
	f.group, err = app.Issuance.CreateGroup(ctx, "test", issuance.Group{Name: "Data Science Foundations", CourseName: "DS 101", Language: "en",
		Attributes: []issuance.Attribute{{Key: "grade", Label: "Grade", Type: issuance.TextAttr}}})
	if err != nil {
		t.Fatal(err)
	}
	g2, err := app.Issuance.CreateGroup(ctx, "test", issuance.Group{Name: "Marine Biology", CourseName: "MB 201", Language: "en"})
	if err != nil {
		t.Fatal(err)
	}
	file := "Name,Email,Issue date,Grade\r\n" + adaName + "," + adaEmail + ",2026-01-02," + adaGrade + "\r\n" +
		bobName + "," + bobEmail + ",2026-01-02," + bobGrade + "\r\n"
	im, err := app.Imports.StartImport(ctx, "test", f.group.ID, strings.NewReader(file), imports.ImportOptions{FileName: "ds101.csv"})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if im, err = app.Imports.WaitImport(wctx, im.ID, 20*time.Millisecond); err != nil || im.State != imports.ImportReady || im.Valid != 2 {
		t.Fatalf("validated import: %+v %v", im, err)
	}
	if _, err = app.Imports.CommitImport(ctx, "test", im.ID, true); err != nil {
		t.Fatal(err)
	}
	if im, err = app.Imports.WaitImport(wctx, im.ID, 20*time.Millisecond); err != nil || im.Created != 2 {
		t.Fatalf("committed import: %+v %v", im, err)
	}
	f.importID = im.ID
	cs, _, err := app.Issuance.Credentials(ctx, f.group.ID, issuance.ListOptions{})
	if err != nil || len(cs) != 2 {
		t.Fatalf("imported credentials: %+v %v", cs, err)
	}
	for _, c := range cs {
		if c.Recipient.Email == adaEmail {
			f.adaPub = c
		} else {
			f.bobPub = c
		}
	}
	if _, err := app.Issuance.Publish(ctx, "test", issuance.Selection{IDs: []string{f.adaPub.ID, f.bobPub.ID}}); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Mail.WaitFor(2, 30*time.Second); err != nil {
		t.Fatalf("publish emails: %v", err)
	}
	if err := app.Signing.Sign(ctx, []string{f.adaPub.ID, f.bobPub.ID}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Signing.StatusList(ctx, 0); err != nil {
		t.Fatal(err)
	}
	// An update by spreadsheet, checked and kept (not applied): its rows
	// name both people, with their grades old and new.
	upd := "Credential ID,Grade\n" + f.adaPub.ID + ",Z1\n" + f.bobPub.ID + ",Z2\n"
	if _, err := app.Updates.Upload(ctx, "test", nil, "update.csv", strings.NewReader(upd), int64(len(upd))); err != nil {
		t.Fatal(err)
	}
	un, err := app.Issuance.CreateCredentials(ctx, "test", g2.ID, issuance.FromForm, []issuance.NewCredential{
		{Recipient: issuance.Recipient{Name: adaName, Email: "Ada.Lovelace@Uni.Example.edu"}, IssuedOn: "2026-02-03"}})
	if err != nil {
		t.Fatal(err)
	}
	f.adaUnpub = un[0]
	v, _, err := app.Issuance.PublicVersionOf(ctx, f.adaPub.ID)
	if err != nil {
		t.Fatal(err)
	}
	f.adaSeq = v.Seq
	// The LMS side as launches, rosters and Live Events leave it.
	if err := app.DB.Get(&f.platformID, `INSERT INTO platforms (name, issuer, client_id, auth_url, jwks_url)
		VALUES ('Canvas', 'https://canvas.uni.example.edu', '10000000000001', 'https://canvas.uni.example.edu/auth', 'https://canvas.uni.example.edu/jwks') RETURNING id`); err != nil {
		t.Fatal(err)
	}
	// A Moodle completion check saw both (names and emails kept per person).
	var moodleMapping int64
	if err := app.DB.Get(&moodleMapping, `INSERT INTO course_mappings (platform_id, context_id, group_id, completion_rule, created_by)
		VALUES ($1, '42', $2, 'moodle_completion', 'test') RETURNING id`, f.platformID, f.group.ID); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct{ sub, uid, name, email string }{{"sub-ada", "101", adaName, adaEmail}, {"sub-bob", "102", bobName, bobEmail}} {
		mustExec(t, app, `INSERT INTO course_members (platform_id, context_id, sub, email, external_ref) VALUES ($1, 'ctx-ds101', $2, $3, $4)`,
			f.platformID, p.sub, p.email, fmt.Sprintf("canvas:%d:%s", f.platformID, p.uid))
		mustExec(t, app, `INSERT INTO lti_users (platform_id, sub, name, email) VALUES ($1, $2, $3, $4)`,
			f.platformID, p.sub, p.name, p.email)
		mustExec(t, app, `INSERT INTO canvas_users (platform_id, canvas_user_id, sub, name, email) VALUES ($1, $2, $3, $4, $5)`,
			f.platformID, p.uid, p.sub, p.name, p.email)
		mustExec(t, app, `INSERT INTO moodle_rule_states (mapping_id, moodle_user_id, name, email, completed, checked_at) VALUES ($1, $2, $3, $4, false, now())`,
			moodleMapping, p.uid, p.name, p.email)
		mustExec(t, app, `INSERT INTO canvas_events (dedup_key, event_name, canvas_course_id, canvas_user_id, payload, state, platform_id)
			VALUES ($1, 'course_completed', '7', $2, $3, 'processed', $4)`, "ev-"+p.uid, p.uid,
			fmt.Sprintf(`{"body":{"user":{"id":%q,"name":%q}}}`, p.uid, p.name), f.platformID)
	}
	return f
}

func mustExec(t *testing.T, app *running, q string, args ...any) {
	t.Helper()
	if _, err := app.DB.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// occurrences scans every text, JSON and binary column of every table for
// each needle (case-insensitive) and returns "table.column: needle" for
// each hit.
func occurrences(t *testing.T, app *running, needles ...string) []string {
	t.Helper()
	var cols []struct {
		Table  string `db:"table_name"`
		Column string `db:"column_name"`
		Type   string `db:"data_type"`
	}
	const q = `SELECT table_name, column_name, data_type FROM information_schema.columns
		WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'jsonb', 'json', 'bytea', 'ARRAY')
		ORDER BY table_name, column_name`
	if err := app.DB.Select(&cols, q); err != nil {
		t.Fatal(err)
	}
	if len(cols) < 50 {
		t.Fatalf("only %d columns to scan", len(cols))
	}
	var hits []string
	for _, c := range cols {
		expr := fmt.Sprintf(`lower(%q::text)`, c.Column)
		if c.Type == "bytea" {
			// Stored files: their bytes, ASCII as it is, other bytes escaped.
			expr = fmt.Sprintf(`lower(encode(%q, 'escape'))`, c.Column)
		}
		for _, n := range needles {
			var k int
			sq := fmt.Sprintf(`SELECT count(*) FROM %q WHERE strpos(%s, lower($1)) > 0`, c.Table, expr)
			if err := app.DB.Get(&k, sq, n); err != nil {
				t.Fatalf("%s.%s: %v", c.Table, c.Column, err)
			}
			if k > 0 {
				hits = append(hits, fmt.Sprintf("%s.%s: %s (%d rows)", c.Table, c.Column, n, k))
			}
		}
	}
	return hits
}

// TestEraseAPersonLeavesNoTraceAndKeepsTheOtherPerson: an owner exports Ada
// through the API and an admin erases her. Her unpublished credential is
// gone, her published one revoked with the erasure reason and its status
// list bit set, its public page shows no name; her name, email and grade
// are in no column of any table, nor in the stored import file; Bob, who
// shares her group, import and course, keeps everything. A team member's
// token may do neither (403, nothing changed); erasing again changes
// nothing and is recognised by the same reference.
func TestEraseAPersonLeavesNoTraceAndKeepsTheOtherPerson(t *testing.T) {
	app := mustRun(t)
	ctx := context.Background()
	f := mustPeople(t, app)
	seedSelfService(t, app, f.adaPub, f.adaPub)
	// The expiry reminder scan and a renewal link leave these rows (the
	// scan and the link are tested in e2e_reminders_test.go).
	mustExec(t, app, `INSERT INTO credential_reminders (credential_id, expires_on, kind, days, created_at) VALUES ($1, '2027-03-01', 'reminder', 30, now())`, f.adaPub.ID)
	mustExec(t, app, `INSERT INTO renewal_requests (credential_id, group_id, expires_on, created_at) VALUES ($1, $2, '2027-03-01', now())`, f.adaPub.ID, f.group.ID)
	adaBefore := occurrences(t, app, adaEmail, adaName, adaGrade)
	t.Logf("Ada before the erasure:\n%s", strings.Join(adaBefore, "\n"))
	if len(adaBefore) < 15 {
		t.Fatalf("the fixture should put Ada in many places, found %v", adaBefore)
	}
	bobBefore := occurrences(t, app, bobEmail, bobName, bobGrade)
	var jwt string
	if err := app.DB.Get(&jwt, `SELECT signed_jwt FROM credential_signatures WHERE credential_id = $1`, f.adaPub.ID); err != nil || !strings.Contains(jwtPayload(t, jwt), adaName) {
		t.Fatalf("Ada's VC-JWT before the erasure: %v", err)
	}

	tokenOf := func(role auth.Role) *client {
		tok, err := app.Accounts.CreateToken(ctx, "script "+string(role), role)
		if err != nil {
			t.Fatal(err)
		}
		c := newClient(t, app.URL)
		c.header.Set("Authorization", "Bearer "+tok)
		return c
	}
	owner, admin, team := tokenOf(auth.Owner), tokenOf(auth.Admin), tokenOf(auth.TeamMember)

	// A team member may neither look nor erase.
	if resp, body := team.do("GET", "/api/v1/people?email="+url.QueryEscape(adaEmail), "", ""); resp.StatusCode != http.StatusForbidden || strings.Contains(body, "Lovelace") {
		t.Fatalf("team member export: %d %s", resp.StatusCode, body)
	}
	if resp, body := team.do("POST", "/api/v1/people/erase", "application/json", `{"email":"`+adaEmail+`"}`); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("team member erase: %d %s", resp.StatusCode, body)
	}
	// A bad email names the field.
	if resp, body := owner.do("GET", "/api/v1/people?email=ada", "", ""); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `"email"`) {
		t.Fatalf("bad email: %d %s", resp.StatusCode, body)
	}
	if resp, body := admin.do("POST", "/api/v1/people/erase", "application/json", `{"email":"erased-0123@invalid"}`); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "already erased") {
		t.Fatalf("tombstone email: %d %s", resp.StatusCode, body)
	}

	// The export: all of Ada, none of Bob.
	resp, body := owner.do("GET", "/api/v1/people?email="+url.QueryEscape(strings.ToUpper(adaEmail)), "", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("export: %d %s", resp.StatusCode, body)
	}
	var rec struct {
		Credentials []struct {
			ID, State, Group string
			Attributes       map[string]string
		} `json:"credentials"`
		Emails []struct {
			To    string `json:"to"`
			State string `json:"state"`
		} `json:"emails"`
		ImportRows        []struct{ Row int } `json:"import_rows"`
		CourseMemberships []any               `json:"course_memberships"`
		LMSUsers          []any               `json:"lms_users"`
		CanvasUsers       []any               `json:"canvas_users"`
		AuditEntries      []any               `json:"audit_entries"`
		SelfService       struct {
			NameCorrections []struct {
				CredentialID  string `json:"credential_id"`
				RequestedName string `json:"requested_name"`
				Note, State   string
			} `json:"name_corrections"`
			Hidden []struct {
				CredentialID string `json:"credential_id"`
			} `json:"hidden_credentials"`
			Emails []struct{ Kind, To string } `json:"emails"`
			Links  []map[string]any            `json:"links"`
		} `json:"self_service"`
		UpdateRows []struct {
			CredentialID string `json:"credential_id"`
			FileName     string `json:"file_name"`
			Changes      []struct{ Label, Old, New string }
		} `json:"update_rows"`
		ExpiryReminders []struct {
			CredentialID string `json:"credential_id"`
			Kind         string
			DaysBefore   int    `json:"days_before"`
			ExpiresOn    string `json:"expires_on"`
		} `json:"expiry_reminders"`
		RenewalRequests []struct {
			CredentialID string `json:"credential_id"`
			ExpiresOn    string `json:"expires_on"`
		} `json:"renewal_requests"`
	}
	if err := json.Unmarshal([]byte(body), &rec); err != nil {
		t.Fatal(err)
	}
	if len(rec.Credentials) != 2 || rec.Credentials[0].ID != f.adaPub.ID || rec.Credentials[0].Attributes["grade"] != adaGrade ||
		rec.Credentials[1].ID != f.adaUnpub.ID || rec.Credentials[1].State != "unpublished" ||
		len(rec.Emails) != 1 || rec.Emails[0].To != adaEmail || rec.Emails[0].State != "sent" ||
		len(rec.ImportRows) != 1 || rec.ImportRows[0].Row != 2 || len(rec.CourseMemberships) != 1 || len(rec.LMSUsers) != 1 ||
		len(rec.CanvasUsers) != 1 || len(rec.AuditEntries) < 2 {
		t.Fatalf("export:\n%s", body)
	}
	// What erasure deletes is in the export first: her name correction,
	// her hidden credential, the self-service emails and links (when, never
	// the token), the update row with its values, the expiry reminder and
	// the renewal request.
	ss := rec.SelfService
	if len(ss.NameCorrections) != 1 || ss.NameCorrections[0].CredentialID != f.adaPub.ID || ss.NameCorrections[0].RequestedName != adaName+" Jr" ||
		ss.NameCorrections[0].Note != "Please add my suffix." || ss.NameCorrections[0].State != "pending" ||
		len(ss.Hidden) != 1 || ss.Hidden[0].CredentialID != f.adaPub.ID || len(ss.Emails) != 2 || len(ss.Links) != 2 {
		t.Fatalf("export of self-service:\n%s", body)
	}
	for _, m := range ss.Emails {
		if m.Kind != "link" || m.To != adaEmail {
			t.Fatalf("self-service email %+v in:\n%s", m, body)
		}
	}
	for _, l := range ss.Links {
		if len(l) < 3 || l["credential_id"] != f.adaPub.ID || l["created_at"] == nil || l["expires_at"] == nil {
			t.Fatalf("link %v", l)
		}
		for k := range l {
			if k != "credential_id" && k != "created_at" && k != "expires_at" && k != "used_at" {
				t.Fatalf("the export of a link has %q: %v", k, l)
			}
		}
	}
	if len(rec.UpdateRows) != 1 || rec.UpdateRows[0].CredentialID != f.adaPub.ID || rec.UpdateRows[0].FileName != "update.csv" ||
		len(rec.UpdateRows[0].Changes) != 1 || rec.UpdateRows[0].Changes[0].Old != adaGrade || rec.UpdateRows[0].Changes[0].New != "Z1" ||
		len(rec.ExpiryReminders) != 1 || rec.ExpiryReminders[0].CredentialID != f.adaPub.ID || rec.ExpiryReminders[0].Kind != "reminder" ||
		rec.ExpiryReminders[0].DaysBefore != 30 || rec.ExpiryReminders[0].ExpiresOn != "2027-03-01" ||
		len(rec.RenewalRequests) != 1 || rec.RenewalRequests[0].CredentialID != f.adaPub.ID || rec.RenewalRequests[0].ExpiresOn != "2027-03-01" {
		t.Fatalf("export of update rows, reminders and renewal requests:\n%s", body)
	}
	if strings.Contains(body, "Babbage") || strings.Contains(body, f.bobPub.ID) {
		t.Fatalf("the export of Ada names Bob:\n%s", body)
	}

	// The erasure.
	resp, body = admin.do("POST", "/api/v1/people/erase", "application/json", `{"email":"`+adaEmail+`"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("erase: %d %s", resp.StatusCode, body)
	}
	var er struct {
		Erasure struct {
			Ref string `json:"ref"`
		} `json:"erasure"`
		Summary string `json:"summary"`
	}
	if err := json.Unmarshal([]byte(body), &er); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1 unpublished credential deleted", "1 published credential revoked", "1 import row cleared",
		"1 stored import file rewritten", "1 spreadsheet update row deleted", "self-service records deleted", "1 course membership cleared", "1 LMS user cleared", "1 Canvas user cleared", "1 Canvas event payload dropped",
		"1 Moodle completion check record cleared"} {
		if !strings.Contains(er.Summary, want) {
			t.Fatalf("summary %q lacks %q", er.Summary, want)
		}
	}
	if hits := occurrences(t, app, adaEmail, adaName, adaGrade); len(hits) > 0 {
		t.Fatalf("Ada is still in the database:\n%s", strings.Join(hits, "\n"))
	}
	if bobAfter := occurrences(t, app, bobEmail, bobName, bobGrade); strings.Join(bobAfter, "\n") != strings.Join(bobBefore, "\n") {
		t.Fatalf("Bob's data changed:\nbefore %v\nafter  %v", bobBefore, bobAfter)
	}
	if _, err := app.Issuance.Credential(ctx, f.adaUnpub.ID); err == nil {
		t.Fatal("the unpublished credential still exists")
	}
	ada, err := app.Issuance.Credential(ctx, f.adaPub.ID)
	if err != nil || ada.State != issuance.Revoked || ada.RevocationReason != issuance.ErasedReason || !ada.Erased() || len(ada.Attributes) != 0 {
		t.Fatalf("Ada's published credential after erasure: %+v %v", ada, err)
	}
	bob, err := app.Issuance.Credential(ctx, f.bobPub.ID)
	if err != nil || bob.State != issuance.Published || bob.Recipient.Name != bobName || bob.Attributes["grade"] != bobGrade {
		t.Fatalf("Bob's credential after Ada's erasure: %+v %v", bob, err)
	}

	// Verifiers see it revoked: the status list, as served, has its bit set
	// (and Bob's clear), and the credential's own check says revoked.
	sl, err := app.Signing.StatusList(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var doc openbadges.StatusListCredential
	if err := json.Unmarshal(sl, &doc); err != nil {
		t.Fatal(err)
	}
	bits, err := openbadges.DecodeBits(doc.CredentialSubject.EncodedList, openbadges.StatusListSize/8)
	if err != nil {
		t.Fatal(err)
	}
	bv, _, _ := app.Issuance.PublicVersionOf(ctx, f.bobPub.ID)
	if !openbadges.Bit(bits, int(f.adaSeq)) || openbadges.Bit(bits, int(bv.Seq)) {
		t.Fatalf("status list bits: Ada (%d) %v, Bob (%d) %v", f.adaSeq, openbadges.Bit(bits, int(f.adaSeq)), bv.Seq, openbadges.Bit(bits, int(bv.Seq)))
	}
	ver, err := app.Signing.Verify(ctx, ada)
	if err != nil || !ver.Revoked || ver.Valid {
		t.Fatalf("verification of the erased credential: %+v %v", ver, err)
	}

	// Its public page and signed documents: revoked, no name.
	anon := newClient(t, app.URL)
	resp, page := anon.do("GET", "/c/"+ada.ID, "", "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "erased at the recipient&#39;s request") || strings.Contains(page, "Lovelace") ||
		strings.Contains(page, "Erased") || strings.Contains(page, "@invalid") {
		t.Fatalf("public page of the erased credential: %d\n%s", resp.StatusCode, page)
	}
	for _, ext := range []string{".json", ".jwt"} {
		resp, b := anon.do("GET", "/c/"+ada.ID+ext, "", "")
		if ext == ".jwt" {
			b = jwtPayload(t, b)
		}
		if resp.StatusCode != http.StatusOK || strings.Contains(b, "Lovelace") || !strings.Contains(b, ada.ID) {
			t.Fatalf("%s of the erased credential: %d %s", ext, resp.StatusCode, b)
		}
	}
	if resp, page := anon.do("GET", "/c/"+bob.ID, "", ""); resp.StatusCode != http.StatusOK || !strings.Contains(page, bobName) {
		t.Fatalf("Bob's public page: %d", resp.StatusCode)
	}

	// The stored import file still reads, with Bob's row as it was.
	var file []byte
	if err := app.DB.Get(&file, `SELECT string_agg(data, ''::bytea ORDER BY n) FROM import_chunks WHERE import_id = $1`, f.importID); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(file)), "\n")
	if len(lines) != 3 || strings.TrimSpace(lines[2]) != bobName+","+bobEmail+",2026-01-02,"+bobGrade || !strings.Contains(lines[1], "@invalid") {
		t.Fatalf("stored import file after erasure:\n%s", file)
	}

	// Again: nothing left, the same reference, both erasures audited
	// without the person's data.
	resp, body = owner.do("POST", "/api/v1/people/erase", "application/json", `{"email":"`+adaEmail+`"}`)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "nothing left to erase") || !strings.Contains(body, er.Erasure.Ref) {
		t.Fatalf("erase again: %d %s", resp.StatusCode, body)
	}
	var audits []string
	if err := app.DB.Select(&audits, `SELECT after::text FROM audit_log WHERE entity_type = 'person' AND entity_id = $1 ORDER BY id`, er.Erasure.Ref); err != nil {
		t.Fatal(err)
	}
	if len(audits) != 2 || !strings.Contains(audits[0], `"credentials_revoked": 1`) {
		t.Fatalf("erasure audit entries: %v", audits)
	}
	if resp, body := owner.do("GET", "/api/v1/people?email="+url.QueryEscape(adaEmail), "", ""); resp.StatusCode != http.StatusOK ||
		!strings.Contains(body, `"credentials":[]`) || !strings.Contains(body, `"name_corrections":[]`) || !strings.Contains(body, `"emails":[]`) ||
		!strings.Contains(body, `"update_rows":[]`) || !strings.Contains(body, `"expiry_reminders":[]`) {
		t.Fatalf("export after erasure: %d %s", resp.StatusCode, body)
	}
}

// jwtPayload is the decoded payload of a compact JWT.
func jwtPayload(t *testing.T, jwt string) string {
	t.Helper()
	parts := strings.Split(strings.TrimSpace(jwt), ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAnInterruptedErasureFinishesWhenRunAgain: an erasure that stopped
// right after the credentials were revoked (the signed documents, import
// rows and files, LMS rows and audit entries still hold Ada) is finished by
// running it again: nothing of Ada is left, Bob is untouched. An XLSX
// import's stored file is rewritten as a CSV of its imported sheet (its
// other sheet, which also named Ada, is gone) that still reads.
func TestAnInterruptedErasureFinishesWhenRunAgain(t *testing.T) {
	app := mustRun(t)
	ctx := context.Background()
	f := mustPeople(t, app)
	g3, err := app.Issuance.CreateGroup(ctx, "test", issuance.Group{Name: "Statistics", CourseName: "ST 110", Language: "en",
		Attributes: []issuance.Attribute{{Key: "grade", Label: "Grade", Type: issuance.TextAttr}}})
	if err != nil {
		t.Fatal(err)
	}
	x := excelize.NewFile()
	sh := x.GetSheetName(0)
	x.SetSheetRow(sh, "A1", &[]any{"Student name", "Email address", "Completion date", "Grade"})
	x.SetSheetRow(sh, "A2", &[]any{bobName, bobEmail, time.Date(2026, 5, 17, 0, 0, 0, 0, time.UTC), bobGrade})
	x.SetSheetRow(sh, "A3", &[]any{adaName, adaEmail, time.Date(2026, 5, 17, 0, 0, 0, 0, time.UTC), adaGrade})
	style, _ := x.NewStyle(&excelize.Style{NumFmt: 14})
	x.SetCellStyle(sh, "C2", "C3", style)
	x.NewSheet("Notes")
	x.SetSheetRow("Notes", "A1", &[]any{"Notes about " + adaName, adaEmail})
	var buf bytes.Buffer
	if err := x.Write(&buf); err != nil {
		t.Fatal(err)
	}
	im, err := app.Imports.StartImport(ctx, "test", g3.ID, &buf, imports.ImportOptions{FileName: "st110.xlsx"})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if im, err = app.Imports.WaitImport(wctx, im.ID, 20*time.Millisecond); err != nil || im.Valid != 2 {
		t.Fatalf("validated xlsx import: %+v %v", im, err)
	}
	if _, err = app.Imports.CommitImport(ctx, "test", im.ID, true); err != nil {
		t.Fatal(err)
	}
	if im, err = app.Imports.WaitImport(wctx, im.ID, 20*time.Millisecond); err != nil || im.Created != 2 {
		t.Fatalf("committed xlsx import: %+v %v", im, err)
	}
	// The XLSX is compressed: Bob shows in its bytes once it is a CSV, so
	// his stored files are compared by their content below.
	bobBefore := without(occurrences(t, app, bobEmail, bobName, bobGrade), "import_chunks.")

	// The state a crash right after the core's step leaves.
	tomb, ref, err := app.People.Tombstone(adaEmail)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.Issuance.ErasePerson(ctx, "test", adaEmail, tomb); err != nil {
		t.Fatal(err)
	}
	left := strings.Join(occurrences(t, app, adaEmail, adaName, adaGrade), "\n")
	for _, want := range []string{"credential_signatures.signed_json", "import_rows.email", "import_chunks.data", "lti_users.name", "audit_log.after"} {
		if !strings.Contains(left, want) {
			t.Fatalf("the interrupted erasure should leave Ada in %s; left:\n%s", want, left)
		}
	}

	e, err := app.People.Erase(ctx, "test", adaEmail)
	if err != nil {
		t.Fatal(err)
	}
	if e.Ref != ref || e.SignedDocuments != 1 || e.ImportRows != 2 || e.ImportFiles != 2 || e.CredentialsRevoked != 0 {
		t.Fatalf("the second run: %+v", e)
	}
	if hits := occurrences(t, app, adaEmail, adaName, adaGrade, "Notes about"); len(hits) > 0 {
		t.Fatalf("Ada is still in the database:\n%s", strings.Join(hits, "\n"))
	}
	if bobAfter := without(occurrences(t, app, bobEmail, bobName, bobGrade), "import_chunks."); strings.Join(bobAfter, "\n") != strings.Join(bobBefore, "\n") {
		t.Fatalf("Bob's data changed:\nbefore %v\nafter  %v", bobBefore, bobAfter)
	}
	js, _, err := app.Signing.Signed(ctx, f.adaPub.ID)
	if err != nil || strings.Contains(string(js), "Lovelace") || !strings.Contains(string(js), f.adaPub.ID) {
		t.Fatalf("signed document after the second run: %v\n%s", err, js)
	}

	// The XLSX is now the CSV of its sheet, Bob's row as it was (the date as
	// the reader gave it), and it still reads for the errors download.
	after, err := app.Imports.Import(ctx, im.ID)
	if err != nil || after.Format != "csv" {
		t.Fatalf("import after erasure: %+v %v", after, err)
	}
	var file []byte
	if err := app.DB.Get(&file, `SELECT string_agg(data, ''::bytea ORDER BY n) FROM import_chunks WHERE import_id = $1`, im.ID); err != nil {
		t.Fatal(err)
	}
	want := "Student name,Email address,Completion date,Grade\n" + bobName + "," + bobEmail + ",2026-05-17," + bobGrade + "\n" + tomb.Name + "," + tomb.Email + "\n"
	if string(file) != want {
		t.Fatalf("stored file after erasure:\n%q\nwant\n%q", file, want)
	}
	var errs bytes.Buffer
	if err := app.Imports.WriteImportErrors(ctx, &errs, after); err != nil {
		t.Fatalf("errors download after erasure: %v", err)
	}
}

// without drops the hits of columns starting with prefix.
func without(hits []string, prefix string) []string {
	var out []string
	for _, h := range hits {
		if !strings.HasPrefix(h, prefix) {
			out = append(out, h)
		}
	}
	return out
}
