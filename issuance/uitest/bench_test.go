package uitest

import (
	"bytes"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/benchcpu"
	"github.com/laurel-edu/laurel/issuance"
)

// BenchmarkReviewUnpublishedPage serves "Review Unpublished Credentials" for
// a group holding 100,000 unpublished credentials, through the real stack
// (session in Redis, CSRF, staff guard, permission check, keyset page of 50,
// the group's count, template), cycling over the first 40 pages. It reports
// the server time per page: p50 and p95 (target: p95 ≤ 50 ms).
func BenchmarkReviewUnpublishedPage(b *testing.B) {
	e := mustEnv(b)
	start := time.Now()
	e.seed(e.group.ID, 100_000)
	if _, err := e.db.Exec(`VACUUM ANALYZE credentials`); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded 100,000 credentials in %v", time.Since(start).Round(time.Millisecond))
	c := e.signIn("owner@example.edu", auth.Owner)

	base := "/groups/" + gid(e.group) + "/unpublished"
	urls := []string{base}
	for len(urls) < 40 {
		r := c.get(urls[len(urls)-1])
		m := nextRE.FindStringSubmatch(r.body)
		if r.code != 200 || m == nil || len(names(r.body)) != 50 {
			b.Fatalf("page %d: %d, next %v", len(urls), r.code, m != nil)
		}
		urls = append(urls, html.UnescapeString(m[1]))
	}
	if !strings.Contains(c.get(base).body, "More than 10000 unpublished credentials") {
		b.Fatal("count missing")
	}

	e.mu.Lock()
	e.record, e.timings = true, nil
	e.mu.Unlock()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if r := c.get(urls[i%len(urls)]); r.code != 200 {
			b.Fatalf("status %d", r.code)
		}
	}
	b.StopTimer()
	e.mu.Lock()
	ts := slices.Clone(e.timings)
	e.record = false
	e.mu.Unlock()
	reportPercentiles(b, ts)
}

// reportPercentiles reports p50, p95 and the maximum of ts in milliseconds.
func reportPercentiles(b *testing.B, ts []time.Duration) {
	b.ReportMetric(benchcpu.Percentile(ts, 0.50), "p50_ms/page")
	b.ReportMetric(benchcpu.Percentile(ts, 0.95), "p95_ms/page")
	b.ReportMetric(benchcpu.Percentile(ts, 1), "max_ms/page")
}

// loadCredentials COPYs n unpublished credentials into group g: people with
// varied names (70%: 50 first names × 200 surnames; 10% each: Cyrillic,
// Chinese of two or three characters, Polish and Irish with accents) and
// unique emails, three sources, issue dates over two years, each with its
// search key (issuance.SearchKey). The search index is dropped for the load
// and rebuilt after, with the migration's own definition.
func (e *env) loadCredentials(b *testing.B, g int64, n int) {
	b.Helper()
	first := strings.Fields(`Ada Alan Grace Edsger Barbara Donald Margaret Dennis Frances Ken Radia Tim Hedy John Katherine
		Claude Sophie Linus Anita Niklaus Shafi Leslie Jean Fran Vint Whitfield Lynn Brian Bjarne Guido Yukihiro Rob Robert Ivan
		Marvin Seymour Alonzo Kurt Emmy Sofia Hannah Lars Mei Aiko Chidi Amara Tariq Priya Mateo Zofia`)
	var surnames []string
	for _, a := range strings.Fields("Lov Tur Hop Dijk Lisk Knu Ham Rit All Thom Perl Bern Lam Back John Shan Wil Tor Borg Wir") {
		for _, z := range strings.Fields("elace ing per stra ov uth ilton chie en pson man ers arr us son non son valds ger th") {
			surnames = append(surnames, a+z)
		}
	}
	cyrFirst := strings.Fields("Дмитрий Анна Ольга Иван Мария Сергей Елена Пётр Наталья Алексей")
	cyrLast := strings.Fields("Соколов Иванов Смирнов Кузнецов Попов Лебедев Козлов Новиков Морозов Волков Соловьёв Васильев Зайцев Павлов Семёнов Голубев Виноградов Богданов Воробьёв Фёдоров")
	cjkLast := []rune("李王张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧")
	cjkGiven := []rune("娜伟芳敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红梅文辉建国志")
	accFirst := strings.Fields("Agnieszka Łukasz Małgorzata Paweł Zofia Áine Siobhán Seán Niamh Pádraig")
	accLast := []string{"Wiśniewski", "Wiśniewska", "Łukasiewicz", "Wróbel", "Dąbrowski", "Ní Bhriain", "Ó Súilleabháin", "Nic Giolla", "Ó Dónaill", "Mac Lochlainn"}
	name := func(i int) (string, bool) {
		j := i / 10
		switch i % 10 {
		case 7:
			return cyrFirst[j%len(cyrFirst)] + " " + cyrLast[(j/len(cyrFirst))%len(cyrLast)], false
		case 8:
			n := string(cjkLast[j%len(cjkLast)]) + string(cjkGiven[(j/len(cjkLast))%len(cjkGiven)])
			if j%3 == 0 {
				n += string(cjkGiven[(j/7)%len(cjkGiven)])
			}
			return n, false
		case 9:
			return accFirst[j%len(accFirst)] + " " + accLast[(j/len(accFirst))%len(accLast)], false
		}
		return first[i%len(first)] + " " + surnames[(i/len(first))%len(surnames)], true
	}
	sources := []string{"csv", "completion", "api"}
	var def string
	if err := e.db.Get(&def, `SELECT indexdef FROM pg_indexes WHERE indexname = 'credentials_search_key'`); err != nil {
		b.Fatal(err)
	}
	if _, err := e.db.Exec(`DROP INDEX credentials_search_key`); err != nil {
		b.Fatal(err)
	}
	tx, err := e.db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	st, err := tx.Prepare(`COPY credentials (id, group_id, recipient_name, recipient_email, recipient_key, issued_on, attributes, source, search_key) FROM STDIN`)
	if err != nil {
		b.Fatal(err)
	}
	day0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		n, latin := name(i)
		email := "person" + strconv.Itoa(i) + "@example.edu"
		if latin {
			email = strings.ToLower(strings.ReplaceAll(n, " ", ".")) + strconv.Itoa(i) + "@example.edu"
		}
		id := fmt.Sprintf("%032x", i) // hex digits 0-9a-f: 8 and 9 are not in the ID alphabet
		id = strings.NewReplacer("0", "q", "1", "r", "8", "s", "9", "t").Replace(id)
		if _, err := st.Exec(id, g, n, email, email, day0.AddDate(0, 0, i%730), `{"grade":"A"}`, sources[i%len(sources)],
			issuance.SearchKey(n, email)); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := st.Exec(); err != nil {
		b.Fatal(err)
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	if _, err := e.db.Exec(def); err != nil {
		b.Fatal(err)
	}
	if _, err := e.db.Exec(`VACUUM ANALYZE credentials`); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkSearchReviewPage1M searches "Review Unpublished Credentials" of
// a group holding 1,000,000 credentials, and the Credentials tab over them,
// through the real stack (session, CSRF, staff guard, permission check, the
// filtered keyset page of 50, the match count and the group's count,
// template): rare and common names in Latin, Cyrillic and Chinese,
// surnames typed without their accents, parts of emails, no match, with a
// source or date filter, the tab's filters and orders, as an owner and as
// a Team Member limited to the group, and second pages. It reports the
// server time per page: p50 and p95 of all (target: p95 ≤ 50 ms), and p95
// of Latin, Cyrillic and Chinese searches and of the tab's pages.
func BenchmarkSearchReviewPage1M(b *testing.B) {
	const n = 1_000_000
	e := mustEnv(b)
	start := time.Now()
	e.loadCredentials(b, e.group.ID, n)
	b.Logf("loaded %d credentials (COPY, index rebuilt, analysed) in %v", n, time.Since(start).Round(time.Millisecond))
	c := e.signIn("owner@example.edu", auth.Owner)
	tm := e.signIn("member@example.edu", auth.TeamMember, e.group.ID)

	review := "/groups/" + gid(e.group) + "/unpublished?"
	type search struct {
		kind string // latin, cyrillic, cjk, other, tab
		as   *client
		path string
		q    url.Values
	}
	queries := []search{
		{"latin", c, review, url.Values{"q": {"ada.lovelace0@"}}},                                    // one person's email
		{"latin", c, review, url.Values{"q": {"grace hopper"}}},                                      // one name: 50 people
		{"latin", c, review, url.Values{"q": {"Dijkstra"}}},                                          // a surname: 2,500
		{"latin", c, review, url.Values{"q": {"knuth"}}},                                             // a surname: 2,500
		{"latin", c, review, url.Values{"q": {"example.edu"}}},                                       // everyone
		{"latin", c, review, url.Values{"q": {"ada"}}},                                               // a first name and more
		{"latin", c, review, url.Values{"q": {"123456"}}},                                            // digits of an email
		{"latin", c, review, url.Values{"q": {"99999"}}},                                             // digits of an email
		{"latin", c, review, url.Values{"q": {"nobody-by-this-name"}}},                               // no match
		{"latin", c, review, url.Values{"q": {"zofia.wilth"}}},                                       // a name in an email
		{"latin", c, review, url.Values{"q": {"hopper"}, "source": {"api"}}},                         // surname and source
		{"other", c, review, url.Values{"source": {"completion"}}},                                   // a source alone
		{"other", c, review, url.Values{"issued_from": {"2026-06-01"}, "issued_to": {"2026-06-07"}}}, // one week
		{"latin", c, review, url.Values{"q": {"turing"}, "issued_from": {"2025-03-01"}, "issued_to": {"2025-03-31"}}},
		{"latin", c, review, url.Values{"q": {"Wisniewski"}}},  // a surname typed without its accent
		{"latin", c, review, url.Values{"q": {"ni bhriain"}}},  // an Irish surname without accents
		{"cyrillic", c, review, url.Values{"q": {"Соколов"}}},  // a Cyrillic surname: 5,000
		{"cyrillic", c, review, url.Values{"q": {"волков"}}},   // a Cyrillic surname: 5,000
		{"cyrillic", c, review, url.Values{"q": {"Пётр Фёд"}}}, // a name and part of a surname
		{"cjk", c, review, url.Values{"q": {"李娜"}}},            // a two-character Chinese name: ~100
		{"cjk", c, review, url.Values{"q": {"王芳"}}},            // a two-character Chinese name: ~100
		{"cjk", c, review, url.Values{"q": {"娜"}}},             // one Chinese character: ~3,000
		{"tab", c, "/credentials?", url.Values{}},
		{"tab", c, "/credentials?", url.Values{"q": {"Соколов"}, "state": {"unpublished"}}},
		{"tab", c, "/credentials?", url.Values{"q": {"李娜"}, "group": {gid(e.group)}}},
		{"tab", c, "/credentials?", url.Values{"q": {"knuth"}, "sort": {"name"}}},
		{"tab", c, "/credentials?", url.Values{"q": {"hopper"}, "source": {"api"}, "issued_from": {"2025-06-01"}}},
		{"tab", c, "/credentials?", url.Values{"sort": {"name"}}},
		{"tab", c, "/credentials?", url.Values{"sort": {"issued_desc"}, "source": {"csv"}}},
		{"tab", c, "/credentials?", url.Values{"issued_from": {"2026-06-01"}, "issued_to": {"2026-06-07"}, "sort": {"issued"}}},
		{"tab", tm, "/credentials?", url.Values{}},
		{"tab", tm, "/credentials?", url.Values{"q": {"Wisniewski"}}},
	}
	type page struct {
		kind string
		as   *client
		url  string
	}
	var pages []page
	for _, q := range queries {
		u := q.path + q.q.Encode()
		r := q.as.get(u)
		if r.code != 200 {
			b.Fatalf("%s: %d\n%s", u, r.code, r.body)
		}
		pages = append(pages, page{q.kind, q.as, u})
		if m := nextRE.FindStringSubmatch(r.body); m != nil {
			pages = append(pages, page{q.kind, q.as, html.UnescapeString(m[1])})
		}
	}
	if r := c.get(review + url.Values{"q": {"ada.lovelace0@"}}.Encode()); len(names(r.body)) != 1 {
		b.Fatalf("one person's email: %v", names(r.body))
	}
	if r := c.get(review + url.Values{"q": {"李娜"}}.Encode()); len(names(r.body)) == 0 || !strings.Contains(names(r.body)[0], "李娜") {
		b.Fatalf("李娜: %v", names(r.body))
	}
	b.Logf("%d search pages", len(pages))
	if os.Getenv("LAUREL_BENCH_EXPLAIN") != "" {
		var qs []url.Values
		for _, q := range queries {
			if q.path == review {
				qs = append(qs, q.q)
			}
		}
		e.explainSearches(b, qs)
	}

	e.mu.Lock()
	e.record, e.timings = true, nil
	e.mu.Unlock()
	perURL := make([][]time.Duration, len(pages))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		p := pages[i%len(pages)]
		if r := p.as.get(p.url); r.code != 200 {
			b.Fatalf("status %d", r.code)
		}
		e.mu.Lock()
		perURL[i%len(pages)] = append(perURL[i%len(pages)], e.timings[len(e.timings)-1])
		e.mu.Unlock()
	}
	b.StopTimer()
	e.mu.Lock()
	ts := slices.Clone(e.timings)
	e.record = false
	e.mu.Unlock()
	// The slowest searches by their median, to see which one a regression hits.
	type slow struct {
		url string
		p50 time.Duration
	}
	var slowest []slow
	byKind := map[string][]time.Duration{}
	for i, d := range perURL {
		byKind[pages[i].kind] = append(byKind[pages[i].kind], d...)
		if len(d) > 0 {
			slices.Sort(d)
			slowest = append(slowest, slow{pages[i].url, d[len(d)/2]})
		}
	}
	slices.SortFunc(slowest, func(a, b slow) int { return int(b.p50 - a.p50) })
	for _, s := range slowest[:min(3, len(slowest))] {
		b.Logf("p50 %6.1f ms  %s", float64(s.p50.Microseconds())/1000, s.url)
	}
	if f := os.Getenv("LAUREL_BENCH_EXPLAIN"); f != "" {
		var out strings.Builder
		for _, s := range slowest {
			fmt.Fprintf(&out, "p50 %6.1f ms  %s\n", float64(s.p50.Microseconds())/1000, s.url)
		}
		_ = os.WriteFile(f+".urls", []byte(out.String()), 0o644)
	}
	reportPercentiles(b, ts)
	for _, k := range []string{"latin", "cyrillic", "cjk", "tab"} {
		b.ReportMetric(benchcpu.Percentile(byKind[k], 0.95), "p95_ms/"+k)
	}

	// The export of all 1M, as CSV and XLSX: its time, and the most heap the
	// process (server and this client, which discards the body) held while
	// it ran, sampled.
	for _, format := range []string{"csv", "xlsx"} {
		runtime.GC()
		var peak atomic.Uint64
		stop, sampled := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(sampled)
			tick := time.NewTicker(25 * time.Millisecond)
			defer tick.Stop()
			for {
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
				select {
				case <-stop:
					return
				case <-tick.C:
				}
			}
		}()
		start := time.Now()
		size, lines := c.download("/credentials/export?format=" + format)
		took := time.Since(start)
		close(stop)
		<-sampled
		if format == "csv" && lines != n+1 {
			b.Fatalf("csv export: %d lines, want %d", lines, n+1)
		}
		b.Logf("export %s: %d MB in %v, heap at most %d MB", format, size>>20, took.Round(time.Millisecond), peak.Load()>>20)
		b.ReportMetric(took.Seconds(), "export_s/"+format)
		b.ReportMetric(float64(peak.Load()>>20), "export_heap_MB/"+format)
	}
}

// download GETs path and reads the body without keeping it: its size and
// its number of lines.
func (c *client) download(path string) (int64, int) {
	c.e.t.Helper()
	req, _ := http.NewRequest("GET", c.e.srv.URL+path, nil)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := c.hc.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		c.e.t.Fatalf("%s: %d", path, resp.StatusCode)
	}
	var size int64
	lines := 0
	buf := make([]byte, 64<<10)
	for {
		k, err := resp.Body.Read(buf)
		size += int64(k)
		lines += bytes.Count(buf[:k], []byte{'\n'})
		if err == io.EOF {
			return size, lines
		}
		if err != nil {
			c.e.t.Fatal(err)
		}
	}
}

// explainSearches writes the plan and time of each search's list query to
// the file LAUREL_BENCH_EXPLAIN names (and each page's median time to that
// name + ".urls"), to see what the planner chose.
func (e *env) explainSearches(b *testing.B, queries []url.Values) {
	var explained strings.Builder
	for _, q := range queries {
		cond, args := "", []any{e.group.ID}
		if v := q.Get("q"); v != "" {
			args = append(args, "%"+issuance.SearchKey(v, "")[:len(issuance.SearchKey(v, ""))-1]+"%")
			cond += fmt.Sprintf(` AND search_key LIKE $%d`, len(args))
		}
		if v := q.Get("source"); v != "" {
			args = append(args, v)
			cond += fmt.Sprintf(` AND source = $%d`, len(args))
		}
		if v := q.Get("issued_from"); v != "" {
			args = append(args, v)
			cond += fmt.Sprintf(` AND issued_on >= $%d::date`, len(args))
		}
		if v := q.Get("issued_to"); v != "" {
			args = append(args, v)
			cond += fmt.Sprintf(` AND issued_on <= $%d::date`, len(args))
		}
		var plan []string
		err := e.db.Select(&plan, `EXPLAIN (ANALYZE, COSTS OFF) SELECT id FROM credentials WHERE group_id = $1 AND state = 'unpublished'`+cond+
			` AND seq < 9223372036854775807 ORDER BY seq DESC LIMIT 51`, args...)
		if err != nil {
			b.Fatal(err)
		}
		explained.WriteString(q.Encode() + "\n  " + strings.Join(plan, "\n  ") + "\n")
	}
	_ = os.WriteFile(os.Getenv("LAUREL_BENCH_EXPLAIN"), []byte(explained.String()), 0o644)
}
