package uitest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/browsertest"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/issuance/imports"
)

// runImportWorker runs the import jobs on a real worker until the test ends.
func (e *env) runImportWorker() {
	ctx, cancel := context.WithCancel(context.Background())
	w := jobs.NewWorker(e.db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	w.Concurrency, w.Poll = 2, 20*time.Millisecond
	imports.New(e.svc).HandleImportJobs(w)
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	e.t.Cleanup(func() { cancel(); <-done })
}

// In a real Chromium: upload a CSV whose email column is not recognised,
// re-map that column, see the bad rows in the preview, create the valid
// ones and find them in Review Unpublished; on a large file the progress
// bar moves while the page refreshes itself.
func TestBrowserImportRemapPreviewCommit(t *testing.T) {
	e := mustEnv(t)
	e.runImportWorker()
	if _, _, err := e.accts.CreateUser(context.Background(), "owner@example.edu", "Owner", auth.Owner, nil, password); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	small := filepath.Join(dir, "cohort.csv")
	csv := "Student,Contact,Issue date,Grade,Hours\r\n" +
		"Ada Lovelace,ada@example.edu,2026-06-30,A,12\r\n" +
		"Alan Turing,alan@example.edu,2026-06-30,B,10\r\n" +
		"Grace Hopper,grace@example.edu,2026-06-30,A,8\r\n" +
		"Too Many Hours,tmh@example.edu,2026-06-30,C,lots\r\n" +
		"Bad Address,bad-address,2026-06-30,B,3\r\n"
	if err := os.WriteFile(small, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	bctx := browsertest.New(t, browsertest.Options{})
	run := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(bctx, 60*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatal(err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(bctx, 30*time.Second)
		defer cancel()
		s, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	run(chromedp.Navigate(e.srv.URL+"/groups/"+gid(e.group)+"/imports"),
		chromedp.WaitVisible("#email"),
		chromedp.SendKeys("#email", "owner@example.edu"),
		chromedp.SendKeys("#password", password),
		chromedp.Click("#sign-in"),
		chromedp.WaitVisible("#upload-form"),
		chromedp.SetUploadFiles("#file", []string{small}),
		chromedp.Click("#upload"),
		chromedp.WaitVisible("#mapping-form"),
	)
	if n := e.count(`SELECT count(*) FROM credentials`); n != 0 {
		t.Fatalf("upload created %d credentials", n)
	}
	if v := text("#count-valid"); v != "0" {
		t.Fatalf("valid before re-mapping: %q", v)
	}
	// "Contact" is column 2 (col_1): map it to the recipient email.
	run(chromedp.SetValue("#col_1", "recipient.email"), chromedp.Click("#recheck"), chromedp.WaitVisible("#commit"))
	if v := text("#count-valid"); v != "3" {
		t.Fatalf("valid after re-mapping: %q\n%s", v, text("#import-errors"))
	}
	errs := text("#import-errors")
	for _, want := range []string{"5", "Hours", `Hours must be a number, not "lots"`, "6", `"bad-address" is not a valid email address`} {
		if !strings.Contains(errs, want) {
			t.Errorf("problems lack %q:\n%s", want, errs)
		}
	}
	// Fields are named by their labels, not keys.
	if strings.Contains(errs, "attributes.") || strings.Contains(errs, "recipient.") {
		t.Errorf("problems name fields by key:\n%s", errs)
	}
	if p := text("#import-preview"); !strings.Contains(p, "Ada Lovelace") || !strings.Contains(p, "grace@example.edu") {
		t.Errorf("preview: %q", p)
	}
	run(chromedp.Click("#commit"), chromedp.WaitVisible("#import-committed"))
	if n := e.count(`SELECT count(*) FROM credentials WHERE source = 'csv' AND state = 'unpublished' AND import_id IS NOT NULL`); n != 3 {
		t.Fatalf("%d csv credentials, want 3", n)
	}
	run(chromedp.Click("#review-link"), chromedp.WaitVisible(".recipient-name"))
	page := text("main")
	for _, name := range []string{"Ada Lovelace", "Alan Turing", "Grace Hopper"} {
		if !strings.Contains(page, name) {
			t.Errorf("Review Unpublished lacks %s", name)
		}
	}
	if strings.Contains(page, "Too Many Hours") {
		t.Error("a bad row was created")
	}

	// A large file: the progress bar is seen at several values while it runs
	// (the page refreshes every second, so checking must take several: 500,000
	// rows take about 8 s on a quiet 2-core machine).
	large := filepath.Join(dir, "large.csv")
	f, err := os.Create(large)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	w.WriteString("Name,Email,Issue date,Grade,Hours\n")
	for i := range 500000 {
		fmt.Fprintf(w, "Learner %d,big%d@example.edu,2026-06-30,A,%d\n", i, i, i%50)
	}
	w.Flush()
	f.Close()
	run(chromedp.Navigate(e.srv.URL+"/groups/"+gid(e.group)+"/imports"), chromedp.WaitVisible("#upload-form"),
		chromedp.SetUploadFiles("#file", []string{large}), chromedp.Click("#upload"))
	seen := map[int]bool{}
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(bctx, 3*time.Second)
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(function(){var p=document.getElementById('import-progress');
			if(p&&p.hasAttribute('value')&&p.max>0){return p.value+'/'+p.max}
			return document.getElementById('commit')?'ready':''})()`))
		cancel()
		if err == nil && v == "ready" {
			break
		}
		if done, _, ok := strings.Cut(v, "/"); err == nil && ok {
			if n, perr := strconv.ParseFloat(done, 64); perr == nil && n > 0 {
				seen[int(n)] = true
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	if len(seen) < 2 {
		t.Fatalf("progress bar values seen: %v; want it moving", seen)
	}
	t.Logf("progress values seen: %d distinct", len(seen))
}
