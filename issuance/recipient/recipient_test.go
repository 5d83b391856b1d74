package recipient_test

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/alexedwards/scs/v2"
	"github.com/redis/go-redis/v9"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/jobs"
	"github.com/laurel-edu/laurel/internal/mail"
	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/internal/issuancetest"
	"github.com/laurel-edu/laurel/issuance/recipient"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// fixture is self-service over a core with one published credential, and a
// worker that sends its emails to a catcher.
type fixture struct {
	s       *recipient.Service
	core    *issuance.Service
	cred    issuance.Credential
	worker  *jobs.Worker
	catcher *mail.Catcher
}

func mustFixture(t *testing.T) fixture {
	t.Helper()
	core, d := issuancetest.MustService(t)
	ctx := context.Background()
	g := issuancetest.MustGroup(t, core, nil)
	cr := issuancetest.MustCreate(t, core, g.ID, issuancetest.Item("Grace Hopper", "grace@example.edu"))[0]
	if _, err := core.Publish(ctx, issuancetest.Actor, issuance.Selection{IDs: []string{cr.ID}}); err != nil {
		t.Fatal(err)
	}
	opt, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	s := recipient.New(d, core, issuancetest.MustKeys(t), rdb, scs.New())
	catcher := issuancetest.MustCatcher(t, "127.0.0.1:0")
	sender, err := mail.NewSender(catcher.URL(), "Laurel <no-reply@laurel.test>", 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sender.Close() })
	w := jobs.NewWorker(d, issuancetest.Quiet)
	w.Handle(recipient.EmailJob, s.SendEmail(sender, "Laurel <no-reply@laurel.test>", "https://laurel.test"))
	return fixture{s: s, core: core, cred: cr, worker: w, catcher: catcher}
}

// mustLinkToken asks for a link and reads its token from the email.
func (f fixture) mustLinkToken(t *testing.T) string {
	t.Helper()
	f.catcher.Reset()
	if err := f.s.RequestLink(context.Background(), f.cred.ID); err != nil {
		t.Fatal(err)
	}
	issuancetest.Drain(t, f.worker)
	msgs := f.catcher.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d emails", len(msgs))
	}
	m := linkToken.FindStringSubmatch(msgs[0].Text)
	if m == nil {
		t.Fatalf("no link in:\n%s", msgs[0].Text)
	}
	return m[1]
}

// TestLinkUsedOnceUnderRace: of ten concurrent uses of one link exactly
// one proves the recipient.
func TestLinkUsedOnceUnderRace(t *testing.T) {
	f := mustFixture(t)
	tok := f.mustLinkToken(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	won, refused := 0, 0
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, err := f.s.Redeem(context.Background(), tok)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && id == f.cred.ID:
				won++
			case apperr.Is(err, apperr.Invalid):
				refused++
			default:
				t.Errorf("redeem: %q %v", id, err)
			}
		}()
	}
	wg.Wait()
	if won != 1 || refused != 9 {
		t.Fatalf("%d uses won, %d refused; want 1 and 9", won, refused)
	}
}

// TestReplacedLinkIsNotSent: a link replaced before its email went out is
// not emailed (only the newest is), and the replaced one proves nothing.
func TestReplacedLinkIsNotSent(t *testing.T) {
	f := mustFixture(t)
	ctx := context.Background()
	for range 2 {
		if err := f.s.RequestLink(ctx, f.cred.ID); err != nil {
			t.Fatal(err)
		}
	}
	issuancetest.Drain(t, f.worker)
	if n := f.catcher.Len(); n != 1 {
		t.Fatalf("%d emails sent for two links, the first replaced; want 1", n)
	}
	m := linkToken.FindStringSubmatch(f.catcher.Messages()[0].Text)
	if _, err := f.s.Redeem(ctx, m[1]); err != nil {
		t.Fatalf("the newest link: %v", err)
	}
}

// TestRefusedLinks: unpublished, revoked and unknown credentials have no
// link, and nothing is queued for them.
func TestRefusedLinks(t *testing.T) {
	f := mustFixture(t)
	ctx := context.Background()
	if _, err := f.core.Revoke(ctx, issuancetest.Actor, f.cred.ID, "Issued in error"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{f.cred.ID, "no-such-credential"} {
		if err := f.s.RequestLink(ctx, id); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("link for %s: %v, want not found", id, err)
		}
	}
	issuancetest.Drain(t, f.worker)
	if n := f.catcher.Len(); n != 0 {
		t.Fatalf("%d emails sent", n)
	}
	if _, err := f.s.Redeem(ctx, "lrc_forged"); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("forged token: %v", err)
	}
}

var linkToken = regexp.MustCompile(`/recipient/link\?token=(\S+)`)

// TestPersonRecordsListWhatErasureDeletes: the export of a person lists
// their name correction, hidden credential, self-service email and link
// (its dates, never its token), matched by credential or by address in
// any letter case; after ErasePerson it lists no correction, email or link.
func TestPersonRecordsListWhatErasureDeletes(t *testing.T) {
	f := mustFixture(t)
	ctx := context.Background()
	tok := f.mustLinkToken(t)
	if err := f.s.SetHidden(ctx, f.cred.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.RequestCorrection(ctx, f.cred.ID, "Grace Brewster Hopper", "My full name, please."); err != nil {
		t.Fatal(err)
	}
	// By address alone (no credential IDs): the emails sent to it.
	byAddress, err := f.s.PersonRecords(ctx, "GRACE@Example.edu", nil)
	if err != nil || len(byAddress.Emails) != 1 || len(byAddress.NameCorrections) != 0 || byAddress.Links == nil || byAddress.Hidden == nil {
		t.Fatalf("records by address: %+v %v", byAddress, err)
	}
	r, err := f.s.PersonRecords(ctx, "grace@example.edu", []string{f.cred.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.NameCorrections) != 1 || r.NameCorrections[0].RequestedName != "Grace Brewster Hopper" || r.NameCorrections[0].Note != "My full name, please." ||
		r.NameCorrections[0].State != recipient.Pending || r.NameCorrections[0].CurrentName != "Grace Hopper" ||
		len(r.Hidden) != 1 || r.Hidden[0].CredentialID != f.cred.ID ||
		len(r.Emails) != 1 || r.Emails[0].Kind != "link" || r.Emails[0].To != "grace@example.edu" || r.Emails[0].State != "sent" || r.Emails[0].SentAt == nil ||
		len(r.Links) != 1 || r.Links[0].CredentialID != f.cred.ID || !r.Links[0].ExpiresAt.After(r.Links[0].CreatedAt) {
		t.Fatalf("records: %+v", r)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), tok) || strings.Contains(string(b), "token") {
		t.Fatalf("the export names the link's token:\n%s", b)
	}
	if _, err := f.s.ErasePerson(ctx, "grace@example.edu", []string{f.cred.ID}); err != nil {
		t.Fatal(err)
	}
	after, err := f.s.PersonRecords(ctx, "grace@example.edu", []string{f.cred.ID})
	if err != nil || len(after.NameCorrections)+len(after.Emails)+len(after.Links) != 0 {
		t.Fatalf("records after erasure: %+v %v", after, err)
	}
	if b, _ := json.Marshal(after); !strings.Contains(string(b), `"name_corrections":[]`) || !strings.Contains(string(b), `"links":[]`) {
		t.Fatalf("empty lists: %s", b)
	}
}
