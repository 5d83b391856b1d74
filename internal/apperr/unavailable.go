package apperr

import (
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Unavailable is the code of an error caused by PostgreSQL or Redis being
// unreachable: the request may succeed when they are back, so surfaces
// answer 503 with Retry-After instead of 500.
const Unavailable = "unavailable"

// unavailableMessage is what a user reads during such an outage.
const unavailableMessage = "Laurel is temporarily unavailable: it cannot reach its database or cache. Nothing was changed. Please try again in a minute."

// Classify returns the code a surface answers for err: Code(err), except
// that an uncoded error caused by an unreachable PostgreSQL or Redis is
// Unavailable. It is the one place that tells an outage from a bug.
func Classify(err error) string {
	c := Code(err)
	if c == Internal && IsOutage(err) {
		return Unavailable
	}
	return c
}

// IsOutage reports whether err comes from a connection to PostgreSQL or
// Redis that failed (refused, reset, timed out, closed, bad connection, the
// server shutting down or starting up, pool exhausted), as opposed to a
// query or a program error. Errors of outgoing HTTP calls (a platform, the
// Canvas API) are not outages of Laurel.
func IsOutage(err error) bool {
	if err == nil {
		return false
	}
	var e *Error
	if errors.As(err, &e) && e.Code == Unavailable {
		return true
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return false
	}
	var state interface{ SQLState() string } // lib/pq's *pq.Error
	if errors.As(err, &state) {
		s := state.SQLState()
		// 08: connection exception; 57P01-03: admin/crash shutdown,
		// cannot connect now; 53300: too many connections.
		return strings.HasPrefix(s, "08") || s == "57P01" || s == "57P02" || s == "57P03" || s == "53300"
	}
	var ne *net.OpError
	switch {
	case errors.As(err, &ne),
		errors.Is(err, driver.ErrBadConn),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, redis.ErrPoolTimeout), errors.Is(err, redis.ErrPoolExhausted),
		errors.Is(err, redis.ErrClosed), redis.IsLoadingError(err):
		return true
	}
	return false
}
