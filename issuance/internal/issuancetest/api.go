package issuancetest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/api"
	"github.com/laurel-edu/laurel/issuance/imports"
	"github.com/laurel-edu/laurel/issuance/reminders"
)

// APIServer mounts JSON API v1 (issuance/api and the imports routes) with a stand-in for the Bearer middleware: the
// X-Test-As header picks one of these principals.
func APIServer(t testing.TB, s *issuance.Service, principals map[string]*auth.Principal) *httptest.Server {
	t.Helper()
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	g := r.Group("/api/v1", func(c *gin.Context) {
		if p, ok := principals[c.GetHeader("X-Test-As")]; ok {
			c.Set(web.UserKey, p)
		}
	})
	api.Register(g, s, reminders.New(s, nil))
	imports.New(s).RegisterAPI(g)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

// APIClient calls an APIServer.
type APIClient struct {
	T   testing.TB
	URL string
}

// Do sends body (JSON) as principal as and returns the status and JSON body.
func (a APIClient) Do(as, method, path string, body any) (int, map[string]any) {
	a.T.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, a.URL+"/api/v1"+path, rd)
	req.Header.Set("X-Test-As", as)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.T.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(res.Body)
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			a.T.Fatalf("%s %s: body %q is not a JSON object", method, path, raw)
		}
	}
	return res.StatusCode, out
}

// ErrCode is the error code of an API error body.
func ErrCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}
