package insight_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/laurel-edu/laurel/issuance/insight"
	"github.com/laurel-edu/laurel/issuance/internal/issuancetest"
)

// What does not count: link previews, crawlers, command-line clients and
// requests without a user agent, each by the user agent it really sends.
var notPeople = []string{
	"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
	"Slackbot 1.0 (+https://api.slack.com/robots)",
	"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
	"Twitterbot/1.0",
	"LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
	"WhatsApp/2.23.20.0 A",
	"Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
	"TelegramBot (like TwitterBot)",
	"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
	"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
	"curl/8.5.0",
	"Wget/1.21.4",
	"python-requests/2.31.0",
	"Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
	"Mozilla/5.0 (compatible; ExampleCrawler/1.0)",
	"Mozilla/5.0 (compatible; ExampleSpider/2.1)",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 LinkPreview/1.0",
	"",
}

func TestHumanViewCountsOnce(t *testing.T) {
	f := mustFixture(t)
	res, body := f.get("/c/" + f.c1.ID)
	if res.StatusCode != 200 || !strings.Contains(body, "Ada Lovelace") {
		t.Fatalf("page: %d", res.StatusCode)
	}
	f.flush()
	if n := f.total(f.c1.ID, insight.View); n != 1 {
		t.Fatalf("%d views after one visit, want 1", n)
	}
	if n := f.daily(f.g1.ID, f.today(), insight.View); n != 1 {
		t.Fatalf("group's views today %d, want 1", n)
	}
	// Flushing again adds nothing; another visit adds one.
	f.flush()
	f.get("/c/" + f.c1.ID)
	f.flush()
	if n := f.total(f.c1.ID, insight.View); n != 2 {
		t.Fatalf("%d views after two visits, want 2", n)
	}
	if n := f.total(f.c2.ID, insight.View); n != 0 {
		t.Fatalf("the other credential has %d views", n)
	}
	// Nothing about the visitor is kept: the tables hold counts only.
	var cols []string
	if err := f.db.Select(&cols, `SELECT column_name FROM information_schema.columns WHERE table_name LIKE 'insight_%' ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cols, ","); got != "at,batch,credential_id,day,group_id,kind,kind,n,n" {
		t.Fatalf("insight columns %s", got)
	}
}

func TestHeadPrefetchAndBotsDoNotCount(t *testing.T) {
	f := mustFixture(t)
	page := "/c/" + f.c1.ID
	if res, _ := f.do(http.MethodHead, page, map[string]string{"User-Agent": browser}); res.StatusCode != 200 {
		t.Fatalf("HEAD: %d", res.StatusCode)
	}
	for _, h := range []map[string]string{
		{"Purpose": "prefetch"}, {"Sec-Purpose": "prefetch"}, {"Sec-Purpose": "prefetch;prerender"}, {"X-Moz": "prefetch"},
	} {
		h["User-Agent"] = browser
		if res, _ := f.do(http.MethodGet, page, h); res.StatusCode != 200 {
			t.Fatalf("prefetch %v: %d", h, res.StatusCode)
		}
	}
	for _, ua := range notPeople {
		if res, _ := f.do(http.MethodGet, page, map[string]string{"User-Agent": ua}); res.StatusCode != 200 {
			t.Fatalf("%q: %d", ua, res.StatusCode)
		}
		// Nor do they count as downloads or clicks.
		f.do(http.MethodGet, page+".pdf", map[string]string{"User-Agent": ua})
		f.do(http.MethodGet, page+"/go/linkedin", map[string]string{"User-Agent": ua})
		f.do(http.MethodGet, page+"?src=email", map[string]string{"User-Agent": ua})
	}
	f.do(http.MethodHead, page+".pdf", map[string]string{"User-Agent": browser})
	f.flush()
	for _, k := range insight.Kinds {
		if n := f.total(f.c1.ID, k); n != 0 {
			t.Errorf("%s counted %d times", k, n)
		}
	}
	var rows int
	if err := f.db.Get(&rows, `SELECT count(*) FROM insight_daily`); err != nil || rows != 0 {
		t.Fatalf("%d daily rows (%v), want none", rows, err)
	}
}

func TestHumanRule(t *testing.T) {
	for _, ua := range notPeople {
		r := httptest.NewRequest(http.MethodGet, "/c/x", nil)
		r.Header.Set("User-Agent", ua)
		if insight.Human(r) {
			t.Errorf("%q counts as a person", ua)
		}
	}
	for _, ua := range []string{browser,
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"} {
		r := httptest.NewRequest(http.MethodGet, "/c/x", nil)
		r.Header.Set("User-Agent", ua)
		if !insight.Human(r) {
			t.Errorf("%q does not count as a person", ua)
		}
		r.Method = http.MethodHead
		if insight.Human(r) {
			t.Errorf("a HEAD by %q counts", ua)
		}
	}
	// Verifiers may be programs, but not crawlers.
	for ua, want := range map[string]bool{"curl/8.5.0": true, "python-requests/2.31.0": true, "": true, browser: true,
		"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)": false, "Slackbot 1.0 (+https://api.slack.com/robots)": false} {
		r := httptest.NewRequest(http.MethodGet, "/c/x.json", nil)
		r.Header.Set("User-Agent", ua)
		if got := insight.Verifier(r); got != want {
			t.Errorf("verifier %q: %v, want %v", ua, got, want)
		}
	}
}

func TestDownloadsAndVerifierFetchesCount(t *testing.T) {
	f := mustFixture(t)
	page := "/c/" + f.c1.ID
	if res, _ := f.get(page + ".pdf"); res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("pdf: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	for _, path := range []string{page + ".json", page + ".jwt"} {
		if res, _ := f.do(http.MethodGet, path, map[string]string{"User-Agent": "curl/8.5.0"}); res.StatusCode != 200 {
			t.Fatalf("%s: %d", path, res.StatusCode)
		}
	}
	// JSON by content negotiation is a verifier's fetch too; a crawler's is not.
	f.do(http.MethodGet, page, map[string]string{"User-Agent": "python-requests/2.31.0", "Accept": "application/ld+json"})
	f.do(http.MethodGet, page+".json", map[string]string{"User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1)"})
	// An unknown or unpublished credential counts nothing.
	f.get("/c/" + f.unpub.ID + ".pdf")
	f.get("/c/nosuchcredential0000000000.json")
	f.flush()
	if n := f.total(f.c1.ID, insight.PDF); n != 1 {
		t.Errorf("%d PDF downloads, want 1", n)
	}
	if n := f.total(f.c1.ID, insight.Verify); n != 3 {
		t.Errorf("%d verifier fetches, want 3", n)
	}
	if n := f.total(f.c1.ID, insight.View); n != 0 {
		t.Errorf("a download counted %d page views", n)
	}
	var n int
	if err := f.db.Get(&n, `SELECT count(*) FROM insight_totals WHERE credential_id <> $1`, f.c1.ID); err != nil || n != 0 {
		t.Fatalf("%d counts of other credentials (%v)", n, err)
	}
}

func TestClicksRedirectAndCount(t *testing.T) {
	f := mustFixture(t)
	page := "/c/" + f.c1.ID
	canonical := "https://laurel.test/c/" + f.c1.ID
	// The page links the counting redirects; its own URL stays as it was.
	_, body := f.get(page)
	for _, want := range []string{`id="linkedin-add" href="` + canonical + `/go/linkedin"`, `href="` + canonical + `/go/share/x"`,
		`href="` + canonical + `/go/share/facebook"`, `href="` + canonical + `/go/share/linkedin"`, `Verify at <a href="` + canonical + `">`} {
		if !strings.Contains(body, want) {
			t.Fatalf("page lacks %s", want)
		}
	}

	res, _ := f.get(page + "/go/linkedin")
	lu, err := url.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusFound || err != nil || lu.Host != "www.linkedin.com" || lu.Path != "/profile/add" {
		t.Fatalf("LinkedIn: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	q := lu.Query()
	if q.Get("startTask") != "CERTIFICATION_NAME" || q.Get("name") != f.g1.Name || q.Get("certUrl") != canonical || q.Get("certId") != f.c1.ID ||
		q.Get("organizationName") == "" || q.Get("issueYear") == "" {
		t.Fatalf("LinkedIn fields %v", q)
	}
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Fatal("a counting redirect may be cached")
	}
	for network, prefix := range map[string]string{
		"x":        "https://x.com/intent/post?url=" + url.QueryEscape(canonical),
		"facebook": "https://www.facebook.com/sharer/sharer.php?u=" + url.QueryEscape(canonical),
		"linkedin": "https://www.linkedin.com/sharing/share-offsite/?url=" + url.QueryEscape(canonical),
	} {
		res, _ := f.get(page + "/go/share/" + network)
		if res.StatusCode != http.StatusFound || !strings.HasPrefix(res.Header.Get("Location"), prefix) {
			t.Fatalf("share %s: %d %s", network, res.StatusCode, res.Header.Get("Location"))
		}
	}
	if res, _ := f.get(page + "/go/share/myspace"); res.StatusCode != 404 {
		t.Fatalf("unknown network: %d", res.StatusCode)
	}
	res, _ = f.get(page + "?src=email")
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != canonical {
		t.Fatalf("email link: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	// An unpublished credential's links are not found, and count nothing.
	for _, p := range []string{"/go/linkedin", "/go/share/x", "?src=email"} {
		if res, _ := f.get("/c/" + f.unpub.ID + p); res.StatusCode != 404 {
			t.Fatalf("unpublished %s: %d", p, res.StatusCode)
		}
	}
	f.flush()
	for k, want := range map[insight.Kind]int64{insight.LinkedIn: 1, insight.Share: 3, insight.Email: 1, insight.View: 1} {
		if n := f.total(f.c1.ID, k); n != want {
			t.Errorf("%s: %d, want %d", k, n, want)
		}
		if n := f.total(f.unpub.ID, k); n != 0 {
			t.Errorf("unpublished %s: %d", k, n)
		}
	}
	// A revoked credential's clicks go to its page, uncounted.
	if _, err := f.core.Revoke(context.Background(), issuancetest.Actor, f.c1.ID, "issued in error"); err != nil {
		t.Fatal(err)
	}
	if res, _ := f.get(page + "/go/linkedin"); res.StatusCode != http.StatusFound || res.Header.Get("Location") != canonical {
		t.Fatalf("revoked LinkedIn: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	f.flush()
	if n := f.total(f.c1.ID, insight.LinkedIn); n != 1 {
		t.Fatalf("revoked credential's click counted: %d", n)
	}
}

// Two workers flushing at once, again and again while counts keep
// arriving from two serving processes, add every count exactly once; so
// does a batch found again after its Redis clean-up failed.
func TestFlushExactlyOnceAcrossTwoWorkers(t *testing.T) {
	f := mustFixture(t)
	ctx := context.Background()
	other := insight.New(f.db, redis.NewClient(&redis.Options{Addr: f.rdb.Options().Addr, DB: f.rdb.Options().DB}), f.core)
	other.Log = issuancetest.Quiet
	req := httptest.NewRequest(http.MethodGet, "/c/x", nil)
	req.Header.Set("User-Agent", browser)
	const rounds, perRound = 8, 250
	for range rounds {
		for i := range perRound {
			f.ins.Count(req, f.c1.ID, insight.View)
			other.Count(req, f.c2.ID, insight.View)
			if i%5 == 0 {
				other.Count(req, f.c1.ID, insight.Share)
			}
		}
		if err := f.ins.MovePending(ctx); err != nil {
			t.Fatal(err)
		}
		if err := other.MovePending(ctx); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for _, s := range []*insight.Service{f.ins, other, f.ins, other} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.Flush(ctx); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	check := func() {
		t.Helper()
		if n := f.total(f.c1.ID, insight.View); n != rounds*perRound {
			t.Fatalf("c1 views %d, want %d", n, rounds*perRound)
		}
		if n := f.total(f.c2.ID, insight.View); n != rounds*perRound {
			t.Fatalf("c2 views %d, want %d", n, rounds*perRound)
		}
		if n := f.total(f.c1.ID, insight.Share); n != rounds*perRound/5 {
			t.Fatalf("c1 shares %d, want %d", n, rounds*perRound/5)
		}
		if n := f.daily(f.g1.ID, f.today(), insight.View); n != rounds*perRound {
			t.Fatalf("g1 daily views %d", n)
		}
	}
	check()
	// Replay an added batch as if its clean-up had failed: it is found in
	// insight_flushes, cleaned up, and not added again.
	var name string
	if err := f.db.Get(&name, `SELECT batch FROM insight_flushes ORDER BY at LIMIT 1`); err != nil {
		t.Fatal(err)
	}
	day := f.today().Format(time.DateOnly)
	if err := f.rdb.HSet(ctx, insight.BatchPrefix+name, f.c1.ID+"|"+day+"|view", 1000).Err(); err != nil {
		t.Fatal(err)
	}
	if err := f.rdb.SAdd(ctx, insight.BatchesSet, name).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	check()
	if n, _ := f.rdb.Exists(ctx, insight.BatchPrefix+name, insight.PendingHash).Result(); n != 0 {
		t.Fatalf("%d keys left in Redis", n)
	}
	if n, _ := f.rdb.SCard(ctx, insight.BatchesSet).Result(); n != 0 {
		t.Fatalf("%d batches left listed", n)
	}
}

// Without Redis the page serves as before, at once, and counting pauses;
// the counts wait in memory and arrive once Redis is back.
func TestLostRedisPausesCounting(t *testing.T) {
	f := mustFixture(t)
	good := f.ins.Redis
	f.ins.Redis = redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	start := time.Now()
	for range 3 {
		if res, body := f.get("/c/" + f.c1.ID); res.StatusCode != 200 || !strings.Contains(body, "Ada Lovelace") {
			t.Fatalf("page without Redis: %d", res.StatusCode)
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("three pages took %s without Redis", d)
	}
	ctx := context.Background()
	if err := f.ins.MovePending(ctx); err == nil {
		t.Fatal("moving counts to an absent Redis succeeded")
	}
	if _, err := f.ins.Flush(ctx); err == nil {
		t.Fatal("flushing from an absent Redis succeeded")
	}
	f.ins.Redis = good
	f.flush()
	if n := f.total(f.c1.ID, insight.View); n != 3 {
		t.Fatalf("%d views after Redis came back, want 3", n)
	}
}
