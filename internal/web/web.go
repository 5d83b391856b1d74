// Package web is the HTTP plumbing shared by every feature: handlers that return
// errors, the one place that turns an error into a page or a JSON body, the
// template engine, request ids and structured request logs.
package web

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
)

// HandlerFunc is a gin handler that returns its error instead of writing it.
type HandlerFunc func(c *gin.Context) error

// Context keys set by middleware.
const (
	RequestIDKey = "request_id"
	// UserKey holds the signed-in principal (set by the auth middleware); the
	// layout shows its Name.
	UserKey = "principal"
)

// Status maps an error code to its HTTP status: the one place that does (a
// Reason never changes it; see package apperr).
func Status(code string) int {
	switch code {
	case apperr.BadRequest:
		return http.StatusBadRequest
	case apperr.Invalid:
		return http.StatusUnprocessableEntity
	case apperr.NotFound:
		return http.StatusNotFound
	case apperr.Conflict:
		return http.StatusConflict
	case apperr.Forbidden:
		return http.StatusForbidden
	case apperr.Unauthorized:
		return http.StatusUnauthorized
	case apperr.RateLimited:
		return http.StatusTooManyRequests
	case apperr.TooLarge:
		return http.StatusRequestEntityTooLarge
	case apperr.Gone:
		return http.StatusGone
	case apperr.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// retryAfter is the Retry-After (seconds) of a 503 while PostgreSQL or Redis
// is unreachable.
const retryAfter = "10"

// logError logs internal errors with their cause, and outages as warnings;
// user errors are not logged as errors, they are the user's business.
func logError(r *http.Request, route, requestID string, err error) {
	switch apperr.Classify(err) {
	case apperr.Internal:
		slog.ErrorContext(r.Context(), "request failed", "err", err, "path", route, "request_id", requestID)
	case apperr.Unavailable:
		var e *apperr.Error
		if errors.As(err, &e) && e.Code == apperr.Unavailable && e.Err != nil && !apperr.IsOutage(e.Err) {
			// Declared retryable (a webhook that could not store its event)
			// for a cause that is not an outage: ours to fix.
			slog.ErrorContext(r.Context(), "request failed", "err", err, "path", route, "request_id", requestID)
			return
		}
		slog.WarnContext(r.Context(), "request failed: database or cache unreachable", "err", err, "path", route, "request_id", requestID)
	}
}

// Classify starts every error renderer (the HTML page, the JSON API, the LTI
// refusal page, the webhook answer): it logs err — internal errors with
// their cause, outages as warnings — sets Retry-After on an outage and
// returns err's code and HTTP status. route and requestID go to the log.
func Classify(h http.Header, r *http.Request, route, requestID string, err error) (string, int) {
	logError(r, route, requestID, err)
	code := apperr.Classify(err)
	if code == apperr.Unavailable {
		h.Set("Retry-After", retryAfter)
	}
	return code, Status(code)
}

// API adapts a JSON API handler: an error becomes
// {"error":{"code","message"}} (plus "reason" when the error has one, and
// "errors" with per-item problems).
func API(h HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h(c); err != nil {
			WriteJSONError(c, err)
		}
	}
}

// WriteJSONError writes err as the API's error body.
func WriteJSONError(c *gin.Context, err error) {
	code, st := Classify(c.Writer.Header(), c.Request, c.FullPath(), c.GetString(RequestIDKey), err)
	c.AbortWithStatusJSON(st, jsonError(code, err))
}

func jsonError(code string, err error) gin.H {
	e := gin.H{"code": code, "message": apperr.Message(err)}
	if r := apperr.Reason(err); r != "" {
		e["reason"] = r
	}
	body := gin.H{"error": e}
	if fe := apperr.FieldErrors(err); len(fe) > 0 {
		body["errors"] = fe
	}
	return body
}

// Page adapts an HTML handler: an error renders the error page with the
// error's status and user-safe message.
func (r *Renderer) Page(h HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h(c); err != nil {
			r.WriteError(c, err)
		}
	}
}

// WriteError renders err as an HTML error page.
func (r *Renderer) WriteError(c *gin.Context, err error) {
	_, st := Classify(c.Writer.Header(), c.Request, c.FullPath(), c.GetString(RequestIDKey), err)
	data := errorPage{st, http.StatusText(st), apperr.Message(err), pageLink(err)}
	if rerr := r.Render(c, st, "error.html", data); rerr != nil {
		c.String(st, "%s\n", data.Message)
	}
	c.Abort()
}

// errorPage is the data of error.html.
type errorPage struct {
	Status  int
	Title   string
	Message string
	// Link is the error's way forward when it is one of Laurel's own pages
	// (a path), e.g. organisation setup when publishing is refused.
	Link string
}

// pageLink is err's Link when it is a path on this site, else "".
func pageLink(err error) string {
	var e *apperr.Error
	if errors.As(err, &e) && strings.HasPrefix(e.Link, "/") && !strings.HasPrefix(e.Link, "//") {
		return e.Link
	}
	return ""
}

// ServeError writes err for a request outside gin's handlers (session
// loading and saving): JSON under /api/, else the error page, with the
// status, and Retry-After during an outage, that WriteError would give.
func ServeError(w http.ResponseWriter, r *http.Request, err error) {
	code, st := Classify(w.Header(), r, r.URL.Path, w.Header().Get("X-Request-Id"), err)
	w.Header().Set("X-Content-Type-Options", "nosniff") // gin's header middleware may not have run
	if isAPI(r) {
		b, _ := json.Marshal(jsonError(code, err))
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(st)
		_, _ = w.Write(append(b, '\n'))
		return
	}
	var buf bytes.Buffer
	data := errorPage{st, http.StatusText(st), apperr.Message(err), pageLink(err)}
	if xerr := sharedErrorPage.ExecuteTemplate(&buf, "layout.html", view{Page: data, Path: r.URL.Path}); xerr != nil {
		buf.Reset()
		buf.WriteString(data.Message + "\n")
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(st)
	_, _ = w.Write(buf.Bytes())
}

// RequestID gives each request an id (or keeps a sane incoming X-Request-Id)
// for logs and error pages.
func RequestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader("X-Request-Id")
		if len(id) == 0 || len(id) > 64 {
			b := make([]byte, 8)
			rand.Read(b)
			id = hex.EncodeToString(b)
		}
		c.Set(RequestIDKey, id)
		c.Header("X-Request-Id", id)
		c.Next()
	}
}

// Logger logs one structured line per request. It never logs query strings
// or bodies, which may carry tokens.
func Logger(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		status := c.Writer.Status()
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		attrs := append([]slog.Attr{
			slog.String("method", c.Request.Method),
			slog.String("path", c.Request.URL.Path),
			slog.Int("status", status),
			slog.Duration("took", time.Since(start)),
			slog.String("request_id", c.GetString(RequestIDKey)),
		}, requestAttrs(c)...)
		log.LogAttrs(c.Request.Context(), level, "http", attrs...)
	}
}

// logAttrsKey holds the attributes handlers add to their request's log line.
const logAttrsKey = "web.log_attrs"

// LogAttrs adds attributes to the request's one log line (Logger's): what a
// handler would log on its own, without a second line.
func LogAttrs(c *gin.Context, attrs ...slog.Attr) {
	c.Set(logAttrsKey, append(requestAttrs(c), attrs...))
}

func requestAttrs(c *gin.Context) []slog.Attr {
	a, _ := c.Get(logAttrsKey)
	attrs, _ := a.([]slog.Attr)
	return attrs
}

// Recovery turns a panic into a logged 500 page or JSON error, so no stack
// trace reaches a user.
func Recovery(r *Renderer) gin.HandlerFunc {
	return gin.CustomRecovery(func(c *gin.Context, rec any) {
		slog.ErrorContext(c.Request.Context(), "panic", "panic", rec, "path", c.Request.URL.Path, "request_id", c.GetString(RequestIDKey))
		err := apperr.Errorf(apperr.Internal, "panic")
		if isAPI(c.Request) {
			WriteJSONError(c, err)
			return
		}
		r.WriteError(c, err)
	})
}
