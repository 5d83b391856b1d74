package lti

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/redis/go-redis/v9"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/secret"
	"github.com/laurel-edu/laurel/internal/text"
	"github.com/laurel-edu/laurel/internal/web"
)

// Redis keys. State and nonce are single-use and short-lived; the state
// record is replaced by stateUsed when consumed, so a reused state is told
// apart from an unknown one until it expires.
const (
	stateKeyPrefix = "lti:state:"
	nonceKeyPrefix = "lti:nonce:"
	stateUsed      = "used"
	// StateCookiePrefix + state names the cookie that binds the browser to
	// the login when third-party cookies survive.
	StateCookiePrefix = "lti_state_"
)

// stateRecord is what login stores under the state.
type stateRecord struct {
	PlatformID    int64  `json:"p"`
	Nonce         string `json:"n"`
	TargetLinkURI string `json:"t"`
	// StorageTarget and Origin are set when the platform offered
	// client-side postMessage storage (lti_storage_target).
	StorageTarget string `json:"s,omitempty"`
	Origin        string `json:"o,omitempty"`
	// Login holds the login initiation's parameters, so a launch refused for
	// want of cookie and storage can re-run the login in a new top-level
	// window (where the cookie is first-party).
	Login map[string]string `json:"l,omitempty"`
}

// relaunchParams are the login initiation parameters a new-window login
// repeats. lti_storage_target is left out: a top-level window has no
// platform frame to store in, and needs none.
var relaunchParams = []string{"iss", "login_hint", "target_link_uri", "lti_message_hint", "client_id", "lti_deployment_id"}

// newWindowURL is the login URL that re-runs rec's login in a new window, or
// "" when the record kept no login parameters.
func (t *Tool) newWindowURL(rec stateRecord) string {
	if len(rec.Login) == 0 {
		return ""
	}
	q := url.Values{}
	for _, k := range relaunchParams {
		if v := rec.Login[k]; v != "" {
			q.Set(k, v)
		}
	}
	return t.LoginURL() + "?" + q.Encode()
}

// A login's state is "<platform id>.<random>", and its nonce a MAC of the
// state under LAUREL_SECRET_KEY. So a launch knows its platform and the
// nonce its id_token must carry before it asks Redis anything, and checks
// the state (single use, not expired) in the same round trip that records
// the nonce and stores the session (issueLaunchToken). Changing the platform
// id in a state changes the nonce it needs: no platform signed that one.

func newState(platformID int64) string {
	return strconv.FormatInt(platformID, 10) + "." + secret.Token(24)
}

// statePlatform is the platform id a state names, or ok=false for a state
// Laurel did not make.
func statePlatform(state string) (id int64, ok bool) {
	n, rest, found := strings.Cut(state, ".")
	if !found || rest == "" {
		return 0, false
	}
	id, err := strconv.ParseInt(n, 10, 64)
	return id, err == nil && id > 0
}

// loginNonce is the nonce of the login whose state is state.
func (t *Tool) loginNonce(state string) string {
	return base64.RawURLEncoding.EncodeToString(t.keys.MAC([]byte("lti-nonce\x00" + state)))[:32]
}

// LoginPage is the data of lti_login.html (a page of its own, without the
// layout): the page stores State and Nonce in
// the platform's storage frame, then goes to AuthURL.
type LoginPage struct {
	AuthURL       string
	State         string
	Nonce         string
	StorageTarget string
	// Origin is the platform's OIDC origin, the targetOrigin of put_data.
	Origin string
}

// resolvePlatform finds the registration a login names. Without client_id,
// an issuer with several registrations is ambiguous unless the deployment id
// picks exactly one.
func (t *Tool) resolvePlatform(ctx context.Context, iss, clientID, deploymentID string) (Platform, error) {
	if clientID != "" {
		p, err := t.registry.launchPlatformByIssuerClient(ctx, iss, clientID)
		if apperr.Is(err, apperr.NotFound) {
			return Platform{}, badRequest(ReasonPlatformUnknown, "No platform is registered with issuer %q and client_id %q. Ask your Laurel administrator to register it.", text.Truncate(iss, 200), text.Truncate(clientID, 100))
		}
		return p, err
	}
	ps, err := t.registry.PlatformsByIssuer(ctx, iss)
	if err != nil {
		return Platform{}, err
	}
	switch len(ps) {
	case 0:
		return Platform{}, badRequest(ReasonPlatformUnknown, "No platform is registered with issuer %q. Ask your Laurel administrator to register it.", text.Truncate(iss, 200))
	case 1:
		return ps[0], nil
	}
	if deploymentID != "" {
		var match []Platform
		for _, p := range ps {
			deps, err := t.registry.Deployments(ctx, p.ID)
			if err != nil {
				return Platform{}, err
			}
			for _, d := range deps {
				if d.DeploymentID == deploymentID {
					match = append(match, p)
					break
				}
			}
		}
		if len(match) == 1 {
			return match[0], nil
		}
	}
	return Platform{}, badRequest(ReasonPlatformAmbiguous, "Issuer %q has %d registrations in Laurel and the login request names no client_id, so Laurel cannot tell which one launched. Configure the platform to send client_id (Canvas does), or register only one.", text.Truncate(iss, 200), len(ps))
}

// BeginLogin handles the OIDC third-party login initiation (GET or POST):
// it stores a single-use state and nonce and returns the platform auth
// request URL, plus the page data when the platform offers postMessage
// storage.
func (t *Tool) BeginLogin(c *gin.Context) (authURL string, page *LoginPage, err error) {
	r := c.Request
	if err := r.ParseForm(); err != nil {
		return "", nil, badRequest(ReasonLoginParams, "The login request could not be read.")
	}
	get := func(k string) string { return strings.TrimSpace(r.Form.Get(k)) }
	iss, hint, target := get("iss"), get("login_hint"), get("target_link_uri")
	var missing []string
	for k, v := range map[string]string{"iss": iss, "login_hint": hint, "target_link_uri": target} {
		if v == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return "", nil, badRequest(ReasonLoginParams, "The login request lacks %s.", strings.Join(missing, ", "))
	}
	for k, v := range map[string]string{"login_hint": hint, "lti_message_hint": r.Form.Get("lti_message_hint"), "iss": iss, "target_link_uri": target} {
		if len(v) > 4096 {
			return "", nil, badRequest(ReasonLoginParams, "The login request's %s is longer than 4096 bytes.", k)
		}
	}
	if u, err := url.Parse(target); err != nil || u.Host == "" {
		return "", nil, badRequest(ReasonLoginParams, "The login request's target_link_uri %q is not an absolute URL.", text.Truncate(target, 200))
	}
	p, err := t.resolvePlatform(r.Context(), iss, get("client_id"), get("lti_deployment_id"))
	if err != nil {
		return "", nil, err
	}
	if p.Disabled {
		return "", nil, forbidden(ReasonPlatformDisabled, "The platform %q is disabled in Laurel.", p.Name)
	}
	frameUnsigned(c, t.platformOrigins(c.Request.Context(), &p)...)
	state := newState(p.ID)
	rec := stateRecord{PlatformID: p.ID, Nonce: t.loginNonce(state), TargetLinkURI: target, Login: map[string]string{}}
	for _, k := range relaunchParams {
		if v := get(k); v != "" {
			rec.Login[k] = v
		}
	}
	if st := get("lti_storage_target"); st != "" {
		rec.StorageTarget, rec.Origin = text.Truncate(st, 100), web.Origin(p.AuthURL)
	}
	js, _ := jsonv2.Marshal(rec) // the v2 prototype: twice as fast as encoding/json here
	if err := t.rdb.Set(r.Context(), stateKeyPrefix+state, js, t.StateTTL).Err(); err != nil {
		return "", nil, fmt.Errorf("store login state: %w", err)
	}
	q := url.Values{
		"scope": {"openid"}, "response_type": {"id_token"}, "response_mode": {"form_post"}, "prompt": {"none"},
		"client_id": {p.ClientID}, "redirect_uri": {t.LaunchURL()}, "login_hint": {hint},
		"state": {state}, "nonce": {rec.Nonce},
	}
	if mh := r.Form.Get("lti_message_hint"); mh != "" {
		q.Set("lti_message_hint", mh)
	}
	sep := "?"
	if strings.Contains(p.AuthURL, "?") {
		sep = "&"
	}
	authURL = p.AuthURL + sep + q.Encode()
	// The cookie is the fallback binding when the storage frame is missing,
	// and the only one without lti_storage_target.
	http.SetCookie(c.Writer, &http.Cookie{
		Name: StateCookiePrefix + state, Value: state, Path: "/lti/", MaxAge: int(t.StateTTL.Seconds()),
		HttpOnly: true, Secure: true, SameSite: http.SameSiteNoneMode,
	})
	if rec.StorageTarget != "" {
		page = &LoginPage{AuthURL: authURL, State: state, Nonce: rec.Nonce, StorageTarget: rec.StorageTarget, Origin: rec.Origin}
	}
	return authURL, page, nil
}

func (h *handlers) login(c *gin.Context) {
	authURL, page, err := h.t.BeginLogin(c)
	if err != nil {
		h.refused(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	if page == nil {
		c.Redirect(http.StatusFound, authURL)
		return
	}
	if err := h.rd.RenderFragment(c, http.StatusOK, "lti_login.html", "lti_login_page", page); err != nil {
		h.refused(c, err)
	}
}

// getState reads a state record without using it up.
func (t *Tool) getState(ctx context.Context, state string) (stateRecord, error) {
	var rec stateRecord
	v, err := t.rdb.Get(ctx, stateKeyPrefix+state).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return rec, stateUnknown()
	case err != nil:
		return rec, fmt.Errorf("read login state: %w", err)
	case v == stateUsed:
		return rec, stateReused()
	}
	if err := jsonv2.Unmarshal([]byte(v), &rec); err != nil {
		return rec, fmt.Errorf("decode login state: %w", err)
	}
	return rec, nil
}

// burnState marks a state used, so a refused launch cannot be tried again
// with it; a state Redis no longer holds stays unknown. Best effort: the
// refusal stands either way.
func (t *Tool) burnState(ctx context.Context, state string) {
	_ = t.rdb.SetArgs(ctx, stateKeyPrefix+state, stateUsed, redis.SetArgs{Mode: "XX", KeepTTL: true}).Err()
}

// stateUnknown and stateReused refuse a state Redis does not hold (never
// issued, or expired) and one already used.
func stateUnknown() error {
	return badRequest(ReasonStateUnknown, "The launch's state is unknown or expired (logins are valid for a few minutes). Please launch again from the course.")
}

func stateReused() error {
	return badRequest(ReasonStateReused, "The launch's state was already used: a launch can be submitted only once. Please launch again from the course.")
}
