package issuance_test

import (
	"testing"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/issuance"
)

// AmendMany amends several credentials in one transaction by the rules of
// AmendCredential: each audited with before and after, published ones
// signed again, and emailed only when asked; one bad item, a revoked
// credential or one outside the caller's groups changes nothing.
func TestAmendMany(t *testing.T) {
	s, ctx, g, other, ids, count := bulkFixture(t)
	signs := count(`SELECT count(*) FROM jobs WHERE kind = $1`, issuance.ChangedJob)
	emails := count(`SELECT count(*) FROM credential_emails`)
	scope := []int64{g.ID}
	before := tableCounts(t, s.DB)
	for _, tc := range []struct {
		items []issuance.AmendItem
		code  string
	}{
		{[]issuance.AmendItem{{ID: ids["Una"], Amendment: issuance.Amendment{Name: strp("Una New")}}, {ID: ids["Pia"], Amendment: issuance.Amendment{Email: strp("not an email")}}}, apperr.Invalid},
		{[]issuance.AmendItem{{ID: ids["Rex"], Amendment: issuance.Amendment{Name: strp("Rex New")}}}, apperr.Conflict},
		{[]issuance.AmendItem{{ID: ids["Oda"], Amendment: issuance.Amendment{Name: strp("Oda New")}}}, apperr.Conflict},
	} {
		_, err := s.AmendMany(ctx, actor, scope, tc.items)
		mustCode(t, err, tc.code)
		if tc.code == apperr.Invalid {
			if fe := apperr.FieldErrors(err); len(fe) != 1 || fe[0].Index != 1 || fe[0].Field != "recipient.email" {
				t.Errorf("field errors %+v", fe)
			}
		}
	}
	assertUnchanged(t, s.DB, before)
	_ = other

	res, err := s.AmendMany(ctx, actor, scope, []issuance.AmendItem{
		{ID: ids["Una"], Amendment: issuance.Amendment{Name: strp("Una New")}},
		{ID: ids["Pia"], Amendment: issuance.Amendment{Email: strp("pia.new@example.edu")}, Notify: true},
		{ID: ids["Pat"], Amendment: issuance.Amendment{ExpiresOn: strp("2030-01-01"), Attributes: map[string]string{"grade": "77"}}},
	})
	if err != nil || res != (issuance.AmendManyResult{Amended: 3, Resigned: 2, Emails: 1}) {
		t.Fatalf("amend: %+v, %v", res, err)
	}
	if got := count(`SELECT count(*) FROM jobs WHERE kind = $1`, issuance.ChangedJob); got <= signs {
		t.Error("no signing queued")
	}
	if got := count(`SELECT count(*) FROM credential_emails WHERE to_address = 'pia.new@example.edu' AND reason = 'resend'`); got != 1 || count(`SELECT count(*) FROM credential_emails`) != emails+1 {
		t.Errorf("%d emails to the new address", got)
	}
	c, _ := s.Credential(ctx, ids["Pat"])
	if c.Attributes["grade"] != "77" || c.ExpiresOn == nil || c.ExpiresOn.Format(issuance.DateLayout) != "2030-01-01" {
		t.Errorf("Pat: %+v", c)
	}
	h, _ := s.History(ctx, ids["Una"])
	if last := h[len(h)-1]; last.Action != "amend" || jsonMap(t, last.Before)["recipient"].(map[string]any)["name"] != "Una Learner" ||
		jsonMap(t, last.After)["recipient"].(map[string]any)["name"] != "Una New" {
		t.Errorf("Una's last entry %+v", last)
	}
}
