//go:build faults

package main

import (
	"os"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/mail"
)

// The real-time fault run (`make faults`, not part of `make test`): the mail
// server is down for LAUREL_FAULT_OUTAGE (default 10 minutes) with 3,000
// emails queued and a real `laurel worker` running; when it is back, every
// email is delivered exactly once. It prints the figures.
func TestFaultSMTPDownForMinutes(t *testing.T) {
	const n = 3000
	outage := 10 * time.Minute
	if v := os.Getenv("LAUREL_FAULT_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("LAUREL_FAULT_OUTAGE: %v", err)
		}
		outage = d
	}
	reserve, err := mail.NewCatcher("")
	if err != nil {
		t.Fatal(err)
	}
	addr := reserve.Addr()
	reserve.Close() // the mail server is down
	e := newFaultEnv(t, n, addr)

	e.startWorker()
	downAt := time.Now()
	for time.Since(downAt) < outage {
		time.Sleep(10 * time.Second)
		var st struct {
			Queued, Failed, Sent, MinAttempts, MaxAttempts int
		}
		const q = `SELECT count(*) FILTER (WHERE state = 'queued'), count(*) FILTER (WHERE state = 'failed'),
			count(*) FILTER (WHERE state = 'sent'), coalesce(min(attempts), 0), coalesce(max(attempts), 0) FROM credential_emails`
		if err := e.db.QueryRow(q).Scan(&st.Queued, &st.Failed, &st.Sent, &st.MinAttempts, &st.MaxAttempts); err != nil {
			t.Fatal(err)
		}
		if st.Failed != 0 || st.Sent != 0 || st.Queued != n {
			t.Fatalf("after %s of outage: %+v, want all %d queued", time.Since(downAt).Round(time.Second), st, n)
		}
		if dead := e.count(`SELECT count(*) FROM jobs WHERE state = 'dead'`); dead != 0 {
			t.Fatalf("after %s of outage: %d jobs dead", time.Since(downAt).Round(time.Second), dead)
		}
		t.Logf("outage %s: %d queued, attempts per email %d-%d", time.Since(downAt).Round(time.Second), st.Queued, st.MinAttempts, st.MaxAttempts)
	}
	var attempts int
	if err := e.db.Get(&attempts, `SELECT coalesce(sum(attempts), 0) FROM credential_emails`); err != nil {
		t.Fatal(err)
	}

	back, err := mail.NewCatcher(addr)
	if err != nil {
		t.Fatalf("mail server back on %s: %v", addr, err)
	}
	defer back.Close()
	upAt := time.Now()
	if !waitUntil(40*time.Minute, func() bool { return back.Len() > 0 }) {
		t.Fatal("nothing delivered 40 minutes after the mail server came back")
	}
	first := time.Since(upAt)
	if !waitUntil(40*time.Minute, func() bool { return e.sent() == n }) {
		t.Fatalf("%d of %d sent 40 minutes after the mail server came back", e.sent(), n)
	}
	all := time.Since(upAt)
	time.Sleep(2 * time.Second)
	lost, doubled := e.deliveries(back)
	t.Logf("FIGURES outage: %d emails queued, SMTP down %s (%d failed attempts, none given up); back: first delivery after %.1f s, all %d sent after %.1f s; lost %d, duplicates %d",
		n, outage, attempts, first.Seconds(), n, all.Seconds(), lost, doubled)
	if lost != 0 || doubled != 0 || back.Len() != n {
		t.Fatalf("lost %d, doubled %d, %d messages; want each of %d exactly once", lost, doubled, back.Len(), n)
	}
}
