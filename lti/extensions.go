package lti

import (
	"context"
	"net/url"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/apperr"
)

// Extensions is several PlatformExtensions as one (package canvas's Canvas
// settings and package moodle's Moodle web service): each value goes to the
// extension whose form section names its field, the list shows every
// extension's columns, and the form every section (FormSections).
type Extensions []PlatformExtension

var _ PlatformExtension = Extensions(nil)

// AddExtension installs ext beside those already installed (before
// serving).
func (r *Registry) AddExtension(ext PlatformExtension) {
	r.mu.Lock()
	switch cur := r.ext.(type) {
	case nil:
		r.ext = ext
	case Extensions:
		r.ext = append(cur[:len(cur):len(cur)], ext)
	default:
		r.ext = Extensions{cur, ext}
	}
	r.mu.Unlock()
	r.clearCache()
}

// FormSections returns the form section of every extension of platform id
// (0 when adding).
func FormSections(ctx context.Context, ext PlatformExtension, id int64) ([]ExtraSection, error) {
	if ext == nil {
		return nil, nil
	}
	all, ok := ext.(Extensions)
	if !ok {
		all = Extensions{ext}
	}
	out := make([]ExtraSection, 0, len(all))
	for _, e := range all {
		sec, err := e.FormSection(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, sec)
	}
	return out, nil
}

// KnownIssuers lists every extension's known issuers.
func (x Extensions) KnownIssuers() []KnownIssuer {
	var out []KnownIssuer
	for _, e := range x {
		out = append(out, e.KnownIssuers()...)
	}
	return out
}

// FormSection is every extension's fields in one section (titled by the
// first); pages show FormSections instead.
func (x Extensions) FormSection(ctx context.Context, id int64) (ExtraSection, error) {
	secs, err := FormSections(ctx, x, id)
	if err != nil || len(secs) == 0 {
		return ExtraSection{}, err
	}
	out := ExtraSection{Title: secs[0].Title}
	for _, s := range secs {
		out.Fields = append(out.Fields, s.Fields...)
	}
	return out, nil
}

// ListColumns is every extension's columns, in order.
func (x Extensions) ListColumns(ctx context.Context, ids []int64) ([]string, map[int64][]ExtraCell, error) {
	var heads []string
	cells := make(map[int64][]ExtraCell, len(ids))
	for _, e := range x {
		h, c, err := e.ListColumns(ctx, ids)
		if err != nil {
			return nil, nil, err
		}
		for _, id := range ids {
			row := append(cells[id], c[id]...)
			for len(row) < len(heads)+len(h) {
				row = append(row, ExtraCell{Text: "—", Muted: true})
			}
			cells[id] = row
		}
		heads = append(heads, h...)
	}
	return heads, cells, nil
}

// split hands each value to the extension whose section names its field;
// the rest are returned as unknown.
func (x Extensions) split(ctx context.Context, id int64, values map[string]string) ([]map[string]string, []string, error) {
	parts := make([]map[string]string, len(x))
	owner := map[string]int{}
	for i, e := range x {
		sec, err := e.FormSection(ctx, id)
		if err != nil {
			return nil, nil, err
		}
		for _, f := range sec.Fields {
			owner[f.Name] = i
		}
	}
	var unknown []string
	for k, v := range values {
		i, ok := owner[k]
		if !ok {
			unknown = append(unknown, k)
			continue
		}
		if parts[i] == nil {
			parts[i] = map[string]string{}
		}
		parts[i][k] = v
	}
	return parts, unknown, nil
}

// ValidatePlatform has each extension check its own values.
func (x Extensions) ValidatePlatform(ctx context.Context, id int64, values map[string]string) []apperr.FieldError {
	parts, unknown, err := x.split(ctx, id, values)
	if err != nil {
		return []apperr.FieldError{{Index: -1, Field: "platform", Message: "the platform settings could not be read"}}
	}
	var fe []apperr.FieldError
	for _, k := range unknown {
		fe = append(fe, apperr.FieldError{Index: -1, Field: k, Message: k + " is not a platform setting of this installation"})
	}
	for i, e := range x {
		if parts[i] != nil {
			fe = append(fe, e.ValidatePlatform(ctx, id, parts[i])...)
		}
	}
	return fe
}

// SavePlatform has each extension store its own values in tx.
func (x Extensions) SavePlatform(ctx context.Context, tx *sqlx.Tx, id int64, values map[string]string) error {
	parts, _, err := x.split(ctx, id, values)
	if err != nil {
		return err
	}
	for i, e := range x {
		if parts[i] != nil {
			if err := e.SavePlatform(ctx, tx, id, parts[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// DefaultName is the first extension's default name that is not empty.
func (x Extensions) DefaultName(values map[string]string) string {
	for _, e := range x {
		if n := e.DefaultName(values); n != "" {
			return n
		}
	}
	return ""
}

// FrameOrigins is every extension's frame origins.
func (x Extensions) FrameOrigins(ctx context.Context, id int64) []string {
	var out []string
	for _, e := range x {
		out = append(out, e.FrameOrigins(ctx, id)...)
	}
	return out
}

// RegisteredValues merges every extension's registered values.
func (x Extensions) RegisteredValues(productFamily string, configURL *url.URL) map[string]string {
	var out map[string]string
	for _, e := range x {
		for k, v := range e.RegisteredValues(productFamily, configURL) {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}
