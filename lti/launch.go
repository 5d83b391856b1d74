package lti

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/jose"
	"github.com/laurel-edu/laurel/internal/text"
)

// Claim names of LTI 1.3 and its services.
const (
	ClaimPrefix             = "https://purl.imsglobal.org/spec/lti/claim/"
	ClaimMessageType        = ClaimPrefix + "message_type"
	ClaimVersion            = ClaimPrefix + "version"
	ClaimDeploymentID       = ClaimPrefix + "deployment_id"
	ClaimTargetLinkURI      = ClaimPrefix + "target_link_uri"
	ClaimResourceLink       = ClaimPrefix + "resource_link"
	ClaimRoles              = ClaimPrefix + "roles"
	ClaimContext            = ClaimPrefix + "context"
	ClaimCustom             = ClaimPrefix + "custom"
	ClaimLaunchPresentation = ClaimPrefix + "launch_presentation"
	ClaimToolPlatform       = ClaimPrefix + "tool_platform"
	ClaimLIS                = ClaimPrefix + "lis"
	ClaimNRPS               = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
	ClaimDeepLinking        = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
	ClaimDeepLinkingItems   = "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"
	ClaimDeepLinkingData    = "https://purl.imsglobal.org/spec/lti-dl/claim/data"
)

// Message types Laurel accepts.
const (
	MessageResourceLink        = "LtiResourceLinkRequest"
	MessageDeepLinking         = "LtiDeepLinkingRequest"
	MessageDeepLinkingResponse = "LtiDeepLinkingResponse"
	Version                    = "1.3.0"
)

// Role URIs (LIS v2 vocabulary) that Laurel's rules look at.
const (
	RoleInstructor        = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
	RoleTeachingAssistant = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"
	RoleContentDeveloper  = "http://purl.imsglobal.org/vocab/lis/v2/membership#ContentDeveloper"
	RoleLearner           = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
	RoleContextAdmin      = "http://purl.imsglobal.org/vocab/lis/v2/membership#Administrator"
	RoleInstitutionAdmin  = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"
	RoleSystemAdmin       = "http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator"
	RoleSysAdmin          = "http://purl.imsglobal.org/vocab/lis/v2/system/person#SysAdmin"
)

// Launch is a validated LTI 1.3 launch: who launched, from which platform,
// deployment and context, and what the platform offers (NRPS, deep linking).
// It is stored as JSON behind the launch token, so follow-up requests inside
// the iframe get it back with Tool.LaunchFromRequest.
type Launch struct {
	Platform      Platform `json:"platform"`
	DeploymentID  string   `json:"deployment_id"`
	Sub           string   `json:"sub"`
	Name          string   `json:"name"`
	GivenName     string   `json:"given_name,omitempty"`
	FamilyName    string   `json:"family_name,omitempty"`
	Email         string   `json:"email"`
	Locale        string   `json:"locale,omitempty"`
	MessageType   string   `json:"message_type"`
	TargetLinkURI string   `json:"target_link_uri"`
	// Roles are the role URIs as sent (possibly empty, never nil after validation).
	Roles          []string          `json:"roles"`
	Context        Context           `json:"context"`
	ResourceLinkID string            `json:"resource_link_id,omitempty"`
	ResourceLink   ResourceLink      `json:"resource_link"`
	Custom         map[string]string `json:"custom"`
	LIS            LIS               `json:"lis"`
	// NRPS is set when the platform offers the Names and Role Provisioning Service.
	NRPS *NRPSClaim `json:"nrps,omitempty"`
	// DeepLinking is set for an LtiDeepLinkingRequest.
	DeepLinking        *DeepLinkingSettings `json:"deep_linking,omitempty"`
	LaunchPresentation LaunchPresentation   `json:"launch_presentation"`
	ToolPlatform       ToolPlatform         `json:"tool_platform"`
	// ToolPlatformGUID is tool_platform.guid (Canvas: the root account's LTI guid).
	ToolPlatformGUID string    `json:"tool_platform_guid,omitempty"`
	IssuedAt         time.Time `json:"iat"`
	ExpiresAt        time.Time `json:"exp"`

	// LTIUserID is the lti_users row of (platform, sub); StaffUserID the staff
	// account linked by email (0 when none). The Tool sets them on the
	// launch request once the launch is accepted and its user recorded,
	// after the session is stored: a launch read back by its token has
	// neither.
	LTIUserID   int64 `json:"-"`
	StaffUserID int64 `json:"-"`
	// Token is the launch session token (form field / query "ltik", header
	// "X-Ltik") that follow-up requests inside the iframe carry.
	Token string `json:"-"`

	// Claims are all claims of the id_token, for what the fields above
	// omit, on a launch read back by its token (LaunchByToken); a launch
	// being validated has them in its payload only: read them with
	// AllClaims.
	Claims map[string]any `json:"claims"`
	// rawClaims is the id_token's payload, so the launch session stores
	// it as sent (the checks decode only the claims they read). It must
	// stay the last field's source: see sessionJSON.
	rawClaims []byte
}

// AllClaims returns all claims of the id_token (numbers as float64): Claims,
// or, on a launch being validated, its payload decoded.
func (l *Launch) AllClaims() (map[string]any, error) {
	if l.Claims != nil || l.rawClaims == nil {
		return l.Claims, nil
	}
	var m map[string]any
	if err := json.Unmarshal(l.rawClaims, &m); err != nil {
		return nil, fmt.Errorf("decode the claims of launch %s: %w", l.Sub, err)
	}
	return m, nil
}

// sessionJSON is l as stored behind its launch token: json.Marshal(l), with
// the claims copied from the id_token's payload when l came from one.
func (l *Launch) sessionJSON() ([]byte, error) {
	if l.rawClaims == nil {
		return json.Marshal(l)
	}
	c := *l
	c.Claims = nil
	js, err := json.Marshal(&c)
	if err != nil {
		return nil, err
	}
	// Claims is the last field, so the encoding ends with it.
	const tail = `"claims":null}`
	if !bytes.HasSuffix(js, []byte(tail)) {
		// A field added after Claims: decode the claims to keep them.
		if c.Claims, err = l.AllClaims(); err != nil {
			return nil, err
		}
		return json.Marshal(&c)
	}
	raw := bytes.TrimSpace(l.rawClaims)
	out := make([]byte, 0, len(js)-len(tail)+len(`"claims":`)+len(raw)+1) // one allocation of the session's size
	out = append(out, js[:len(js)-len(tail)]...)
	out = append(out, `"claims":`...)
	out = append(out, raw...)
	return append(out, '}'), nil
}

// Context is the LTI context (a Canvas course).
type Context struct {
	ID    string   `json:"id"`
	Label string   `json:"label,omitempty"`
	Title string   `json:"title,omitempty"`
	Type  []string `json:"type,omitempty"`
}

// ResourceLink is the placement that was launched.
type ResourceLink struct {
	ID          string `json:"id"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
}

// LIS carries the SIS identifiers a platform may send.
type LIS struct {
	PersonSourcedID         string `json:"person_sourcedid,omitempty"`
	CourseOfferingSourcedID string `json:"course_offering_sourcedid,omitempty"`
	CourseSectionSourcedID  string `json:"course_section_sourcedid,omitempty"`
}

// NRPSClaim is the Names and Role Provisioning Service offer.
type NRPSClaim struct {
	ContextMembershipsURL string   `json:"context_memberships_url"`
	ServiceVersions       []string `json:"service_versions"`
}

// DeepLinkingSettings is what an LtiDeepLinkingRequest asks for.
type DeepLinkingSettings struct {
	ReturnURL                         string   `json:"deep_link_return_url"`
	AcceptTypes                       []string `json:"accept_types"`
	AcceptPresentationDocumentTargets []string `json:"accept_presentation_document_targets"`
	AcceptMediaTypes                  string   `json:"accept_media_types,omitempty"`
	AcceptMultiple                    bool     `json:"accept_multiple"`
	AutoCreate                        bool     `json:"auto_create"`
	Title                             string   `json:"title,omitempty"`
	Text                              string   `json:"text,omitempty"`
	// Data must be echoed unchanged in the response.
	Data string `json:"data,omitempty"`
}

// LaunchPresentation says how the platform shows the tool.
type LaunchPresentation struct {
	DocumentTarget string `json:"document_target,omitempty"`
	ReturnURL      string `json:"return_url,omitempty"`
	Locale         string `json:"locale,omitempty"`
	Height         int    `json:"height,omitempty"`
	Width          int    `json:"width,omitempty"`
}

// ToolPlatform describes the platform instance.
type ToolPlatform struct {
	GUID              string `json:"guid,omitempty"`
	Name              string `json:"name,omitempty"`
	Version           string `json:"version,omitempty"`
	ProductFamilyCode string `json:"product_family_code,omitempty"`
}

// hasRole reports whether roles hold the LIS v2 URI full, or one of the
// short forms LTI 1.3 tolerates (a bare "Instructor", a LIS v1 URN).
func hasRole(roles []string, full string, short ...string) bool {
	for _, r := range roles {
		r = strings.TrimSpace(r)
		if r == full || slices.Contains(short, r) {
			return true
		}
	}
	return false
}

// IsTeachingAssistant reports the TA sub-role. Canvas sends a TA both this
// and membership#Instructor.
func (l *Launch) IsTeachingAssistant() bool {
	return hasRole(l.Roles, RoleTeachingAssistant, "Instructor#TeachingAssistant", "TeachingAssistant",
		"urn:lti:role:ims/lis/TeachingAssistant", "urn:lti:role:ims/lis/Instructor/TeachingAssistant")
}

// IsInstructor reports a teacher of the context: membership#Instructor
// WITHOUT the TA sub-role (a TA carries Instructor too, so a rule meant for
// teachers must not accept it).
func (l *Launch) IsInstructor() bool {
	return hasRole(l.Roles, RoleInstructor, "Instructor", "urn:lti:role:ims/lis/Instructor") && !l.IsTeachingAssistant()
}

// IsContentDeveloper reports a course designer.
func (l *Launch) IsContentDeveloper() bool {
	return hasRole(l.Roles, RoleContentDeveloper, "ContentDeveloper", "urn:lti:role:ims/lis/ContentDeveloper")
}

// IsAdmin reports an institution or system administrator (Canvas account and
// site admins), or an administrator of the context.
func (l *Launch) IsAdmin() bool {
	return hasRole(l.Roles, RoleInstitutionAdmin, "urn:lti:instrole:ims/lis/Administrator") ||
		hasRole(l.Roles, RoleSystemAdmin, "urn:lti:sysrole:ims/lis/Administrator") ||
		hasRole(l.Roles, RoleSysAdmin, "urn:lti:sysrole:ims/lis/SysAdmin") ||
		hasRole(l.Roles, RoleContextAdmin, "Administrator")
}

// CustomValue returns a custom parameter, treating a value the platform left
// unsubstituted ("$Canvas.user.id") as absent.
func (l *Launch) CustomValue(name string) string {
	v := l.Custom[name]
	if strings.HasPrefix(v, "$") {
		return ""
	}
	return v
}

// ValidateOptions is what ValidateIDToken checks a token against. The
// callbacks let the Tool plug in its JWKS cache and deployment registry;
// each is called at its place in the reference's order. The nonce is
// checked against the one issued at login here; that it is used only once
// is the Tool's to record, with the launch's session (issueLaunchToken).
type ValidateOptions struct {
	Issuer   string
	ClientID string
	// Nonce is the nonce issued at login for this state.
	Nonce  string
	Now    time.Time
	Leeway time.Duration
	// Verify checks the token's signature with the platform's key for the
	// header's kid (the Tool's: the platform JWKS through internal/jose,
	// re-fetched on an unknown kid within its limit). Errors should be
	// refusals (*apperr.Error with ReasonKid, ReasonJWKS, ReasonSignature).
	Verify func(token []byte, h jose.Header) error
	// Deployment, optional, reports whether deploymentID may launch.
	Deployment func(deploymentID string) (bool, error)
}

// MaxTokenSize bounds the id_token a launch may carry.
const MaxTokenSize = 256 << 10

// ValidateIDToken checks an id_token in the reference's order — JWT form,
// alg RS256, signature (kid lookup), iss, aud, azp, exp, iat, nonce (the
// login's), deployment_id, version, message_type, resource_link.id, sub, roles — and
// returns the launch. Every refusal is an *apperr.Error whose Reason names the check.
// (alg is checked before the signature: an HMAC or "none" token has no
// signature a platform key could verify.)
func ValidateIDToken(raw string, o ValidateOptions) (*Launch, error) {
	if raw == "" {
		return nil, badRequest(ReasonTokenMissing, "The launch carried no id_token.")
	}
	if len(raw) > MaxTokenSize {
		return nil, badRequest(ReasonMalformed, "The id_token is larger than %d bytes.", MaxTokenSize)
	}
	tok := []byte(raw) // one copy, for the parse and the signature
	h, pb, err := jose.Parse(tok)
	if err != nil {
		return nil, keyError(err, "")
	}
	if err := text.CheckJSON(pb); err != nil { // a NUL could not be stored; invalid UTF-8 is named
		return nil, badRequest(ReasonClaim, "The id_token's %s.", err)
	}
	claims, err := decodeClaims(pb)
	if err != nil {
		return nil, badRequest(ReasonMalformed, "The id_token's payload is not a JSON object with distinct claim names.")
	}
	if err := jose.CheckHeader(h); err != nil {
		return nil, keyError(err, "")
	}
	if o.Verify == nil {
		return nil, unauthorized(ReasonJWKS, "No key source is configured for this platform.")
	}
	if err := o.Verify(tok, h); err != nil {
		return nil, err
	}

	c := claims
	// iss
	iss, err := claimStr(c.Iss, "iss")
	if err != nil {
		return nil, err
	}
	if iss != o.Issuer {
		return nil, unauthorized(ReasonIssuer, "The id_token's issuer %q is not the registered issuer %q.", text.Truncate(iss, 200), o.Issuer)
	}
	// aud and azp
	audv, _ := claimValue(c.Aud)
	aud, ok := audience(audv)
	if !ok {
		return nil, unauthorized(ReasonAudience, "The id_token's aud claim is missing or not a string or list of strings.")
	}
	if !slices.Contains(aud, o.ClientID) {
		return nil, unauthorized(ReasonAudience, "The id_token's audience %q does not contain our client_id %q.", text.Truncate(strings.Join(aud, ","), 200), o.ClientID)
	}
	azp, hasAZP := claimValue(c.AZP)
	if len(aud) > 1 && !hasAZP {
		return nil, unauthorized(ReasonAZP, "The id_token has several audiences and no azp claim; azp must be our client_id %q.", o.ClientID)
	}
	if hasAZP {
		if s, ok := azp.(string); !ok || s != o.ClientID {
			return nil, unauthorized(ReasonAZP, "The id_token's azp %v is not our client_id %q.", text.Truncate(toString(azp), 200), o.ClientID)
		}
	}
	// exp and iat, with leeway for clock skew
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	exp, err := claimTime(c.Exp, "exp")
	if err != nil {
		return nil, unauthorized(ReasonExpired, "%s", apperr.Message(err))
	}
	if now.After(exp.Add(o.Leeway)) {
		return nil, unauthorized(ReasonExpired, "The id_token expired at %s (now %s, leeway %s).", exp.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), o.Leeway)
	}
	iat, err := claimTime(c.IAT, "iat")
	if err != nil {
		return nil, unauthorized(ReasonIssuedAt, "%s", apperr.Message(err))
	}
	if iat.After(now.Add(o.Leeway)) {
		return nil, unauthorized(ReasonIssuedAt, "The id_token was issued in the future (iat %s, now %s, leeway %s): check the clocks.", iat.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), o.Leeway)
	}
	// nonce
	nonce, present := claimString(c.Nonce)
	if !present || nonce == "" {
		return nil, unauthorized(ReasonNonceMissing, "The id_token carries no nonce.")
	}
	if nonce != o.Nonce {
		return nil, unauthorized(ReasonNonceMismatch, "The id_token's nonce is not the one issued at login for this state.")
	}
	// deployment_id
	dep, err := claimStr(c.DeploymentID, ClaimDeploymentID)
	if err != nil || dep == "" {
		return nil, badRequest(ReasonDeploymentMissing, "The id_token carries no deployment_id claim.")
	}
	if o.Deployment != nil {
		known, err := o.Deployment(dep)
		if err != nil {
			return nil, err
		}
		if !known {
			return nil, forbidden(ReasonDeploymentUnknown, "Deployment %q is not registered for this platform (and the platform does not accept new deployments automatically).", text.Truncate(dep, 200))
		}
	}
	// version, message_type and what each message type requires
	ver, _ := claimString(c.Version)
	if ver != Version {
		v, _ := claimValue(c.Version)
		return nil, badRequest(ReasonVersion, "The launch's LTI version is %q; only %q is supported.", text.Truncate(toString(v), 40), Version)
	}
	mt, _ := claimString(c.MessageType)
	if mt != MessageResourceLink && mt != MessageDeepLinking {
		v, _ := claimValue(c.MessageType)
		return nil, badRequest(ReasonMessageType, "The launch's message_type %q is not one Laurel handles (%s, %s).", text.Truncate(toString(v), 60), MessageResourceLink, MessageDeepLinking)
	}
	l := &Launch{DeploymentID: dep, MessageType: mt, rawClaims: pb, IssuedAt: iat, ExpiresAt: exp}
	if mt == MessageResourceLink {
		rl := c.ResourceLink.v
		id := str(rl.ID)
		if id == "" {
			return nil, badRequest(ReasonResourceLink, "The resource link launch carries no resource_link.id.")
		}
		l.ResourceLinkID = id
		l.ResourceLink = ResourceLink{ID: id, Title: str(rl.Title), Description: str(rl.Description)}
	} else {
		dl := c.DeepLinking.v
		ret := str(dl.ReturnURL)
		if ret == "" {
			return nil, badRequest(ReasonDeepLinking, "The deep linking request carries no deep_linking_settings.deep_link_return_url.")
		}
		l.DeepLinking = &DeepLinkingSettings{
			ReturnURL: ret, AcceptTypes: list(dl.AcceptTypes),
			AcceptPresentationDocumentTargets: list(dl.AcceptTargets),
			AcceptMediaTypes:                  str(dl.AcceptMedia),
			AcceptMultiple:                    string(dl.AcceptMultiple) == "true", AutoCreate: string(dl.AutoCreate) == "true",
			Title: str(dl.Title), Text: str(dl.Text), Data: str(dl.Data),
		}
	}
	// sub and roles
	sub := str(c.Sub)
	if strings.TrimSpace(sub) == "" {
		return nil, badRequest(ReasonSub, "The id_token carries no sub (user identifier).")
	}
	l.Sub = sub
	rv, present := claimValue(c.Roles)
	if !present {
		return nil, badRequest(ReasonRoles, "The id_token carries no roles claim.")
	}
	ra, isList := rv.([]any)
	if !isList {
		return nil, badRequest(ReasonRoles, "The id_token's roles claim is not a list.")
	}
	l.Roles = make([]string, 0, len(ra))
	for _, r := range ra {
		s, ok := r.(string)
		if !ok {
			return nil, badRequest(ReasonRoles, "The id_token's roles claim holds a value that is not a string.")
		}
		l.Roles = append(l.Roles, s)
	}
	fillOptional(l, c)
	return l, nil
}

// claimStr is the string claim name, refused when absent or not a string.
func claimStr(v jsontext.Value, name string) (string, error) {
	if len(v) == 0 {
		return "", badRequest(ReasonClaim, "The id_token has no %s claim.", name)
	}
	s, ok := claimString(v)
	if !ok {
		return "", badRequest(ReasonClaim, "The id_token's %s claim is not a string.", name)
	}
	return s, nil
}

// claimTime is the NumericDate claim name.
func claimTime(v jsontext.Value, name string) (time.Time, error) {
	x, ok := claimValue(v)
	if !ok {
		return time.Time{}, badRequest(ReasonClaim, "The id_token has no %s claim.", name)
	}
	var f float64
	switch n := x.(type) {
	case int64:
		f = float64(n)
	case float64:
		f = n
	default:
		return time.Time{}, badRequest(ReasonClaim, "The id_token's %s claim is not a number of seconds.", name)
	}
	if math.IsNaN(f) || f < 0 || f > 1e11 {
		return time.Time{}, badRequest(ReasonClaim, "The id_token's %s claim is out of range.", name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}

func audience(v any) ([]string, bool) {
	switch a := v.(type) {
	case string:
		return []string{a}, a != ""
	case []any:
		out := make([]string, 0, len(a))
		for _, e := range a {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, len(out) > 0
	}
	return nil, false
}

func strOf(v any) string {
	s, _ := v.(string)
	return s
}

func toString(v any) string {
	switch x := v.(type) {
	case nil:
		return "(missing)"
	case string:
		return x
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func intOf(v any) int {
	switch n := v.(type) {
	case int64:
		if n > math.MaxInt32 || n < math.MinInt32 {
			return 0
		}
		return int(n)
	case float64:
		if n > math.MaxInt32 || n < math.MinInt32 || math.IsNaN(n) {
			return 0
		}
		return int(n)
	}
	return 0
}

func strList(v any) []string {
	switch a := v.(type) {
	case string:
		return []string{a}
	case []any:
		out := make([]string, 0, len(a))
		for _, e := range a {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
