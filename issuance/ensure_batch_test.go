package issuance_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/issuance"
)

// ensureBatch runs EnsureCredentials in its own committed transaction.
func ensureBatch(t testing.TB, s *issuance.Service, d *sqlx.DB, gid int64, items []issuance.NewCredential, publish bool) ([]issuance.Ensured, error) {
	t.Helper()
	ctx := context.Background()
	tx, err := d.BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	out, err := s.EnsureCredentials(ctx, tx, "canvas", gid, issuance.FromCompletion, items, publish)
	if err != nil {
		tx.Rollback()
		return nil, err
	}
	return out, tx.Commit()
}

func refItem(name, email, ref string) issuance.NewCredential {
	it := item(name, email)
	it.ExternalRef = ref
	return it
}

func TestEnsureCredentialsMixedBatch(t *testing.T) {
	s, d := mustService(t)
	ctx := context.Background()
	g := mustGroup(t, s, nil)
	old := mustCreate(t, s, g.ID, item("Old", "old@example.edu"))[0]
	pre, err := ensureBatch(t, s, d, g.ID, []issuance.NewCredential{refItem("Ref", "ref1@example.edu", "ref:1")}, false)
	if err != nil || pre[0].Err != nil || !pre[0].Created {
		t.Fatalf("pre-existing by ref: %+v %v", pre, err)
	}
	byRef := pre[0].Credential

	items := []issuance.NewCredential{
		refItem("New", "new@example.edu", "ref:new"),       // 0: created
		refItem("Ref", "changed@example.edu", "ref:1"),     // 1: existing by ref, despite the new email
		refItem("Old", "OLD@example.edu", "ref:old"),       // 2: existing by email
		refItem("New Again", "new@example.edu", "ref:new"), // 3: repeats 0 by ref
		refItem("Bad", "not-an-email", "ref:bad"),          // 4: invalid
		item("New By Email", "New@Example.edu"),            // 5: repeats 0 by email
		refItem("Two", "two@example.edu", "ref:2"),         // 6: created
		{Recipient: issuance.Recipient{Name: "No Date", Email: "nodate@example.edu"}, Attributes: map[string]string{"grade": "1"}}, // 7: invalid
	}
	out, err := ensureBatch(t, s, d, g.ID, items, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(items) {
		t.Fatalf("%d outcomes for %d items", len(out), len(items))
	}
	type got struct {
		ID      string
		Created bool
		Err     string
	}
	summary := make([]got, len(out))
	for i, o := range out {
		summary[i] = got{ID: o.Credential.ID, Created: o.Created}
		if o.Err != nil {
			summary[i].Err = apperr.Code(o.Err)
		}
	}
	id0, id6 := out[0].Credential.ID, out[6].Credential.ID
	want := []got{
		{ID: id0, Created: true},
		{ID: byRef.ID},
		{ID: old.ID},
		{ID: id0},
		{Err: apperr.Invalid},
		{ID: id0},
		{ID: id6, Created: true},
		{Err: apperr.Invalid},
	}
	if diff := cmp.Diff(want, summary); diff != "" || id0 == "" || id6 == "" || id0 == id6 {
		t.Fatalf("outcomes (-want +got):\n%s", diff)
	}
	// Each invalid item names itself and its field; its reason is readable.
	for _, c := range []struct {
		i     int
		field string
	}{{4, "recipient.email"}, {7, "issued_on"}} {
		fe := apperr.FieldErrors(out[c.i].Err)
		if len(fe) != 1 || fe[0].Index != c.i || fe[0].Field != c.field || apperr.Message(out[c.i].Err) == "" {
			t.Errorf("item %d: %+v, want one error on %s", c.i, fe, c.field)
		}
	}
	// The two created ones were published with one email each; the existing
	// ones were left as they were.
	for _, o := range []issuance.Ensured{out[0], out[3], out[5], out[6]} {
		if o.Credential.State != issuance.Published || o.Credential.PublishedAt == nil {
			t.Errorf("%s: state %s, want published", o.Credential.ID, o.Credential.State)
		}
	}
	if out[1].Credential.State != issuance.Unpublished || out[2].Credential.State != issuance.Unpublished {
		t.Error("existing credentials changed state")
	}
	if out[1].Credential.Recipient.Email != "ref1@example.edu" {
		t.Errorf("existing by ref came back as %+v", out[1].Credential.Recipient)
	}
	for _, id := range []string{id0, id6} {
		es, _ := s.Emails(ctx, id)
		h, _ := s.History(ctx, id)
		var actions []string
		for _, e := range h {
			actions = append(actions, e.Action)
		}
		if len(es) != 1 || !cmp.Equal(actions, []string{"create", "publish"}) {
			t.Errorf("%s: %d emails, history %v", id, len(es), actions)
		}
	}
	var n int
	if err := d.Get(&n, `SELECT count(*) FROM credentials WHERE group_id = $1`, g.ID); err != nil || n != 4 {
		t.Fatalf("%d credentials in the group (%v), want 4", n, err)
	}
	if err := d.Get(&n, `SELECT count(*) FROM jobs WHERE kind = $1`, issuance.EmailJob); err != nil || n != 2 {
		t.Fatalf("%d email jobs (%v), want 2", n, err)
	}

	// The same batch again creates nothing and answers the same credentials.
	again, err := ensureBatch(t, s, d, g.ID, items, true)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range again {
		if o.Created || o.Credential.ID != out[i].Credential.ID || (o.Err == nil) != (out[i].Err == nil) {
			t.Errorf("repeat item %d: %+v, first time %+v", i, o, out[i])
		}
	}

	// Whole-call failures are errors, not outcomes.
	tx, _ := d.BeginTxx(ctx, nil)
	defer tx.Rollback()
	if _, err := s.EnsureCredentials(ctx, tx, "canvas", 999999, issuance.FromCompletion, items[:1], false); apperr.Code(err) != apperr.NotFound {
		t.Errorf("unknown group: %v", err)
	}
}

// TestEnsureCredentialsMatchesSequentialCalls: a batch full of clashes ends
// exactly as calling EnsureCredential for each item in order does.
func TestEnsureCredentialsMatchesSequentialCalls(t *testing.T) {
	s, d := mustService(t)
	ctx := context.Background()
	items := []issuance.NewCredential{
		refItem("A", "a@example.edu", "r1"),
		refItem("A2", "a@example.edu", "r2"),  // same email, new ref → A's
		refItem("C", "c@example.edu", "r2"),   // r2 was never stored → created
		refItem("E", "e@example.edu", "r-e"),  // existing by email (ref r-x)
		refItem("X", "x2@example.edu", "r-x"), // existing by ref
		item("A3", "A@example.edu"),           // A's
		refItem("B", "b@example.edu", "r1"),   // A's by ref
		refItem("D", "d@example.edu", "r3"),   // created
		refItem("D2", "d@example.edu", "r4"),  // D's
	}
	type label struct {
		Email, Ref string
		Created    bool
	}
	run := func(batch bool) []label {
		g := mustGroup(t, s, nil)
		if _, err := ensureBatch(t, s, d, g.ID, []issuance.NewCredential{refItem("X", "e@example.edu", "r-x")}, false); err != nil {
			t.Fatal(err)
		}
		var out []label
		if batch {
			res, err := ensureBatch(t, s, d, g.ID, items, false)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res {
				if r.Err != nil {
					t.Fatal(r.Err)
				}
				out = append(out, label{r.Credential.Recipient.Email, r.Credential.ExternalRef, r.Created})
			}
			return out
		}
		tx, _ := d.BeginTxx(ctx, nil)
		defer tx.Rollback()
		for _, it := range items {
			c, created, err := s.EnsureCredential(ctx, tx, "canvas", g.ID, issuance.FromCompletion, it, false)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, label{c.Recipient.Email, c.ExternalRef, created})
		}
		return out
	}
	seq, batch := run(false), run(true)
	if diff := cmp.Diff(seq, batch); diff != "" {
		t.Fatalf("batch differs from sequential calls (-seq +batch):\n%s", diff)
	}
	want := []label{
		{"a@example.edu", "r1", true}, {"a@example.edu", "r1", false}, {"c@example.edu", "r2", true},
		{"e@example.edu", "r-x", false}, {"e@example.edu", "r-x", false}, {"a@example.edu", "r1", false},
		{"a@example.edu", "r1", false}, {"d@example.edu", "r3", true}, {"d@example.edu", "r3", false},
	}
	if diff := cmp.Diff(want, batch); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

func TestEnsureCredentialsAllowDuplicates(t *testing.T) {
	s, d := mustService(t)
	g := mustGroup(t, s, func(g *issuance.Group) { g.AllowDuplicates = true })
	out, err := ensureBatch(t, s, d, g.ID, []issuance.NewCredential{
		item("A", "a@example.edu"), item("A", "a@example.edu"), refItem("A", "a@example.edu", "r1"), refItem("A", "a@example.edu", "r1"),
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	created := 0
	for _, o := range out {
		if o.Created {
			created++
		}
	}
	if created != 3 || out[3].Credential.ID != out[2].Credential.ID {
		t.Fatalf("created %d, want 3 (two without ref, one with r1): %+v", created, out)
	}
}

func TestEnsureCredentialsConcurrentOverlappingBatches(t *testing.T) {
	s, d := mustService(t)
	ctx := context.Background()
	g := mustGroup(t, s, nil)
	const recipients = 300
	all := make([]issuance.NewCredential, recipients)
	for i := range all {
		all[i] = refItem("R", fmt.Sprintf("r%d@example.edu", i), fmt.Sprintf("canvas:1:%d", i))
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ids     = map[string]map[string]bool{} // ref → credential ids seen
		created = map[string]int{}
	)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each caller sends an overlapping window of 200, shuffled, some
			// twice, in batches of 50 (each its own transaction).
			r := rand.New(rand.NewPCG(uint64(w), 7))
			var mine []issuance.NewCredential
			for i := range 200 {
				mine = append(mine, all[(w*50+i)%recipients])
			}
			mine = append(mine, mine[:20]...)
			r.Shuffle(len(mine), func(a, b int) { mine[a], mine[b] = mine[b], mine[a] })
			for len(mine) > 0 {
				n := min(50, len(mine))
				out, err := ensureBatch(t, s, d, g.ID, mine[:n], true)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for k, o := range out {
					if o.Err != nil {
						t.Error(o.Err)
						continue
					}
					ref := mine[k].ExternalRef
					if ids[ref] == nil {
						ids[ref] = map[string]bool{}
					}
					ids[ref][o.Credential.ID] = true
					if o.Created {
						created[ref]++
					}
				}
				mu.Unlock()
				mine = mine[n:]
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if len(ids) != recipients {
		t.Fatalf("%d recipients seen, want %d", len(ids), recipients)
	}
	for ref, set := range ids {
		if len(set) != 1 || created[ref] != 1 {
			t.Fatalf("%s: %d credentials, created %d times; want one", ref, len(set), created[ref])
		}
	}
	var n, emails int
	_ = d.Get(&n, `SELECT count(*) FROM credentials WHERE group_id = $1`, g.ID)
	_ = d.GetContext(ctx, &emails, `SELECT count(*) FROM credential_emails e JOIN credentials c ON c.id = e.credential_id WHERE c.group_id = $1`, g.ID)
	if n != recipients || emails != recipients {
		t.Fatalf("%d credentials and %d emails, want %d each", n, emails, recipients)
	}
}
