// Package svgraster draws an SVG image (a logo, a badge design) as a PNG,
// for the places that cannot show SVG: the certificate PDF and the PNG
// badge download. It uses oksvg and rasterx (pure Go, the rasteriser Fyne
// draws its icons with), so Laurel stays one binary with no image tool to
// install. They draw paths, basic shapes, strokes and gradients; <text>
// elements are not drawn, so a logo's lettering should be converted to
// paths (every vector editor does it: "Object to path", "Create outlines").
// It owns no table.
package svgraster

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"math"

	"github.com/srwiley/oksvg"
	"github.com/srwiley/rasterx"
)

// ErrEmpty says the SVG has no size to draw at.
var ErrEmpty = errors.New("svgraster: the SVG has no width, height or viewBox")

// PNG draws svg so that its longer side is side pixels, keeping its aspect
// ratio, on a transparent background.
func PNG(svg []byte, side int) ([]byte, error) {
	icon, err := oksvg.ReadIconStream(bytes.NewReader(svg), oksvg.IgnoreErrorMode)
	if err != nil {
		return nil, fmt.Errorf("svgraster: read svg: %w", err)
	}
	w, h := icon.ViewBox.W, icon.ViewBox.H
	if w <= 0 || h <= 0 || math.IsNaN(w) || math.IsNaN(h) {
		return nil, ErrEmpty
	}
	pw, ph := side, side
	if w > h {
		ph = max(1, int(math.Round(float64(side)*h/w)))
	} else {
		pw = max(1, int(math.Round(float64(side)*w/h)))
	}
	icon.SetTarget(0, 0, float64(pw), float64(ph))
	img := image.NewRGBA(image.Rect(0, 0, pw, ph))
	scanner := rasterx.NewScannerGV(pw, ph, img, img.Bounds())
	icon.Draw(rasterx.NewDasher(pw, ph, scanner), 1)
	var out bytes.Buffer
	if err := png.Encode(&out, img); err != nil {
		return nil, fmt.Errorf("svgraster: encode png: %w", err)
	}
	return out.Bytes(), nil
}
