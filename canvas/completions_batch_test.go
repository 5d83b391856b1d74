package canvas_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/laurel-edu/laurel/internal/sandbox/canvassim"
)

// One batch of the inbox holding new students, a repeat, a second Canvas user
// with an email that already holds the credential, and an event whose email
// the issuance core refuses: the refused event fails alone with its reason,
// the others get exactly one credential per recipient.
func TestInboxBatchWithARefusedEvent(t *testing.T) {
	e := newEnv(t)
	e.mustMap("300", true)
	deliveries := []canvassim.Completion{
		{CourseID: "300", UserID: "1", UserName: "Alice", UserEmail: "alice@example.com", RequestID: "r1"},
		{CourseID: "300", UserID: "2", UserName: "Carol", UserEmail: "carol@localhost", RequestID: "r2"},
		{CourseID: "300", UserID: "3", UserName: "Bob", UserEmail: "bob@example.com", RequestID: "r3"},
		{CourseID: "300", UserID: "4", UserName: "Alice Again", UserEmail: "ALICE@example.com", RequestID: "r4"},
		{CourseID: "300", UserID: "1", UserName: "Alice", UserEmail: "alice@example.com", RequestID: "r1-repeat"},
	}
	for _, d := range deliveries {
		if st, body := e.deliver(d); st != 200 {
			t.Fatalf("deliver %s: %d %s", d.RequestID, st, body)
		}
	}
	e.drain()

	creds := e.credentials()
	var got []string
	for _, c := range creds {
		got = append(got, c.Email+" "+c.State)
	}
	if diff := cmp.Diff([]string{"alice@example.com published", "bob@example.com published"}, got); diff != "" {
		t.Fatalf("credentials (-want +got):\n%s", diff)
	}
	if n := e.count(`SELECT count(*) FROM credential_emails`); n != 2 {
		t.Fatalf("%d emails queued, want 2", n)
	}
	type outcome struct {
		User, State, Credential string
	}
	var rows []outcome
	if err := e.db.Select(&rows, `SELECT canvas_user_id AS "user", state, coalesce(credential_id, '') AS credential
		FROM canvas_events ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	alice, bob := creds[0].ID, creds[1].ID
	want := []outcome{{"1", "processed", alice}, {"2", "failed", ""}, {"3", "processed", bob}, {"4", "processed", alice}, {"1", "processed", alice}}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Fatalf("event outcomes (-want +got):\n%s", diff)
	}
	var reason string
	if err := e.db.Get(&reason, `SELECT reason FROM canvas_events WHERE canvas_user_id = '2'`); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(reason, "recipient.email") || !strings.Contains(reason, "carol@localhost") {
		t.Fatalf("reason of the refused event = %q; want the field and the address", reason)
	}
}
