package uitest

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/imports"
)

func (c *client) upload(path, name string, file []byte) response {
	c.e.t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(file)
	mw.Close()
	req, _ := http.NewRequest("POST", c.e.srv.URL+path, &b)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

// waitImport reloads an import page until it no longer refreshes itself.
func (c *client) waitImport(path string) response {
	c.e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := c.get(path)
		if !strings.Contains(r.body, `http-equiv="refresh"`) {
			return r
		}
		if time.Now().After(deadline) {
			c.e.t.Fatalf("%s still busy:\n%s", path, r.body)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// Team members import only into their groups; viewers not at all; the
// group page offers the templates, which are the group's columns with an
// example row (CSV and XLSX).
func TestImportPagesPermissionsAndTemplates(t *testing.T) {
	e := mustEnv(t)
	g, o := gid(e.group), gid(e.other)
	limited := e.signIn("tm@example.edu", auth.TeamMember, e.other.ID)
	viewer := e.signIn("viewer@example.edu", auth.Viewer)
	owner := e.signIn("owner@example.edu", auth.Owner)
	file := []byte("Name,Email,Issue date,Grade\nAda,ada@example.edu,2026-06-30,A\n")

	before := e.snapshot()
	forbidden(t, limited.get("/groups/"+g+"/imports"), "limited member's imports page of another group")
	forbidden(t, limited.upload("/groups/"+g+"/imports", "x.csv", file), "limited member uploads to another group")
	forbidden(t, viewer.get("/groups/"+g+"/imports"), "viewer imports page")
	forbidden(t, viewer.upload("/groups/"+g+"/imports", "x.csv", file), "viewer upload")
	forbidden(t, viewer.get("/groups/"+g+"/imports/template.csv"), "viewer template")
	if e.snapshot() != before || e.count(`SELECT count(*) FROM imports`) != 0 {
		t.Fatal("a refused upload changed the database")
	}
	if r := limited.get("/groups/" + o + "/imports"); r.code != 200 {
		t.Fatalf("limited member's own group: %d", r.code)
	}

	r := owner.get("/groups/" + g)
	contains(t, r.body, `id="download-template"`, "Download CSV template", `id="tab-imports"`)
	r = owner.get("/groups/" + g + "/imports/template.csv")
	if r.code != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv template: %d %s", r.code, r.header)
	}
	lines := strings.Split(strings.TrimPrefix(r.body, "\ufeff"), "\r\n")
	if lines[0] != "Recipient name,Recipient email,Issue date,Expiry date,Grade,Hours" || !strings.HasPrefix(lines[1], "Ada Lovelace,ada.lovelace@example.edu,") {
		t.Fatalf("csv template:\n%s", r.body)
	}
	r = owner.get("/groups/" + g + "/imports/template.xlsx")
	f, err := excelize.OpenReader(strings.NewReader(r.body))
	if err != nil || r.header.Get("Content-Type") != imports.XLSXType {
		t.Fatalf("xlsx template: %v %s", err, r.header)
	}
	rows, _ := f.GetRows(f.GetSheetName(0))
	if len(rows) != 2 || strings.Join(rows[0], "|") != "Recipient name|Recipient email|Issue date|Expiry date|Grade|Hours" {
		t.Fatalf("xlsx template rows: %q", rows)
	}

	// Bad files re-render the form with the reason and store nothing.
	r = owner.upload("/groups/"+g+"/imports", "garbage.csv", []byte("\x00\x01\x02binary\x00\xff"))
	if r.code != 422 || !strings.Contains(r.body, `id="upload-problem"`) {
		t.Fatalf("garbage upload: %d\n%s", r.code, r.body)
	}
	if e.count(`SELECT count(*) FROM imports`) != 0 {
		t.Fatal("garbage upload stored an import")
	}
}

// Closing the tab loses nothing: an import uploaded while no worker runs is
// validated by a worker started later (a restart), and the list shows who
// ran each import and its outcome. The same file again asks for
// confirmation before it is committed.
func TestImportSurvivesRestartAndWarnsOnTheSameFile(t *testing.T) {
	e := mustEnv(t)
	g := gid(e.group)
	owner := e.signIn("owner@example.edu", auth.Owner)
	file := []byte("Name,Email,Issue date,Grade\nAda,ada@example.edu,2026-06-30,A\nAlan,alan@example.edu,2026-06-30,B\n")
	r := owner.upload("/groups/"+g+"/imports", "cohort.csv", file)
	if r.code != 303 {
		t.Fatalf("upload: %d\n%s", r.code, r.body)
	}
	page := r.location
	if p := owner.get(page); !strings.Contains(p.body, `http-equiv="refresh"`) || !strings.Contains(p.body, "Waiting for a worker") {
		t.Fatalf("queued import page:\n%s", p.body)
	}
	// A fresh service and worker, as after a restart.
	svc := issuance.New(e.db, "http://laurel.test")
	ctx, cancel := context.WithCancel(context.Background())
	w := jobs.NewWorker(e.db, nil)
	w.Poll = 20 * time.Millisecond
	imports.New(svc).HandleImportJobs(w)
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	p := owner.waitImport(page)
	contains(t, p.body, `id="count-valid">2<`, `id="commit"`, `id="import-preview"`)

	// The same file again: warned, and committing needs the confirmation.
	r = owner.upload("/groups/"+g+"/imports", "cohort-again.csv", file)
	again := r.location
	p = owner.waitImport(again)
	contains(t, p.body, `id="duplicate-warning"`, `id="confirm_duplicate"`)
	before := e.snapshot()
	if c := owner.post(again+"/commit", url.Values{}); c.code != 422 || !strings.Contains(c.body, "uploaded before") {
		t.Fatalf("commit without confirmation: %d", c.code)
	}
	if e.snapshot() != before {
		t.Fatal("unconfirmed commit changed the database")
	}
	if c := owner.post(again+"/commit", url.Values{"confirm_duplicate": {"yes"}}); c.code != 303 {
		t.Fatalf("confirmed commit: %d\n%s", c.code, c.body)
	}
	p = owner.waitImport(again)
	contains(t, p.body, `id="import-committed"`, "Created 2 unpublished credentials", `href="/groups/`+g+`/unpublished"`)
	// The first upload, committed afterwards, doubles nobody.
	if c := owner.post(page+"/commit", url.Values{}); c.code != 303 {
		t.Fatalf("commit first: %d\n%s", c.code, c.body)
	}
	p = owner.waitImport(page)
	contains(t, p.body, `id="count-created">0<`, `id="count-skipped">2<`, "received a credential in this group after the file was checked")
	if n := e.count(`SELECT count(*) FROM credentials WHERE group_id = $1`, e.group.ID); n != 2 {
		t.Fatalf("%d credentials, want 2", n)
	}

	list := owner.get("/groups/" + g + "/imports")
	contains(t, list.body, "cohort.csv", "0 created, 2 skipped", "cohort-again.csv", "2 created, 0 skipped", ">owner<")
	r = owner.upload("/groups/"+g+"/imports", "other.csv", []byte("Name,Email,Issue date,Grade\nZed,zed@example.edu,2026-06-30,A\n"))
	owner.waitImport(r.location)
	if c := owner.post(r.location+"/cancel", url.Values{}); c.code != 303 {
		t.Fatalf("cancel: %d", c.code)
	}
	if n := e.count(`SELECT count(*) FROM imports`); n != 2 {
		t.Fatalf("%d imports after cancel, want 2", n)
	}
	if r := owner.get(fmt.Sprintf("%s/errors.csv", page)); r.code != 200 || !strings.Contains(r.body, "row,error") || !strings.Contains(r.body, "alan@example.edu") {
		t.Fatalf("errors.csv: %d %q", r.code, r.body)
	}
}
