package lti_test

import (
	"database/sql/driver"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/lti"
)

// TestWriteRefusal is the LTI refusal page's renderer over a table of
// errors: the status comes from the code (web.Status), data-reason is the
// Reason or else the code, the message is user-safe, an outage adds
// Retry-After, a Link becomes the new-window button, and the page may be
// framed by the registered platform.
func TestWriteRefusal(t *testing.T) {
	e := newEnv(t)
	rd, err := web.NewRenderer(nil, lti.Templates)
	if err != nil {
		t.Fatal(err)
	}
	refused := &apperr.Error{Code: apperr.BadRequest, Reason: lti.ReasonStateNotBound, Message: "Your browser did not keep the login cookie.", Link: "https://laurel.test/lti/login?again=1"}
	for _, tc := range []struct {
		name       string
		err        error
		status     int
		reason     string
		message    string
		retryAfter bool
		link       bool
		hidden     string
	}{
		{"bad request", apperr.Refusef(apperr.BadRequest, lti.ReasonStateMissing, "The launch carries no state."), 400, lti.ReasonStateMissing, "The launch carries no state.", false, false, ""},
		{"unauthorized, wrapped", fmt.Errorf("launch: %w", apperr.Refusef(apperr.Unauthorized, lti.ReasonAudience, "The audience is wrong.")), 401, lti.ReasonAudience, "The audience is wrong.", false, false, ""},
		{"forbidden", apperr.Refusef(apperr.Forbidden, lti.ReasonPlatformDisabled, "The platform is disabled."), 403, lti.ReasonPlatformDisabled, "The platform is disabled.", false, false, ""},
		{"with a new-window link", refused, 400, lti.ReasonStateNotBound, "Your browser did not keep the login cookie.", false, true, ""},
		{"a coded error without a reason", apperr.Errorf(apperr.NotFound, "No such launch."), 404, "not_found", "No such launch.", false, false, ""},
		{"internal", fmt.Errorf("record user: pq: secret_column_z"), 500, "internal", "Something went wrong on our side", false, false, "secret_column_z"},
		{"outage", fmt.Errorf("consume state: %w", driver.ErrBadConn), 503, "unavailable", "temporarily unavailable", true, false, "bad connection"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := gin.New()
			r.POST("/lti/launch", func(c *gin.Context) { e.tool.WriteRefusal(c, rd, tc.err) })
			w := httptest.NewRecorder()
			r.ServeHTTP(w, httptest.NewRequest("POST", "/lti/launch", nil))
			body := w.Body.String()
			if w.Code != tc.status {
				t.Errorf("status %d, want %d: %s", w.Code, tc.status, body)
			}
			if d := dataAttrs(body); d["reason"] != tc.reason {
				t.Errorf("data-reason %q, want %q", d["reason"], tc.reason)
			}
			if !strings.Contains(htmlUnescape(body), tc.message) || !strings.Contains(body, fmt.Sprintf("(HTTP %d)", tc.status)) {
				t.Errorf("page lacks %q or its status: %s", tc.message, body)
			}
			if got := w.Header().Get("Retry-After") != ""; got != tc.retryAfter {
				t.Errorf("Retry-After %q, want set: %v", w.Header().Get("Retry-After"), tc.retryAfter)
			}
			if got := strings.Contains(body, `id="lti-new-window"`); got != tc.link {
				t.Errorf("new-window button shown: %v, want %v", got, tc.link)
			}
			if tc.hidden != "" && strings.Contains(body, tc.hidden) {
				t.Errorf("page shows the cause %q", tc.hidden)
			}
			if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, web.Origin(e.platform.Issuer)) {
				t.Errorf("CSP %q does not let the platform %s frame the page", csp, e.platform.Issuer)
			}
		})
	}
}
