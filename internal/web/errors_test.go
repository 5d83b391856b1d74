package web_test

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/google/go-cmp/cmp"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/web"
)

// TestStatus: every declared code has its status, an unknown code is a 500,
// and a Reason never changes the status (it is detail within the code).
func TestStatus(t *testing.T) {
	for _, tt := range []struct {
		code string
		want int
	}{
		{apperr.BadRequest, 400},
		{apperr.Unauthorized, 401},
		{apperr.Forbidden, 403},
		{apperr.NotFound, 404},
		{apperr.Conflict, 409},
		{apperr.TooLarge, 413},
		{apperr.Invalid, 422},
		{apperr.RateLimited, 429},
		{apperr.Internal, 500},
		{apperr.Unavailable, 503},
		{"no_such_code", 500},
		{"", 500},
	} {
		if got := web.Status(tt.code); got != tt.want {
			t.Errorf("Status(%q) = %d, want %d", tt.code, got, tt.want)
		}
		err := apperr.Refusef(tt.code, "some_reason", "refused")
		code, st := web.Classify(http.Header{}, httptest.NewRequest("GET", "/", nil), "/", "", err)
		if tt.code != "" && (code != tt.code || st != tt.want) {
			t.Errorf("Classify(%v) = %q %d, want %q %d", err, code, st, tt.code, tt.want)
		}
	}
}

// errorCase is one error and what every renderer must make of it.
type errorCase struct {
	name       string
	err        error
	status     int
	code       string
	reason     string // "" when the body carries none
	message    string // contained in the page and equal to the JSON message
	fields     []apperr.FieldError
	retryAfter bool
	hidden     string // must appear in no body (a cause)
}

var errorCases = []errorCase{
	{name: "bad request", err: apperr.Errorf(apperr.BadRequest, "The body is not valid JSON (at byte 3)."),
		status: 400, code: "bad_request", message: "The body is not valid JSON (at byte 3)."},
	{name: "refusal with a reason", err: fmt.Errorf("launch: %w", apperr.Refusef(apperr.Unauthorized, "nonce_replayed", "The nonce was used before.")),
		status: 401, code: "unauthorized", reason: "nonce_replayed", message: "The nonce was used before."},
	{name: "forbidden", err: apperr.Refusef(apperr.Forbidden, "platform_disabled", "The platform is disabled."),
		status: 403, code: "forbidden", reason: "platform_disabled", message: "The platform is disabled."},
	{name: "not found", err: apperr.Errorf(apperr.NotFound, "No such group."),
		status: 404, code: "not_found", message: "No such group."},
	{name: "too large", err: apperr.Refusef(apperr.TooLarge, "too_large", "The upload is larger than 10 MB."),
		status: 413, code: "too_large", reason: "too_large", message: "The upload is larger than 10 MB."},
	{name: "invalid with fields", err: apperr.Fields("Recipient email is not an email address.", []apperr.FieldError{{Index: 0, Field: "recipient.email", Message: "not an email address"}}),
		status: 422, code: "invalid", message: "Recipient email is not an email address.", fields: []apperr.FieldError{{Index: 0, Field: "recipient.email", Message: "not an email address"}}},
	{name: "internal: the cause is not shown", err: fmt.Errorf("query groups: pq: relation secret_table_x does not exist"),
		status: 500, code: "internal", message: "Something went wrong on our side", hidden: "secret_table_x"},
	{name: "internal code with a cause", err: &apperr.Error{Code: apperr.Internal, Message: "secret-internal-detail", Err: fmt.Errorf("boom")},
		status: 500, code: "internal", message: "Something went wrong on our side", hidden: "secret-internal-detail"},
	{name: "outage of PostgreSQL", err: fmt.Errorf("list groups: %w", driver.ErrBadConn),
		status: 503, code: "unavailable", message: "temporarily unavailable", retryAfter: true, hidden: "bad connection"},
	{name: "declared unavailable with a cause", err: &apperr.Error{Code: apperr.Unavailable, Message: "The event could not be stored; please retry.", Err: fmt.Errorf("secret-cause-y")},
		status: 503, code: "unavailable", message: "The event could not be stored; please retry.", retryAfter: true, hidden: "secret-cause-y"},
}

// TestErrorRenderers sends every error through each renderer of the HTML and
// JSON surfaces (the Page and API adapters, and ServeError outside gin for a
// page and an /api/ path): the same status and Retry-After from the one
// mapping, the user-safe message, the code and reason in JSON, the reason
// never in a page, and no cause anywhere.
func TestErrorRenderers(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	rd, err := web.NewRenderer(nil)
	if err != nil {
		t.Fatal(err)
	}
	surfaces := []struct {
		name string
		json bool
		run  func(err error) *httptest.ResponseRecorder
	}{
		{"HTML page", false, func(err error) *httptest.ResponseRecorder {
			r := gin.New()
			r.Use(web.RequestID())
			r.GET("/groups", rd.Page(func(*gin.Context) error { return err }))
			w := httptest.NewRecorder()
			r.ServeHTTP(w, httptest.NewRequest("GET", "/groups", nil))
			return w
		}},
		{"JSON API", true, func(err error) *httptest.ResponseRecorder {
			r := gin.New()
			r.Use(web.RequestID())
			r.GET("/api/v1/groups", web.API(func(*gin.Context) error { return err }))
			w := httptest.NewRecorder()
			r.ServeHTTP(w, httptest.NewRequest("GET", "/api/v1/groups", nil))
			return w
		}},
		{"ServeError page", false, func(err error) *httptest.ResponseRecorder {
			w := httptest.NewRecorder()
			web.ServeError(w, httptest.NewRequest("POST", "/groups", nil), err)
			return w
		}},
		{"ServeError API", true, func(err error) *httptest.ResponseRecorder {
			w := httptest.NewRecorder()
			web.ServeError(w, httptest.NewRequest("GET", "/api/v1/groups", nil), err)
			return w
		}},
	}
	for _, tc := range errorCases {
		for _, s := range surfaces {
			t.Run(tc.name+"/"+s.name, func(t *testing.T) {
				w := s.run(tc.err)
				body := w.Body.String()
				if w.Code != tc.status {
					t.Errorf("status %d, want %d: %s", w.Code, tc.status, body)
				}
				if got := w.Header().Get("Retry-After") != ""; got != tc.retryAfter {
					t.Errorf("Retry-After %q, want set: %v", w.Header().Get("Retry-After"), tc.retryAfter)
				}
				if tc.hidden != "" && strings.Contains(body, tc.hidden) {
					t.Errorf("body shows the cause %q: %s", tc.hidden, body)
				}
				ct := w.Header().Get("Content-Type")
				if !s.json {
					if !strings.HasPrefix(ct, "text/html") || !strings.Contains(body, "<html") || !strings.Contains(body, tc.message) {
						t.Errorf("%s page %q, want the error page with %q", ct, body, tc.message)
					}
					if tc.reason != "" && strings.Contains(body, tc.reason) {
						t.Errorf("the staff page shows the reason %q", tc.reason)
					}
					return
				}
				var got struct {
					Error struct {
						Code, Message string
						Reason        *string
					} `json:"error"`
					Errors []apperr.FieldError `json:"errors"`
				}
				if !strings.HasPrefix(ct, "application/json") {
					t.Errorf("Content-Type %q", ct)
				}
				if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
					t.Fatalf("body %q: %v", body, err)
				}
				if got.Error.Code != tc.code || !strings.Contains(got.Error.Message, tc.message) {
					t.Errorf("error %+v, want code %q message %q", got.Error, tc.code, tc.message)
				}
				if (got.Error.Reason == nil) != (tc.reason == "") || (got.Error.Reason != nil && *got.Error.Reason != tc.reason) {
					t.Errorf("reason %v, want %q", got.Error.Reason, tc.reason)
				}
				if diff := cmp.Diff(tc.fields, got.Errors); diff != "" {
					t.Errorf("errors (-want +got):\n%s", diff)
				}
			})
		}
	}
}
