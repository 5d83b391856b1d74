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
		out = append(out, Platform{ID: p.ID, Name: p.Name, CanvasURL: p.CanvasURL, HasCanvasToken: p.HasCanvasToken})
	}
	return out, nil
}

func (a ltiPlatforms) CanvasPlatform(ctx context.Context, id int64) (Platform, error) {
	p, err := a.r.Platform(ctx, id)
	if err != nil {
		return Platform{}, err
	}
	out := Platform{ID: p.ID, Name: p.Name, CanvasURL: p.CanvasURL, HasCanvasToken: p.HasCanvasToken}
	if p.HasCanvasToken {
		if out.CanvasToken, err = a.r.CanvasToken(ctx, id); err != nil {
			return Platform{}, err
		}
	}
	return out, nil
}
