package canvas

import (
	"context"

	"github.com/laurel-edu/laurel/lti"
)

// LTIPlatforms adapts package lti's platform registry to Platforms.
func LTIPlatforms(r *lti.Registry) Platforms { return ltiPlatforms{r} }

type ltiPlatforms struct{ r *lti.Registry }

func (a ltiPlatforms) CanvasPlatforms(ctx context.Context) ([]Platform, error) {
	list, err := a.r.Platforms(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Platform, 0, len(list))
	for _, p := range list {
		if p.Disabled {
			continue
		}
		out = append(out, Platform{ID: p.ID, Name: p.Name})
	}
	return out, nil
}

func (a ltiPlatforms) CanvasPlatform(ctx context.Context, id int64) (Platform, error) {
	p, err := a.r.Platform(ctx, id)
	if err != nil {
		return Platform{}, err
	}
	return Platform{ID: p.ID, Name: p.Name}, nil
}

// PlatformSettings returns the store of the platforms' Canvas settings: the
// platform registry's lti.PlatformExtension (Registry.SetExtension).
func (s *Service) PlatformSettings() *PlatformSettings { return s.settings }

// platform returns one platform with its Canvas settings and decrypted
// token, or an apperr.NotFound error.
func (s *Service) platform(ctx context.Context, id int64) (Platform, error) {
	p, err := s.platforms.CanvasPlatform(ctx, id)
	if err != nil {
		return Platform{}, err
	}
	st, err := s.settings.Settings(ctx, id)
	if err != nil {
		return Platform{}, err
	}
	p.CanvasURL, p.HasCanvasToken = st.URL, st.HasToken
	if st.HasToken {
		if p.CanvasToken, err = s.settings.Token(ctx, id); err != nil {
			return Platform{}, err
		}
	}
	return p, nil
}

// enabledPlatforms lists the enabled platforms with their Canvas settings
// (no tokens).
func (s *Service) enabledPlatforms(ctx context.Context) ([]Platform, error) {
	list, err := s.platforms.CanvasPlatforms(ctx)
	if err != nil {
		return nil, err
	}
	all, err := s.settings.All(ctx)
	if err != nil {
		return nil, err
	}
	for i := range list {
		st := all[list[i].ID]
		list[i].CanvasURL, list[i].HasCanvasToken = st.URL, st.HasToken
	}
	return list, nil
}
