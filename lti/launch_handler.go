package lti

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/text"
	"github.com/laurel-edu/laurel/internal/web"
)

// Form fields of the launch POST. The platform posts id_token and state (and
// Canvas lti_storage_target); the check page re-posts them with the values
// it read back from the platform's storage frame.
const (
	FieldIDToken       = "id_token"
	FieldState         = "state"
	FieldStorageTarget = "lti_storage_target"
	FieldStorageState  = "lti_storage_state"
	FieldStorageNonce  = "lti_storage_nonce"
	FieldStorageCheck  = "lti_storage_checked"
)

// CheckPage is the data of lti_launch_check.html: when the state cookie did
// not survive, the page reads state and nonce back from the platform's
// storage frame and re-posts the launch.
type CheckPage struct {
	Action        string
	IDToken       string
	State         string
	StorageTarget string
	Origin        string
}

// CompleteLaunch validates a launch POST: the state's binding to this
// browser (cookie or platform storage), then the id_token in the
// reference's order, then — in the one Redis round trip that stores the
// session — that the state is live and unused and the nonce new. It
// returns the launch, or a check page to render (state bound by neither
// cookie nor storage yet), or a refusal (*apperr.Error with a Reason*).
func (t *Tool) CompleteLaunch(c *gin.Context) (*Launch, *CheckPage, error) {
	r := c.Request
	r.Body = http.MaxBytesReader(c.Writer, r.Body, MaxTokenSize+64<<10)
	if err := r.ParseForm(); err != nil {
		return nil, nil, badRequest(ReasonMalformed, "The launch request could not be read (too large or not a form).")
	}
	ctx := r.Context()
	if e := r.PostForm.Get("error"); e != "" {
		return nil, nil, badRequest(ReasonLoginParams, "The platform refused the login: %s %s", text.Truncate(e, 80), text.Truncate(r.PostForm.Get("error_description"), 300))
	}
	state := r.PostForm.Get(FieldState)
	if state == "" {
		return nil, nil, badRequest(ReasonStateMissing, "The launch carries no state; it did not come from a login Laurel started.")
	}
	if len(state) > 200 {
		return nil, nil, badRequest(ReasonStateUnknown, "The launch's state is unknown or expired.")
	}
	cookieOK := false
	if ck, err := r.Cookie(StateCookiePrefix + state); err == nil && ck.Value == state {
		cookieOK = true
	}
	storageState := r.PostForm.Get(FieldStorageState)
	if !cookieOK && storageState == "" {
		check, err := t.unboundLaunch(c, state)
		return nil, check, err
	}
	// From here on a refusal burns the state: it must not be tried again.
	refuse := func(err error) (*Launch, *CheckPage, error) {
		t.burnState(ctx, state)
		return nil, nil, err
	}
	pid, ok := statePlatform(state)
	if !ok {
		return nil, nil, stateUnknown() // not a state Laurel made
	}
	nonce := t.loginNonce(state)
	if !cookieOK && (storageState != state || r.PostForm.Get(FieldStorageNonce) != nonce) {
		return refuse(badRequest(ReasonStateNotBound, "The state read back from the platform's storage does not match this launch; it may have been started by someone else."))
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: StateCookiePrefix + state, Value: "", Path: "/lti/", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteNoneMode})

	p, err := t.registry.launchPlatform(ctx, pid)
	if err != nil {
		if apperr.Is(err, apperr.NotFound) {
			return refuse(forbidden(ReasonPlatformUnknown, "The platform of this launch is no longer registered."))
		}
		return nil, nil, err
	}
	if p.Disabled {
		return refuse(forbidden(ReasonPlatformDisabled, "The platform %q is disabled in Laurel.", p.Name))
	}
	now := t.Now()
	l, err := ValidateIDToken(r.PostForm.Get(FieldIDToken), ValidateOptions{
		Issuer: p.Issuer, ClientID: p.ClientID, Nonce: nonce, Now: now, Leeway: t.Leeway,
		Verify:     t.platformVerifier(ctx, &p),
		Deployment: func(id string) (bool, error) { return t.registry.acceptDeployment(ctx, &p, id) },
	})
	if err != nil {
		return refuse(err)
	}
	l.Platform = p
	t.frameLaunch(c, l)
	// One round trip checks the state (issued, not expired, not used) and
	// uses it, records the nonce and stores the session; the user is
	// recorded only for a launch that passed all of it.
	nonceTTL := max(l.ExpiresAt.Add(t.Leeway).Sub(now), t.NonceTTL) // at least as long as the token is valid
	if l.Token, err = t.issueLaunchToken(ctx, l, state, nonce, nonceTTL); err != nil {
		return nil, nil, err
	}
	if err := t.recordUser(ctx, l); err != nil {
		return nil, nil, err
	}
	return l, nil, nil
}

// unboundLaunch answers a launch whose state neither the cookie nor the
// platform's storage vouched for: the check page that asks the storage
// frame, or, once it was asked, a refusal that burns the state and offers
// the login again in a new window.
func (t *Tool) unboundLaunch(c *gin.Context, state string) (*CheckPage, error) {
	r, ctx := c.Request, c.Request.Context()
	rec, err := t.getState(ctx, state)
	if err != nil {
		return nil, err
	}
	target := rec.StorageTarget
	if target == "" {
		target = r.PostForm.Get(FieldStorageTarget)
	}
	if target != "" && r.PostForm.Get(FieldStorageCheck) == "" && rec.Origin != "" {
		return &CheckPage{Action: t.LaunchURL(), IDToken: r.PostForm.Get(FieldIDToken), State: state, StorageTarget: target, Origin: rec.Origin}, nil
	}
	t.burnState(ctx, state)
	le := badRequest(ReasonStateNotBound, "Your browser did not keep the login cookie and the platform's storage did not hold this login's state, so Laurel cannot tell that this launch started in your browser.")
	if le.Link = t.newWindowURL(rec); le.Link == "" {
		le.Message += " Allow cookies for this site and launch again."
	}
	return nil, le
}

func (h *handlers) launch(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	l, check, err := h.t.CompleteLaunch(c)
	if err != nil {
		h.refused(c, err)
		return
	}
	if check != nil {
		frameUnsigned(c, check.Origin)
		if err := h.rd.Render(c, http.StatusOK, "lti_launch_check.html", check); err != nil {
			h.refused(c, err)
		}
		return
	}
	// On the request's log line (web.Logger), not a line of its own.
	web.LogAttrs(c, slog.Int64("platform_id", l.Platform.ID), slog.String("deployment_id", l.DeploymentID),
		slog.String("message_type", l.MessageType), slog.String("context_id", l.Context.ID), slog.Int64("lti_user_id", l.LTIUserID))
	h.t.mu.RLock()
	hook := h.t.onLaunch
	h.t.mu.RUnlock()
	if hook == nil {
		if err := h.rd.Render(c, http.StatusOK, "lti_launched.html", l); err != nil {
			h.rd.WriteError(c, err)
		}
		return
	}
	if err := hook(c, l); err != nil {
		h.rd.WriteError(c, err)
	}
}

// RefusedPage is the data of lti_refused.html.
type RefusedPage struct {
	Status  int
	Reason  string
	Message string
	// NewWindowURL, when set, re-runs the login in a new top-level window.
	NewWindowURL string
}

// refused renders a refused login or launch with WriteRefusal.
func (h *handlers) refused(c *gin.Context, err error) { h.t.WriteRefusal(c, h.rd, err) }

// WriteRefusal renders err as the refused-launch page (lti_refused.html),
// framable by the registered platforms — the one renderer of this surface:
// the check that failed (the error's Reason, or its code when it has none)
// as data-reason, never a stack trace, with the status of its code;
// internal errors are logged with their cause and shown as a generic
// message, an outage is a 503 with Retry-After.
func (t *Tool) WriteRefusal(c *gin.Context, rd *web.Renderer, err error) {
	frameUnsigned(c, t.registeredOrigins(c.Request.Context())...) // shown in the platform's iframe
	code, st := web.Classify(c.Writer.Header(), c.Request, c.Request.URL.Path, c.GetString(web.RequestIDKey), err)
	var e *apperr.Error
	errors.As(err, &e)
	page := RefusedPage{Status: st, Reason: apperr.Reason(err), Message: apperr.Message(err)}
	if page.Reason == "" {
		page.Reason = code
	}
	if e != nil {
		page.NewWindowURL = e.Link
	}
	if code != apperr.Internal && code != apperr.Unavailable {
		t.log.WarnContext(c.Request.Context(), "lti launch refused", "reason", page.Reason, "message", page.Message, "path", c.Request.URL.Path)
	}
	if rerr := rd.Render(c, st, "lti_refused.html", page); rerr != nil {
		c.String(st, "Launch refused (%s): %s\n", page.Reason, page.Message)
	}
	c.Abort()
}
