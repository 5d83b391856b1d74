package canvas

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/secret"
	"github.com/laurel-edu/laurel/lti"
)

// The platform settings' field names: the /admin/platforms form fields and
// the keys of lti.PlatformInput.Extra (`laurel platform add --canvas-url
// --canvas-token` sets them).
const (
	fieldCanvasURL   = "canvas_url"
	FieldCanvasToken = "canvas_token"
)

// PlatformExtra returns the lti.PlatformInput.Extra that sets a platform's
// Canvas URL and API token; an empty argument is left out (kept as stored).
func PlatformExtra(canvasURL, token string) map[string]string {
	out := map[string]string{}
	if canvasURL != "" {
		out[fieldCanvasURL] = canvasURL
	}
	if token != "" {
		out[FieldCanvasToken] = token
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// instructureHosted lists Instructure's shared issuers (production, beta,
// test) and their fixed endpoints (see the reference's table), in the order
// admins meet them. Self-hosted Canvas has its own and must give them.
var instructureHosted = []lti.KnownIssuer{
	{Issuer: "https://canvas.instructure.com",
		AuthURL:  "https://sso.canvaslms.com/api/lti/authorize_redirect",
		TokenURL: "https://sso.canvaslms.com/login/oauth2/token",
		JWKSURL:  "https://sso.canvaslms.com/api/lti/security/jwks"},
	{Issuer: "https://canvas.beta.instructure.com",
		AuthURL:  "https://sso.beta.canvaslms.com/api/lti/authorize_redirect",
		TokenURL: "https://sso.beta.canvaslms.com/login/oauth2/token",
		JWKSURL:  "https://sso.beta.canvaslms.com/api/lti/security/jwks"},
	{Issuer: "https://canvas.test.instructure.com",
		AuthURL:  "https://sso.test.canvaslms.com/api/lti/authorize_redirect",
		TokenURL: "https://sso.test.canvaslms.com/login/oauth2/token",
		JWKSURL:  "https://sso.test.canvaslms.com/api/lti/security/jwks"},
}

// Settings are a platform's Canvas settings (lti.ServiceSettings: its URL
// and whether a token is stored).
type Settings = lti.ServiceSettings

// PlatformSettings keeps each platform's Canvas settings in Canvas's own
// table (canvas_platform_settings): the Canvas URL and the API token, sealed
// with secret.Keys under the additional data "canvas-token:<platform id>".
// It is the lti.PlatformExtension of the platform registry, so the
// /admin/platforms form, `laurel platform add` and Dynamic Registration set
// them together with the platform.
type PlatformSettings struct {
	store *lti.ServiceStore
}

// NewPlatformSettings returns the settings store on d; keys seal the tokens.
func NewPlatformSettings(d *sqlx.DB, keys *secret.Keys) *PlatformSettings {
	return &PlatformSettings{store: &lti.ServiceStore{DB: d, Keys: keys, Table: "canvas_platform_settings",
		URLColumn: "canvas_url", TokenColumn: "canvas_token_enc", Label: "canvas", TokenName: "Canvas API token"}}
}

var _ lti.PlatformExtension = (*PlatformSettings)(nil)

// Settings returns the settings of platformID (zero values when none are
// stored).
func (ps *PlatformSettings) Settings(ctx context.Context, platformID int64) (Settings, error) {
	return ps.store.Settings(ctx, platformID)
}

// All returns the settings of every platform that has any, by id.
func (ps *PlatformSettings) All(ctx context.Context) (map[int64]Settings, error) {
	return ps.store.All(ctx)
}

// FrameOrigins is the institution's Canvas URL: Canvas shows the tool in an
// iframe on the school's own domain, not on the shared issuer's.
func (ps *PlatformSettings) FrameOrigins(ctx context.Context, id int64) []string {
	st, err := ps.Settings(ctx, id)
	if err != nil || st.URL == "" {
		return nil // framing then rests on the issuer, auth URL and signed return URLs
	}
	return []string{st.URL}
}

// Token returns the platform's decrypted Canvas API token, or a NotFound
// error when none is stored.
func (ps *PlatformSettings) Token(ctx context.Context, platformID int64) (string, error) {
	return ps.store.Token(ctx, platformID)
}

// KnownIssuers lists the Instructure-hosted issuers (lti.PlatformExtension).
func (ps *PlatformSettings) KnownIssuers() []lti.KnownIssuer {
	return append([]lti.KnownIssuer(nil), instructureHosted...)
}

// FormSection is the Canvas part of the platform form (lti.PlatformExtension).
func (ps *PlatformSettings) FormSection(ctx context.Context, id int64) (lti.ExtraSection, error) {
	var st Settings
	if id != 0 {
		var err error
		if st, err = ps.Settings(ctx, id); err != nil {
			return lti.ExtraSection{}, err
		}
	}
	tokenHint := "None stored. Used to check course completions over Canvas's REST API; stored encrypted and never shown again."
	if st.HasToken {
		tokenHint = "A token is stored (encrypted; never shown). Leave empty to keep it, or enter a new one to replace it."
	}
	return lti.ExtraSection{Title: "Canvas", Fields: []lti.ExtraField{
		{Name: fieldCanvasURL, Label: "Canvas URL", Type: "url", Value: st.URL,
			Hint:        "The institution's Canvas address (REST API, Live Events); empty for other platforms.",
			Placeholder: "https://canvas.example.edu"},
		{Name: FieldCanvasToken, Label: "Canvas API token", Type: "password", Hint: tokenHint, Secret: true},
	}}, nil
}

// ListColumns are the platform list's Canvas columns (lti.PlatformExtension).
func (ps *PlatformSettings) ListColumns(ctx context.Context, ids []int64) ([]string, map[int64][]lti.ExtraCell, error) {
	all, err := ps.All(ctx)
	if err != nil {
		return nil, nil, err
	}
	cells := make(map[int64][]lti.ExtraCell, len(ids))
	for _, id := range ids {
		st := all[id]
		u := lti.ExtraCell{Text: st.URL}
		if st.URL == "" {
			u = lti.ExtraCell{Text: "—", Muted: true}
		}
		tok := lti.ExtraCell{Class: "token", Text: "stored"}
		if !st.HasToken {
			tok = lti.ExtraCell{Class: "token", Text: "none", Muted: true}
		}
		cells[id] = []lti.ExtraCell{u, tok}
	}
	return []string{"Canvas URL", "Canvas API token"}, cells, nil
}

// ValidatePlatform checks the Canvas values (lti.PlatformExtension): the
// Canvas URL is an absolute http(s) URL and a stored one is not cleared.
func (ps *PlatformSettings) ValidatePlatform(ctx context.Context, id int64, values map[string]string) []apperr.FieldError {
	var fe []apperr.FieldError
	for k, v := range values {
		switch k {
		case fieldCanvasURL:
			v = strings.TrimSpace(v)
			if v == "" {
				if id == 0 {
					continue
				}
				st, err := ps.Settings(ctx, id)
				if err == nil && st.URL != "" {
					fe = append(fe, apperr.FieldError{Index: -1, Field: k, Message: "A stored Canvas URL cannot be removed here; enter the Canvas URL."})
				}
				continue
			}
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				fe = append(fe, apperr.FieldError{Index: -1, Field: k, Message: fmt.Sprintf("%s %q is not an absolute http(s) URL", k, v)})
			}
		case FieldCanvasToken:
		default:
			fe = append(fe, apperr.FieldError{Index: -1, Field: k, Message: k + " is not a platform setting of this installation"})
		}
	}
	return fe
}

// SavePlatform stores the Canvas values in the platform's transaction
// (lti.PlatformExtension): an empty token keeps the stored one.
func (ps *PlatformSettings) SavePlatform(ctx context.Context, tx *sqlx.Tx, id int64, values map[string]string) error {
	return ps.store.Save(ctx, tx, id, strings.TrimSpace(values[fieldCanvasURL]), strings.TrimSpace(values[FieldCanvasToken]))
}

// DefaultName names a new platform after its Canvas URL's host
// (lti.PlatformExtension).
func (ps *PlatformSettings) DefaultName(values map[string]string) string {
	if u, err := url.Parse(strings.TrimSpace(values[fieldCanvasURL])); err == nil && u.Host != "" {
		return u.Host
	}
	return ""
}

// RegisteredValues gives a Canvas registered by Dynamic Registration the
// Canvas URL of the host that served its configuration
// (lti.PlatformExtension).
func (ps *PlatformSettings) RegisteredValues(productFamily string, configURL *url.URL) map[string]string {
	if productFamily != "canvas" || configURL == nil {
		return nil
	}
	return map[string]string{fieldCanvasURL: configURL.Scheme + "://" + configURL.Host}
}
