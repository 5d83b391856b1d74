package issuance_test

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/issuance"
)

var idRE = regexp.MustCompile(`^[a-z2-7]{32}$`)

func TestCreateCredentials(t *testing.T) {
	s, d := mustService(t)
	ctx := context.Background()
	g := mustGroup(t, s, func(g *issuance.Group) { g.ValidityMonths = intp(24) })
	it2 := item("  Grace   Hopper ", " grace@example.edu ")
	it2.ExpiresOn = "2026-12-31"
	it2.Attributes["completed"] = "2026-06-01"
	cs := mustCreate(t, s, g.ID, item("Ada Lovelace", "ada@example.edu"), it2)

	if len(cs) != 2 {
		t.Fatalf("created %d", len(cs))
	}
	for _, c := range cs {
		if !idRE.MatchString(c.ID) || c.State != issuance.Unpublished || c.Source != issuance.FromForm || c.GroupID != g.ID {
			t.Fatalf("credential %+v", c)
		}
	}
	if cs[0].ID == cs[1].ID {
		t.Fatal("two credentials share an ID")
	}
	if cs[0].Recipient != (issuance.Recipient{Name: "Ada Lovelace", Email: "ada@example.edu"}) {
		t.Fatalf("recipient %+v", cs[0].Recipient)
	}
	if cs[1].Recipient != (issuance.Recipient{Name: "Grace Hopper", Email: "grace@example.edu"}) {
		t.Fatalf("recipient not normalised: %+v", cs[1].Recipient)
	}
	if got := cs[0].ExpiresOn.Format(issuance.DateLayout); got != "2028-06-30" {
		t.Fatalf("derived expiry = %s, want issue date + 24 months", got)
	}
	if got := cs[1].ExpiresOn.Format(issuance.DateLayout); got != "2026-12-31" {
		t.Fatalf("explicit expiry = %s", got)
	}
	if diff := cmp.Diff(map[string]string{"grade": "91.5", "completed": "2026-06-01"}, cs[1].Attributes); diff != "" {
		t.Fatal(diff)
	}
	got, err := s.Credential(ctx, cs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(cs[0], got); diff != "" {
		t.Fatalf("stored differs from returned:\n%s", diff)
	}
	h, err := s.History(ctx, cs[0].ID)
	if err != nil || len(h) != 1 || h[0].Action != "create" || h[0].Actor != actor || h[0].Before != nil {
		t.Fatalf("history %+v %v", h, err)
	}
	var after map[string]any
	_ = json.Unmarshal(h[0].After, &after)
	if after["state"] != "unpublished" || after["issued_on"] != "2026-06-30" {
		t.Fatalf("audit after = %s", h[0].After)
	}
	// Creating sends nothing.
	if n := tableCounts(t, d); n["credential_emails"] != 0 || n["jobs"] != 0 {
		t.Fatalf("create queued mail: %v", n)
	}
}

func TestCreateCredentialsRejectsBadInputAndChangesNothing(t *testing.T) {
	s, d := mustService(t)
	g := mustGroup(t, s, nil)
	mustCreate(t, s, g.ID, item("Held Already", "held@example.edu"))
	mod := func(f func(*issuance.NewCredential)) issuance.NewCredential {
		it := item("Ada Lovelace", "ada@example.edu")
		f(&it)
		return it
	}
	tests := []struct {
		name  string
		items []issuance.NewCredential
		want  []string // "index:field"
	}{
		{"name missing", []issuance.NewCredential{mod(func(i *issuance.NewCredential) { i.Recipient.Name = "  " })}, []string{"0:recipient.name"}},
		{"name too long", []issuance.NewCredential{mod(func(i *issuance.NewCredential) { i.Recipient.Name = strings.Repeat("a", 201) })}, []string{"0:recipient.name"}},
		{"email missing", []issuance.NewCredential{mod(func(i *issuance.NewCredential) { i.Recipient.Email = "" })}, []string{"0:recipient.email"}},
		{"email invalid", []issuance.NewCredential{mod(func(i *issuance.NewCredential) { i.Recipient.Email = "ada@" })}, []string{"0:recipient.email"}},
		{"email with display name", []issuance.NewCredential{mod(func(i *issuance.NewCredential) { i.Recipient.Email = "Ada <ada@example.edu>" })}, []string{"0:recipient.email"}},
		{"two emails", []issuance.NewCredential{mod(func(i *issuance.NewCredential) { i.Recipient.Email = "a@example.edu, b@example.edu" })}, []string{"0:recipient.email"}},
		{"issue date missing", []issuance.NewCredential{mod(func(i *issuance.NewCredential) { i.IssuedOn = "" })}, []string{"0:issued_on"}},
		{"issue date unparseable", []issuance.NewCredential{mod(func(i *issuance.NewCredential) { i.IssuedOn = "30/06/2026" })}, []string{"0:issued_on"}},
		{"issue date impossible", []issuance.NewCredential{mod(func(i *issuance.NewCredential) { i.IssuedOn = "2026-02-30" })}, []string{"0:issued_on"}},
		{"expiry before issue", []issuance.NewCredential{mod(func(i *issuance.NewCredential) { i.ExpiresOn = "2026-01-01" })}, []string{"0:expires_on"}},
		{"expiry unparseable", []issuance.NewCredential{mod(func(i *issuance.NewCredential) { i.ExpiresOn = "soon" })}, []string{"0:expires_on"}},
		{"required attribute missing", []issuance.NewCredential{mod(func(i *issuance.NewCredential) { delete(i.Attributes, "grade") })}, []string{"0:attributes.grade"}},
		{"number attribute bad", []issuance.NewCredential{mod(func(i *issuance.NewCredential) { i.Attributes["grade"] = "A+" })}, []string{"0:attributes.grade"}},
		{"date attribute bad", []issuance.NewCredential{mod(func(i *issuance.NewCredential) { i.Attributes["completed"] = "yesterday" })}, []string{"0:attributes.completed"}},
		{"unknown attribute", []issuance.NewCredential{mod(func(i *issuance.NewCredential) { i.Attributes["colour"] = "blue" })}, []string{"0:attributes.colour"}},
		{"evidence not a URL", []issuance.NewCredential{mod(func(i *issuance.NewCredential) { i.EvidenceURL = "javascript:alert(1)" })}, []string{"0:evidence_url"}},
		{"duplicate in batch (case-insensitive)", []issuance.NewCredential{item("A", "dup@example.edu"), item("B", "other@example.edu"), item("C", "DUP@example.edu")}, []string{"2:recipient.email"}},
		{"already holds one", []issuance.NewCredential{item("A", "ok@example.edu"), item("H", "Held@Example.edu")}, []string{"1:recipient.email"}},
		{"one bad item among good ones", []issuance.NewCredential{item("A", "a1@example.edu"), item("", "a2@example.edu"), item("C", "a3@example.edu")}, []string{"1:recipient.name"}},
		{"several problems", []issuance.NewCredential{mod(func(i *issuance.NewCredential) { i.Recipient.Name = ""; i.IssuedOn = "x"; i.Attributes = nil })}, []string{"0:attributes.grade", "0:issued_on", "0:recipient.name"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := tableCounts(t, d)
			_, err := s.CreateCredentials(context.Background(), actor, g.ID, issuance.FromForm, tc.items)
			mustCode(t, err, apperr.Invalid)
			if diff := cmp.Diff(tc.want, fieldErrs(err)); diff != "" {
				t.Fatalf("field errors (-want +got):\n%s\n%v", diff, apperr.FieldErrors(err))
			}
			for _, f := range apperr.FieldErrors(err) {
				if f.Message == "" {
					t.Fatalf("empty message for %s", f.Field)
				}
			}
			assertUnchanged(t, d, before)
			// ValidateNew reports the same problems without writing.
			if diff := cmp.Diff(tc.want, fieldErrs(issuance.ValidateNew(s, context.Background(), g, tc.items))); diff != "" {
				t.Fatalf("ValidateNew differs:\n%s", diff)
			}
		})
	}
	t.Run("unknown group", func(t *testing.T) {
		_, err := s.CreateCredentials(context.Background(), actor, 9999, issuance.FromForm, []issuance.NewCredential{item("A", "a@example.edu")})
		mustCode(t, err, apperr.NotFound)
	})
	t.Run("empty batch", func(t *testing.T) {
		_, err := s.CreateCredentials(context.Background(), actor, g.ID, issuance.FromForm, nil)
		mustCode(t, err, apperr.Invalid)
	})
}

func TestDuplicates(t *testing.T) {
	s, d := mustService(t)
	ctx := context.Background()
	strict := mustGroup(t, s, nil)
	lax := mustGroup(t, s, func(g *issuance.Group) { g.Name = "Open"; g.AllowDuplicates = true })

	// A group that allows duplicates takes the same recipient twice, even in one batch.
	mustCreate(t, s, lax.ID, item("A", "same@example.edu"), item("A", "same@example.edu"))
	mustCreate(t, s, lax.ID, item("A", "SAME@example.edu"))

	// A revoked credential no longer counts.
	c := mustCreate(t, s, strict.ID, item("A", "same@example.edu"))[0]
	if _, err := s.CreateCredentials(ctx, actor, strict.ID, issuance.FromForm, []issuance.NewCredential{item("A", "same@example.edu")}); err == nil {
		t.Fatal("second live credential accepted")
	}
	if _, err := s.Revoke(ctx, actor, c.ID, "issued in error"); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, strict.ID, item("A", "same@example.edu"))

	// The database enforces it, not only the code: a direct insert of a second
	// live credential for the same recipient fails.
	_, err := d.Exec(`INSERT INTO credentials (id, group_id, recipient_name, recipient_email, recipient_key, issued_on, source)
		VALUES ('zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz', $1, 'A', 'same@example.edu', 'same@example.edu', '2026-01-01', 'form')`, strict.ID)
	if err == nil {
		t.Fatal("database accepted a second live credential for one recipient")
	}

	// Racing creates for one recipient: exactly one wins, the others get a
	// clear error naming the email.
	racer := mustGroup(t, s, func(g *issuance.Group) { g.Name = "Race" })
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, errs := 0, []error{}
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.CreateCredentials(ctx, actor, racer.ID, issuance.FromAPI, []issuance.NewCredential{item("R", "race@example.edu")})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				wins++
			} else {
				errs = append(errs, err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d concurrent creates won, want 1", wins)
	}
	for _, err := range errs {
		code := apperr.Code(err)
		if (code != apperr.Conflict && code != apperr.Invalid) || !strings.Contains(apperr.Message(err)+fmtFields(err), "race@example.edu") {
			t.Fatalf("loser error = %v %v", err, apperr.FieldErrors(err))
		}
	}

	// Switching a group to forbid duplicates while one recipient holds two is refused.
	lax.AllowDuplicates = false
	_, err = s.UpdateGroup(ctx, actor, lax)
	mustCode(t, err, apperr.Conflict)
	if !strings.Contains(apperr.Message(err), "same@example.edu") {
		t.Fatalf("message %q does not name the recipient", apperr.Message(err))
	}
}

func fmtFields(err error) string {
	var b strings.Builder
	for _, f := range apperr.FieldErrors(err) {
		b.WriteString(f.Message)
	}
	return b.String()
}

func TestAmendCredential(t *testing.T) {
	s, d := mustService(t)
	ctx := context.Background()
	g := mustGroup(t, s, func(g *issuance.Group) { g.ValidityMonths = intp(12) })
	cs := mustCreate(t, s, g.ID, item("Ada Lovelce", "ada@example.edu"), item("Grace", "grace@example.edu"))
	c := cs[0]

	got, err := s.AmendCredential(ctx, actor, c.ID, issuance.Amendment{Name: strp("Ada Lovelace"), IssuedOn: strp("2026-07-15"),
		Attributes: map[string]string{"grade": "95"}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Recipient.Name != "Ada Lovelace" || got.IssuedOn.Format(issuance.DateLayout) != "2026-07-15" ||
		got.ExpiresOn.Format(issuance.DateLayout) != "2027-07-15" || got.Attributes["grade"] != "95" || got.Recipient.Email != "ada@example.edu" {
		t.Fatalf("amended = %+v (expiry %v)", got, got.ExpiresOn)
	}
	h, _ := s.History(ctx, c.ID)
	if len(h) != 2 || h[1].Action != "amend" {
		t.Fatalf("history %+v", h)
	}
	var before, after map[string]any
	_ = json.Unmarshal(h[1].Before, &before)
	_ = json.Unmarshal(h[1].After, &after)
	if before["recipient"].(map[string]any)["name"] != "Ada Lovelce" || after["recipient"].(map[string]any)["name"] != "Ada Lovelace" {
		t.Fatalf("audit before %s after %s", h[1].Before, h[1].After)
	}

	// Bad amendments change nothing.
	for _, a := range []issuance.Amendment{
		{Name: strp("")},
		{Email: strp("not-an-email")},
		{IssuedOn: strp("2026-13-01")},
		{ExpiresOn: strp("2020-01-01")},
		{Attributes: map[string]string{"grade": "x"}},
		{Attributes: map[string]string{}}, // grade is required
	} {
		snap := tableCounts(t, d)
		_, err := s.AmendCredential(ctx, actor, c.ID, a)
		mustCode(t, err, apperr.Invalid)
		if len(apperr.FieldErrors(err)) == 0 {
			t.Fatalf("no field errors for %+v", a)
		}
		assertUnchanged(t, d, snap)
		now, _ := s.Credential(ctx, c.ID)
		if diff := cmp.Diff(got, now); diff != "" {
			t.Fatalf("credential changed by rejected amendment:\n%s", diff)
		}
	}
	// Taking another recipient's email is a conflict naming it.
	_, err = s.AmendCredential(ctx, actor, c.ID, issuance.Amendment{Email: strp("GRACE@example.edu")})
	mustCode(t, err, apperr.Conflict)

	// Published credentials can be amended; revoked cannot.
	if _, err := s.Publish(ctx, actor, issuance.Selection{IDs: []string{c.ID}}); err != nil {
		t.Fatal(err)
	}
	if got, err = s.AmendCredential(ctx, actor, c.ID, issuance.Amendment{Name: strp("Augusta Ada King")}); err != nil || got.State != issuance.Published {
		t.Fatalf("amend published: %+v %v", got, err)
	}
	if _, err := s.Revoke(ctx, actor, c.ID, "wrong course"); err != nil {
		t.Fatal(err)
	}
	_, err = s.AmendCredential(ctx, actor, c.ID, issuance.Amendment{Name: strp("X")})
	mustCode(t, err, apperr.Conflict)
	_, err = s.AmendCredential(ctx, actor, "doesnotexistdoesnotexistdoesnotx", issuance.Amendment{Name: strp("X")})
	mustCode(t, err, apperr.NotFound)
}

type emailRow struct {
	CredentialID string `db:"credential_id"`
	To           string `db:"to_address"`
	Reason       string `db:"reason"`
	State        string `db:"state"`
}

func emailRows(t testing.TB, d *sqlx.DB) []emailRow {
	t.Helper()
	var out []emailRow
	if err := d.Select(&out, `SELECT credential_id, to_address, reason, state FROM credential_emails ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPublish(t *testing.T) {
	s, d := mustService(t)
	ctx := context.Background()
	g := mustGroup(t, s, nil)
	other := mustGroup(t, s, func(g *issuance.Group) { g.Name = "Other" })
	cs := mustCreate(t, s, g.ID, item("A", "a@example.edu"), item("B", "b@example.edu"), item("C", "c@example.edu"))
	mustCreate(t, s, other.ID, item("O", "o@example.edu"))

	sel := issuance.Selection{IDs: []string{cs[0].ID, cs[2].ID, "unknownunknownunknownunknownunkn"}}
	if n, err := s.CountPublishable(ctx, sel); err != nil || n != 2 {
		t.Fatalf("CountPublishable = %d, %v", n, err)
	}
	res, err := s.Publish(ctx, actor, sel)
	if err != nil || res != (issuance.PublishResult{Published: 2, Emails: 2}) {
		t.Fatalf("Publish = %+v, %v", res, err)
	}
	got := emailRows(t, d)
	want := []emailRow{{cs[0].ID, "a@example.edu", "published", "queued"}, {cs[2].ID, "c@example.edu", "published", "queued"}}
	sortEmails(got)
	sortEmails(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatal(diff)
	}
	if n := jobCount(t, d, issuance.EmailJob); n != 2 {
		t.Fatalf("%d email jobs, want 2", n)
	}
	c, _ := s.Credential(ctx, cs[0].ID)
	if c.State != issuance.Published || c.PublishedAt == nil {
		t.Fatalf("after publish: %+v", c)
	}
	h, _ := s.History(ctx, cs[0].ID)
	if len(h) != 2 || h[1].Action != "publish" || h[1].Actor != actor {
		t.Fatalf("history %+v", h)
	}

	// Publishing again publishes nothing and sends nothing.
	if res, err := s.Publish(ctx, actor, sel); err != nil || res.Published != 0 {
		t.Fatalf("re-publish = %+v, %v", res, err)
	}
	// "Select all" in a group publishes only that group's unpublished ones.
	if n, _ := s.CountPublishable(ctx, issuance.Selection{GroupID: g.ID, AllUnpublished: true}); n != 1 {
		t.Fatalf("count all unpublished = %d", n)
	}
	if res, err := s.Publish(ctx, actor, issuance.Selection{GroupID: g.ID, AllUnpublished: true}); err != nil || res.Published != 1 {
		t.Fatalf("publish all = %+v, %v", res, err)
	}
	if n := jobCount(t, d, issuance.EmailJob); n != 3 {
		t.Fatalf("%d email jobs, want 3", n)
	}
	list, _, _ := s.Credentials(ctx, other.ID, issuance.ListOptions{State: issuance.Unpublished})
	if len(list) != 1 {
		t.Fatal("select-all leaked into another group")
	}
	// An empty selection is an error.
	_, err = s.Publish(ctx, actor, issuance.Selection{})
	mustCode(t, err, apperr.Invalid)
}

func sortEmails(es []emailRow) {
	for i := range es {
		for j := i + 1; j < len(es); j++ {
			if es[j].CredentialID < es[i].CredentialID {
				es[i], es[j] = es[j], es[i]
			}
		}
	}
}

func TestRevokeAndResend(t *testing.T) {
	s, d := mustService(t)
	ctx := context.Background()
	g := mustGroup(t, s, nil)
	cs := mustCreate(t, s, g.ID, item("A", "a@example.edu"), item("B", "b@example.edu"))

	err := s.Resend(ctx, actor, cs[0].ID)
	mustCode(t, err, apperr.Conflict) // unpublished: nothing to resend
	if _, err := s.Publish(ctx, actor, issuance.Selection{IDs: []string{cs[0].ID}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Resend(ctx, actor, cs[0].ID); err != nil {
		t.Fatal(err)
	}
	es, err := s.Emails(ctx, cs[0].ID)
	if err != nil || len(es) != 2 || es[0].Reason != "resend" || es[1].Reason != "published" || es[0].To != "a@example.edu" {
		t.Fatalf("emails %+v %v", es, err)
	}
	if n := jobCount(t, d, issuance.EmailJob); n != 2 {
		t.Fatalf("%d jobs", n)
	}

	snap := tableCounts(t, d)
	_, err = s.Revoke(ctx, actor, cs[0].ID, "  ")
	mustCode(t, err, apperr.Invalid)
	assertUnchanged(t, d, snap)

	c, err := s.Revoke(ctx, actor, cs[0].ID, "Issued to the wrong person")
	if err != nil || c.State != issuance.Revoked || c.RevocationReason != "Issued to the wrong person" || c.RevokedAt == nil {
		t.Fatalf("revoke = %+v, %v", c, err)
	}
	// Its queued emails are cancelled, so a revoked credential is never announced.
	for _, e := range emailRows(t, d) {
		if e.State != "failed" {
			t.Fatalf("email still %s after revoke", e.State)
		}
	}
	_, err = s.Revoke(ctx, actor, cs[0].ID, "again")
	mustCode(t, err, apperr.Conflict)
	mustCode(t, s.Resend(ctx, actor, cs[0].ID), apperr.Conflict)
	h, _ := s.History(ctx, cs[0].ID)
	var actions []string
	for _, e := range h {
		actions = append(actions, e.Action)
	}
	if diff := cmp.Diff([]string{"create", "publish", "resend", "revoke"}, actions); diff != "" {
		t.Fatal(diff)
	}
}

func TestEnsureCredentialIsIdempotent(t *testing.T) {
	s, d := mustService(t)
	ctx := context.Background()
	g := mustGroup(t, s, nil)
	ensure := func(it issuance.NewCredential, publish bool) (issuance.Credential, bool, error) {
		var c issuance.Credential
		var created bool
		tx, err := d.BeginTxx(ctx, nil)
		if err != nil {
			return c, false, err
		}
		c, created, err = s.EnsureCredential(ctx, tx, "canvas", g.ID, issuance.FromCompletion, it, publish)
		if err != nil {
			tx.Rollback()
			return c, false, err
		}
		return c, created, tx.Commit()
	}
	it := item("Ada", "ada@example.edu")
	it.ExternalRef = "platform:1:user:42"
	c1, created, err := ensure(it, false)
	if err != nil || !created || c1.State != issuance.Unpublished {
		t.Fatalf("first ensure: %+v %v %v", c1, created, err)
	}
	// Same external ref, even with a changed email: the same credential.
	it2 := it
	it2.Recipient.Email = "ada.lovelace@example.edu"
	c2, created, err := ensure(it2, false)
	if err != nil || created || c2.ID != c1.ID {
		t.Fatalf("second ensure: %+v %v %v", c2, created, err)
	}
	// Same email without a ref (a form-created one): the same credential.
	it3 := item("Ada", "ADA@example.edu")
	c3, created, err := ensure(it3, false)
	if err != nil || created || c3.ID != c1.ID {
		t.Fatalf("ensure by email: %+v %v %v", c3, created, err)
	}

	// 50 concurrent deliveries of the same completion: exactly one credential.
	it4 := item("Grace", "grace@example.edu")
	it4.ExternalRef = "platform:1:user:43"
	var wg sync.WaitGroup
	var mu sync.Mutex
	ids := map[string]int{}
	createdCount := 0
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, created, err := ensure(it4, true)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			ids[c.ID]++
			if created {
				createdCount++
			}
		}()
	}
	wg.Wait()
	if len(ids) != 1 || createdCount != 1 {
		t.Fatalf("50 concurrent ensures: ids %v, created %d; want one", ids, createdCount)
	}
	var n int
	_ = d.Get(&n, `SELECT count(*) FROM credentials WHERE group_id = $1 AND recipient_email = 'grace@example.edu'`, g.ID)
	if n != 1 {
		t.Fatalf("%d rows", n)
	}
	// publish=true published it and queued exactly one email.
	for id := range ids {
		c, _ := s.Credential(ctx, id)
		es, _ := s.Emails(ctx, id)
		if c.State != issuance.Published || len(es) != 1 {
			t.Fatalf("auto-published: %s with %d emails", c.State, len(es))
		}
	}
	// A rolled-back transaction leaves nothing behind.
	tx, _ := d.BeginTxx(ctx, nil)
	if _, created, err := s.EnsureCredential(ctx, tx, "canvas", g.ID, issuance.FromCompletion, item("Z", "z@example.edu"), true); err != nil || !created {
		t.Fatal(err)
	}
	tx.Rollback()
	_ = d.Get(&n, `SELECT count(*) FROM credentials WHERE recipient_email = 'z@example.edu'`)
	if n != 0 {
		t.Fatal("rolled-back ensure left a credential")
	}
	// Bad input is an error, not a credential.
	tx, _ = d.BeginTxx(ctx, nil)
	defer tx.Rollback()
	_, _, err = s.EnsureCredential(ctx, tx, "canvas", g.ID, issuance.FromCompletion, item("", "bad"), false)
	mustCode(t, err, apperr.Invalid)
}

func TestCredentialsKeysetPagination(t *testing.T) {
	s, _ := mustService(t)
	ctx := context.Background()
	g := mustGroup(t, s, nil)
	var items []issuance.NewCredential
	for i := range 120 {
		items = append(items, item("R", "r"+itoa(i)+"@example.edu"))
	}
	cs := mustCreate(t, s, g.ID, items...)
	if _, err := s.Publish(ctx, actor, issuance.Selection{IDs: []string{cs[0].ID, cs[1].ID}}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	cursor, pages := "", 0
	for {
		page, next, err := s.Credentials(ctx, g.ID, issuance.ListOptions{State: issuance.Unpublished, Cursor: cursor, Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, c := range page {
			if seen[c.ID] || c.State != issuance.Unpublished {
				t.Fatalf("page %d repeats %s or has state %s", pages, c.ID, c.State)
			}
			seen[c.ID] = true
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != 118 || pages != 3 {
		t.Fatalf("%d credentials over %d pages, want 118 over 3", len(seen), pages)
	}
	all, next, _ := s.Credentials(ctx, g.ID, issuance.ListOptions{})
	if len(all) != 50 || next == "" || all[0].ID != cs[119].ID {
		t.Fatal("default page is not the 50 newest")
	}
	pub, _, _ := s.Credentials(ctx, g.ID, issuance.ListOptions{State: issuance.Published})
	if len(pub) != 2 {
		t.Fatalf("%d published", len(pub))
	}
	_, _, err := s.Credentials(ctx, g.ID, issuance.ListOptions{Cursor: "garbage!"})
	mustCode(t, err, apperr.Invalid)
	_, _, err = s.Credentials(ctx, g.ID, issuance.ListOptions{State: "lost"})
	mustCode(t, err, apperr.Invalid)
}

var _ = time.Now
