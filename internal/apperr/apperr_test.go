package apperr_test

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/laurel-edu/laurel/internal/apperr"
)

// TestAccessors: code, reason and user-safe message of errors as they are
// wrapped on their way to a renderer; a cause is in Error() (the log) and
// never in Message (the user).
func TestAccessors(t *testing.T) {
	cause := errors.New("pq: secret cause")
	for _, tt := range []struct {
		name                   string
		err                    error
		code, reason, message  string
		classified, errContain string
	}{
		{"nil", nil, "", "", "", "", ""},
		{"plain error", cause, apperr.Internal, "", "Something went wrong", apperr.Internal, "secret cause"},
		{"coded", apperr.Errorf(apperr.NotFound, "No such group."), apperr.NotFound, "", "No such group.", apperr.NotFound, "not_found: No such group."},
		{"refusal, wrapped", fmt.Errorf("launch: %w", apperr.Refusef(apperr.Unauthorized, "aud", "Wrong audience.")), apperr.Unauthorized, "aud", "Wrong audience.", apperr.Unauthorized, "unauthorized aud: Wrong audience."},
		{"bad request", apperr.Errorf(apperr.BadRequest, "Not JSON."), apperr.BadRequest, "", "Not JSON.", apperr.BadRequest, "bad_request"},
		{"outage", fmt.Errorf("list: %w", driver.ErrBadConn), apperr.Internal, "", "temporarily unavailable", apperr.Unavailable, "bad connection"},
		{"with a cause", &apperr.Error{Code: apperr.Unavailable, Message: "Please retry.", Err: cause}, apperr.Unavailable, "", "Please retry.", apperr.Unavailable, "secret cause"},
		{"internal with a cause", &apperr.Error{Code: apperr.Internal, Message: "detail", Err: cause}, apperr.Internal, "", "Something went wrong", apperr.Internal, "secret cause"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := apperr.Code(tt.err); got != tt.code {
				t.Errorf("Code = %q, want %q", got, tt.code)
			}
			if got := apperr.Reason(tt.err); got != tt.reason {
				t.Errorf("Reason = %q, want %q", got, tt.reason)
			}
			if got := apperr.Classify(tt.err); got != tt.classified {
				t.Errorf("Classify = %q, want %q", got, tt.classified)
			}
			if tt.err == nil {
				return
			}
			if got := apperr.Message(tt.err); !strings.Contains(got, tt.message) || strings.Contains(got, "secret") {
				t.Errorf("Message = %q, want %q and no cause", got, tt.message)
			}
			if got := tt.err.Error(); !strings.Contains(got, tt.errContain) {
				t.Errorf("Error() = %q, want it to contain %q", got, tt.errContain)
			}
		})
	}
	if !errors.Is(&apperr.Error{Code: apperr.Unavailable, Err: driver.ErrBadConn}, driver.ErrBadConn) {
		t.Error("the cause is not unwrapped")
	}
}
