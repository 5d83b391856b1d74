package uitest

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/laurel-edu/laurel/internal/auth"
)

// BenchmarkBulkExpiryAndRevoke10k changes 10,000 published credentials as
// an outside client would, through the real stack (session, CSRF, staff
// guard, the form, the core's set-based statements with one audit entry
// and, for the expiry, a re-sign job per credential): the confirmation of
// "all matching" a group, the expiry date set for all, then all revoked.
// It reports each request's wall time in ms per 10,000 credentials.
//
//	go test -run '^$' -bench BulkExpiryAndRevoke10k -benchtime 1x ./issuance/uitest/
func BenchmarkBulkExpiryAndRevoke10k(b *testing.B) {
	e := mustEnv(b)
	const n = 10000
	e.seed(e.group.ID, n)
	if _, err := e.db.Exec(`VACUUM ANALYZE credentials`); err != nil {
		b.Fatal(err)
	}
	c := e.signIn("owner@example.edu", auth.Owner)
	q := "?group=" + gid(e.group)
	var confirm, expiry, revoke time.Duration
	runs := 0
	for b.Loop() {
		b.StopTimer()
		if _, err := e.db.Exec(`UPDATE credentials SET state = 'published', published_at = now(), revoked_at = NULL,
			revocation_reason = '', expires_on = NULL`); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		r := c.post("/credentials/bulk"+q, url.Values{"action": {"revoke"}, "all": {"1"}})
		confirm += time.Since(t0)
		if r.code != 200 {
			b.Fatalf("confirm: %d", r.code)
		}
		t0 = time.Now()
		r = c.post("/credentials/bulk/apply"+q, url.Values{"action": {"expiry"}, "all": {"1"}, "expiry": {"set"}, "expires_on": {"2031-12-31"}})
		expiry += time.Since(t0)
		if r.code != 303 {
			b.Fatalf("expiry: %d\n%s", r.code, r.body)
		}
		t0 = time.Now()
		r = c.post("/credentials/bulk/apply"+q, url.Values{"action": {"revoke"}, "all": {"1"}, "reason": {"Course withdrawn"}})
		revoke += time.Since(t0)
		if r.code != 303 {
			b.Fatalf("revoke: %d\n%s", r.code, r.body)
		}
		runs++
	}
	b.StopTimer()
	if got := e.count(`SELECT count(*) FROM credentials WHERE state = 'revoked' AND expires_on = '2031-12-31'`); got != n {
		b.Fatalf("%d changed, want %d", got, n)
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(runs) }
	b.ReportMetric(ms(confirm), "confirm_ms/10k")
	b.ReportMetric(ms(expiry), "expiry_ms/10k")
	b.ReportMetric(ms(revoke), "revoke_ms/10k")
}

// BenchmarkUpdateBySpreadsheet10k is an update by spreadsheet of 10,000
// published credentials as an outside client does it: download for update
// (XLSX), change every name and grade in the workbook (client side, not
// timed), upload it (read, compared, checked, stored), open the preview,
// apply it (10,000 amendments through the core, audited, re-sign jobs
// queued). It reports each step's wall time in ms per 10,000.
//
//	go test -run '^$' -bench UpdateBySpreadsheet10k -benchtime 1x ./issuance/uitest/
func BenchmarkUpdateBySpreadsheet10k(b *testing.B) {
	e := mustEnv(b)
	const n = 10000
	e.seed(e.group.ID, n)
	if _, err := e.db.Exec(`UPDATE credentials SET state = 'published', published_at = now()`); err != nil {
		b.Fatal(err)
	}
	if _, err := e.db.Exec(`VACUUM ANALYZE credentials`); err != nil {
		b.Fatal(err)
	}
	c := e.signIn("owner@example.edu", auth.Owner)
	var download, upload, preview, apply time.Duration
	runs := 0
	for b.Loop() {
		runs++
		t0 := time.Now()
		r := c.get("/credentials/export?format=xlsx&for=update&group=" + gid(e.group))
		download += time.Since(t0)
		if r.code != 200 {
			b.Fatalf("download: %d", r.code)
		}
		b.StopTimer()
		f, err := excelize.OpenReader(strings.NewReader(r.body))
		if err != nil {
			b.Fatal(err)
		}
		rows, err := f.GetRows("Sheet1")
		if err != nil || len(rows) != n+1 {
			b.Fatalf("%d rows, %v", len(rows), err)
		}
		for i := 2; i <= n+1; i++ {
			f.SetCellValue("Sheet1", fmt.Sprintf("C%d", i), fmt.Sprintf("Changed %d-%d", runs, i))
			f.SetCellValue("Sheet1", fmt.Sprintf("G%d", i), fmt.Sprintf("B%d", runs))
		}
		var buf bytes.Buffer
		if err := f.Write(&buf); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 = time.Now()
		r = c.upload("/credentials/updates", "changed.xlsx", buf.Bytes())
		upload += time.Since(t0)
		if r.code != 303 {
			b.Fatalf("upload: %d\n%s", r.code, r.body)
		}
		loc := r.location
		t0 = time.Now()
		r = c.get(loc)
		preview += time.Since(t0)
		if !strings.Contains(r.body, "10000 credentials change; 0 rows are unchanged; 0 rows have problems") {
			b.Fatalf("preview:\n%s", r.body)
		}
		t0 = time.Now()
		r = c.post(loc+"/apply", url.Values{})
		apply += time.Since(t0)
		if r.code != 303 {
			b.Fatalf("apply: %d", r.code)
		}
	}
	b.StopTimer()
	if got := e.count(`SELECT count(*) FROM credentials WHERE recipient_name LIKE 'Changed %'`); got != n {
		b.Fatalf("%d changed, want %d", got, n)
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(runs) }
	b.ReportMetric(ms(download), "download_ms/10k")
	b.ReportMetric(ms(upload), "upload_ms/10k")
	b.ReportMetric(ms(preview), "preview_ms/10k")
	b.ReportMetric(ms(apply), "apply_ms/10k")
}
