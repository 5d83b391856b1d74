package issuance_test

import (
	"context"
	"testing"

	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/internal/issuancetest"
)

// A publish of more than 10,000 credentials is answered at once, with how
// many will be published; its job publishes exactly those (not one created
// after the request), each audited and with its email queued, and a re-run
// of the job after it finished changes nothing.
func TestLargePublishIsAnsweredAtOnceAndPublishedByItsJob(t *testing.T) {
	s, d := mustService(t)
	ctx := context.Background()
	g := mustGroup(t, s, nil)
	const n = 10001
	items := make([]issuance.NewCredential, n)
	for i := range items {
		items[i] = item("Learner "+itoa(i), "learner"+itoa(i)+"@example.edu")
	}
	if _, err := s.CreateCredentials(ctx, actor, g.ID, issuance.FromCSV, items); err != nil {
		t.Fatal(err)
	}
	res, err := s.Publish(ctx, actor, issuance.Selection{GroupID: g.ID, AllUnpublished: true})
	if err != nil || !res.InBackground || res.Published != n || res.Emails != n {
		t.Fatalf("publish: %+v, %v; want %d in the background", res, err, n)
	}
	count := func(q string, args ...any) int {
		t.Helper()
		var k int
		if err := d.Get(&k, q, args...); err != nil {
			t.Fatal(err)
		}
		return k
	}
	if got := count(`SELECT count(*) FROM credentials WHERE state = 'published'`); got != 0 {
		t.Fatalf("%d published before the job ran", got)
	}
	if sd, err := s.GroupSending(ctx, g.ID); err != nil || sd.String() != "0 of 10,001" || sd.Sent() {
		t.Fatalf("sending %+v, %v", sd, err)
	}
	// Created after the request: not part of it.
	late := mustCreate(t, s, g.ID, item("Late Learner", "late@example.edu"))
	w := jobs.NewWorker(d, issuancetest.Quiet)
	w.Handle(issuance.PublishJob, s.HandlePublish())
	if got, err := w.RunOnce(ctx); err != nil || got != 1 {
		t.Fatalf("RunOnce = %d, %v", got, err)
	}
	if st, _ := jobs.Stats(ctx, d, issuance.PublishJob); st["done"] != 1 {
		var msg string
		d.Get(&msg, `SELECT last_error FROM jobs WHERE kind = $1`, issuance.PublishJob)
		t.Fatalf("publish job %v: %s", st, msg)
	}
	if got := count(`SELECT count(*) FROM credentials WHERE state = 'published'`); got != n {
		t.Fatalf("%d published, want %d", got, n)
	}
	if got := count(`SELECT count(*) FROM credentials WHERE id = $1 AND state = 'unpublished'`, late[0].ID); got != 1 {
		t.Fatal("the credential created after the request was published")
	}
	if got := count(`SELECT count(*) FROM audit_log WHERE action = 'publish' AND actor = $1`, actor); got != n {
		t.Fatalf("%d publish audit rows, want %d", got, n)
	}
	if got := count(`SELECT count(*) FROM credential_emails WHERE state = 'queued' AND reason = 'published'`); got != n {
		t.Fatalf("%d emails queued, want %d", got, n)
	}
	// Every email is in exactly one bulk email job.
	if got := count(`SELECT count(DISTINCT x) FROM jobs, jsonb_array_elements(payload->'email_ids') AS x WHERE kind = $1`, issuance.EmailBulkJob); got != n {
		t.Fatalf("%d emails in bulk email jobs, want %d", got, n)
	}
	if got := count(`SELECT count(*) FROM jobs WHERE kind = $1`, issuance.EmailJob); got != 0 {
		t.Fatalf("%d single email jobs for a bulk publish", got)
	}
	if sd, err := s.GroupSending(ctx, g.ID); err != nil || sd.String() != "0 of 10,001" {
		t.Fatalf("sending %+v, %v", sd, err)
	}
	// Run again (as after a crash once it was done): nothing changes.
	if _, err := d.Exec(`UPDATE jobs SET state = 'queued' WHERE kind = $1`, issuance.PublishJob); err != nil {
		t.Fatal(err)
	}
	issuancetest.Drain(t, w)
	if got := count(`SELECT count(*) FROM credential_emails`); got != n {
		t.Fatalf("%d emails after a re-run, want %d", got, n)
	}
}
