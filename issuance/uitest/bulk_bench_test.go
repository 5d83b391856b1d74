package uitest

import (
	"net/url"
	"testing"
	"time"

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
