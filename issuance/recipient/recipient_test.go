package recipient_test

import (
	"context"
	"os"
	"regexp"
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
