package issuance_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/internal/issuancetest"
)

// bulkFixture is a group with 3 unpublished, 4 published (one with its
// email still queued) and 1 revoked credential, and another group with 2
// published ones.
func bulkFixture(t *testing.T) (s *issuance.Service, ctx context.Context, g, other issuance.Group, ids map[string]string, count func(string, ...any) int) {
	s, d := mustService(t)
	ctx = context.Background()
	g = mustGroup(t, s, nil)
	other = mustGroup(t, s, func(g *issuance.Group) { g.Name = "Other group" })
	ids = map[string]string{}
	for _, n := range []string{"Una", "Uli", "Ute", "Pia", "Pat", "Pam", "Pip", "Rex"} {
		ids[n] = mustCreate(t, s, g.ID, item(n+" Learner", n+"@example.edu"))[0].ID
	}
	for _, n := range []string{"Oda", "Ole"} {
		ids[n] = mustCreate(t, s, other.ID, item(n+" Other", n+"@example.edu"))[0].ID
	}
	if _, err := s.Publish(ctx, actor, issuance.Selection{IDs: []string{ids["Pia"], ids["Pat"], ids["Pam"], ids["Pip"], ids["Rex"], ids["Oda"], ids["Ole"]}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Revoke(ctx, actor, ids["Rex"], "Duplicate"); err != nil {
		t.Fatal(err)
	}
	count = func(q string, args ...any) int {
		t.Helper()
		var k int
		if err := d.Get(&k, q, args...); err != nil {
			t.Fatal(err)
		}
		return k
	}
	return
}

func jsonMap(t *testing.T, b []byte) map[string]any {
	t.Helper()
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Revoking "all matching" a group's filter plans what it will do (how
// many, the first by name, how many are skipped and why) and then revokes
// exactly the published ones of the caller's scope, each audited with its
// reason, their queued emails cancelled; the other group is untouched even
// when the filter names it.
func TestBulkRevokeAllMatchingStaysInScope(t *testing.T) {
	s, ctx, g, other, ids, count := bulkFixture(t)
	req := issuance.BulkRequest{Action: issuance.BulkRevoke, Reason: "Course withdrawn",
		Selection: issuance.BulkSelection{All: true, Filter: issuance.AcrossOptions{Groups: []int64{g.ID}}}}
	plan, err := s.PlanBulk(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range plan.First {
		names = append(names, c.Recipient.Name)
	}
	want := issuance.BulkPlan{Selected: 8, Eligible: 4, Skipped: []issuance.BulkSkip{
		{Count: 1, Why: "already revoked"}, {Count: 3, Why: "unpublished and cannot be revoked (delete them instead)"}}}
	plan.First = nil
	if diff := cmp.Diff(want, plan); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Pam Learner", "Pat Learner", "Pia Learner", "Pip Learner"}, names); diff != "" {
		t.Errorf("named (-want +got):\n%s", diff)
	}

	// A crafted request for the other group's credentials, by filter or by
	// ID, with the caller's scope: nothing.
	crafted := req
	crafted.Selection.Filter.GroupID = other.ID
	if p, err := s.PlanBulk(ctx, crafted); err != nil || p.Selected != 0 {
		t.Fatalf("plan of another group's: %+v, %v", p, err)
	}
	byID := issuance.BulkRequest{Action: issuance.BulkRevoke, Reason: "x",
		Selection: issuance.BulkSelection{IDs: []string{ids["Oda"]}, Filter: issuance.AcrossOptions{Groups: []int64{g.ID}}}}
	if res, err := s.ApplyBulk(ctx, actor, byID); err != nil || res.Changed != 0 {
		t.Fatalf("apply to another group's by ID: %+v, %v", res, err)
	}

	res, err := s.ApplyBulk(ctx, actor, req)
	if err != nil || res.Changed != 4 || res.InBackground {
		t.Fatalf("apply: %+v, %v", res, err)
	}
	if got := count(`SELECT count(*) FROM credentials WHERE state = 'revoked' AND revocation_reason = 'Course withdrawn' AND group_id = $1`, g.ID); got != 4 {
		t.Errorf("%d revoked with the reason, want 4", got)
	}
	if got := count(`SELECT count(*) FROM credentials WHERE state = 'published' AND group_id = $1`, other.ID); got != 2 {
		t.Errorf("other group: %d published, want 2", got)
	}
	if got := count(`SELECT count(*) FROM credential_emails e JOIN credentials c ON c.id = e.credential_id
		WHERE c.group_id = $1 AND e.state = 'queued'`, g.ID); got != 0 {
		t.Errorf("%d emails of revoked credentials still queued", got)
	}
	h, err := s.History(ctx, ids["Pam"])
	if err != nil {
		t.Fatal(err)
	}
	last := h[len(h)-1]
	if b, a := jsonMap(t, last.Before), jsonMap(t, last.After); last.Action != "revoke" || a["revocation_reason"] != "Course withdrawn" || b["state"] != "published" {
		t.Errorf("last history entry %+v", last)
	}
}

// Resend queues exactly one email per published, unrevoked credential
// ticked, audited; unpublished and revoked ones are skipped.
func TestBulkResendQueuesOneEmailEach(t *testing.T) {
	s, ctx, g, _, ids, count := bulkFixture(t)
	before := count(`SELECT count(*) FROM credential_emails`)
	req := issuance.BulkRequest{Action: issuance.BulkResend, Selection: issuance.BulkSelection{
		IDs: []string{ids["Pia"], ids["Pat"], ids["Una"], ids["Rex"]}, Filter: issuance.AcrossOptions{Groups: []int64{g.ID}}}}
	plan, err := s.PlanBulk(ctx, req)
	if err != nil || plan.Eligible != 2 || len(plan.Skipped) != 2 {
		t.Fatalf("plan %+v, %v", plan, err)
	}
	res, err := s.ApplyBulk(ctx, actor, req)
	if err != nil || res.Changed != 2 || res.Emails != 2 {
		t.Fatalf("apply: %+v, %v", res, err)
	}
	if got := count(`SELECT count(*) FROM credential_emails WHERE reason = 'resend'`); got != 2 || count(`SELECT count(*) FROM credential_emails`) != before+2 {
		t.Errorf("%d resend emails", got)
	}
	if got := count(`SELECT count(*) FROM audit_log WHERE action = 'resend' AND entity_id = ANY($1)`, "{"+ids["Pia"]+","+ids["Pat"]+"}"); got != 2 {
		t.Errorf("%d resend audit entries", got)
	}
}

// Setting an expiry date changes the unpublished and published ones issued
// on or before it, re-signs the published ones, and skips revoked ones and
// those issued after the date; clearing it clears it.
func TestBulkExpirySetAndClear(t *testing.T) {
	s, ctx, g, _, ids, count := bulkFixture(t)
	if _, err := s.AmendCredential(ctx, actor, ids["Pip"], issuance.Amendment{IssuedOn: strp("2027-03-01")}); err != nil {
		t.Fatal(err)
	}
	signs := count(`SELECT count(*) FROM jobs WHERE kind = $1`, issuance.ChangedJob)
	req := issuance.BulkRequest{Action: issuance.BulkExpiry, ExpiresOn: "2027-01-31",
		Selection: issuance.BulkSelection{All: true, Filter: issuance.AcrossOptions{Groups: []int64{g.ID}}}}
	plan, err := s.PlanBulk(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]issuance.BulkSkip{{Count: 1, Why: "issued after the new expiry date"}, {Count: 1, Why: "revoked and cannot be changed"}}, plan.Skipped); diff != "" || plan.Eligible != 6 {
		t.Errorf("plan %d eligible, skipped (-want +got):\n%s", plan.Eligible, diff)
	}
	res, err := s.ApplyBulk(ctx, actor, req)
	if err != nil || res.Changed != 6 {
		t.Fatalf("apply: %+v, %v", res, err)
	}
	if got := count(`SELECT count(*) FROM credentials WHERE expires_on = '2027-01-31'`); got != 6 {
		t.Errorf("%d with the new expiry, want 6", got)
	}
	if got := count(`SELECT count(*) FROM jobs WHERE kind = $1`, issuance.ChangedJob); got <= signs {
		t.Errorf("no signing queued for the published ones")
	}
	c, err := s.Credential(ctx, ids["Una"])
	if err != nil || c.ExpiresOn == nil || c.ExpiresOn.Format(issuance.DateLayout) != "2027-01-31" {
		t.Errorf("Una: %+v, %v", c.ExpiresOn, err)
	}
	h, _ := s.History(ctx, ids["Una"])
	if last := h[len(h)-1]; last.Action != "amend" || jsonMap(t, last.After)["expires_on"] != "2027-01-31" || jsonMap(t, last.Before)["expires_on"] != nil {
		t.Errorf("last history entry %+v", last)
	}
	req.ExpiresOn = ""
	if res, err := s.ApplyBulk(ctx, actor, req); err != nil || res.Changed != 7 {
		t.Fatalf("clear: %+v, %v", res, err)
	}
	if got := count(`SELECT count(*) FROM credentials WHERE expires_on IS NOT NULL AND group_id = $1`, g.ID); got != 0 {
		t.Errorf("%d still expire", got)
	}
}

// Delete removes the unpublished ones only, audited with what was deleted.
func TestBulkDeleteUnpublishedOnly(t *testing.T) {
	s, ctx, g, _, ids, count := bulkFixture(t)
	// An email left from a past life of an unpublished credential goes with it.
	if _, err := s.DB.Exec(`INSERT INTO credential_emails (credential_id, to_address, reason, created_at) VALUES ($1, 'una@example.edu', 'resend', now())`, ids["Una"]); err != nil {
		t.Fatal(err)
	}
	req := issuance.BulkRequest{Action: issuance.BulkDelete, Selection: issuance.BulkSelection{
		IDs: []string{ids["Una"], ids["Uli"], ids["Pia"]}, Filter: issuance.AcrossOptions{Groups: []int64{g.ID}}}}
	res, err := s.ApplyBulk(ctx, actor, req)
	if err != nil || res.Changed != 2 {
		t.Fatalf("apply: %+v, %v", res, err)
	}
	if got := count(`SELECT count(*) FROM credentials WHERE id = ANY($1)`, "{"+ids["Una"]+","+ids["Uli"]+","+ids["Pia"]+"}"); got != 1 {
		t.Errorf("%d left of 3, want 1 (the published one)", got)
	}
	if got := count(`SELECT count(*) FROM audit_log WHERE action = 'delete' AND after IS NULL AND before->'recipient'->>'name' = 'Una Learner'`); got != 1 {
		t.Errorf("%d delete entries for Una", got)
	}
}

// A bad request is refused naming its field, and changes nothing.
func TestBulkRefusesBadRequests(t *testing.T) {
	s, ctx, g, _, ids, _ := bulkFixture(t)
	_, d := s, s.DB
	before := tableCounts(t, d)
	scope := issuance.AcrossOptions{Groups: []int64{g.ID}}
	for _, tc := range []struct {
		req   issuance.BulkRequest
		field string
	}{
		{issuance.BulkRequest{Action: issuance.BulkRevoke, Reason: "  ", Selection: issuance.BulkSelection{IDs: []string{ids["Pia"]}, Filter: scope}}, "reason"},
		{issuance.BulkRequest{Action: issuance.BulkExpiry, ExpiresOn: "31/01/2027", Selection: issuance.BulkSelection{All: true, Filter: scope}}, "expires_on"},
		{issuance.BulkRequest{Action: issuance.BulkDelete, Selection: issuance.BulkSelection{Filter: scope}}, "ids"},
		{issuance.BulkRequest{Action: "publish", Selection: issuance.BulkSelection{IDs: []string{ids["Una"]}, Filter: scope}}, "action"},
	} {
		_, err := s.ApplyBulk(ctx, actor, tc.req)
		if fe := apperr.FieldErrors(err); len(fe) != 1 || fe[0].Field != tc.field {
			t.Errorf("%s: %v (%+v), want a problem with %s", tc.req.Action, err, fe, tc.field)
		}
	}
	assertUnchanged(t, d, before)
}

// More than 10,000 are answered at once and changed by the BulkJob, which
// leaves alone the credentials created after the request.
func TestLargeBulkRunsAsJob(t *testing.T) {
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
	req := issuance.BulkRequest{Action: issuance.BulkExpiry, ExpiresOn: "2030-01-01",
		Selection: issuance.BulkSelection{All: true, Filter: issuance.AcrossOptions{GroupID: g.ID}}}
	res, err := s.ApplyBulk(ctx, actor, req)
	if err != nil || !res.InBackground || res.Changed != n {
		t.Fatalf("apply: %+v, %v", res, err)
	}
	late := mustCreate(t, s, g.ID, item("Late Learner", "late@example.edu"))[0]
	w := jobs.NewWorker(d, issuancetest.Quiet)
	w.Handle(issuance.BulkJob, s.HandleBulk())
	if got, err := w.RunOnce(ctx); err != nil || got != 1 {
		t.Fatalf("RunOnce = %d, %v", got, err)
	}
	var k int
	if err := d.Get(&k, `SELECT count(*) FROM credentials WHERE expires_on = '2030-01-01'`); err != nil || k != n {
		t.Fatalf("%d changed, want %d (%v)", k, n, err)
	}
	if err := d.Get(&k, `SELECT count(*) FROM audit_log WHERE action = 'amend'`); err != nil || k != n {
		t.Fatalf("%d audited, want %d (%v)", k, n, err)
	}
	if c, _ := s.Credential(ctx, late.ID); c.ExpiresOn != nil {
		t.Errorf("the credential created after the request changed")
	}
}
