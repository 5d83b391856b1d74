package insight_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/testenv"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/insight"
	"github.com/laurel-edu/laurel/issuance/internal/issuancetest"
	"github.com/laurel-edu/laurel/issuance/public"
	"github.com/laurel-edu/laurel/issuance/reminders"
	"github.com/laurel-edu/laurel/issuance/signing"
)

// browser is a real browser's user agent: what a person's visit carries.
const browser = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

// fixture is Laurel's public pages with counting on, and the staff
// dashboard, over a real PostgreSQL and Redis, with two groups of
// published credentials.
type fixture struct {
	t      testing.TB
	core   *issuance.Service
	db     *sqlx.DB
	rdb    *redis.Client
	ins    *insight.Service
	srv    *httptest.Server
	g1, g2 issuance.Group
	c1, c2 issuance.Credential // published, in g1 and g2
	unpub  issuance.Credential // unpublished, in g1
	// principals the dashboard's stand-in sign-in picks by X-Test-As.
	principals map[string]*auth.Principal
}

func mustFixture(t testing.TB) *fixture {
	t.Helper()
	s, d := issuancetest.MustService(t)
	ctx := context.Background()
	if _, err := s.DefaultDesign(ctx); err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, core: s, db: d, rdb: testenv.Redis(t)}
	f.ins = insight.New(d, f.rdb, s)
	f.ins.Log = issuancetest.Quiet
	f.g1 = issuancetest.MustGroup(t, s, func(g *issuance.Group) { g.Name = "Data Science Foundations" })
	f.g2 = issuancetest.MustGroup(t, s, func(g *issuance.Group) { g.Name = "Ethics in AI" })
	f.c1 = issuancetest.MustCreate(t, s, f.g1.ID, issuancetest.Item("Ada Lovelace", "ada@example.edu"))[0]
	f.unpub = issuancetest.MustCreate(t, s, f.g1.ID, issuancetest.Item("Una Published", "una@example.edu"))[0]
	f.c2 = issuancetest.MustCreate(t, s, f.g2.ID, issuancetest.Item("Grace Hopper", "grace@example.edu"))[0]
	if _, err := s.Publish(ctx, issuancetest.Actor, issuance.Selection{IDs: []string{f.c1.ID, f.c2.ID}}); err != nil {
		t.Fatal(err)
	}
	f.principals = map[string]*auth.Principal{
		"owner":  {UserID: 1, Name: "Olive Owner", Email: "owner@laurel.test", Role: auth.Owner},
		"member": {UserID: 2, Name: "Tess Member", Email: "tess@laurel.test", Role: auth.TeamMember, Groups: []int64{f.g2.ID}},
	}
	pub := public.New(s, reminders.New(s, nil), signing.New(s, issuancetest.MustKeys(t)))
	pub.Counter = f.ins
	rd, err := web.NewRenderer(nil, public.Templates, insight.Templates)
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(func(c *gin.Context) {
		if p, ok := f.principals[c.GetHeader("X-Test-As")]; ok {
			c.Set(web.UserKey, p)
		}
	})
	pub.Register(r, rd)
	f.ins.Register(r.Group("/", auth.RequireStaff(rd)), rd)
	f.srv = httptest.NewServer(web.HeadAsGet(r))
	t.Cleanup(f.srv.Close)
	return f
}

// client follows no redirect: the tests look at where each one points.
var client = &http.Client{Timeout: 10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// do sends method path with headers (User-Agent among them) and returns
// the response with its body read.
func (f *fixture) do(method, path string, headers map[string]string) (*http.Response, string) {
	f.t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if _, ok := headers["User-Agent"]; !ok {
		req.Header.Set("User-Agent", "")
	}
	res, err := client.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// get is a person's GET of path.
func (f *fixture) get(path string) (*http.Response, string) {
	f.t.Helper()
	return f.do(http.MethodGet, path, map[string]string{"User-Agent": browser})
}

// flush moves the counts from memory to Redis to PostgreSQL, as the
// serving process and the scheduled job do.
func (f *fixture) flush() {
	f.t.Helper()
	ctx := context.Background()
	if err := f.ins.MovePending(ctx); err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.ins.Flush(ctx); err != nil {
		f.t.Fatal(err)
	}
}

// total is credential id's all-time count of kind, from PostgreSQL.
func (f *fixture) total(id string, k insight.Kind) int64 {
	f.t.Helper()
	var n int64
	if err := f.db.Get(&n, `SELECT coalesce(sum(n), 0) FROM insight_totals WHERE credential_id = $1 AND kind = $2`, id, string(k)); err != nil {
		f.t.Fatal(err)
	}
	return n
}

// daily is group g's count of kind on day, from PostgreSQL.
func (f *fixture) daily(g int64, day time.Time, k insight.Kind) int64 {
	f.t.Helper()
	var n int64
	if err := f.db.Get(&n, `SELECT coalesce(sum(n), 0) FROM insight_daily WHERE group_id = $1 AND day = $2 AND kind = $3`,
		g, day.Format(time.DateOnly), string(k)); err != nil {
		f.t.Fatal(err)
	}
	return n
}

// today is the organisation's current date.
func (f *fixture) today() time.Time {
	return f.core.Locale(context.Background()).Today(time.Now())
}
