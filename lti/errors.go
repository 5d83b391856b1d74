package lti

import (
	"fmt"
	"net/http"
)

// Reasons a launch is refused. Each is a stable code (logs, metrics, tests);
// the LaunchError's Message says what exactly was wrong.
const (
	ReasonLoginParams       = "login_params"
	ReasonPlatformUnknown   = "platform_unknown"
	ReasonPlatformAmbiguous = "platform_ambiguous"
	ReasonPlatformDisabled  = "platform_disabled"
	ReasonStateMissing      = "state_missing"
	ReasonStateUnknown      = "state_unknown"
	ReasonStateReused       = "state_reused"
	ReasonStateNotBound     = "state_not_bound"
	ReasonTokenMissing      = "id_token_missing"
	ReasonMalformed         = "malformed_jwt"
	ReasonAlg               = "alg"
	ReasonKid               = "unknown_kid"
	ReasonJWKS              = "jwks_unavailable"
	ReasonSignature         = "signature"
	ReasonIssuer            = "iss"
	ReasonAudience          = "aud"
	ReasonAZP               = "azp"
	ReasonExpired           = "exp"
	ReasonIssuedAt          = "iat"
	ReasonNonceMissing      = "nonce_missing"
	ReasonNonceMismatch     = "nonce_mismatch"
	ReasonNonceReplayed     = "nonce_replayed"
	ReasonDeploymentMissing = "deployment_id_missing"
	ReasonDeploymentUnknown = "deployment_id_unknown"
	ReasonVersion           = "version"
	ReasonMessageType       = "message_type"
	ReasonResourceLink      = "resource_link"
	ReasonDeepLinking       = "deep_linking_settings"
	ReasonSub               = "sub"
	ReasonRoles             = "roles"
	ReasonClaim             = "claim"
	ReasonSession           = "launch_session"
)

// LaunchError is a refused login or launch: Reason is one of the Reason*
// codes, Message a sentence for the person who launched (and the log), and
// Status the HTTP status of the refused-launch page.
type LaunchError struct {
	Reason  string
	Message string
	Status  int
	// NewWindowURL, when set, is offered as the way forward: it re-runs the
	// login in a new top-level window, where cookies are first-party.
	NewWindowURL string
}

func (e *LaunchError) Error() string { return fmt.Sprintf("lti %s: %s", e.Reason, e.Message) }

func refuse(status int, reason, format string, args ...any) *LaunchError {
	return &LaunchError{Reason: reason, Message: fmt.Sprintf(format, args...), Status: status}
}

func badRequest(reason, format string, args ...any) *LaunchError {
	return refuse(http.StatusBadRequest, reason, format, args...)
}

func unauthorized(reason, format string, args ...any) *LaunchError {
	return refuse(http.StatusUnauthorized, reason, format, args...)
}

func forbidden(reason, format string, args ...any) *LaunchError {
	return refuse(http.StatusForbidden, reason, format, args...)
}
