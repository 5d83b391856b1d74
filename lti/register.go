package lti

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/text"
	"github.com/laurel-edu/laurel/internal/web"
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

// hostKey is a URL's host for comparison: lower-case, without the
// scheme's default port.
func hostKey(u *url.URL) string {
	h, port := strings.ToLower(strings.TrimSuffix(u.Hostname(), ".")), u.Port()
	if port == "" || (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		return h
	}
	return net.JoinHostPort(h, port)
}

// hostName is a URL's host name for comparison, without any port:
// lower-case, without a trailing dot. The Dynamic Registration spec asks
// that the issuer's domain match the configuration URL's, not its port.
func hostName(u *url.URL) string {
	return strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
}

func underInstructure(u *url.URL) bool {
	return u.Scheme == "https" && strings.HasSuffix(hostKey(u), ".instructure.com")
}

// validateConfiguration applies the registration's rules to the platform's
// configuration: every endpoint passes the platform fetch rule (https, public
// address); the issuer's host name is the one that served the configuration
// (the spec's "domain": any port), and the registration endpoint Laurel
// POSTs to is on that very host and port. The one exception is an
// Instructure-hosted issuer (canvas.instructure.com and its beta and test),
// which every hosted Canvas shares whatever its own domain: there the auth,
// token and JWKS endpoints are pinned to Instructure's, so a configuration
// cannot pair the shared issuer with keys of its own.
func (t *Tool) validateConfiguration(cfgURL *url.URL, cfg *PlatformConfiguration) error {
	if cfg.Issuer == "" {
		return apperr.Errorf(apperr.Invalid, "The platform's configuration has no issuer.")
	}
	fields := []struct{ name, v string }{{"issuer", cfg.Issuer}, {"authorization_endpoint", cfg.AuthorizationEndpoint},
		{"jwks_uri", cfg.JWKSURI}, {"registration_endpoint", cfg.RegistrationEndpoint}, {"token_endpoint", cfg.TokenEndpoint}}
	for _, f := range fields {
		if _, err := t.checkPlatformURL(f.name, f.v); err != nil {
			return apperr.Errorf(apperr.Invalid, "The platform's configuration is refused: its %s.", err)
		}
	}
	iu, _ := url.Parse(cfg.Issuer)
	ru, _ := url.Parse(cfg.RegistrationEndpoint)
	known, hosted := t.registry.KnownEndpoints(cfg.Issuer)
	// Instructure serves the shared configuration on canvas.instructure.com
	// and registers on the institution's *.instructure.com.
	instructure := hosted && underInstructure(ru) && underInstructure(cfgURL)
	if hostKey(ru) != hostKey(cfgURL) && !instructure {
		t.log.Warn("registration endpoint on another host", "registration_endpoint", text.Truncate(cfg.RegistrationEndpoint, 200), "configuration_host", cfgURL.Host)
		return apperr.Errorf(apperr.Invalid, "The platform's registration_endpoint is on another host than %s, which served its configuration.", text.Truncate(cfgURL.Host, 200))
	}
	if hosted {
		cfg.Issuer = known.Issuer
		cfg.AuthorizationEndpoint, cfg.TokenEndpoint, cfg.JWKSURI = known.AuthURL, known.TokenURL, known.JWKSURL
		return nil
	}
	if hostName(iu) != hostName(cfgURL) {
		t.log.Warn("issuer on another host", "issuer", text.Truncate(cfg.Issuer, 200), "configuration_host", cfgURL.Host)
		return apperr.Errorf(apperr.Invalid, "The platform's issuer is not on the host %s that served its configuration.", text.Truncate(hostName(cfgURL), 200))
	}
	return nil
}

// DynamicRegister performs LTI Dynamic Registration with a one-time
// registration link (its token, linkToken): it claims the link, fetches the
// platform's configuration with the registration token, POSTs the tool's
// client registration and stores the new platform and deployment together
// with the link's use. Without a valid link it fetches nothing and stores
// nothing (a Forbidden error); a failed registration frees the link again.
func (t *Tool) DynamicRegister(ctx context.Context, linkToken, configURL, regToken string) (RegistrationResult, error) {
	var res RegistrationResult
	linkID, err := t.claimRegistrationLink(ctx, linkToken)
	if err != nil {
		return res, err
	}
	stored := false
	defer func() {
		if !stored {
			t.releaseRegistrationLink(ctx, linkID)
		}
	}()
	if configURL == "" {
		return res, apperr.Errorf(apperr.Invalid, "This registration link is for the platform, not for a browser: paste it into the platform's LTI Dynamic Registration (Canvas: Developer Keys › + Developer Key › + LTI Registration), which opens it with openid_configuration and registration_token. The link is still unused.")
	}
	cu, err := t.checkPlatformURL("openid_configuration", configURL)
	if err != nil {
		return res, apperr.Errorf(apperr.Invalid, "The registration is refused: %s.", err)
	}
	ctx = withSameHost(ctx)
	var cfg PlatformConfiguration
	if err := t.doJSON(ctx, "configuration", http.MethodGet, configURL, regToken, nil, &cfg); err != nil {
		return res, err
	}
	if err := t.validateConfiguration(cu, &cfg); err != nil {
		return res, err
	}
	reg := t.ClientRegistration()
	var out ClientRegistration
	var raw map[string]any
	if err := t.doJSON(ctx, "registration", http.MethodPost, cfg.RegistrationEndpoint, regToken, reg, &raw); err != nil {
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
	if ext := t.registry.Extension(); ext != nil {
		in.Extra = ext.RegisteredValues(cfg.LTI.ProductFamilyCode, cu)
	}
	if d := out.ToolConfiguration.DeploymentID; d != "" {
		in.DeploymentIDs = []string{d}
		res.DeploymentID = d
	}
	p, err := t.registry.addPlatform(ctx, in, func(tx *sqlx.Tx, id int64) error {
		return t.useRegistrationLink(ctx, tx, linkID, id, res.Warnings)
	})
	if err != nil {
		return res, err
	}
	stored = true
	res.Platform = p
	return res, nil
}

// doJSON sends a JSON request with a bearer token to a platform and decodes
// the answer, within FetchTimeout and platformFetchLimit. what names the
// request in messages. A refusal says only the HTTP status: the platform's
// body and the connection's details are logged, never shown (they would make
// this a probe of whatever the URL points at).
func (t *Tool) doJSON(ctx context.Context, what, method, u, bearer string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, what, err)
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, t.FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return apperr.Errorf(apperr.Invalid, "The platform's %s URL is not valid.", what)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	host := req.URL.Host
	resp, err := t.HTTPClient.Do(req)
	if err != nil {
		t.log.WarnContext(ctx, "platform fetch failed", "what", what, "host", host, "err", err)
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return apperr.Errorf(apperr.Invalid, "The platform at %s did not answer Laurel's %s request within %s.", text.Truncate(host, 200), what, t.FetchTimeout)
		}
		return apperr.Errorf(apperr.Invalid, "Laurel could not complete its %s request to the platform at %s: the platform could not be reached, redirected elsewhere, or its address is not a public https one.", what, text.Truncate(host, 200))
	}
	defer resp.Body.Close()
	b, err := readLimited(resp.Body)
	if errors.Is(err, errTooLarge) {
		return apperr.Errorf(apperr.Invalid, "The platform's answer to Laurel's %s request is larger than %d KiB.", what, platformFetchLimit>>10)
	}
	if err != nil {
		t.log.WarnContext(ctx, "platform fetch failed", "what", what, "host", host, "err", err)
		if ctx.Err() != nil {
			return apperr.Errorf(apperr.Invalid, "The platform at %s did not answer Laurel's %s request within %s.", text.Truncate(host, 200), what, t.FetchTimeout)
		}
		return apperr.Errorf(apperr.Invalid, "The platform's answer to Laurel's %s request could not be read.", what)
	}
	if resp.StatusCode/100 != 2 {
		t.log.WarnContext(ctx, "platform refused", "what", what, "host", host, "status", resp.StatusCode, "answer", platformErrorText(b))
		msg := fmt.Sprintf("The platform answered Laurel's %s request with HTTP %d.", what, resp.StatusCode)
		switch {
		case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
			msg += " The platform's registration token may have expired or been used: start the registration again in the platform."
		default:
			msg += " The platform's explanation is in Laurel's log."
		}
		return apperr.Errorf(apperr.Invalid, "%s", msg)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return apperr.Errorf(apperr.Invalid, "The platform's answer to Laurel's %s request is not JSON.", what)
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
			return text.Truncate(strings.Join(msgs, "; "), 500)
		}
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "(empty body)"
	}
	return text.Truncate(s, 300)
}

// RegisteredPage is the data of lti_registered.html.
type RegisteredPage struct {
	Platform     Platform
	DeploymentID string
	Warnings     []string
}

func (h *handlers) register(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	frameUnsigned(c, c.Query("openid_configuration")) // the platform's admin page opens registration in an iframe
	ctx := c.Request.Context()
	res, err := h.t.DynamicRegister(ctx, c.Query(RegistrationLinkParam), c.Query("openid_configuration"), c.Query("registration_token"))
	if err != nil {
		h.t.log.WarnContext(ctx, "dynamic registration refused", "code", apperr.Code(err), "message", apperr.Message(err))
		h.rd.WriteError(c, err)
		return
	}
	h.t.log.InfoContext(ctx, "platform registered", "platform_id", res.Platform.ID, "issuer", res.Platform.Issuer, "client_id", res.Platform.ClientID)
	if err := h.rd.Render(c, http.StatusOK, "lti_registered.html", RegisteredPage(res)); err != nil {
		h.rd.WriteError(c, err)
	}
}

func (h *handlers) jwks(c *gin.Context) {
	js, err := h.t.toolKeys.JWKS(c.Request.Context())
	if err != nil {
		web.WriteJSONError(c, fmt.Errorf("tool JWKS: %w", err))
		return
	}
	c.Header("Cache-Control", "public, max-age=300")
	c.Data(http.StatusOK, "application/json", js)
}
