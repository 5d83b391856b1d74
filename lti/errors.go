package lti

import "github.com/laurel-edu/laurel/internal/apperr"

// Reasons a launch is refused. Each is a stable code (logs, metrics, tests);
// the refusal's Message says what exactly was wrong.
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
)

// A refused login or launch is an *apperr.Error whose Reason is one of the
// Reason* codes and whose Message is a sentence for the person who launched
// (and the log); its Code (bad_request, unauthorized or forbidden) gives the
// status of the refusal page. Link, when set, re-runs the login in a new
// top-level window, where cookies are first-party.

func badRequest(reason, format string, args ...any) *apperr.Error {
	return apperr.Refusef(apperr.BadRequest, reason, format, args...)
}

func unauthorized(reason, format string, args ...any) *apperr.Error {
	return apperr.Refusef(apperr.Unauthorized, reason, format, args...)
}

func forbidden(reason, format string, args ...any) *apperr.Error {
	return apperr.Refusef(apperr.Forbidden, reason, format, args...)
}
