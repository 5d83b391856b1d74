package canvas_test

import (
	"encoding/json"
	"strconv"
	"sync"
	"testing"

	"github.com/laurel-edu/laurel/canvas"
	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
)

// Deliveries that arrive together are stored together with one job for
// their batch: every stored completion is in exactly one job, there are no
// more jobs than completions, and all become credentials.
func TestConcurrentDeliveriesShareTheirBatchJob(t *testing.T) {
	e := newEnv(t)
	e.mustMap("170", false)
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := strconv.Itoa(i + 1)
			if st, b := e.deliver(canvassim.Completion{CourseID: "170", UserID: u, UserName: "Student " + u, UserEmail: "s" + u + "@example.com"}); st != 200 {
				errs <- strconv.Itoa(st) + " " + b
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("delivery: %s", err)
	}
	var payloads []string
	if err := e.db.Select(&payloads, `SELECT payload::text FROM jobs WHERE kind = $1`, canvas.InboxJob); err != nil {
		t.Fatal(err)
	}
	seen := map[int64]int{}
	for _, p := range payloads {
		var job struct {
			EventIDs []int64 `json:"event_ids"`
		}
		if err := json.Unmarshal([]byte(p), &job); err != nil || len(job.EventIDs) == 0 {
			t.Fatalf("inbox job payload %s: want a non-empty event_ids list (%v)", p, err)
		}
		for _, id := range job.EventIDs {
			seen[id]++
		}
	}
	var events []int64
	if err := e.db.Select(&events, `SELECT id FROM canvas_events`); err != nil {
		t.Fatal(err)
	}
	if len(events) != n || len(seen) != n || len(payloads) > n {
		t.Fatalf("%d events, %d of them in %d jobs; want %d in at most %d", len(events), len(seen), len(payloads), n, n)
	}
	for _, id := range events {
		if seen[id] != 1 {
			t.Fatalf("event %d is in %d jobs, want 1", id, seen[id])
		}
	}
	t.Logf("%d deliveries stored with %d jobs", n, len(payloads))
	e.drain()
	if c := len(e.credentials()); c != n {
		t.Fatalf("%d credentials, want %d", c, n)
	}
}

// A job run again after its events were processed (a worker that died after
// the work, before marking it done) changes nothing; a job queued by an
// older version (one event_id) is still processed.
func TestInboxJobsRunAgainOrOfTheOldFormat(t *testing.T) {
	e := newEnv(t)
	e.mustMap("171", false)
	for _, u := range []string{"1", "2", "3"} {
		if st, b := e.deliver(canvassim.Completion{CourseID: "171", UserID: u, UserName: "Student " + u, UserEmail: "s" + u + "@example.com"}); st != 200 {
			t.Fatalf("deliver: %d %s", st, b)
		}
	}
	e.drain()
	var ids []int64
	if err := e.db.Select(&ids, `SELECT id FROM canvas_events ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	// A fourth completion stored as an older version stored it, with its
	// one-event job; and the three processed events in one job again.
	var fourth int64
	if err := e.db.Get(&fourth, `INSERT INTO canvas_events (dedup_key, event_name, hostname, root_account_guid, canvas_course_id, canvas_user_id, completed_at, payload, signed, platform_id)
		SELECT 'old|4', event_name, hostname, root_account_guid, canvas_course_id, '4', completed_at,
			jsonb_set(jsonb_set(payload, '{body,user,id}', '"4"'), '{body,user,email}', '"s4@example.com"'), signed, platform_id
		FROM canvas_events WHERE id = $1 RETURNING id`, ids[0]); err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(map[string]any{"event_ids": ids})
	if _, err := e.db.Exec(`INSERT INTO jobs (kind, payload) VALUES ($1, $2), ($1, jsonb_build_object('event_id', $3::bigint))`,
		canvas.InboxJob, string(again), fourth); err != nil {
		t.Fatal(err)
	}
	e.drain()
	creds := e.credentials()
	if len(creds) != 4 {
		t.Fatalf("%d credentials, want 4 (one each, none twice)", len(creds))
	}
	if n := e.count(`SELECT count(*) FROM canvas_events WHERE state <> 'processed'`); n != 0 {
		t.Fatalf("%d events not processed", n)
	}
	if n := e.count(`SELECT count(*) FROM jobs WHERE kind = $1 AND state <> 'done'`, canvas.InboxJob); n != 0 {
		t.Fatalf("%d inbox jobs not done", n)
	}
}
