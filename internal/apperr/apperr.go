// Package apperr is Laurel's one error type: a code that each surface (HTML page,
// JSON API, CLI) maps to a status, and a message that is safe to show a user.
package apperr

import (
	"errors"
	"fmt"
)

// Error codes. Each surface maps them to its own status in exactly one place.
const (
	Invalid      = "invalid"      // the input is wrong; Message says what
	NotFound     = "not_found"    // no such thing (or not visible to the caller)
	Conflict     = "conflict"     // the change clashes with existing state
	Forbidden    = "forbidden"    // the caller may not do this
	Unauthorized = "unauthorized" // the caller is not signed in / token missing
	RateLimited  = "rate_limited" // too many attempts; try later
	Internal     = "internal"     // our fault; the cause is logged, not shown
	// Unavailable (unavailable.go): PostgreSQL or Redis cannot be reached.
)

// Error is an application error with a user-safe message. Fields carries
// per-field (or per-item) problems for forms and batch requests.
type Error struct {
	Code    string
	Message string
	Fields  []FieldError
}

// FieldError names one wrong input: Index is the item in a batch (-1 when the
// request is not a batch), Field the field's name in the request.
type FieldError struct {
	Index   int    `json:"index"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	if len(e.Fields) > 0 {
		return fmt.Sprintf("%s: %s (%d field errors)", e.Code, e.Message, len(e.Fields))
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
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
		return UnavailableMessage
	}
	return "Something went wrong on our side. It has been logged; please try again."
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
