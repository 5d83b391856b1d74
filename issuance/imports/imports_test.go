package imports_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jmoiron/sqlx"
	"github.com/xuri/excelize/v2"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/imports"
)

// startImportWorker runs the import jobs on a real worker until the test ends.
func startImportWorker(t testing.TB, s *issuance.Service, d *sqlx.DB) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := jobs.NewWorker(d, quiet)
	w.Concurrency, w.Poll = 2, 10*time.Millisecond
	imports.New(s).HandleImportJobs(w)
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

type importAPI struct {
	t   testing.TB
	url string
	d   *sqlx.DB
}

// upload posts file as multipart field "file" with extra form fields.
func (a importAPI) upload(as string, gid int64, name string, file []byte, fields map[string]string) (int, map[string]any) {
	a.t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(file)
	mw.Close()
	return a.send(as, "POST", fmt.Sprintf("/groups/%d/imports", gid), mw.FormDataContentType(), &b)
}

func (a importAPI) send(as, method, path, ctype string, body io.Reader) (int, map[string]any) {
	a.t.Helper()
	req, _ := http.NewRequest(method, a.url+"/api/v1"+path, body)
	req.Header.Set("X-Test-As", as)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			a.t.Fatalf("%s %s: %d body %q is not JSON", method, path, res.StatusCode, raw)
		}
	}
	return res.StatusCode, out
}

func (a importAPI) raw(as, path string) (int, string) {
	a.t.Helper()
	req, _ := http.NewRequest("GET", a.url+"/api/v1"+path, nil)
	req.Header.Set("X-Test-As", as)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// ready polls import id until it is no longer validating.
func (a importAPI) ready(as string, id any) map[string]any {
	a.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body := a.send(as, "GET", fmt.Sprintf("/imports/%v", id), "", nil)
		if code != 200 {
			a.t.Fatalf("get import %v: %d %v", id, code, body)
		}
		if body["state"] != "validating" {
			return body
		}
		if time.Now().After(deadline) {
			var errs []string
			a.d.Select(&errs, `SELECT kind || ': ' || last_error FROM jobs`)
			a.t.Fatalf("import %v still validating: %v\njobs: %q", id, body, errs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (a importAPI) commit(as string, id any, body string) (int, map[string]any) {
	a.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	return a.send(as, "POST", fmt.Sprintf("/imports/%v/commit", id), "application/json", rd)
}

func importErrors(body map[string]any) []string {
	var out []string
	for _, e := range body["errors"].([]any) {
		m := e.(map[string]any)
		out = append(out, fmt.Sprintf("%v:%v", m["row"], m["field"]))
	}
	return out
}

func errorMessages(body map[string]any) string {
	var b strings.Builder
	for _, e := range body["errors"].([]any) {
		m := e.(map[string]any)
		fmt.Fprintf(&b, "%v %v: %v\n", m["row"], m["field"], m["message"])
	}
	return b.String()
}

func columns(body map[string]any) map[string]string {
	out := map[string]string{}
	for _, c := range body["columns"].([]any) {
		m := c.(map[string]any)
		out[m["header"].(string)] = m["attribute"].(string)
	}
	return out
}

func importEnv(t *testing.T) (*issuance.Service, *sqlx.DB, importAPI, map[string]*auth.Principal) {
	s, d := mustService(t)
	principals := map[string]*auth.Principal{
		"owner":  {TokenID: 1, Name: "ci", Role: auth.Owner},
		"viewer": {TokenID: 2, Name: "ro", Role: auth.Viewer},
	}
	srv := apiServer(t, s, principals)
	startImportWorker(t, s, d)
	return s, d, importAPI{t, srv.URL, d}, principals
}

// Every kind of bad row is named with the row number a spreadsheet shows
// (header = 1, a quoted multi-line cell is one row, blank lines count);
// nothing is written until commit, which creates the valid rows only, as
// unpublished csv credentials linked to the import.
func TestImportAPIValidatesEveryRowAndCommitsTheValidOnes(t *testing.T) {
	s, d, api, _ := importEnv(t)
	ctx := context.Background()
	g := mustGroup(t, s, nil) // grade: number, required; completed: date
	held := mustCreate(t, s, g.ID, item("Held Already", "held@example.edu"))[0]

	file := "\ufeffName,E-mail,Issue date,Grade,Completed,Notes\r\n" +
		"Ada Lovelace,ada@example.edu,2026-06-30,91.5,2026-06-01,\"first line\r\nsecond line\"\r\n" + // row 2 (two lines)
		"Grace Hopper,grace@example.edu,2026-06-30,88,,\r\n" + // row 3
		"\r\n" + // row 4: blank
		",noname@example.edu,2026-06-30,70,,\r\n" + // row 5: missing name
		"Bad Mail,not-an-email,2026-06-30,70,,\r\n" + // row 6
		"Bad Date,bd@example.edu,2026-02-30,70,,\r\n" + // row 7
		"Bad Grade,bg@example.edu,2026-06-30,many,,\r\n" + // row 8
		"Nul\x00Char,nul@example.edu,2026-06-30,70,,\r\n" + // row 9
		"Ada Again,ADA@Example.edu,2026-06-30,75,,\r\n" + // row 10: duplicate inside the file
		"Held Again,Held@example.edu,2026-06-30,75,,\r\n" + // row 11: already holds one
		"\"=HYPERLINK(\"\"http://evil\"\")\",,2026-06-30,,,\r\n" // row 12: formula, no email, no grade
	before := tableCounts(t, d)
	code, body := api.upload("owner", g.ID, "cohort.csv", []byte(file), nil)
	if code != 201 || body["state"] != "validating" || body["file_name"] != "cohort.csv" {
		t.Fatalf("upload: %d %v", code, body)
	}
	body = api.ready("owner", body["id"])
	if body["state"] != "ready" || body["rows"] != float64(10) || body["valid"] != float64(2) || body["invalid"] != float64(8) {
		t.Fatalf("after validation: %v\n%s", body, errorMessages(body))
	}
	want := []string{"5:recipient.name", "6:recipient.email", "7:issued_on", "8:attributes.grade", "9:recipient.name",
		"10:recipient.email", "11:recipient.email", "12:recipient.email", "12:attributes.grade"}
	if diff := cmp.Diff(want, importErrors(body)); diff != "" {
		t.Fatalf("errors (-want +got):\n%s\n%s", diff, errorMessages(body))
	}
	msgs := errorMessages(body)
	for _, sub := range []string{"NUL", "first at row 2", "already holds credential " + held.ID, "not-an-email", "many", "February"} {
		if !strings.Contains(msgs, sub) {
			t.Errorf("messages lack %q:\n%s", sub, msgs)
		}
	}
	if diff := cmp.Diff(map[string]string{"Name": "recipient.name", "E-mail": "recipient.email", "Issue date": "issued_on",
		"Grade": "attributes.grade", "Completed": "attributes.completed", "Notes": ""}, columns(body)); diff != "" {
		t.Fatalf("columns:\n%s", diff)
	}
	// Validation wrote no credential, audit entry of a credential or email.
	var creds int
	d.Get(&creds, `SELECT count(*) FROM credentials`)
	if creds != before["credentials"] {
		t.Fatalf("validation created credentials: %d → %d", before["credentials"], creds)
	}

	// The bad rows as CSV, with the file's columns, row, error; formulas neutralised.
	code, raw := api.raw("owner", fmt.Sprintf("/imports/%v/errors.csv", body["id"]))
	if code != 200 {
		t.Fatalf("errors.csv: %d %s", code, raw)
	}
	recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(raw, "\ufeff"))).ReadAll()
	if err != nil {
		t.Fatalf("errors.csv is not CSV: %v\n%s", err, raw)
	}
	if diff := cmp.Diff([]string{"Name", "E-mail", "Issue date", "Grade", "Completed", "Notes", "row", "error"}, recs[0]); diff != "" {
		t.Fatalf("errors.csv header:\n%s", diff)
	}
	if len(recs) != 9 || recs[8][0] != `'=HYPERLINK("http://evil")` || recs[8][6] != "12" || recs[1][6] != "5" {
		t.Fatalf("errors.csv rows: %q", recs)
	}

	code, res := api.commit("owner", body["id"], "")
	if code != 200 || res["created"] != float64(2) || res["skipped"] != float64(8) {
		t.Fatalf("commit: %d %v", code, res)
	}
	var got []struct {
		Name     string `db:"recipient_name"`
		State    string `db:"state"`
		Source   string `db:"source"`
		ImportID int64  `db:"import_id"`
		Attrs    string `db:"attributes"`
	}
	if err := d.Select(&got, `SELECT recipient_name, state, source, import_id, attributes::text AS attributes FROM credentials
		WHERE import_id IS NOT NULL ORDER BY recipient_name`); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "Ada Lovelace" || got[0].State != "unpublished" || got[0].Source != "csv" ||
		got[0].ImportID != int64(body["id"].(float64)) || !strings.Contains(got[0].Attrs, `"completed": "2026-06-01"`) {
		t.Fatalf("created: %+v", got)
	}
	im, err := imports.New(s).Import(ctx, int64(body["id"].(float64)))
	if err != nil || im.State != imports.ImportCommitted || im.Created != 2 || im.CommittedBy != "token:1:ci" {
		t.Fatalf("import record: %+v %v", im, err)
	}
	var audited int
	d.Get(&audited, `SELECT count(*) FROM audit_log WHERE entity_type = 'import' AND entity_id = $1 AND action = 'commit'
		AND actor = 'token:1:ci' AND after->>'created' = '2'`, fmt.Sprint(im.ID))
	if audited != 1 {
		t.Fatalf("commit audit entries: %d", audited)
	}
	// Committing twice is a conflict and creates nothing more.
	if code, res = api.commit("owner", body["id"], ""); code != 409 {
		t.Fatalf("second commit: %d %v", code, res)
	}
}

// Headers are matched by synonyms; the user re-maps a column; the mapping
// is offered again for the next file of the same shape; first and last
// name columns are joined.
func TestImportMappingIsRememberedForTheSameShape(t *testing.T) {
	s, _, api, _ := importEnv(t)
	g := mustGroup(t, s, nil)
	file := "Prénom;Nom de famille;Courriel;Date issued;Score\n" +
		"Émilie;Du Châtelet;emilie@example.edu;2026-06-30;19\n"
	code, body := api.upload("owner", g.ID, "eu.csv", []byte(file), map[string]string{"mapping": `{"Score": "attributes.grade"}`})
	if code != 201 {
		t.Fatalf("upload: %d %v", code, body)
	}
	body = api.ready("owner", body["id"])
	if diff := cmp.Diff(map[string]string{"Prénom": "recipient.first_name", "Nom de famille": "recipient.last_name",
		"Courriel": "recipient.email", "Date issued": "issued_on", "Score": "attributes.grade"}, columns(body)); diff != "" {
		t.Fatalf("columns:\n%s\n%v", diff, body)
	}
	if body["valid"] != float64(1) {
		t.Fatalf("valid: %v\n%s", body, errorMessages(body))
	}
	prev, err := imports.New(s).ImportPreview(context.Background(), int64(body["id"].(float64)), 5)
	if err != nil || len(prev) != 1 || prev[0].Name != "Émilie Du Châtelet" || prev[0].Attributes["grade"] != "19" {
		t.Fatalf("preview: %+v %v", prev, err)
	}
	if code, res := api.commit("owner", body["id"], ""); code != 200 || res["created"] != float64(1) {
		t.Fatalf("commit: %d %v", code, res)
	}
	// Same shape, no mapping given: the saved one applies ("Score" → grade).
	code, body = api.upload("owner", g.ID, "eu2.csv", []byte(strings.ReplaceAll(file, "emilie@", "e2@")), nil)
	if code != 201 {
		t.Fatalf("upload 2: %d %v", code, body)
	}
	body = api.ready("owner", body["id"])
	if columns(body)["Score"] != "attributes.grade" || body["valid"] != float64(1) {
		t.Fatalf("saved mapping not applied: %v\n%s", body, errorMessages(body))
	}
	// Without the grade column mapped, the required attribute is named on the header row.
	code, body = api.upload("owner", g.ID, "eu3.csv", []byte(file), map[string]string{"mapping": `{"Score": ""}`})
	if code != 201 {
		t.Fatalf("upload 3: %d %v", code, body)
	}
	body = api.ready("owner", body["id"])
	if errs := importErrors(body); len(errs) == 0 || errs[0] != "1:attributes.grade" || body["valid"] != float64(0) {
		t.Fatalf("missing required column: %v\n%s", errs, errorMessages(body))
	}
}

// Ambiguous day/month dates are errors naming the row until the user picks
// the order; an unambiguous column (31.12.2026) is read alone.
func TestImportDatesNeverGuessed(t *testing.T) {
	s, _, api, _ := importEnv(t)
	g := mustGroup(t, s, nil)
	amb := "Name,Email,Date,Grade\nA One,a1@example.edu,03/04/2026,1\nA Two,a2@example.edu,05/06/2026,2\nA Three,a3@example.edu,2026-01-02,3\n"
	code, body := api.upload("owner", g.ID, "amb.csv", []byte(amb), nil)
	if code != 201 {
		t.Fatalf("upload: %d %v", code, body)
	}
	body = api.ready("owner", body["id"])
	if diff := cmp.Diff([]string{"1:issued_on", "2:issued_on", "3:issued_on"}, importErrors(body)); diff != "" || body["valid"] != float64(1) {
		t.Fatalf("ambiguous dates:\n%s\n%s", diff, errorMessages(body))
	}
	if !strings.Contains(errorMessages(body), "ambiguous") {
		t.Fatalf("no ambiguity named:\n%s", errorMessages(body))
	}
	code, body = api.upload("owner", g.ID, "amb.csv", []byte(amb), map[string]string{"date_order": "DMY"})
	if code != 201 {
		t.Fatalf("upload DMY: %d %v", code, body)
	}
	body = api.ready("owner", body["id"])
	if body["valid"] != float64(3) {
		t.Fatalf("with DMY: %v\n%s", body, errorMessages(body))
	}
	prev, _ := imports.New(s).ImportPreview(context.Background(), int64(body["id"].(float64)), 5)
	if len(prev) != 3 || prev[0].IssuedOn != "2026-04-03" {
		t.Fatalf("DMY preview: %+v", prev)
	}
	eu := "Nom;Courriel;Date;Grade\nB Un;b1@example.edu;31.12.2025;1\nB Deux;b2@example.edu;03.04.2026;2\n"
	_, body = api.upload("owner", g.ID, "eu.csv", []byte(eu), nil)
	body = api.ready("owner", body["id"])
	prev, _ = imports.New(s).ImportPreview(context.Background(), int64(body["id"].(float64)), 5)
	if body["valid"] != float64(2) || len(prev) != 2 || prev[1].IssuedOn != "2026-04-03" {
		t.Fatalf("D.M.YYYY column: %v %+v\n%s", body, prev, errorMessages(body))
	}
}

// Files that are no spreadsheet, a bad mapping or date order: a 4xx naming
// the field, and nothing stored.
func TestImportRefusesBadInputChangingNothing(t *testing.T) {
	s, d, api, _ := importEnv(t)
	g := mustGroup(t, s, nil)
	good := []byte("Name,Email,Date,Grade\nA,a@example.edu,2026-01-01,1\n")
	count := func() int {
		var n int
		d.Get(&n, `SELECT (SELECT count(*) FROM imports) + (SELECT count(*) FROM import_chunks) + (SELECT count(*) FROM jobs)`)
		return n
	}
	before, n0 := tableCounts(t, d), count()
	cases := []struct {
		name   string
		file   []byte
		fields map[string]string
		field  string
	}{
		{"garbage.csv", []byte("\x00\x01\x02\x03\xff\xfe\x00garbage\x00\x00"), nil, "file"},
		{"empty.csv", []byte{}, nil, "file"},
		{"notzip.xlsx", append([]byte("PK\x03\x04"), bytes.Repeat([]byte{0}, 100)...), nil, "file"},
		{"ok.csv", good, map[string]string{"date_order": "YDM"}, "date_order"},
		{"ok.csv", good, map[string]string{"mapping": `{"Nope": "recipient.name"}`}, "mapping"},
		{"ok.csv", good, map[string]string{"mapping": `{"Name": "attributes.nope"}`}, "mapping"},
		{"ok.csv", good, map[string]string{"mapping": `{"Name": "recipient.email", "Email": "recipient.email"}`}, "mapping"},
		{"ok.csv", good, map[string]string{"mapping": `not json`}, "mapping"},
	}
	for _, c := range cases {
		code, body := api.upload("owner", g.ID, c.name, c.file, c.fields)
		errs, _ := body["errors"].([]any)
		if code != 422 || len(errs) == 0 || errs[0].(map[string]any)["field"] != c.field {
			t.Errorf("%s %v: %d %v, want 422 naming %s", c.name, c.fields, code, body, c.field)
		}
	}
	if code, body := api.upload("viewer", g.ID, "ok.csv", good, nil); code != 403 {
		t.Errorf("viewer upload: %d %v", code, body)
	}
	if code, body := api.send("owner", "POST", fmt.Sprintf("/groups/%d/imports", g.ID), "application/json", strings.NewReader("{}")); code != 400 {
		t.Errorf("json body: %d %v", code, body)
	}
	assertUnchanged(t, d, before)
	if n := count(); n != n0 {
		t.Fatalf("imports, chunks or jobs changed: %d → %d", n0, n)
	}
}

// zeroCSV streams n bytes of a CSV without holding them in memory.
type zeroCSV struct{ n int64 }

func (z *zeroCSV) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > z.n {
		p = p[:z.n]
	}
	for i := range p {
		p[i] = 'a'
		if i%64 == 63 {
			p[i] = '\n'
		}
	}
	z.n -= int64(len(p))
	return len(p), nil
}

// TestImportOverLimitIsTooLarge: a file past MaxImportBytes, as a raw body
// or a multipart field, is 413 too_large naming the file (docs/api.md), and
// nothing is stored.
func TestImportOverLimitIsTooLarge(t *testing.T) {
	s, d, api, _ := importEnv(t)
	g := mustGroup(t, s, nil)
	before := tableCounts(t, d)
	path := fmt.Sprintf("/groups/%d/imports", g.ID)
	code, body := api.send("owner", "POST", path, "text/csv", &zeroCSV{imports.MaxImportBytes + 1})
	if e, _ := body["error"].(map[string]any); code != 413 || e["code"] != "too_large" || !strings.Contains(fmt.Sprint(body["errors"]), "file") {
		t.Errorf("raw body over the limit: %d %v, want 413 too_large naming file", code, body)
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		fw, _ := mw.CreateFormFile("file", "big.csv")
		_, err := io.Copy(fw, &zeroCSV{imports.MaxImportBytes + 2<<20})
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	code, body = api.send("owner", "POST", path, mw.FormDataContentType(), pr)
	if e, _ := body["error"].(map[string]any); code != 413 || e["code"] != "too_large" {
		t.Errorf("multipart over the limit: %d %v, want 413 too_large", code, body)
	}
	assertUnchanged(t, d, before)
}

// The raw-body upload, XLSX with date cells, the same file again warns, and
// cancel deletes an import that is not committed.
func TestImportXLSXRawBodyDuplicateWarningAndCancel(t *testing.T) {
	s, d, api, _ := importEnv(t)
	g := mustGroup(t, s, nil)
	f := excelize.NewFile()
	sh := f.GetSheetName(0)
	f.SetSheetRow(sh, "A1", &[]any{"Student name", "Email address", "Completion date", "Grade"})
	f.SetSheetRow(sh, "A2", &[]any{"Xia Li", "xia@example.edu", time.Date(2026, 5, 17, 0, 0, 0, 0, time.UTC), 93})
	style, _ := f.NewStyle(&excelize.Style{NumFmt: 14})
	f.SetCellStyle(sh, "C2", "C2", style)
	var b bytes.Buffer
	if err := f.Write(&b); err != nil {
		t.Fatal(err)
	}
	xlsx := b.Bytes()
	code, body := api.send("owner", "POST", fmt.Sprintf("/groups/%d/imports?file_name=grades.xlsx", g.ID), imports.XLSXType, bytes.NewReader(xlsx))
	if code != 201 || body["file_name"] != "grades.xlsx" || body["duplicate_of"] != nil {
		t.Fatalf("raw xlsx upload: %d %v", code, body)
	}
	first := api.ready("owner", body["id"])
	prev, _ := imports.New(s).ImportPreview(context.Background(), int64(first["id"].(float64)), 5)
	if first["valid"] != float64(1) || len(prev) != 1 || prev[0].IssuedOn != "2026-05-17" || prev[0].Attributes["grade"] != "93" {
		t.Fatalf("xlsx: %v %+v\n%s", first, prev, errorMessages(first))
	}
	code, body = api.upload("owner", g.ID, "again.xlsx", xlsx, nil)
	if code != 201 || body["duplicate_of"] != first["id"] || len(body["warnings"].([]any)) != 1 {
		t.Fatalf("same file again: %d %v", code, body)
	}
	api.ready("owner", body["id"])
	if code, _ := api.send("owner", "DELETE", fmt.Sprintf("/imports/%v", body["id"]), "", nil); code != 204 {
		t.Fatalf("cancel: %d", code)
	}
	if code, _ := api.send("owner", "GET", fmt.Sprintf("/imports/%v", body["id"]), "", nil); code != 404 {
		t.Fatalf("cancelled import: %d", code)
	}
	var rows int
	d.Get(&rows, `SELECT count(*) FROM import_rows WHERE import_id = $1`, int64(body["id"].(float64)))
	if rows != 0 {
		t.Fatalf("cancelled import left %d staged rows", rows)
	}
	if code, _ := api.send("viewer", "GET", fmt.Sprintf("/imports/%v", first["id"]), "", nil); code != 403 {
		t.Fatalf("viewer reads import: %d", code)
	}
}

// Two imports of overlapping files committed at the same moment never
// create a recipient twice; all-or-nothing refuses a file with a bad row.
func TestImportConcurrentOverlappingCommitsNeverDuplicate(t *testing.T) {
	s, d, api, _ := importEnv(t)
	g := mustGroup(t, s, nil)
	mk := func(from, to int) []byte {
		var b strings.Builder
		b.WriteString("Name,Email,Date,Grade\n")
		for i := from; i < to; i++ {
			fmt.Fprintf(&b, "Learner %d,learner%d@example.edu,2026-06-30,%d\n", i, i, i%100)
		}
		return []byte(b.String())
	}
	var ids []any
	for _, f := range [][]byte{mk(0, 3000), mk(1500, 4500)} {
		code, body := api.upload("owner", g.ID, "part.csv", f, nil)
		if code != 201 {
			t.Fatalf("upload: %d %v", code, body)
		}
		ids = append(ids, api.ready("owner", body["id"])["id"])
	}
	var wg sync.WaitGroup
	created := make([]float64, 2)
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, res := api.commit("owner", id, "")
			if code != 200 {
				t.Errorf("commit %v: %d %v", id, code, res)
				return
			}
			created[i] = res["created"].(float64)
		}()
	}
	wg.Wait()
	var n, distinct int
	d.Get(&n, `SELECT count(*) FROM credentials WHERE group_id = $1`, g.ID)
	d.Get(&distinct, `SELECT count(DISTINCT lower(recipient_email)) FROM credentials WHERE group_id = $1`, g.ID)
	if n != 4500 || distinct != 4500 || created[0]+created[1] != 4500 {
		t.Fatalf("credentials %d (distinct %d), created %v; want 4500 once each", n, distinct, created)
	}

	bad := append(mk(5000, 5003), []byte("No Email,,2026-06-30,1\n")...)
	_, body := api.upload("owner", g.ID, "bad.csv", bad, nil)
	body = api.ready("owner", body["id"])
	before := tableCounts(t, d)
	if code, res := api.commit("owner", body["id"], `{"all_or_nothing": true}`); code != 409 {
		t.Fatalf("all or nothing with a bad row: %d %v", code, res)
	}
	assertUnchanged(t, d, before)
}

// The template of a group is a file the import takes as it is.
func TestImportTemplateRoundTrip(t *testing.T) {
	s, _, api, _ := importEnv(t)
	// An image attribute is the group's, not a column: the template leaves
	// it out and its rows still import.
	g := mustGroup(t, s, func(g *issuance.Group) {
		g.ValidityMonths = intp(12)
		g.Attributes = append(g.Attributes, issuance.Attribute{Key: "signature", Label: "Director signature", Type: issuance.ImageAttr})
	})
	for _, format := range []string{"csv", "xlsx"} {
		body, _, err := imports.ImportTemplate(g, format, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		if format == "csv" && (strings.Contains(string(body), "signature") || strings.Contains(string(body), "Director")) {
			t.Fatalf("the CSV template has a column for an image attribute:\n%s", body)
		}
		code, res := api.upload("owner", g.ID, "template."+format, body, nil)
		if code != 201 {
			t.Fatalf("%s: %d %v", format, code, res)
		}
		res = api.ready("owner", res["id"])
		if res["valid"] != float64(1) || res["invalid"] != float64(0) {
			t.Fatalf("%s template: %v\n%s", format, res, errorMessages(res))
		}
		prev, _ := imports.New(s).ImportPreview(context.Background(), int64(res["id"].(float64)), 1)
		if prev[0].IssuedOn != "2026-03-01" || prev[0].ExpiresOn != "2027-03-01" || prev[0].Attributes["completed"] != "2026-03-01" {
			t.Fatalf("%s template preview: %+v", format, prev)
		}
		api.send("owner", "DELETE", fmt.Sprintf("/imports/%v", res["id"]), "", nil)
	}
}

// Committed credentials carry the search key of their recipient, whether the
// rows were checked with their key stored (copied inside PostgreSQL) or
// before that column existed (sent through the process), and in the same
// order either way (the in-file duplicate stays the one refused).
func TestImportCommitCarriesTheSearchKey(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		t.Run(fmt.Sprintf("legacy=%v", legacy), func(t *testing.T) {
			s, d, api, _ := importEnv(t)
			g := mustGroup(t, s, nil)
			file := "Name,Email,Issue date,Grade\r\n" +
				"Zoë Ærdal,zoe@example.edu,2026-06-30,91\r\n" +
				"Bob Brown,bob@example.edu,2026-06-30,80\r\n" +
				"Bob Again,BOB@example.edu,2026-06-30,70\r\n"
			code, body := api.upload("owner", g.ID, "cohort.csv", []byte(file), nil)
			if code != 201 {
				t.Fatalf("upload: %d %v", code, body)
			}
			id := body["id"]
			if body = api.ready("owner", id); body["valid"] != float64(2) {
				t.Fatalf("after validation: %v", body)
			}
			if legacy {
				d.MustExec(`UPDATE import_rows SET search_key = NULL WHERE import_id = $1`, id)
			}
			if code, body = api.commit("owner", id, ""); code != 200 || body["created"] != float64(2) {
				t.Fatalf("commit: %d %v", code, body)
			}
			var got []struct {
				Name string `db:"recipient_name"`
				Key  string `db:"search_key"`
			}
			if err := d.Select(&got, `SELECT recipient_name, search_key FROM credentials WHERE group_id = $1 ORDER BY recipient_name`, g.ID); err != nil {
				t.Fatal(err)
			}
			want := []string{"Bob Brown", issuance.SearchKey("Bob Brown", "bob@example.edu"), "Zoë Ærdal", issuance.SearchKey("Zoë Ærdal", "zoe@example.edu")}
			if len(got) != 2 || got[0].Name != want[0] || got[0].Key != want[1] || got[1].Name != want[2] || got[1].Key != want[3] {
				t.Fatalf("credentials %v, want %q", got, want)
			}
		})
	}
}
