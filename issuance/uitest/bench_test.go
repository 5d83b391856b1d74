package uitest

import (
	"fmt"
	"html"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
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
// a group holding 1,000,000 credentials, through the real stack (session,
// CSRF, staff guard, permission check, the filtered keyset page of 50, the
// match count and the group's count, template): rare and common names,
// surnames, parts of emails, no match, with a source or date filter, and
// second pages. It reports the server time per page: p50 and p95 (target:
// p95 ≤ 50 ms).
func BenchmarkSearchReviewPage1M(b *testing.B) {
	const n = 1_000_000
	e := mustEnv(b)
	start := time.Now()
	e.loadCredentials(b, e.group.ID, n)
	b.Logf("loaded %d credentials (COPY, index rebuilt, analysed) in %v", n, time.Since(start).Round(time.Millisecond))
	c := e.signIn("owner@example.edu", auth.Owner)

	base := "/groups/" + gid(e.group) + "/unpublished?"
	queries := []url.Values{
		{"q": {"ada.lovelace0@"}},            // one person's email
		{"q": {"grace hopper"}},              // one name: 50 people
		{"q": {"Dijkstra"}},                  // a surname: 2,500
		{"q": {"knuth"}},                     // a surname: 2,500
		{"q": {"example.edu"}},               // everyone
		{"q": {"ada"}},                       // a first name and more
		{"q": {"123456"}},                    // digits of an email
		{"q": {"99999"}},                     // digits of an email
		{"q": {"nobody-by-this-name"}},       // no match
		{"q": {"zofia.wilth"}},               // a name in an email
		{"q": {"hopper"}, "source": {"api"}}, // surname and source
		{"source": {"completion"}},           // a source alone
		{"issued_from": {"2026-06-01"}, "issued_to": {"2026-06-07"}}, // one week
		{"q": {"turing"}, "issued_from": {"2025-03-01"}, "issued_to": {"2025-03-31"}},
		{"q": {"Соколов"}},    // a Cyrillic surname: 5,000
		{"q": {"Волков"}},     // a Cyrillic surname: 5,000
		{"q": {"李娜"}},         // a two-character Chinese name: ~100
		{"q": {"娜"}},          // one Chinese character: ~3,000
		{"q": {"Wisniewski"}}, // a surname typed without its accent
		{"q": {"ni bhriain"}}, // an Irish surname without accents
	}
	urls := make([]string, 0, 2*len(queries))
	for _, q := range queries {
		u := base + q.Encode()
		r := c.get(u)
		if r.code != 200 {
			b.Fatalf("%s: %d\n%s", u, r.code, r.body)
		}
		urls = append(urls, u)
		if m := nextRE.FindStringSubmatch(r.body); m != nil {
			urls = append(urls, html.UnescapeString(m[1]))
		}
	}
	if r := c.get(base + url.Values{"q": {"ada.lovelace0@"}}.Encode()); len(names(r.body)) != 1 {
		b.Fatalf("one person's email: %v", names(r.body))
	}
	b.Logf("%d search pages", len(urls))
	if os.Getenv("LAUREL_BENCH_EXPLAIN") != "" {
		e.explainSearches(b, queries)
	}

	e.mu.Lock()
	e.record, e.timings = true, nil
	e.mu.Unlock()
	perURL := make([][]time.Duration, len(urls))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if r := c.get(urls[i%len(urls)]); r.code != 200 {
			b.Fatalf("status %d", r.code)
		}
		e.mu.Lock()
		perURL[i%len(urls)] = append(perURL[i%len(urls)], e.timings[len(e.timings)-1])
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
	for i, d := range perURL {
		if len(d) > 0 {
			slices.Sort(d)
			slowest = append(slowest, slow{urls[i], d[len(d)/2]})
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
