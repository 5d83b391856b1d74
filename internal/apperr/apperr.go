// Package apperr is Laurel's one error type: a code that each surface (HTML page,
// JSON API, LTI refusal page, webhook answer, CLI) maps to a status, and a
// message that is safe to show a user.
//
// The code alone decides the HTTP status, in exactly one place (web.Status):
// bad_request 400, unauthorized 401, forbidden 403, not_found 404,
// conflict 409, gone 410, too_large 413, invalid 422, rate_limited 429, internal 500,
// unavailable 503 (with Retry-After). A Reason is extra, machine-readable
// detail inside a code — which LTI check refused a launch ("nonce_replayed",
// "aud"), why a webhook delivery was refused ("bad_signature") — for logs,
// metrics, tests and the data-reason of the refusal page; it never changes
// the status. A refusal that needs another status picks another code: a
// launch whose token does not parse is bad_request/"malformed_jwt", one with
// a wrong audience unauthorized/"aud", one from a disabled platform
// forbidden/"platform_disabled".
//
// Every surface has one renderer: web.WriteError (HTML page; web.ServeError
// outside gin), web.WriteJSONError ({"error":{"code","message"[,"reason"]}}
// plus "errors" with Fields), lti's Tool.WriteRefusal (the refused-launch
// page, data-reason = Reason, else the code) and canvas's webhook answer
// (the JSON body, counted per Reason; an error without a Reason there means
// the event was not stored: 503 so Canvas retries). Each goes through
// web.Classify, which logs internal errors with their cause, tells an outage
// (Classify here) and sets Retry-After on 503. Err carries a cause for the
// log only; Link a way forward the page may offer.
package apperr

import (
	"errors"
	"fmt"
)

// Error codes. Each surface maps them to its own status in exactly one place.
const (
	BadRequest   = "bad_request"  // the request cannot be read: malformed body or token, wrong type, missing parameter
	Invalid      = "invalid"      // the input is wrong; Message says what
	NotFound     = "not_found"    // no such thing (or not visible to the caller)
	Conflict     = "conflict"     // the change clashes with existing state
	Forbidden    = "forbidden"    // the caller may not do this
	Unauthorized = "unauthorized" // the caller is not signed in / token missing
	RateLimited  = "rate_limited" // too many attempts; try later
	TooLarge     = "too_large"    // the body or upload exceeds its limit
	Gone         = "gone"         // it existed and is withdrawn (a revoked credential's download)
	Internal     = "internal"     // our fault; the cause is logged, not shown
	// Unavailable (unavailable.go): PostgreSQL or Redis cannot be reached.
)

// Error is an application error with a user-safe message. Reason, when set,
// is a stable machine-readable detail within Code (see the package doc).
// Fields carries per-field (or per-item) problems for forms and batch
// requests.
type Error struct {
	Code    string
	Reason  string
	Message string
	Fields  []FieldError
	// Link, when set, is a URL offered to the user as the way forward (a
	// refused LTI launch offers to re-run the login in a new window).
	Link string
	// Err, when set, is the cause: logged, never shown.
	Err error
}

// FieldError names one wrong input: Index is the item in a batch (-1 when the
// request is not a batch), Field the field's name in the request.
type FieldError struct {
	Index   int    `json:"index"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	s := e.Code
	if e.Reason != "" {
		s += " " + e.Reason
	}
	s += ": " + e.Message
	if len(e.Fields) > 0 {
		s += fmt.Sprintf(" (%d field errors)", len(e.Fields))
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Refusef returns an *Error with the given code, reason and formatted message.
func Refusef(code, reason, format string, args ...any) *Error {
	return &Error{Code: code, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// Fields returns an Invalid error carrying per-field problems.
func Fields(message string, fields []FieldError) *Error {
	return &Error{Code: Invalid, Message: message, Fields: fields}
}

// Code returns the code of the first *Error in err's chain, Internal for any
// other non-nil error, and "" for nil.
func Code(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// Message returns the user-safe message of err: the *Error's message, or a
// generic one for internal errors so no cause leaks to a user.
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != Internal {
		return e.Message
	}
	if IsOutage(err) {
		return unavailableMessage
	}
	return "Something went wrong on our side. It has been logged; please try again."
}

// Reason returns the reason of the first *Error in err's chain, or "".
func Reason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// FieldErrors returns the per-field problems carried by err, if any.
func FieldErrors(err error) []FieldError {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

// Is reports whether err carries the given code.
func Is(err error, code string) bool { return err != nil && Code(err) == code }
