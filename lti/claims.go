package lti

import (
	"bytes"
	"encoding/json"
	"strconv"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// idClaims are the id_token claims a launch reads, each as sent (nil when
// absent, "null" when null). Decoding only these, and most of them as
// strings, costs a fifth of decoding every claim into a map; the checks
// read them with the map's semantics (claimValue), so refusals are what
// they were.
type idClaims struct {
	Iss                jsontext.Value                         `json:"iss"`
	Aud                jsontext.Value                         `json:"aud"`
	AZP                jsontext.Value                         `json:"azp"`
	Exp                jsontext.Value                         `json:"exp"`
	IAT                jsontext.Value                         `json:"iat"`
	Nonce              jsontext.Value                         `json:"nonce"`
	Sub                jsontext.Value                         `json:"sub"`
	Name               jsontext.Value                         `json:"name"`
	GivenName          jsontext.Value                         `json:"given_name"`
	FamilyName         jsontext.Value                         `json:"family_name"`
	Email              jsontext.Value                         `json:"email"`
	Locale             jsontext.Value                         `json:"locale"`
	DeploymentID       jsontext.Value                         `json:"https://purl.imsglobal.org/spec/lti/claim/deployment_id"`
	Version            jsontext.Value                         `json:"https://purl.imsglobal.org/spec/lti/claim/version"`
	MessageType        jsontext.Value                         `json:"https://purl.imsglobal.org/spec/lti/claim/message_type"`
	TargetLinkURI      jsontext.Value                         `json:"https://purl.imsglobal.org/spec/lti/claim/target_link_uri"`
	ResourceLink       objectClaim[resourceLinkClaim]         `json:"https://purl.imsglobal.org/spec/lti/claim/resource_link"`
	Roles              jsontext.Value                         `json:"https://purl.imsglobal.org/spec/lti/claim/roles"`
	Context            objectClaim[contextClaim]              `json:"https://purl.imsglobal.org/spec/lti/claim/context"`
	Custom             objectClaim[map[string]jsontext.Value] `json:"https://purl.imsglobal.org/spec/lti/claim/custom"`
	LaunchPresentation objectClaim[presentationClaim]         `json:"https://purl.imsglobal.org/spec/lti/claim/launch_presentation"`
	ToolPlatform       objectClaim[toolPlatformClaim]         `json:"https://purl.imsglobal.org/spec/lti/claim/tool_platform"`
	LIS                objectClaim[lisClaim]                  `json:"https://purl.imsglobal.org/spec/lti/claim/lis"`
	NRPS               objectClaim[nrpsClaim]                 `json:"https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"`
	DeepLinking        objectClaim[deepLinkingClaim]          `json:"https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"`
}

// decodeClaims decodes the id_token's payload: a JSON object whose claim
// names are distinct (RFC 7519 §4 lets a parser refuse or take the last;
// two values for one claim are not something to guess between), whose
// numbers fit a float64 and whose strings are valid UTF-8 (text.CheckJSON
// names an invalid one first) — what decoding it into a map accepts.
func decodeClaims(b []byte) (*idClaims, error) {
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, errNotObject
	}
	var c idClaims
	if err := jsonv2.Unmarshal(b, &c); err != nil {
		return nil, err
	}
	if !numbersFit(b) {
		return nil, errNotObject
	}
	return &c, nil
}

var errNotObject = badRequest(ReasonMalformed, "not a JSON object")

// numbersFit reports whether every number in the valid JSON b is a
// float64 (a map decode refuses one beyond its range, even in a claim no
// check reads). Only a number with an exponent or of many digits can be
// out of range.
func numbersFit(b []byte) bool {
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"': // skip the string: valid JSON, so it ends
			for {
				k := bytes.IndexAny(b[i+1:], `"\`)
				if k < 0 {
					return true
				}
				i += 1 + k
				if b[i] == '"' {
					break
				}
				i++ // the escaped character
			}
		case c == '-' || (c >= '0' && c <= '9'):
			j, exp := i, false
			for j < len(b) && (b[j] == '-' || b[j] == '+' || b[j] == '.' || b[j] == 'e' || b[j] == 'E' || (b[j] >= '0' && b[j] <= '9')) {
				exp = exp || b[j] == 'e' || b[j] == 'E'
				j++
			}
			if exp || j-i > 300 {
				if _, err := strconv.ParseFloat(string(b[i:j]), 64); err != nil {
					return false
				}
			}
			i = j - 1
		}
	}
	return true
}

// claimValue is v as decoding into a map gives it (string, float64, bool,
// nil, []any, map[string]any) and whether it was present.
func claimValue(v jsontext.Value) (any, bool) {
	if len(v) == 0 {
		return nil, false
	}
	if s, ok := claimString(v); ok {
		return s, true
	}
	if c := v[0]; c == '-' || (c >= '0' && c <= '9') {
		if f, err := strconv.ParseFloat(string(v), 64); err == nil {
			return f, true
		}
	}
	var x any
	if err := jsonv2.Unmarshal(v, &x); err != nil {
		return nil, true
	}
	return x, true
}

// claimString is v's string, ok=false when v is not a string.
func claimString(v jsontext.Value) (string, bool) {
	if len(v) < 2 || v[0] != '"' {
		return "", false
	}
	if bytes.IndexByte(v, '\\') < 0 {
		return string(v[1 : len(v)-1]), true
	}
	b, err := jsontext.AppendUnquote(nil, v)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// str is strOf: v's string, or "".
func str(v jsontext.Value) string {
	s, _ := claimString(v)
	return s
}

// objectClaim is a claim read only when it is an object: one that is not
// is read as absent, as before.
type objectClaim[T any] struct {
	v  T
	ok bool
}

// UnmarshalJSONFrom decodes an object in the same pass as the payload.
func (o *objectClaim[T]) UnmarshalJSONFrom(d *jsontext.Decoder) error {
	if d.PeekKind() != '{' {
		return d.SkipValue()
	}
	o.ok = true
	return jsonv2.UnmarshalDecode(d, &o.v)
}

func list(v jsontext.Value) []string { x, _ := claimValue(v); return strList(x) }

func number(v jsontext.Value) int { x, _ := claimValue(v); return intOf(x) }

type resourceLinkClaim struct {
	ID          jsontext.Value `json:"id"`
	Title       jsontext.Value `json:"title"`
	Description jsontext.Value `json:"description"`
}

type deepLinkingClaim struct {
	ReturnURL      jsontext.Value `json:"deep_link_return_url"`
	AcceptTypes    jsontext.Value `json:"accept_types"`
	AcceptTargets  jsontext.Value `json:"accept_presentation_document_targets"`
	AcceptMedia    jsontext.Value `json:"accept_media_types"`
	AcceptMultiple jsontext.Value `json:"accept_multiple"`
	AutoCreate     jsontext.Value `json:"auto_create"`
	Title          jsontext.Value `json:"title"`
	Text           jsontext.Value `json:"text"`
	Data           jsontext.Value `json:"data"`
}

type contextClaim struct {
	ID    jsontext.Value `json:"id"`
	Label jsontext.Value `json:"label"`
	Title jsontext.Value `json:"title"`
	Type  jsontext.Value `json:"type"`
}

type lisClaim struct {
	Person   jsontext.Value `json:"person_sourcedid"`
	Offering jsontext.Value `json:"course_offering_sourcedid"`
	Section  jsontext.Value `json:"course_section_sourcedid"`
}

type nrpsClaim struct {
	URL      jsontext.Value `json:"context_memberships_url"`
	Versions jsontext.Value `json:"service_versions"`
}

type presentationClaim struct {
	Target    jsontext.Value `json:"document_target"`
	ReturnURL jsontext.Value `json:"return_url"`
	Locale    jsontext.Value `json:"locale"`
	Height    jsontext.Value `json:"height"`
	Width     jsontext.Value `json:"width"`
}

type toolPlatformClaim struct {
	GUID    jsontext.Value `json:"guid"`
	Name    jsontext.Value `json:"name"`
	Version jsontext.Value `json:"version"`
	Family  jsontext.Value `json:"product_family_code"`
}

// fillOptional copies the claims no check depends on.
func fillOptional(l *Launch, c *idClaims) {
	l.Name, l.GivenName, l.FamilyName = str(c.Name), str(c.GivenName), str(c.FamilyName)
	l.Email, l.Locale = str(c.Email), str(c.Locale)
	l.TargetLinkURI = str(c.TargetLinkURI)
	ctx := c.Context.v
	l.Context = Context{ID: str(ctx.ID), Label: str(ctx.Label), Title: str(ctx.Title), Type: list(ctx.Type)}
	l.Custom = map[string]string{}
	for k, v := range c.Custom.v {
		if s, ok := claimString(v); ok {
			l.Custom[k] = s
			continue
		}
		switch x, _ := claimValue(v); x.(type) {
		case nil:
		default:
			b, _ := json.Marshal(x)
			l.Custom[k] = string(b)
		}
	}
	lis := c.LIS.v
	l.LIS = LIS{PersonSourcedID: str(lis.Person), CourseOfferingSourcedID: str(lis.Offering), CourseSectionSourcedID: str(lis.Section)}
	if n := c.NRPS.v; c.NRPS.ok {
		if u := str(n.URL); u != "" {
			l.NRPS = &NRPSClaim{ContextMembershipsURL: u, ServiceVersions: list(n.Versions)}
		}
	}
	lp := c.LaunchPresentation.v
	l.LaunchPresentation = LaunchPresentation{DocumentTarget: str(lp.Target), ReturnURL: str(lp.ReturnURL),
		Locale: str(lp.Locale), Height: number(lp.Height), Width: number(lp.Width)}
	tp := c.ToolPlatform.v
	l.ToolPlatform = ToolPlatform{GUID: str(tp.GUID), Name: str(tp.Name), Version: str(tp.Version), ProductFamilyCode: str(tp.Family)}
	l.ToolPlatformGUID = l.ToolPlatform.GUID
	if l.Email == "" {
		l.Email = l.CustomValue("email")
	}
}
