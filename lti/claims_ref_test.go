package lti

// The id_token's claims as they were read before the typed decode (a map of
// every claim): the reference the typed decode is checked against.

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/jose"
	"github.com/laurel-edu/laurel/internal/text"
)

// ValidateIDToken checks an id_token in the reference's order — JWT form,
// alg RS256, signature (kid lookup), iss, aud, azp, exp, iat, nonce (the
// login's), deployment_id, version, message_type, resource_link.id, sub, roles — and
// returns the launch. Every refusal is an *apperr.Error whose Reason names the check.
// (alg is checked before the signature: an HMAC or "none" token has no
// signature a platform key could verify.)
func refValidateIDToken(raw string, o ValidateOptions) (*Launch, error) {
	if raw == "" {
		return nil, badRequest(ReasonTokenMissing, "The launch carried no id_token.")
	}
	if len(raw) > MaxTokenSize {
		return nil, badRequest(ReasonMalformed, "The id_token is larger than %d bytes.", MaxTokenSize)
	}
	h, pb, err := jose.Parse([]byte(raw))
	if err != nil {
		return nil, keyError(err, "")
	}
	if err := text.CheckJSON(pb); err != nil { // a NUL could not be stored; invalid UTF-8 is named
		return nil, badRequest(ReasonClaim, "The id_token's %s.", err)
	}
	claims, err := refDecodeClaims(pb)
	if err != nil {
		return nil, badRequest(ReasonMalformed, "The id_token's payload is not a JSON object with distinct claim names.")
	}
	if err := jose.CheckHeader(h); err != nil {
		return nil, keyError(err, "")
	}
	if o.Verify == nil {
		return nil, unauthorized(ReasonJWKS, "No key source is configured for this platform.")
	}
	if err := o.Verify([]byte(raw), h); err != nil {
		return nil, err
	}

	c := refClaimReader{m: claims}
	// iss
	iss, err := c.str("iss")
	if err != nil {
		return nil, err
	}
	if iss != o.Issuer {
		return nil, unauthorized(ReasonIssuer, "The id_token's issuer %q is not the registered issuer %q.", text.Truncate(iss, 200), o.Issuer)
	}
	// aud and azp
	aud, ok := audience(claims["aud"])
	if !ok {
		return nil, unauthorized(ReasonAudience, "The id_token's aud claim is missing or not a string or list of strings.")
	}
	if !slices.Contains(aud, o.ClientID) {
		return nil, unauthorized(ReasonAudience, "The id_token's audience %q does not contain our client_id %q.", text.Truncate(strings.Join(aud, ","), 200), o.ClientID)
	}
	azp, hasAZP := claims["azp"]
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
	exp, err := c.time("exp")
	if err != nil {
		return nil, unauthorized(ReasonExpired, "%s", apperr.Message(err))
	}
	if now.After(exp.Add(o.Leeway)) {
		return nil, unauthorized(ReasonExpired, "The id_token expired at %s (now %s, leeway %s).", exp.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), o.Leeway)
	}
	iat, err := c.time("iat")
	if err != nil {
		return nil, unauthorized(ReasonIssuedAt, "%s", apperr.Message(err))
	}
	if iat.After(now.Add(o.Leeway)) {
		return nil, unauthorized(ReasonIssuedAt, "The id_token was issued in the future (iat %s, now %s, leeway %s): check the clocks.", iat.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), o.Leeway)
	}
	// nonce
	nonce, present := claims["nonce"].(string)
	if !present || nonce == "" {
		return nil, unauthorized(ReasonNonceMissing, "The id_token carries no nonce.")
	}
	if nonce != o.Nonce {
		return nil, unauthorized(ReasonNonceMismatch, "The id_token's nonce is not the one issued at login for this state.")
	}
	// deployment_id
	dep, err := c.str(ClaimDeploymentID)
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
	ver, _ := claims[ClaimVersion].(string)
	if ver != Version {
		return nil, badRequest(ReasonVersion, "The launch's LTI version is %q; only %q is supported.", text.Truncate(toString(claims[ClaimVersion]), 40), Version)
	}
	mt, _ := claims[ClaimMessageType].(string)
	if mt != MessageResourceLink && mt != MessageDeepLinking {
		return nil, badRequest(ReasonMessageType, "The launch's message_type %q is not one Laurel handles (%s, %s).", text.Truncate(toString(claims[ClaimMessageType]), 60), MessageResourceLink, MessageDeepLinking)
	}
	l := &Launch{DeploymentID: dep, MessageType: mt, Claims: claims, IssuedAt: iat, ExpiresAt: exp}
	if mt == MessageResourceLink {
		rl := c.obj(ClaimResourceLink)
		id, _ := rl["id"].(string)
		if id == "" {
			return nil, badRequest(ReasonResourceLink, "The resource link launch carries no resource_link.id.")
		}
		l.ResourceLinkID = id
		l.ResourceLink = ResourceLink{ID: id, Title: strOf(rl["title"]), Description: strOf(rl["description"])}
	} else {
		dl := c.obj(ClaimDeepLinking)
		ret, _ := dl["deep_link_return_url"].(string)
		if ret == "" {
			return nil, badRequest(ReasonDeepLinking, "The deep linking request carries no deep_linking_settings.deep_link_return_url.")
		}
		l.DeepLinking = &DeepLinkingSettings{
			ReturnURL: ret, AcceptTypes: strList(dl["accept_types"]),
			AcceptPresentationDocumentTargets: strList(dl["accept_presentation_document_targets"]),
			AcceptMediaTypes:                  strOf(dl["accept_media_types"]),
			AcceptMultiple:                    dl["accept_multiple"] == true, AutoCreate: dl["auto_create"] == true,
			Title: strOf(dl["title"]), Text: strOf(dl["text"]), Data: strOf(dl["data"]),
		}
	}
	// sub and roles
	sub, _ := claims["sub"].(string)
	if strings.TrimSpace(sub) == "" {
		return nil, badRequest(ReasonSub, "The id_token carries no sub (user identifier).")
	}
	l.Sub = sub
	rv, present := claims[ClaimRoles]
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
	refFillOptional(l, c)
	return l, nil
}

// fillOptional copies the claims no check depends on.
func refFillOptional(l *Launch, c refClaimReader) {
	m := c.m
	l.Name, l.GivenName, l.FamilyName = strOf(m["name"]), strOf(m["given_name"]), strOf(m["family_name"])
	l.Email, l.Locale = strOf(m["email"]), strOf(m["locale"])
	l.TargetLinkURI = strOf(m[ClaimTargetLinkURI])
	ctx := c.obj(ClaimContext)
	l.Context = Context{ID: strOf(ctx["id"]), Label: strOf(ctx["label"]), Title: strOf(ctx["title"]), Type: strList(ctx["type"])}
	l.Custom = map[string]string{}
	for k, v := range c.obj(ClaimCustom) {
		switch v := v.(type) {
		case string:
			l.Custom[k] = v
		case nil:
		default:
			b, _ := json.Marshal(v)
			l.Custom[k] = string(b)
		}
	}
	lis := c.obj(ClaimLIS)
	l.LIS = LIS{PersonSourcedID: strOf(lis["person_sourcedid"]), CourseOfferingSourcedID: strOf(lis["course_offering_sourcedid"]), CourseSectionSourcedID: strOf(lis["course_section_sourcedid"])}
	if n := c.obj(ClaimNRPS); n != nil {
		if u := strOf(n["context_memberships_url"]); u != "" {
			l.NRPS = &NRPSClaim{ContextMembershipsURL: u, ServiceVersions: strList(n["service_versions"])}
		}
	}
	lp := c.obj(ClaimLaunchPresentation)
	l.LaunchPresentation = LaunchPresentation{DocumentTarget: strOf(lp["document_target"]), ReturnURL: strOf(lp["return_url"]),
		Locale: strOf(lp["locale"]), Height: intOf(lp["height"]), Width: intOf(lp["width"])}
	tp := c.obj(ClaimToolPlatform)
	l.ToolPlatform = ToolPlatform{GUID: strOf(tp["guid"]), Name: strOf(tp["name"]), Version: strOf(tp["version"]), ProductFamilyCode: strOf(tp["product_family_code"])}
	l.ToolPlatformGUID = l.ToolPlatform.GUID
	if l.Email == "" {
		l.Email = l.CustomValue("email")
	}
}

// decodeClaims decodes the id_token's payload. It is a launch's largest
// decode, so it runs on the encoding/json/v2 prototype (twice as fast as
// encoding/json into a map). It refuses a claim name given twice (RFC 7519
// §4 lets a parser refuse or take the last; two values for one claim are
// not something to guess between) and invalid UTF-8, which text.CheckJSON
// names first. Numbers are float64.
func refDecodeClaims(b []byte) (map[string]any, error) {
	var m map[string]any
	if err := jsonv2.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, refErrNotObject
	}
	return m, nil
}

var refErrNotObject = badRequest(ReasonMalformed, "not a JSON object")

type refClaimReader struct{ m map[string]any }

func (c refClaimReader) str(name string) (string, error) {
	v, ok := c.m[name]
	if !ok {
		return "", badRequest(ReasonClaim, "The id_token has no %s claim.", name)
	}
	s, ok := v.(string)
	if !ok {
		return "", badRequest(ReasonClaim, "The id_token's %s claim is not a string.", name)
	}
	return s, nil
}

func (c refClaimReader) obj(name string) map[string]any {
	m, _ := c.m[name].(map[string]any)
	return m
}

func (c refClaimReader) time(name string) (time.Time, error) {
	v, ok := c.m[name]
	if !ok {
		return time.Time{}, badRequest(ReasonClaim, "The id_token has no %s claim.", name)
	}
	var f float64
	switch n := v.(type) {
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

// refOptions accept any signature, so every payload reaches the claim
// checks.
func refOptions() ValidateOptions {
	o := fuzzOptions(nil)
	o.Verify = func([]byte, jose.Header) error { return nil }
	return o
}

// sameAsReference checks that the typed decode accepts and refuses payload
// exactly as the map decode did: the same launch, or the same refusal.
func sameAsReference(t *testing.T, payload []byte) {
	t.Helper()
	tok := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","kid":"fuzz"}`)) + "." +
		base64.RawURLEncoding.EncodeToString(payload) + ".c2ln"
	got, gotErr := ValidateIDToken(tok, refOptions())
	want, wantErr := refValidateIDToken(tok, refOptions())
	if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && (apperr.Code(gotErr) != apperr.Code(wantErr) ||
		apperr.Reason(gotErr) != apperr.Reason(wantErr) || apperr.Message(gotErr) != apperr.Message(wantErr))) {
		t.Fatalf("payload %s:\nrefusal %v\nwant    %v", payload, gotErr, wantErr)
	}
	if gotErr != nil {
		return
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(Launch{}, "Claims"), cmpopts.IgnoreUnexported(Launch{})); diff != "" {
		t.Fatalf("payload %s: launch differs (-map +typed):\n%s", payload, diff)
	}
	all, err := got.AllClaims()
	if err != nil {
		t.Fatalf("payload %s: %v", payload, err)
	}
	var wantAll map[string]any
	js, _ := json.Marshal(want.Claims)
	_ = json.Unmarshal(js, &wantAll)
	if diff := cmp.Diff(wantAll, all); diff != "" {
		t.Fatalf("payload %s: claims differ (-map +typed):\n%s", payload, diff)
	}
}

// refPayloads are a launch's claims with each claim the checks read, at
// the top and inside its object, absent, null or of every JSON kind, and
// payloads that are not claims at all.
func refPayloads() [][]byte {
	kinds := []any{nil, "", "x", 0, 1.5, -2, 1e12, true, false, []any{}, []any{"a", 1}, map[string]any{}, map[string]any{"id": "x"}, "a\u00e9\\\"b"}
	var out [][]byte
	add := func(c map[string]any) {
		b, _ := json.Marshal(c)
		out = append(out, b)
	}
	base := []func() map[string]any{fuzzClaims, func() map[string]any {
		c := fuzzClaims()
		c[ClaimMessageType] = MessageDeepLinking
		c[ClaimDeepLinking] = map[string]any{"deep_link_return_url": "https://x/r", "data": "d", "accept_types": []any{"link", 3},
			"accept_multiple": true, "auto_create": "true", "title": "T", "text": 4, "accept_media_types": "image/*",
			"accept_presentation_document_targets": "iframe"}
		return c
	}, func() map[string]any {
		var c map[string]any
		_ = json.Unmarshal(tmpRefPayload, &c)
		return c
	}}
	for _, mk := range base {
		add(mk())
		for name, v := range mk() {
			c := mk()
			delete(c, name)
			add(c)
			for _, k := range kinds {
				c := mk()
				c[name] = k
				add(c)
			}
			if obj, ok := v.(map[string]any); ok {
				for field := range obj {
					for _, k := range append(kinds, "absent") {
						c := mk()
						o := c[name].(map[string]any)
						if k == "absent" {
							delete(o, field)
						} else {
							o[field] = k
						}
						add(c)
					}
				}
			}
		}
	}
	valid, _ := json.Marshal(fuzzClaims())
	for _, p := range []string{``, `null`, `[]`, `"x"`, `1`, `{}`, ` {} `, `{"a":1e400}`, `{"a":"1e400"}`, `{"a":[1e-400]}`,
		`{"sub":"a","sub":"b"}`, `{"a":{"b":1,"b":2}}`, `{} x`, `{"a":`, "{\"a\":\"\xff\"}",
		`{"a":1e400,` + string(valid[1:]), `{"a":"\"1e400",` + string(valid[1:]), `{"a":-0.5e308,` + string(valid[1:])} {
		out = append(out, []byte(p))
	}
	return out
}

func TestTypedClaimsMatchMap(t *testing.T) {
	for _, p := range refPayloads() {
		sameAsReference(t, p)
	}
}

// Payloads a byte or three away from a launch's claims (a fixed random
// sequence) are accepted and refused as the map decode did.
func TestTypedClaimsMatchMapMutated(t *testing.T) {
	valid, _ := json.Marshal(fuzzClaims())
	seeds := [][]byte{valid, tmpRefPayload}
	const alphabet = "{}[]\",:\\0123456789eE.-+ntfu "
	r := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		p := slices.Clone(seeds[r.IntN(len(seeds))])
		for range 1 + r.IntN(3) {
			i, c := r.IntN(len(p)), alphabet[r.IntN(len(alphabet))]
			switch r.IntN(3) {
			case 0:
				p[i] = c
			case 1:
				p = slices.Delete(p, i, i+1)
			default:
				p = slices.Insert(p, i, c)
			}
		}
		sameAsReference(t, p)
	}
}

// tmpRefPayload is the claims of a Canvas launch (the simulator's).
var tmpRefPayload = []byte(`{"https://purl.imsglobal.org/spec/lti/claim/message_type":"LtiResourceLinkRequest","https://purl.imsglobal.org/spec/lti/claim/version":"1.3.0","aud":"10000000000001","azp":"10000000000001","https://purl.imsglobal.org/spec/lti/claim/deployment_id":"1:dep","exp":1800000000,"iat":1800000000,"iss":"https://canvas.example","nonce":"n-123","sub":"8e1d2c3b-aaaa-bbbb-cccc-1234567890ab","https://purl.imsglobal.org/spec/lti/claim/target_link_uri":"https://laurel.example/lti/launch","picture":"https://canvas.example/images/messages/avatar-50.png","email":"student17@example.edu","name":"Student Seventeen","given_name":"Student","family_name":"Seventeen","https://purl.imsglobal.org/spec/lti/claim/lis":{"person_sourcedid":"sis-17","course_offering_sourcedid":"sis-course-5","validation_context":null,"errors":{"errors":{}}},"https://purl.imsglobal.org/spec/lti/claim/context":{"id":"4dde05e8ca1973bcca9bffc13e1548820eee93a3","label":"BIO101","title":"Biology 101","type":["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"],"validation_context":null,"errors":{"errors":{}}},"https://purl.imsglobal.org/spec/lti/claim/tool_platform":{"guid":"abc123:canvas-lms","name":"Simulated University","version":"cloud","product_family_code":"canvas","validation_context":null,"errors":{"errors":{}}},"https://purl.imsglobal.org/spec/lti/claim/launch_presentation":{"document_target":"iframe","return_url":"https://canvas.example/courses/5/external_content/success/external_tool_redirect","locale":"en","height":400,"width":800,"validation_context":null,"errors":{"errors":{}}},"locale":"en","https://purl.imsglobal.org/spec/lti/claim/roles":["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner","http://purl.imsglobal.org/vocab/lis/v2/institution/person#Student"],"https://purl.imsglobal.org/spec/lti/claim/custom":{"canvas_user_id":"17","canvas_course_id":"5","email":"student17@example.edu"},"https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice":{"context_memberships_url":"https://canvas.example/api/lti/courses/5/names_and_roles","service_versions":["2.0"],"validation_context":null,"errors":{"errors":{}}},"https://purl.imsglobal.org/spec/lti/claim/lti11_legacy_user_id":"0123456789abcdef0123456789abcdef01234567","https://purl.imsglobal.org/spec/lti/claim/lti1p1":{"user_id":"0123456789abcdef0123456789abcdef01234567","validation_context":null,"errors":{"errors":{}}},"https://www.instructure.com/placement":"course_navigation","errors":{"errors":{}},"https://purl.imsglobal.org/spec/lti/claim/resource_link":{"id":"4dde05e8ca1973bcca9bffc13e1548820eee93a3","description":null,"title":"Biology 101","validation_context":null,"errors":{"errors":{}}}}`)
