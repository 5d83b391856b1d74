package moodle

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
// the keys of lti.PlatformInput.Extra (`laurel platform set --moodle-url
// --moodle-token` sets them).
const (
	FieldURL   = "moodle_url"
	FieldToken = "moodle_token"
)

// PlatformExtra returns the lti.PlatformInput.Extra that sets a platform's
// Moodle URL and web service token; an empty argument is left out (kept as
// stored).
func PlatformExtra(moodleURL, token string) map[string]string {
	out := map[string]string{}
	if moodleURL != "" {
		out[FieldURL] = moodleURL
	}
	if token != "" {
		out[FieldToken] = token
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Settings are a platform's Moodle web service settings (lti.ServiceSettings: its URL
// and whether a token is stored).
type Settings = lti.ServiceSettings

// PlatformSettings keeps each platform's Moodle web service in this
// package's table (moodle_platform_settings): the site URL and the token,
// sealed with secret.Keys under "moodle-token:<platform id>". It is an
// lti.PlatformExtension, so the /admin/platforms form and `laurel platform
// set` set them with the platform.
type PlatformSettings struct {
	store *lti.ServiceStore
}

// NewPlatformSettings returns the settings store on d; keys seal the tokens.
func NewPlatformSettings(d *sqlx.DB, keys *secret.Keys) *PlatformSettings {
	return &PlatformSettings{store: &lti.ServiceStore{DB: d, Keys: keys, Table: "moodle_platform_settings",
		URLColumn: "moodle_url", TokenColumn: "token_enc", Label: "moodle", TokenName: "Moodle web service token"}}
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

// Token returns the platform's decrypted web service token, or a NotFound
// error when none is stored.
func (ps *PlatformSettings) Token(ctx context.Context, platformID int64) (string, error) {
	return ps.store.Token(ctx, platformID)
}

// KnownIssuers lists none: every Moodle site is its own issuer.
func (ps *PlatformSettings) KnownIssuers() []lti.KnownIssuer { return nil }

// FormSection is the Moodle part of the platform form (lti.PlatformExtension).
func (ps *PlatformSettings) FormSection(ctx context.Context, id int64) (lti.ExtraSection, error) {
	var st Settings
	if id != 0 {
		var err error
		if st, err = ps.Settings(ctx, id); err != nil {
			return lti.ExtraSection{}, err
		}
	}
	tokenHint := "None stored. Used to read course completions with Moodle's web services (see the guide for the settings to switch on); stored encrypted and never shown again."
	if st.HasToken {
		tokenHint = "A token is stored (encrypted; never shown). Leave empty to keep it, or enter a new one to replace it."
	}
	return lti.ExtraSection{Title: "Moodle web service", Fields: []lti.ExtraField{
		{Name: FieldURL, Label: "Moodle URL", Type: "url", Value: st.URL,
			Hint:        "The Moodle site's address; empty for other platforms.",
			Placeholder: "https://moodle.example.edu"},
		{Name: FieldToken, Label: "Moodle web service token", Type: "password", Hint: tokenHint, Secret: true},
	}}, nil
}

// ListColumns is the platform list's Moodle column (lti.PlatformExtension).
func (ps *PlatformSettings) ListColumns(ctx context.Context, ids []int64) ([]string, map[int64][]lti.ExtraCell, error) {
	all, err := ps.All(ctx)
	if err != nil {
		return nil, nil, err
	}
	cells := make(map[int64][]lti.ExtraCell, len(ids))
	for _, id := range ids {
		st := all[id]
		switch {
		case st.URL == "":
			cells[id] = []lti.ExtraCell{{Text: "—", Muted: true}}
		case st.HasToken:
			cells[id] = []lti.ExtraCell{{Text: st.URL + " (token stored)"}}
		default:
			cells[id] = []lti.ExtraCell{{Text: st.URL + " (no token)"}}
		}
	}
	return []string{"Moodle web service"}, cells, nil
}

// ValidatePlatform checks the Moodle values (lti.PlatformExtension): the URL
// is an absolute http(s) URL, and a token goes with a URL.
func (ps *PlatformSettings) ValidatePlatform(ctx context.Context, id int64, values map[string]string) []apperr.FieldError {
	var fe []apperr.FieldError
	for k, v := range values {
		switch k {
		case FieldURL:
			v = strings.TrimSpace(v)
			if v == "" {
				continue
			}
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				fe = append(fe, apperr.FieldError{Index: -1, Field: k, Message: fmt.Sprintf("%s %q is not an absolute http(s) URL, such as https://moodle.example.edu", k, v)})
			}
		case FieldToken:
			tok := strings.TrimSpace(v)
			if tok == "" {
				continue
			}
			if len(tok) > 128 || strings.ContainsAny(tok, " \t\r\n") {
				fe = append(fe, apperr.FieldError{Index: -1, Field: k, Message: "is not a Moodle web service token (32 letters and digits, from Site administration › Server › Web services › Manage tokens)"})
			}
			if strings.TrimSpace(values[FieldURL]) == "" {
				st, err := ps.Settings(ctx, id)
				if err == nil && st.URL == "" {
					fe = append(fe, apperr.FieldError{Index: -1, Field: FieldURL, Message: "is required with a Moodle web service token: the Moodle site's address"})
				}
			}
		default:
			fe = append(fe, apperr.FieldError{Index: -1, Field: k, Message: k + " is not a platform setting of this installation"})
		}
	}
	return fe
}

// SavePlatform stores the Moodle values in the platform's transaction
// (lti.PlatformExtension): an empty token keeps the stored one.
func (ps *PlatformSettings) SavePlatform(ctx context.Context, tx *sqlx.Tx, id int64, values map[string]string) error {
	return ps.store.Save(ctx, tx, id, strings.TrimRight(strings.TrimSpace(values[FieldURL]), "/"), strings.TrimSpace(values[FieldToken]))
}

// DefaultName names a new platform after its Moodle URL's host.
func (ps *PlatformSettings) DefaultName(values map[string]string) string {
	if u, err := url.Parse(strings.TrimSpace(values[FieldURL])); err == nil && u.Host != "" {
		return u.Host
	}
	return ""
}

// FrameOrigins: Moodle frames launches from its own site, the issuer.
func (ps *PlatformSettings) FrameOrigins(context.Context, int64) []string { return nil }

// RegisteredValues gives a Moodle registered by Dynamic Registration the
// URL of the site that served its configuration.
func (ps *PlatformSettings) RegisteredValues(productFamily string, configURL *url.URL) map[string]string {
	if productFamily != "moodle" || configURL == nil {
		return nil
	}
	root := configURL.Path
	if i := strings.Index(root, "/mod/lti/"); i >= 0 {
		root = root[:i] // a Moodle in a sub-directory keeps it
	} else {
		root = ""
	}
	return map[string]string{FieldURL: configURL.Scheme + "://" + configURL.Host + root}
}
