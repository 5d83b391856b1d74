package lti

import (
	"context"
	"net/url"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/apperr"
)

// KnownIssuer is an issuer shared by many institutions (a hosted LMS) whose
// endpoints are fixed: left empty on a platform they are filled in, and
// Dynamic Registration pins them.
type KnownIssuer struct {
	Issuer, AuthURL, TokenURL, JWKSURL string
}

// ExtraField is one input a PlatformExtension adds to the platform form.
type ExtraField struct {
	Name        string // form field and PlatformInput.Extra key
	Label       string
	Type        string // text, url or password
	Value       string // the stored value; always "" for a Secret
	Hint        string
	Placeholder string
	// Secret fields are never echoed back into a page; an empty one keeps
	// the stored value.
	Secret bool
}

// ExtraSection is a titled group of ExtraFields on the platform form.
type ExtraSection struct {
	Title  string
	Fields []ExtraField
}

// ExtraCell is one cell a PlatformExtension adds to a row of the platform
// list; Muted cells say "nothing set".
type ExtraCell struct {
	Class, Text string
	Muted       bool
}

// PlatformExtension is what another package keeps for each platform in its
// own tables and lets owners set with the platform (package canvas: the
// Canvas URL and API token, and the Instructure-hosted issuers). The
// Registry validates and saves its values (PlatformInput.Extra) in the
// transaction that adds or changes the platform, and the admin pages show
// its fields and columns; package lti never reads its tables.
type PlatformExtension interface {
	// KnownIssuers lists the issuers whose endpoints are filled in.
	KnownIssuers() []KnownIssuer
	// FormSection returns the form fields of platform id (0 when adding)
	// with their stored values.
	FormSection(ctx context.Context, id int64) (ExtraSection, error)
	// ListColumns returns the column headers the platform list adds and,
	// for each of the platforms ids, its cells (one per header).
	ListColumns(ctx context.Context, ids []int64) ([]string, map[int64][]ExtraCell, error)
	// ValidatePlatform checks values for platform id (0 when adding): a
	// field error per bad value, named by its field. A key that is absent
	// keeps the stored value; one present and empty clears it.
	ValidatePlatform(ctx context.Context, id int64, values map[string]string) []apperr.FieldError
	// SavePlatform stores validated values for platform id in tx.
	SavePlatform(ctx context.Context, tx *sqlx.Tx, id int64, values map[string]string) error
	// DefaultName is the name of a platform added without one ("" for
	// none: the issuer's host is used).
	DefaultName(values map[string]string) string
	// FrameOrigins are the origins besides the issuer and the auth URL
	// whose pages frame platform id's launches (Canvas: the institution's
	// Canvas URL, e.g. https://canvas.example.edu).
	FrameOrigins(ctx context.Context, id int64) []string
	// RegisteredValues are the values of a platform Dynamic Registration
	// adds: its product family code and the configuration URL it used.
	RegisteredValues(productFamily string, configURL *url.URL) map[string]string
}

// SetExtension installs the PlatformExtension (before serving). Without one
// a PlatformInput carrying Extra values is refused.
func (r *Registry) SetExtension(ext PlatformExtension) {
	r.mu.Lock()
	r.ext = ext
	r.mu.Unlock()
	r.clearCache()
}

// Extension returns the PlatformExtension SetExtension installed (nil:
// none), whose columns and form section the owner pages show.
func (r *Registry) Extension() PlatformExtension {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ext
}

// KnownIssuers lists the issuers whose endpoints are filled in (none
// without an extension).
func (r *Registry) KnownIssuers() []KnownIssuer {
	if ext := r.Extension(); ext != nil {
		return ext.KnownIssuers()
	}
	return nil
}

// KnownEndpoints returns the fixed endpoints of issuer, if it is known.
func (r *Registry) KnownEndpoints(issuer string) (KnownIssuer, bool) {
	issuer = strings.TrimRight(issuer, "/")
	for _, k := range r.KnownIssuers() {
		if k.Issuer == issuer {
			return k, true
		}
	}
	return KnownIssuer{}, false
}

// ValidateExtra checks extra (a PlatformInput.Extra) with the extension,
// so the edit form can name its errors together with its own.
func (r *Registry) ValidateExtra(ctx context.Context, id int64, extra map[string]string) []apperr.FieldError {
	if len(extra) == 0 {
		return nil
	}
	ext := r.Extension()
	if ext == nil {
		var fe []apperr.FieldError
		for k := range extra {
			fe = append(fe, apperr.FieldError{Index: -1, Field: k, Message: k + " is not a platform setting of this installation"})
		}
		return fe
	}
	return ext.ValidatePlatform(ctx, id, extra)
}

// saveExtra stores in.Extra with the extension, in the platform's transaction.
func (r *Registry) saveExtra(ctx context.Context, tx *sqlx.Tx, id int64, extra map[string]string) error {
	if len(extra) == 0 {
		return nil
	}
	ext := r.Extension()
	if ext == nil {
		return apperr.Errorf(apperr.Invalid, "This installation keeps no extra platform settings.")
	}
	return ext.SavePlatform(ctx, tx, id, extra)
}
