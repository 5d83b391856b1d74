package canvassim

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/lti"
)

func (s *Sim) routes() {
	s.mux.HandleFunc("GET /api/lti/security/jwks", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(s.jwks())
	})
	s.mux.HandleFunc("/api/lti/authorize_redirect", s.authorize)
	s.mux.HandleFunc("POST /login/oauth2/token", s.token)
	s.mux.HandleFunc("GET /api/lti/courses/{id}/names_and_roles", s.nrps)
	s.mux.HandleFunc("GET /api/lti/security/openid-configuration", s.openIDConfiguration)
	s.mux.HandleFunc("POST /api/lti/registrations", s.registration)
	s.mux.HandleFunc("POST /courses/{id}/deep_linking_response", s.deepLinkReturn)
	s.mux.HandleFunc("GET /sim/launch", s.launchPage)
	s.mux.HandleFunc("GET /sim/login_init", s.loginInit)
	s.mux.HandleFunc("GET /sim/post_message_forwarding", s.forwardingFrame)
}

// LaunchOptions varies a launch.
type LaunchOptions struct {
	// MessageType is LtiResourceLinkRequest (default) or LtiDeepLinkingRequest.
	MessageType string
	// ResourceLinkID defaults to one per course.
	ResourceLinkID string
	// NoStorageTarget leaves lti_storage_target out of the login.
	NoStorageTarget bool
	// NoClientID leaves client_id out of the login.
	NoClientID bool
}

// LoginRequest is the third-party login initiation a browser sends to the
// tool: POST Form to URL.
type LoginRequest struct {
	URL  string
	Form url.Values
}

// messageHint is what lti_message_hint carries (opaque to the tool).
type messageHint struct {
	Course       string `json:"c"`
	MessageType  string `json:"m"`
	ResourceLink string `json:"r"`
}

// BeginLaunch returns the login initiation for userID launching the tool from
// courseID, as Canvas sends it.
func (s *Sim) BeginLaunch(userID, courseID string, o LaunchOptions) (LoginRequest, error) {
	if _, ok := s.User(userID); !ok {
		return LoginRequest{}, fmt.Errorf("no user %s", userID)
	}
	c, ok := s.Course(courseID)
	if !ok {
		return LoginRequest{}, fmt.Errorf("no course %s", courseID)
	}
	if o.MessageType == "" {
		o.MessageType = lti.MessageResourceLink
	}
	if o.ResourceLinkID == "" {
		o.ResourceLinkID = c.ContextID
	}
	hint, _ := json.Marshal(messageHint{Course: c.ID, MessageType: o.MessageType, ResourceLink: o.ResourceLinkID})
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.RedirectURIs) == 0 || s.ToolLoginURL == "" {
		return LoginRequest{}, fmt.Errorf("no tool registered: call UseTool")
	}
	f := url.Values{
		"iss": {s.Issuer}, "login_hint": {userID}, "target_link_uri": {s.RedirectURIs[0]},
		"lti_message_hint":  {base64.RawURLEncoding.EncodeToString(hint)},
		"lti_deployment_id": {s.DeploymentID}, "canvas_region": {"us-east-1"}, "canvas_environment": {"prod"},
	}
	if !o.NoClientID {
		f.Set("client_id", s.ClientID)
	}
	if s.StorageTarget != "" && !o.NoStorageTarget {
		f.Set("lti_storage_target", s.StorageTarget)
	}
	return LoginRequest{URL: s.ToolLoginURL, Form: f}, nil
}

// Claims returns the id_token claims Canvas would send userID launching
// from courseID, with Canvas's claim shapes. nonce is the tool's nonce.
func (s *Sim) Claims(userID, courseID, nonce, messageType, resourceLinkID string) (map[string]any, error) {
	u, ok := s.User(userID)
	if !ok {
		return nil, fmt.Errorf("no user %s", userID)
	}
	c, ok := s.Course(courseID)
	if !ok {
		return nil, fmt.Errorf("no course %s", courseID)
	}
	if messageType == "" {
		messageType = lti.MessageResourceLink
	}
	if resourceLinkID == "" {
		resourceLinkID = c.ContextID
	}
	var roles []string
	for _, e := range c.Enrollments {
		if e.UserID == u.ID {
			roles = append(roles, RoleURIs(e.Role)...)
		}
	}
	if u.AccountRole != "" {
		roles = append(roles, RoleURIs(u.AccountRole)...)
	}
	roles = uniq(roles)
	if roles == nil {
		roles = []string{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.Now()
	none := map[string]any{"errors": map[string]any{}}
	vars := map[string]string{"$Canvas.user.id": u.ID, "$Canvas.course.id": c.ID, "$Person.email.primary": u.Email,
		"$Canvas.user.loginId": u.Email, "$Person.name.full": u.Name}
	custom := map[string]any{}
	for k, v := range s.CustomFields {
		if sub, ok := vars[v]; ok {
			custom[k] = sub
		} else {
			custom[k] = v
		}
	}
	target := ""
	if len(s.RedirectURIs) > 0 {
		target = s.RedirectURIs[0]
	}
	claims := map[string]any{
		"https://purl.imsglobal.org/spec/lti/claim/message_type": messageType,
		"https://purl.imsglobal.org/spec/lti/claim/version":      "1.3.0",
		"aud": s.ClientID, "azp": s.ClientID,
		"https://purl.imsglobal.org/spec/lti/claim/deployment_id": s.DeploymentID,
		"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "iss": s.Issuer, "nonce": nonce, "sub": u.LTIID,
		"https://purl.imsglobal.org/spec/lti/claim/target_link_uri": target,
		"picture": s.url + "/images/messages/avatar-50.png",
		"email":   u.Email, "name": u.Name, "given_name": u.GivenName, "family_name": u.FamilyName,
		"https://purl.imsglobal.org/spec/lti/claim/lis": map[string]any{
			"person_sourcedid": "sis-" + u.ID, "course_offering_sourcedid": "sis-course-" + c.ID,
			"validation_context": nil, "errors": none,
		},
		"https://purl.imsglobal.org/spec/lti/claim/context": map[string]any{
			"id": c.ContextID, "label": c.Label, "title": c.Title,
			"type":               []string{"http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"},
			"validation_context": nil, "errors": none,
		},
		"https://purl.imsglobal.org/spec/lti/claim/tool_platform": map[string]any{
			"guid": s.GUID, "name": "Simulated University", "version": "cloud", "product_family_code": s.ProductFamilyCode,
			"validation_context": nil, "errors": none,
		},
		"https://purl.imsglobal.org/spec/lti/claim/launch_presentation": map[string]any{
			"document_target": "iframe", "return_url": s.url + "/courses/" + c.ID + "/external_content/success/external_tool_redirect",
			"locale": "en", "height": 400, "width": 800, "validation_context": nil, "errors": none,
		},
		"locale": "en",
		"https://purl.imsglobal.org/spec/lti/claim/roles":  roles,
		"https://purl.imsglobal.org/spec/lti/claim/custom": custom,
		"https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": map[string]any{
			"context_memberships_url": s.url + "/api/lti/courses/" + c.ID + "/names_and_roles",
			"service_versions":        []string{"2.0"}, "validation_context": nil, "errors": none,
		},
		"https://purl.imsglobal.org/spec/lti/claim/lti11_legacy_user_id": randHexFor(u.ID),
		"https://purl.imsglobal.org/spec/lti/claim/lti1p1":               map[string]any{"user_id": randHexFor(u.ID), "validation_context": nil, "errors": none},
		"https://www.instructure.com/placement":                          "course_navigation",
		"errors":                                                         none,
	}
	if messageType == lti.MessageDeepLinking {
		claims["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"] = map[string]any{
			"deep_link_return_url":                 s.url + "/courses/" + c.ID + "/deep_linking_response?modal=true",
			"accept_types":                         []string{"link", "file", "html", "ltiResourceLink", "image"},
			"accept_presentation_document_targets": []string{"embed", "iframe", "window"},
			"accept_media_types":                   "image/*,text/html,application/vnd.ims.lti.v1.ltilink,*/*",
			"accept_multiple":                      true, "auto_create": false,
			"data": "sim-data-" + randHex(4), "validation_context": nil, "errors": none,
		}
		claims["https://www.instructure.com/placement"] = "link_selection"
	} else {
		claims["https://purl.imsglobal.org/spec/lti/claim/resource_link"] = map[string]any{
			"id": resourceLinkID, "description": nil, "title": c.Title, "validation_context": nil, "errors": none,
		}
	}
	if s.NoNRPS {
		delete(claims, "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice")
	}
	return claims, nil
}

func randHexFor(id string) string {
	sum := sha256.Sum256([]byte("legacy:" + id))
	return fmt.Sprintf("%x", sum[:20])
}

func uniq(in []string) []string {
	var out []string
	for _, s := range in {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// authorize is Canvas's OIDC auth endpoint: it checks the tool's auth
// request and answers with the auto-submitting form_post of the id_token.
func (s *Sim) authorize(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	f := r.Form
	s.mu.Lock()
	s.lastAuth = map[string][]string(f)
	clientID, redirects := s.ClientID, slices.Clone(s.RedirectURIs)
	storage := s.StorageTarget
	s.mu.Unlock()
	fail := func(format string, args ...any) {
		http.Error(w, "invalid_request: "+fmt.Sprintf(format, args...), http.StatusBadRequest)
	}
	switch {
	case f.Get("client_id") != clientID:
		fail("client_id %q is not a registered developer key", f.Get("client_id"))
	case !slices.Contains(redirects, f.Get("redirect_uri")):
		fail("redirect_uri %q is not registered for this developer key", f.Get("redirect_uri"))
	case f.Get("response_type") != "id_token":
		fail("response_type must be id_token")
	case f.Get("response_mode") != "form_post":
		fail("response_mode must be form_post")
	case !slices.Contains(strings.Fields(f.Get("scope")), "openid"):
		fail("scope must include openid")
	case f.Get("prompt") != "none":
		fail("prompt must be none")
	case f.Get("nonce") == "":
		fail("nonce is required")
	case f.Get("state") == "":
		fail("state is required")
	default:
		hb, err := base64.RawURLEncoding.DecodeString(f.Get("lti_message_hint"))
		var hint messageHint
		if err != nil || json.Unmarshal(hb, &hint) != nil {
			fail("lti_message_hint is not the one Canvas sent")
			return
		}
		claims, err := s.Claims(f.Get("login_hint"), hint.Course, f.Get("nonce"), hint.MessageType, hint.ResourceLink)
		if err != nil {
			fail("login_hint: %v", err)
			return
		}
		fields := map[string]string{"id_token": s.Sign(claims), "state": f.Get("state")}
		if storage != "" {
			fields["lti_storage_target"] = storage
		}
		writeAutoPost(w, f.Get("redirect_uri"), fields)
	}
}

var autoPost = template.Must(template.New("post").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Launching…</title></head>
<body><form id="autopost" method="post" action="{{.Action}}">{{range $k, $v := .Fields}}
<input type="hidden" name="{{$k}}" value="{{$v}}">{{end}}
<noscript><button type="submit">Continue</button></noscript></form>
<script>document.getElementById("autopost").submit();</script></body></html>`))

func writeAutoPost(w http.ResponseWriter, action string, fields map[string]string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	autoPost.Execute(w, struct {
		Action string
		Fields map[string]string
	}{action, fields})
}

var (
	formRE  = regexp.MustCompile(`(?is)<form[^>]*\baction="([^"]*)"`)
	inputRE = regexp.MustCompile(`(?is)<input[^>]*>`)
	attrRE  = regexp.MustCompile(`(?is)\b(name|value)="([^"]*)"`)
)

// FormFromHTML extracts the first form's action and its inputs' values from
// an auto-submitting page (what a browser would submit).
func FormFromHTML(page []byte) (action string, vals url.Values, err error) {
	m := formRE.FindSubmatch(page)
	if m == nil {
		return "", nil, fmt.Errorf("no form in page: %.200s", page)
	}
	vals = url.Values{}
	for _, in := range inputRE.FindAll(page, -1) {
		var name, value string
		for _, a := range attrRE.FindAllSubmatch(in, -1) {
			if strings.EqualFold(string(a[1]), "name") {
				name = html.UnescapeString(string(a[2]))
			} else {
				value = html.UnescapeString(string(a[2]))
			}
		}
		if name != "" {
			vals.Add(name, value)
		}
	}
	return html.UnescapeString(string(m[1])), vals, nil
}

// token is Canvas's client_credentials endpoint: it verifies the tool's JWT
// assertion against the tool's JWKS.
func (s *Sim) token(w http.ResponseWriter, r *http.Request) {
	oauthErr := func(code, desc string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
	}
	if err := r.ParseForm(); err != nil {
		oauthErr("invalid_request", "bad form")
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" {
		oauthErr("unsupported_grant_type", "grant_type must be client_credentials")
		return
	}
	if r.PostForm.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		oauthErr("invalid_request", "client_assertion_type must be jwt-bearer")
		return
	}
	claims, err := s.verifyToolJWT(r.Context(), r.PostForm.Get("client_assertion"))
	if err != nil {
		oauthErr("invalid_client", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.Now()
	iss, _ := claims["iss"].(string)
	sub, _ := claims["sub"].(string)
	if iss != s.ClientID || sub != s.ClientID {
		oauthErr("invalid_client", "iss and sub must be the client_id")
		return
	}
	if !audContains(claims["aud"], s.url+"/login/oauth2/token") {
		oauthErr("invalid_client", "aud must be the token endpoint")
		return
	}
	exp, _ := claims["exp"].(float64)
	iat, _ := claims["iat"].(float64)
	if time.Unix(int64(exp), 0).Before(now) {
		oauthErr("invalid_client", "assertion expired")
		return
	}
	if iat == 0 || now.Sub(time.Unix(int64(iat), 0)) > 5*time.Minute || time.Unix(int64(iat), 0).After(now.Add(time.Minute)) {
		oauthErr("invalid_client", "iat must be within the last 5 minutes")
		return
	}
	if exp-iat > 300 {
		oauthErr("invalid_client", "assertion lifetime over 5 minutes")
		return
	}
	jti, _ := claims["jti"].(string)
	if jti == "" || s.jtis[jti] {
		oauthErr("invalid_client", "jti missing or reused")
		return
	}
	s.jtis[jti] = true
	scopes := strings.Fields(r.PostForm.Get("scope"))
	allowed := []string{lti.ScopeNRPS, "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem", "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"}
	for _, sc := range scopes {
		if !slices.Contains(allowed, sc) {
			oauthErr("invalid_scope", "scope "+sc+" is not allowed for this developer key")
			return
		}
	}
	s.tokenRequests++
	tok := randHex(20)
	s.tokens[tok] = issuedToken{scopes: scopes, expires: now.Add(time.Hour)}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600, "scope": strings.Join(scopes, " ")})
}

func audContains(v any, want string) bool {
	switch a := v.(type) {
	case string:
		return a == want
	case []any:
		for _, e := range a {
			if e == want {
				return true
			}
		}
	}
	return false
}

// verifyToolJWT checks an RS256 JWT from the tool against its JWKS.
func (s *Sim) verifyToolJWT(ctx context.Context, raw string) (map[string]any, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("assertion is not a JWT")
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	pb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, fmt.Errorf("assertion is not base64url")
	}
	var h struct{ Alg, Kid string }
	if json.Unmarshal(hb, &h) != nil || h.Alg != "RS256" {
		return nil, fmt.Errorf("assertion alg must be RS256")
	}
	s.mu.Lock()
	jwksURL := s.ToolJWKSURL
	s.mu.Unlock()
	key, err := fetchRSAKey(ctx, jwksURL, h.Kid)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig); err != nil {
		return nil, fmt.Errorf("assertion signature does not verify with the tool's key %s", h.Kid)
	}
	var claims map[string]any
	if err := json.Unmarshal(pb, &claims); err != nil {
		return nil, fmt.Errorf("assertion payload is not JSON")
	}
	return claims, nil
}

// fetchRSAKey returns the key kid from a JWKS URL.
func fetchRSAKey(ctx context.Context, jwksURL, kid string) (*rsa.PublicKey, error) {
	if jwksURL == "" {
		return nil, fmt.Errorf("no tool JWKS URL registered")
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, jwksURL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch tool JWKS: %v", err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct{ Kty, Kid, Alg, Use, N, E string } `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return nil, fmt.Errorf("tool JWKS is not JSON")
	}
	for _, k := range set.Keys {
		if k.Kid != kid || k.Kty != "RSA" {
			continue
		}
		if k.Alg != "RS256" || k.Use != "sig" {
			return nil, fmt.Errorf("tool key %s must carry alg RS256 and use sig", kid)
		}
		n, err1 := base64.RawURLEncoding.DecodeString(k.N)
		e, err2 := base64.RawURLEncoding.DecodeString(k.E)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("tool key %s is malformed", kid)
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}, nil
	}
	return nil, fmt.Errorf("tool JWKS has no key %q", kid)
}

// DeepLinkReturn is a deep linking response the sim received.
type DeepLinkReturn struct {
	CourseID string
	Claims   map[string]any
	Items    []map[string]any
}

func (s *Sim) deepLinkReturn(w http.ResponseWriter, r *http.Request) {
	claims, err := s.verifyToolJWT(r.Context(), r.FormValue("JWT"))
	if err != nil {
		http.Error(w, "invalid deep linking response: "+err.Error(), http.StatusBadRequest)
		return
	}
	if claims["https://purl.imsglobal.org/spec/lti/claim/message_type"] != lti.MessageDeepLinkingResponse {
		http.Error(w, "message_type must be LtiDeepLinkingResponse", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	ok := claims["iss"] == s.ClientID && audContains(claims["aud"], s.Issuer)
	s.mu.Unlock()
	if !ok {
		http.Error(w, "iss must be the client_id and aud the platform issuer", http.StatusBadRequest)
		return
	}
	var items []map[string]any
	if a, ok := claims[lti.ClaimDeepLinkingItems].([]any); ok {
		for _, it := range a {
			if m, ok := it.(map[string]any); ok {
				items = append(items, m)
			}
		}
	}
	s.mu.Lock()
	s.deepLinks = append(s.deepLinks, DeepLinkReturn{CourseID: r.PathValue("id"), Claims: claims, Items: items})
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, "<!doctype html><p id=\"deep-link-done\">%d item(s) added to the course.</p>", len(items))
}

// DeepLinks returns the deep linking responses received.
func (s *Sim) DeepLinks() []DeepLinkReturn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.deepLinks)
}

func (s *Sim) bearerOK(r *http.Request) bool {
	s.mu.Lock()
	want := s.RegistrationToken
	s.mu.Unlock()
	return want == "" || r.Header.Get("Authorization") == "Bearer "+want
}

func (s *Sim) openIDConfiguration(w http.ResponseWriter, r *http.Request) {
	if !s.bearerOK(r) {
		http.Error(w, `{"errors":[{"message":"Invalid registration token"}]}`, http.StatusUnauthorized)
		return
	}
	u := s.URL()
	s.mu.Lock()
	iss := s.Issuer
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"issuer": iss, "authorization_endpoint": u + "/api/lti/authorize_redirect",
		"registration_endpoint": u + "/api/lti/registrations", "jwks_uri": u + "/api/lti/security/jwks",
		"token_endpoint": u + "/login/oauth2/token", "token_endpoint_auth_methods_supported": []string{"private_key_jwt"},
		"token_endpoint_auth_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported": []string{"openid", lti.ScopeNRPS}, "response_types_supported": []string{"id_token"},
		"id_token_signing_alg_values_supported": []string{"RS256"}, "claims_supported": []string{"sub", "iss", "name", "email"},
		"subject_types_supported": []string{"public"}, "authorization_server": strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://"),
		"https://purl.imsglobal.org/spec/lti-platform-configuration": map[string]any{
			"product_family_code": "canvas", "version": "OpenSource",
			"messages_supported": []map[string]any{
				{"type": "LtiResourceLinkRequest", "placements": []string{"course_navigation", "account_navigation"}},
				{"type": "LtiDeepLinkingRequest", "placements": []string{"link_selection", "assignment_selection"}},
			},
			"variables": []string{"Canvas.user.id", "Canvas.course.id", "Person.email.primary"},
			"https://canvas.instructure.com/lti/account_name": "Simulated University",
		},
	})
}

// registration is Canvas's dynamic registration endpoint: it validates the
// tool's client registration (422 {"errors": [...]} like Canvas), creates a
// developer key (client_id) and a deployment, and configures the sim to
// launch that tool.
func (s *Sim) registration(w http.ResponseWriter, r *http.Request) {
	if !s.bearerOK(r) {
		http.Error(w, `{"errors":[{"message":"Invalid registration token"}]}`, http.StatusUnauthorized)
		return
	}
	var reg map[string]any
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&reg); err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"errors": []string{"body is not JSON"}})
		return
	}
	var errs []map[string]string
	for _, f := range []string{"initiate_login_uri", "redirect_uris", "jwks_uri", "client_name", "https://purl.imsglobal.org/spec/lti-tool-configuration"} {
		if reg[f] == nil {
			errs = append(errs, map[string]string{"field": f, "message": "can't be blank"})
		}
	}
	if reg["token_endpoint_auth_method"] != "private_key_jwt" {
		errs = append(errs, map[string]string{"field": "token_endpoint_auth_method", "message": "must be private_key_jwt"})
	}
	s.mu.Lock()
	for _, e := range s.RegistrationErrors {
		errs = append(errs, map[string]string{"message": e})
	}
	s.mu.Unlock()
	if len(errs) > 0 {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"errors": errs})
		return
	}
	login, _ := reg["initiate_login_uri"].(string)
	jwks, _ := reg["jwks_uri"].(string)
	var redirects []string
	if a, ok := reg["redirect_uris"].([]any); ok {
		for _, x := range a {
			if s, ok := x.(string); ok {
				redirects = append(redirects, s)
			}
		}
	}
	s.mu.Lock()
	s.ClientID = fmt.Sprintf("1000000000%04d", len(s.jtis)+len(s.tokens)+len(s.users)+7)
	s.DeploymentID = fmt.Sprintf("%d:%s", len(s.courses)+1, randHex(20))
	s.ToolLoginURL, s.RedirectURIs, s.ToolJWKSURL = login, redirects, jwks
	reg["client_id"] = s.ClientID
	if s.GrantScopes != nil {
		reg["scope"] = strings.Join(s.GrantScopes, " ")
	}
	if tc, ok := reg["https://purl.imsglobal.org/spec/lti-tool-configuration"].(map[string]any); ok {
		tc["deployment_id"] = s.DeploymentID
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, reg)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// PlatformInput is how the sim registers in Laurel.
func (s *Sim) PlatformInput(name string) lti.PlatformInput {
	s.mu.Lock()
	defer s.mu.Unlock()
	if name == "" {
		name = "Canvas sandbox"
	}
	return lti.PlatformInput{
		Name: name, Issuer: s.Issuer, ClientID: s.ClientID, AuthURL: s.url + "/api/lti/authorize_redirect",
		TokenURL: s.url + "/login/oauth2/token", JWKSURL: s.url + "/api/lti/security/jwks",
		DeploymentIDs: []string{s.DeploymentID},
		// Package canvas's platform setting (the installation's Canvas URL).
		Extra: map[string]string{"canvas_url": s.url},
	}
}

// Register points the sim at the tool t and registers the sim as a
// platform in t's registry. It is idempotent (`laurel dev` re-runs keep
// their data): an existing registration of (issuer, client_id) has its
// endpoints and deployment brought up to date.
func (s *Sim) Register(ctx context.Context, t *lti.Tool, name string) (lti.Platform, error) {
	s.UseTool(t.LoginURL(), t.LaunchURL(), t.JWKSURL())
	in := s.PlatformInput(name)
	p, err := t.Registry().PlatformByIssuerClient(ctx, in.Issuer, in.ClientID)
	if apperr.Is(err, apperr.NotFound) {
		return t.Registry().AddPlatform(ctx, in)
	}
	if err != nil {
		return lti.Platform{}, err
	}
	in.Name = ""
	return t.Registry().UpdatePlatform(ctx, p.ID, in)
}

// coursePage is launchPage's page, parsed once.
var coursePage = template.Must(template.New("course").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>{{.Title}} · Canvas (simulated)</title></head>
<body style="font-family:sans-serif;margin:0">
<header style="background:#394B58;color:#fff;padding:.6rem 1rem">Canvas (simulated) — {{.Title}}</header>
<iframe name="post_message_forwarding" id="post_message_forwarding" title="storage" src="{{.Forward}}" style="display:none"></iframe>
<iframe name="tool_content" id="tool_content" title="Laurel" style="width:100%;height:80vh;border:0" allow="clipboard-write"></iframe>
<script>
window.frameResizes = [];
window.addEventListener("message", function (ev) {
  var m = ev.data;
  // Canvas fits the tool's frame to the height it asks for (lti.frameResize,
  // sent as an object or a JSON string); the heights are kept for tests.
  if (typeof m === "string" && m.indexOf("lti.frameResize") >= 0) {
    try { m = JSON.parse(m); } catch (e) { return; }
  }
  if (m && m.subject === "lti.frameResize" && ev.source === document.getElementById("tool_content").contentWindow) {
    var h = parseInt(m.height, 10);
    if (h > 0) {
      window.frameResizes.push(h);
      document.getElementById("tool_content").style.height = h + "px";
    }
    return;
  }
  if (m && m.subject === "lti.capabilities") {
    ev.source.postMessage({ subject: "lti.capabilities.response", message_id: m.message_id, supported_messages: [
      { subject: "lti.capabilities" },
      { subject: "lti.put_data", frame: "post_message_forwarding" },
      { subject: "lti.get_data", frame: "post_message_forwarding" }] }, ev.origin);
  }
});
document.getElementById("post_message_forwarding").addEventListener("load", function () {
  document.getElementById("tool_content").src = {{.Init}};
});
</script></body></html>`))

// launchPage is a Canvas-like course page: the tool in an iframe named
// tool_content, beside the post_message_forwarding storage frame, and the
// window answering lti.capabilities. /sim/launch?user=ID&course=ID[&type=deep]
// [&storage=none] (no lti_storage_target in the login, as Moodle 4.5)
func (s *Sim) launchPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c, ok := s.Course(q.Get("course"))
	if !ok {
		http.Error(w, "no such course", http.StatusNotFound)
		return
	}
	u := s.URL()
	init := u + "/sim/login_init?" + q.Encode()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	coursePage.Execute(w, map[string]any{"Title": c.Title, "Forward": u + "/sim/post_message_forwarding", "Init": init})
}

// loginInit auto-posts the login initiation to the tool (inside tool_content).
func (s *Sim) loginInit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	o := LaunchOptions{}
	// storage=none: a platform without client-side storage (Moodle 4.5).
	o.NoStorageTarget = q.Get("storage") == "none"
	if q.Get("type") == "deep" || q.Get("type") == lti.MessageDeepLinking {
		o.MessageType = lti.MessageDeepLinking
	}
	lr, err := s.BeginLaunch(q.Get("user"), q.Get("course"), o)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	fields := map[string]string{}
	for k := range lr.Form {
		fields[k] = lr.Form.Get(k)
	}
	writeAutoPost(w, lr.URL, fields)
}

// forwardingFrame is Canvas's post_message_forwarding frame: lti.put_data /
// lti.get_data storage, partitioned by the sender's origin.
func (s *Sim) forwardingFrame(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, `<!doctype html><html><head><meta charset="utf-8"><title>storage</title></head><body><script>
var store = {};
window.frameResizes = [];
window.addEventListener("message", function (ev) {
  var m = ev.data;
  // Canvas fits the tool's frame to the height it asks for (lti.frameResize,
  // sent as an object or a JSON string); the heights are kept for tests.
  if (typeof m === "string" && m.indexOf("lti.frameResize") >= 0) {
    try { m = JSON.parse(m); } catch (e) { return; }
  }
  if (m && m.subject === "lti.frameResize" && ev.source === document.getElementById("tool_content").contentWindow) {
    var h = parseInt(m.height, 10);
    if (h > 0) {
      window.frameResizes.push(h);
      document.getElementById("tool_content").style.height = h + "px";
    }
    return;
  }
  if (!m || typeof m !== "object" || !m.subject) { return; }
  function reply(r) { r.message_id = m.message_id; r.key = m.key; ev.source.postMessage(r, ev.origin); }
  var k = ev.origin + "|" + m.key;
  if (m.subject === "lti.put_data") {
    store[k] = m.value;
    reply({ subject: "lti.put_data.response", value: m.value });
  } else if (m.subject === "lti.get_data") {
    if (Object.prototype.hasOwnProperty.call(store, k)) { reply({ subject: "lti.get_data.response", value: store[k] }); }
    else { reply({ subject: "lti.get_data.response", error: { code: "bad_request", message: "no data for key" } }); }
  }
});
</script></body></html>`)
}

// LaunchPageURL is the Canvas-like course page that launches the tool in an
// iframe beside the post_message_forwarding frame (what `laurel dev`'s
// "launch as instructor / student" links to). deepLinking launches an
// LtiDeepLinkingRequest instead of the course navigation link.
func (s *Sim) LaunchPageURL(userID, courseID string, deepLinking bool) string {
	q := url.Values{"user": {userID}, "course": {courseID}}
	if deepLinking {
		q.Set("type", "deep")
	}
	return s.URL() + "/sim/launch?" + q.Encode()
}
