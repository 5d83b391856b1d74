package canvas

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// nrpsScope is the LTI scope for reading a course roster (Names and Role
// Provisioning Services).
const nrpsScope = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"

// devKeyConfig is Canvas's developer-key JSON configuration ("Enter URL" /
// "Paste JSON" in Admin → Developer Keys → + LTI Key), as documented in
// canvas-lms doc/api/lti_dev_key_config.md.
type devKeyConfig struct {
	Title             string            `json:"title"`
	Description       string            `json:"description"`
	OIDCInitiationURL string            `json:"oidc_initiation_url"`
	TargetLinkURI     string            `json:"target_link_uri"`
	PublicJWKURL      string            `json:"public_jwk_url"`
	Scopes            []string          `json:"scopes"`
	Extensions        []devKeyExtension `json:"extensions"`
	CustomFields      map[string]string `json:"custom_fields"`
}

// devKeyExtension is the Canvas-specific part of the configuration.
type devKeyExtension struct {
	Domain       string         `json:"domain"`
	ToolID       string         `json:"tool_id"`
	Platform     string         `json:"platform"`
	PrivacyLevel string         `json:"privacy_level"`
	Settings     devKeySettings `json:"settings"`
}

// devKeySettings holds the placements.
type devKeySettings struct {
	Text       string            `json:"text"`
	Platform   string            `json:"platform"`
	Placements []devKeyPlacement `json:"placements"`
}

// devKeyPlacement is one place in Canvas's UI that launches the tool.
type devKeyPlacement struct {
	Placement     string `json:"placement"`
	MessageType   string `json:"message_type"`
	TargetLinkURI string `json:"target_link_uri"`
	Text          string `json:"text"`
	Default       string `json:"default,omitempty"`
	Visibility    string `json:"visibility,omitempty"`
}

// devKey returns the developer-key configuration for the deployment at the
// service's base URL.
//
// The course navigation link is visible to "admins" — in Canvas's sense the
// course's teachers, TAs and designers plus account admins — because its view
// is where a course is mapped and its roster reviewed; students reach their
// credential through the "My credential" link an instructor places in a module
// (deep linking, link_selection / assignment_selection). privacy_level must be
// "public": Canvas sends the name and email only then, and a credential needs
// both.
func (s *Service) devKey() devKeyConfig {
	launch := s.baseURL + "/lti/launch"
	return devKeyConfig{
		Title:             "Laurel",
		Description:       "Digital credentials (badges and certificates) for course completion: map a course to a credential group; completions create credentials for staff to review and publish.",
		OIDCInitiationURL: s.baseURL + "/lti/login",
		TargetLinkURI:     launch,
		PublicJWKURL:      s.baseURL + "/lti/jwks",
		Scopes:            []string{nrpsScope},
		Extensions: []devKeyExtension{{
			Domain:       hostOf(s.baseURL),
			ToolID:       "laurel",
			Platform:     "canvas.instructure.com",
			PrivacyLevel: "public",
			Settings: devKeySettings{
				Text:     "Credentials",
				Platform: "canvas.instructure.com",
				Placements: []devKeyPlacement{
					{Placement: "course_navigation", MessageType: "LtiResourceLinkRequest", TargetLinkURI: launch, Text: "Credentials", Default: "enabled", Visibility: "admins"},
					{Placement: "link_selection", MessageType: "LtiDeepLinkingRequest", TargetLinkURI: launch, Text: "My credential (Laurel)"},
					{Placement: "assignment_selection", MessageType: "LtiDeepLinkingRequest", TargetLinkURI: launch, Text: "My credential (Laurel)"},
				},
			},
		}},
		CustomFields: map[string]string{
			"canvas_user_id":   "$Canvas.user.id",
			"canvas_course_id": "$Canvas.course.id",
			"email":            "$Person.email.primary",
		},
	}
}

// RegisterDevKey mounts GET /lti/canvas.json on r.
func (s *Service) RegisterDevKey(r gin.IRouter) {
	r.GET("/lti/canvas.json", func(c *gin.Context) {
		c.Header("Cache-Control", "no-cache")
		c.JSON(http.StatusOK, s.devKey())
	})
}
