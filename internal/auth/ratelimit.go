package auth

import (
	"context"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/laurel-edu/laurel/internal/apperr"
)

// LoginLimits caps failed sign-in attempts per email and per client IP within
// a window, counted in Redis so every instance shares them.
type LoginLimits struct {
	PerEmail int
	PerIP    int
	Window   time.Duration
}

// defaultLoginLimits: 10 failures per email and 50 per IP in 15 minutes.
var defaultLoginLimits = LoginLimits{PerEmail: 10, PerIP: 50, Window: 15 * time.Minute}

// Keys hold a MAC of the email, not the email itself, so Redis holds no
// personal data.
func (a *Auth) limitKeys(email, ip string) (string, string) {
	e := hex.EncodeToString(a.keys.MAC([]byte(strings.ToLower(strings.TrimSpace(email)))))[:32]
	return "laurel:login:email:" + e, "laurel:login:ip:" + ip
}

// CheckLoginLimit returns a RateLimited error naming the wait when either
// the email's or the IP's counter of failed password checks is at its
// limit. Every password check (sign-in, changing one's password) goes
// through it, so none is a faster way to guess.
func (a *Auth) CheckLoginLimit(ctx context.Context, email, ip string) error {
	ek, ik := a.limitKeys(email, ip)
	var counts *redis.SliceCmd
	var eTTL, iTTL *redis.DurationCmd
	_, err := a.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		counts = p.MGet(ctx, ek, ik)
		eTTL, iTTL = p.PTTL(ctx, ek), p.PTTL(ctx, ik)
		return nil
	})
	if err != nil {
		return fmt.Errorf("check login limit: %w", err)
	}
	n := func(i int) int {
		s, _ := counts.Val()[i].(string)
		v, _ := strconv.Atoi(s)
		return v
	}
	var wait time.Duration
	if n(0) >= a.Limits.PerEmail {
		wait = max(wait, eTTL.Val())
	}
	if n(1) >= a.Limits.PerIP {
		wait = max(wait, iTTL.Val())
	}
	if wait <= 0 {
		return nil
	}
	mins := int((wait + time.Minute - 1) / time.Minute)
	return apperr.Errorf(apperr.RateLimited, "Too many failed sign-in attempts. Try again in %d minute%s.", mins, plural(mins))
}

// RecordLoginFailure counts a failed password check; a counter's window
// starts at its first failure (EXPIRE NX), so it cannot be kept alive
// forever.
func (a *Auth) RecordLoginFailure(ctx context.Context, email, ip string) error {
	ek, ik := a.limitKeys(email, ip)
	_, err := a.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range []string{ek, ik} {
			p.Incr(ctx, k)
			p.ExpireNX(ctx, k, a.Limits.Window)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record login failure: %w", err)
	}
	return nil
}

// clearEmailFailures forgets an email's failures after a successful sign-in;
// the IP counter stays, as it guards against spraying many accounts.
func (a *Auth) clearEmailFailures(ctx context.Context, email, ip string) {
	ek, _ := a.limitKeys(email, ip)
	a.rdb.Del(ctx, ek)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
