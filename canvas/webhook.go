package canvas

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/web"
)

// maxEventBytes bounds a Live Event body; real ones are a few kilobytes.
const maxEventBytes = 256 << 10

// secretHeader carries a platform's shared secret on an unsigned delivery
// (Authorization: Bearer <secret> works too).
const secretHeader = "X-Laurel-Webhook-Secret"

// RegisterWebhook mounts POST /webhooks/canvas on r (the root router: the
// webhook is cross-site by design and protected by its own checks, so it must
// sit outside session and CSRF middleware).
func (s *Service) RegisterWebhook(r gin.IRouter) {
	r.POST("/webhooks/canvas", s.handleWebhook)
}

// handleWebhook accepts one Live Event: a signed JWT (verified against the
// Live Events JWKS), or unsigned JSON carrying the platform's shared secret.
// A valid event is stored in the inbox and answered 200 at once; the worker
// creates the credential. A refusal answers 400/401 with the reason.
func (s *Service) handleWebhook(c *gin.Context) {
	ctx := c.Request.Context()
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, maxEventBytes+1))
	if err != nil {
		s.answerError(c, refuse("unreadable", "request body could not be read"))
		return
	}
	if len(body) > maxEventBytes {
		s.answerError(c, refuse("too_large", "body exceeds %d bytes", maxEventBytes))
		return
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		s.answerError(c, refuse("empty", "request body is empty"))
		return
	}

	body = unwrapToken(body)
	var ev *Event
	var platformID int64
	signed := body[0] != '{'
	if signed {
		ev, err = s.verifySigned(ctx, body)
	} else {
		ev, platformID, err = s.verifyUnsigned(ctx, c, body)
	}
	if err != nil {
		s.answerError(c, err)
		return
	}

	stored, err := s.storeEvent(ctx, ev, signed, platformID)
	if err != nil {
		s.answerError(c, err)
		return
	}
	outcome := "accepted"
	switch {
	case ev.Name != courseCompleted:
		outcome = "ignored"
	case !stored:
		outcome = "duplicate"
	default:
		s.wake()
	}
	s.metrics.webhook.WithLabelValues(outcome).Inc()
	c.JSON(http.StatusOK, gin.H{"status": outcome})
}

// answerError is the webhook's one error answer. A refusal (an error with a
// Reason, from refuse) is counted under its reason and answered with its
// code's status and {"error":{"code","reason","message"}} (the JSON API's
// error body, written by its renderer). Anything else is
// our side failing (JWKS or database unreachable, a bug): the event was not
// stored, so it is logged with its cause and answered 503 with Retry-After,
// and Canvas retries.
func (s *Service) answerError(c *gin.Context, err error) {
	reason := apperr.Reason(err)
	if reason == "" {
		s.metrics.webhook.WithLabelValues("error").Inc()
		err = &apperr.Error{Code: apperr.Unavailable, Message: "The event could not be stored; please retry.", Err: err}
	} else {
		s.metrics.webhook.WithLabelValues("refused").Inc()
		s.metrics.refused.WithLabelValues(reason).Inc()
		slog.WarnContext(c.Request.Context(), "live event refused", "reason", reason, "detail", apperr.Message(err),
			"remote", c.ClientIP(), "request_id", c.GetString(web.RequestIDKey))
	}
	web.WriteJSONError(c, err)
}

func (s *Service) verifySigned(ctx context.Context, token []byte) (*Event, error) {
	if s.jwks == nil {
		return nil, refuse("bad_signature", "signed events cannot be verified: LAUREL_LIVE_EVENTS_JWKS_URL is not set")
	}
	claims, payload, err := s.jwks.verifyJWT(ctx, token, s.now())
	if err != nil {
		return nil, err
	}
	return parseEvent(claims, payload)
}

// verifyUnsigned accepts raw JSON only with the shared secret of the platform
// the event's hostname names, compared in constant time.
func (s *Service) verifyUnsigned(ctx context.Context, c *gin.Context, body []byte) (*Event, int64, error) {
	var v any
	if err := decode(body, &v); err != nil {
		return nil, 0, refuse("malformed_json", "body is not valid JSON")
	}
	given := c.GetHeader(secretHeader)
	if given == "" {
		if a := c.GetHeader("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
			given = strings.TrimSpace(a[7:])
		}
	}
	ev, err := parseEvent(v, body)
	if err != nil {
		if given == "" {
			// Do not reveal validation details to an unauthenticated sender.
			return nil, 0, refuse("missing_secret", "unsigned events need the platform's shared secret (%s header or Authorization: Bearer)", secretHeader)
		}
		return nil, 0, err
	}
	if given == "" {
		return nil, 0, refuse("missing_secret", "unsigned events need the platform's shared secret (%s header or Authorization: Bearer)", secretHeader)
	}
	list, err := s.platformList(ctx)
	if err != nil {
		return nil, 0, err
	}
	p, ok, err := platformForEvent(ctx, s.db, list, ev.Hostname, ev.RootAccountGUID)
	if err != nil {
		return nil, 0, err
	}
	if !ok {
		return nil, 0, refuse("unsigned_no_secret", "no platform matches hostname %q, so no shared secret applies", ev.Hostname)
	}
	want, err := s.webhookSecret(ctx, p.ID)
	if err != nil {
		return nil, 0, err
	}
	if want == "" {
		return nil, 0, refuse("unsigned_no_secret", "platform %d has no webhook shared secret configured: send signed events, or configure one", p.ID)
	}
	if subtle.ConstantTimeCompare([]byte(given), []byte(want)) != 1 {
		return nil, 0, refuse("bad_secret", "the shared secret does not match platform %d's", p.ID)
	}
	return ev, p.ID, nil
}

// unwrapToken accepts the JWT also as a JSON string or under a "jwt",
// "token" or "signed_payload" member, since the exact delivery format of
// signed Live Events is not documented; anything else is returned as is.
func unwrapToken(body []byte) []byte {
	switch body[0] {
	case '"':
		var tok string
		if json.Unmarshal(body, &tok) == nil && tok != "" {
			return []byte(strings.TrimSpace(tok))
		}
	case '{':
		var wrapper map[string]json.RawMessage
		if json.Unmarshal(body, &wrapper) != nil || wrapper["metadata"] != nil {
			return body
		}
		for _, k := range []string{"jwt", "token", "signed_payload"} {
			var tok string
			if json.Unmarshal(wrapper[k], &tok) == nil && strings.Count(tok, ".") == 2 {
				return []byte(strings.TrimSpace(tok))
			}
		}
	}
	return body
}
