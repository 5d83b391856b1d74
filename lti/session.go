package lti

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/secret"
	"github.com/laurel-edu/laurel/internal/web"
)

// LaunchTokenField is the form field and query parameter that carries the
// launch token inside the iframe; LaunchTokenHeader the header for fetch().
const (
	LaunchTokenField  = "ltik"
	LaunchTokenHeader = "X-Ltik"
	sessionKeyPrefix  = "lti:ltik:"
)

// issueScript uses the login state KEYS[1] — refused when it is missing
// (never issued, or expired: 1) or already used (2) — records the launch's
// nonce KEYS[2] for ARGV[1] ms unless it is recorded already (3), and only
// then stores the launch under its token KEYS[3] (ARGV[2], for ARGV[3] ms):
// one round trip. ARGV[4] marks a used state.
var issueScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return 1 end
if v == ARGV[4] then return 2 end
redis.call('SET', KEYS[1], ARGV[4], 'KEEPTTL')
if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then return 3 end
redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3])
return 0`)

// issueLaunchToken uses the launch's login state, records its nonce until
// nonceTTL has passed and stores l in Redis for SessionTTL; it returns the
// opaque token that names the session, or the refusal of an unknown,
// expired or used state or a replayed nonce. Pages inside the platform's
// iframe carry the token instead of a cookie, which the browser may block
// there.
func (t *Tool) issueLaunchToken(ctx context.Context, l *Launch, state, nonce string, nonceTTL time.Duration) (string, error) {
	js, err := l.sessionJSON()
	if err != nil {
		return "", fmt.Errorf("issue launch token: %w", err)
	}
	tok := secret.Token(32)
	nonceKey := fmt.Sprintf("%s%d:%s", nonceKeyPrefix, l.Platform.ID, nonce)
	res, err := issueScript.Run(ctx, t.rdb, []string{stateKeyPrefix + state, nonceKey, sessionKeyPrefix + tok},
		nonceTTL.Milliseconds(), js, t.SessionTTL.Milliseconds(), stateUsed).Int()
	if err != nil {
		return "", fmt.Errorf("issue launch token: %w", err)
	}
	switch res {
	case 1:
		return "", stateUnknown()
	case 2:
		return "", stateReused()
	case 3:
		return "", unauthorized(ReasonNonceReplayed, "The id_token's nonce was already used: this launch is a replay.")
	}
	return tok, nil
}

// LaunchByToken returns the launch a token names, or an Unauthorized error.
func (t *Tool) LaunchByToken(ctx context.Context, tok string) (*Launch, error) {
	if tok == "" || len(tok) > 100 {
		return nil, apperr.Errorf(apperr.Unauthorized, "This page needs a launch from your course: open Laurel again from the course navigation.")
	}
	js, err := t.rdb.Get(ctx, sessionKeyPrefix+tok).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, apperr.Errorf(apperr.Unauthorized, "Your launch session has expired: open Laurel again from the course navigation.")
	}
	if err != nil {
		return nil, fmt.Errorf("read launch token: %w", err)
	}
	var l Launch
	if err := json.Unmarshal(js, &l); err != nil {
		return nil, fmt.Errorf("decode launch token: %w", err)
	}
	l.Token = tok
	return &l, nil
}

// LaunchFromRequest returns the launch of a follow-up request inside the
// iframe: the token comes from the form field or query parameter "ltik", or
// the "X-Ltik" header.
func (t *Tool) LaunchFromRequest(c *gin.Context) (*Launch, error) {
	tok := c.PostForm(LaunchTokenField)
	if tok == "" {
		tok = c.Query(LaunchTokenField)
	}
	if tok == "" {
		tok = strings.TrimSpace(c.GetHeader(LaunchTokenHeader))
	}
	l, err := t.LaunchByToken(c.Request.Context(), tok)
	if err == nil {
		t.frameLaunch(c, l)
	} else {
		// The error page (expired launch) shows in the platform's iframe.
		web.AllowFraming(c, t.registeredOrigins(c.Request.Context())...)
	}
	return l, err
}
