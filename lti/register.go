package lti

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
)

// Scopes of the LTI Advantage services Laurel uses.
const (
	ScopeNRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
)

// Canvas substitution variables Laurel asks for as custom parameters.
var CustomParameters = map[string]string{
	"canvas_user_id":   "$Canvas.user.id",
	"canvas_course_id": "$Canvas.course.id",
	"email":            "$Person.email.primary",
}

// PlatformConfiguration is the part of a platform's OpenID configuration
// Dynamic Registration needs.
type PlatformConfiguration struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	JWKSURI               string   `json:"jwks_uri"`
	RegistrationEndpoint  string   `json:"registration_endpoint"`
	ScopesSupported       []string `json:"scopes_supported"`
	LTI                   struct {
		ProductFamilyCode string `json:"product_family_code"`
		Version           string `json:"version"`
		Messages          []struct {
			Type       string   `json:"type"`
			Placements []string `json:"placements"`
		} `json:"messages_supported"`
		Variables []string `json:"variables"`
	} `json:"https://purl.imsglobal.org/spec/lti-platform-configuration"`
}

// ToolConfiguration is the LTI part of a client registration.
type ToolConfiguration struct {
	Domain           string            `json:"domain"`
	TargetLinkURI    string            `json:"target_link_uri"`
	CustomParameters map[string]string `json:"custom_parameters,omitempty"`
	Claims           []string          `json:"claims"`
	Messages         []ToolMessage     `json:"messages"`
	Description      string            `json:"description,omitempty"`
	PrivacyLevel     string            `json:"https://canvas.instructure.com/lti/privacy_level,omitempty"`
	DeploymentID     string            `json:"deployment_id,omitempty"`
}

// ToolMessage is one message (placement) the tool offers.
type ToolMessage struct {
	Type          string   `json:"type"`
	TargetLinkURI string   `json:"target_link_uri,omitempty"`
	Label         string   `json:"label,omitempty"`
	Placements    []string `json:"placements,omitempty"`
	// Canvas extensions: who sees the course navigation link.
	Visibility string `json:"https://canvas.instructure.com/lti/visibility,omitempty"`
	Display    string `json:"https://canvas.instructure.com/lti/display_type,omitempty"`
}

// ClientRegistration is the OpenID Connect client registration the tool
// POSTs to the platform (and the platform echoes with client_id).
type ClientRegistration struct {
	ClientID                string            `json:"client_id,omitempty"`
	ApplicationType         string            `json:"application_type"`
	GrantTypes              []string          `json:"grant_types"`
	InitiateLoginURI        string            `json:"initiate_login_uri"`
	RedirectURIs            []string          `json:"redirect_uris"`
	ResponseTypes           []string          `json:"response_types"`
	ClientName              string            `json:"client_name"`
	JWKSURI                 string            `json:"jwks_uri"`
	TokenEndpointAuthMethod string            `json:"token_endpoint_auth_method"`
	Scope                   string            `json:"scope"`
	ToolConfiguration       ToolConfiguration `json:"https://purl.imsglobal.org/spec/lti-tool-configuration"`
}

// ClientRegistration returns what the tool registers: Laurel's URLs, the
// course navigation placement, privacy level public, the custom parameters
// and the NRPS scope.
func (t *Tool) ClientRegistration() ClientRegistration {
	return ClientRegistration{
		ApplicationType:         "web",
		GrantTypes:              []string{"client_credentials", "implicit"},
		InitiateLoginURI:        t.LoginURL(),
		RedirectURIs:            []string{t.LaunchURL()},
		ResponseTypes:           []string{"id_token"},
		ClientName:              t.Title,
		JWKSURI:                 t.JWKSURL(),
		TokenEndpointAuthMethod: "private_key_jwt",
		Scope:                   ScopeNRPS,
		ToolConfiguration: ToolConfiguration{
			Domain:           t.Domain(),
			TargetLinkURI:    t.LaunchURL(),
			CustomParameters: CustomParameters,
			Claims:           []string{"iss", "sub", "name", "given_name", "family_name", "email", "locale"},
			Description:      t.Description,
			PrivacyLevel:     "public",
			Messages: []ToolMessage{
				{Type: MessageResourceLink, TargetLinkURI: t.LaunchURL(), Label: t.Title, Placements: []string{"course_navigation"}, Visibility: "members"},
				{Type: MessageDeepLinking, TargetLinkURI: t.LaunchURL(), Label: t.Title + ": My credential", Placements: []string{"link_selection", "assignment_selection"}},
			},
		},
	}
}

// RegistrationResult is what Register stored.
type RegistrationResult struct {
	Platform     Platform
	DeploymentID string
	// Warnings name what the platform's admin stripped (scopes, placements).
	Warnings []string
}

// isLoopback allows plain http only for local development and tests.
func isLoopback(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func checkEndpoint(name, v string) error {
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Host))) {
		return apperr.Errorf(apperr.Invalid, "The platform's configuration has no valid https %s (got %q).", name, truncate(v, 200))
	}
	return nil
}

// parentDomain returns the last two labels of host ("instructure.com").
func parentDomain(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	parts := strings.Split(host, ".")
	if len(parts) <= 2 {
		return host
	}
	return strings.Join(parts[len(parts)-2:], ".")
}

// validateConfiguration applies the registration's host rules: every
// endpoint https (http on loopback only), and the issuer on the same host as
// the configuration URL or its parent domain (Canvas serves
// school.instructure.com's configuration for issuer canvas.instructure.com),
// or an Instructure-hosted issuer.
func validateConfiguration(cfgURL *url.URL, cfg *PlatformConfiguration) error {
	if cfg.Issuer == "" {
		return apperr.Errorf(apperr.Invalid, "The platform's configuration has no issuer.")
	}
	for name, v := range map[string]string{"issuer": cfg.Issuer, "authorization_endpoint": cfg.AuthorizationEndpoint,
		"jwks_uri": cfg.JWKSURI, "registration_endpoint": cfg.RegistrationEndpoint, "token_endpoint": cfg.TokenEndpoint} {
		if err := checkEndpoint(name, v); err != nil {
			return err
		}
	}
	iu, _ := url.Parse(cfg.Issuer)
	_, _, _, hosted := KnownCanvasEndpoints(cfg.Issuer)
	if iu.Host != cfgURL.Host && parentDomain(iu.Host) != parentDomain(cfgURL.Host) && !hosted {
		return apperr.Errorf(apperr.Invalid, "The platform's issuer %s does not belong to the host %s that served its configuration.", cfg.Issuer, cfgURL.Host)
	}
	return nil
}

// DynamicRegister performs LTI Dynamic Registration: it fetches the
// platform's configuration with the registration token, POSTs the tool's
// client registration and stores the new platform and deployment.
func (t *Tool) DynamicRegister(ctx context.Context, configURL, regToken string) (RegistrationResult, error) {
	var res RegistrationResult
	cu, err := url.Parse(configURL)
	if err != nil || cu.Host == "" || (cu.Scheme != "https" && !(cu.Scheme == "http" && isLoopback(cu.Host))) {
		return res, apperr.Errorf(apperr.Invalid, "openid_configuration %q is not an https URL.", truncate(configURL, 200))
	}
	var cfg PlatformConfiguration
	if err := t.doJSON(ctx, http.MethodGet, configURL, regToken, nil, &cfg); err != nil {
		return res, err
	}
	if err := validateConfiguration(cu, &cfg); err != nil {
		return res, err
	}
	reg := t.ClientRegistration()
	var out ClientRegistration
	var raw map[string]any
	if err := t.doJSON(ctx, http.MethodPost, cfg.RegistrationEndpoint, regToken, reg, &raw); err != nil {
		return res, err
	}
	b, _ := json.Marshal(raw)
	_ = json.Unmarshal(b, &out)
	if out.ClientID == "" {
		return res, apperr.Errorf(apperr.Invalid, "The platform's registration answer carries no client_id.")
	}
	granted := strings.Fields(out.Scope)
	_, scopeSent := raw["scope"]
	if scopeSent && !slices.Contains(granted, ScopeNRPS) {
		res.Warnings = append(res.Warnings, "The platform did not grant the Names and Roles scope: course rosters will not show in Laurel.")
	}
	placed := false
	for _, m := range out.ToolConfiguration.Messages {
		if m.Type == MessageResourceLink && (len(m.Placements) == 0 || slices.Contains(m.Placements, "course_navigation")) {
			placed = true
		}
	}
	if len(out.ToolConfiguration.Messages) > 0 && !placed {
		res.Warnings = append(res.Warnings, "The platform did not keep the course navigation placement: instructors will not find Laurel in their courses.")
	}
	name := cfg.LTI.ProductFamilyCode
	if name == "" {
		name = "LTI platform"
	}
	in := PlatformInput{
		Name: name + " " + cu.Host, Issuer: cfg.Issuer, ClientID: out.ClientID, AuthURL: cfg.AuthorizationEndpoint,
		TokenURL: cfg.TokenEndpoint, JWKSURL: cfg.JWKSURI,
	}
	if scopeSent {
		in.GrantedScopes = append([]string{}, granted...)
	}
	if cfg.LTI.ProductFamilyCode == "canvas" {
		in.CanvasURL = cu.Scheme + "://" + cu.Host
	}
	if d := out.ToolConfiguration.DeploymentID; d != "" {
		in.DeploymentIDs = []string{d}
		res.DeploymentID = d
	}
	p, err := t.registry.AddPlatform(ctx, in)
	if err != nil {
		return res, err
	}
	res.Platform = p
	return res, nil
}

// doJSON sends a JSON request with a bearer token and decodes the answer,
// turning a platform's error body (Canvas: 422 {"errors": [...]}) into a
// readable Invalid error.
func (t *Tool) doJSON(ctx context.Context, method, u, bearer string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, u, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return apperr.Errorf(apperr.Invalid, "Bad platform URL %q.", truncate(u, 200))
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := t.HTTPClient.Do(req)
	if err != nil {
		return apperr.Errorf(apperr.Invalid, "Laurel could not reach the platform at %s: %v", truncate(u, 200), err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return apperr.Errorf(apperr.Invalid, "The platform answered %s %s with %d: %s", method, truncate(u, 200), resp.StatusCode, platformErrorText(b))
	}
	if err := json.Unmarshal(b, out); err != nil {
		return apperr.Errorf(apperr.Invalid, "The platform's answer from %s is not JSON.", truncate(u, 200))
	}
	return nil
}

// platformErrorText makes an error body readable: Canvas's {"errors": [...]}
// (strings or {"message"} objects, or a map of field → messages), OAuth's
// {"error", "error_description"}, or the text itself.
func platformErrorText(b []byte) string {
	var v struct {
		Errors  any    `json:"errors"`
		Error   any    `json:"error"`
		Desc    string `json:"error_description"`
		Message string `json:"message"`
	}
	if json.Unmarshal(b, &v) == nil {
		var msgs []string
		var walk func(prefix string, x any)
		walk = func(prefix string, x any) {
			switch e := x.(type) {
			case string:
				msgs = append(msgs, prefix+e)
			case []any:
				for _, i := range e {
					walk(prefix, i)
				}
			case map[string]any:
				if m, ok := e["message"].(string); ok {
					f, _ := e["field"].(string)
					if f != "" {
						m = f + ": " + m
					}
					msgs = append(msgs, prefix+m)
					return
				}
				for k, i := range e {
					walk(prefix+k+": ", i)
				}
			}
		}
		walk("", v.Errors)
		if s, ok := v.Error.(string); ok {
			msgs = append(msgs, strings.TrimSpace(s+" "+v.Desc))
		} else if v.Error != nil {
			walk("", v.Error)
		}
		if v.Message != "" {
			msgs = append(msgs, v.Message)
		}
		if len(msgs) > 0 {
			slices.Sort(msgs)
			return truncate(strings.Join(msgs, "; "), 500)
		}
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "(empty body)"
	}
	return truncate(s, 300)
}

// RegisteredPage is the data of lti_registered.html.
type RegisteredPage struct {
	Platform     Platform
	DeploymentID string
	Warnings     []string
}

func (h *handlers) register(c *gin.Context) {
	cfg, tok := c.Query("openid_configuration"), c.Query("registration_token")
	frameUnsigned(c, cfg) // the platform's admin page opens registration in an iframe
	if cfg == "" {
		h.rd.WriteError(c, apperr.Errorf(apperr.Invalid, "This URL is for LTI Dynamic Registration: the platform must open it with openid_configuration and registration_token."))
		return
	}
	res, err := h.t.DynamicRegister(c.Request.Context(), cfg, tok)
	if err != nil {
		h.t.log.WarnContext(c.Request.Context(), "dynamic registration failed", "err", err)
		h.rd.WriteError(c, err)
		return
	}
	h.t.log.InfoContext(c.Request.Context(), "platform registered", "platform_id", res.Platform.ID, "issuer", res.Platform.Issuer, "client_id", res.Platform.ClientID)
	if err := h.rd.Render(c, http.StatusOK, "lti_registered.html", RegisteredPage(res)); err != nil {
		h.rd.WriteError(c, err)
	}
}

func (h *handlers) jwks(c *gin.Context) {
	js, err := h.t.toolKeys.JWKS(c.Request.Context())
	if err != nil {
		h.t.log.ErrorContext(c.Request.Context(), "tool JWKS", "err", err)
		c.JSON(http.StatusInternalServerError, gin.H{"error": gin.H{"code": "internal", "message": "keys unavailable"}})
		return
	}
	c.Header("Cache-Control", "public, max-age=300")
	c.Data(http.StatusOK, "application/json", js)
}
