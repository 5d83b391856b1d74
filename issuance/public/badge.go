package public

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"image/png"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/baking"
	"github.com/laurel-edu/laurel/issuance/insight"
	"github.com/laurel-edu/laurel/issuance/signing"
	"github.com/laurel-edu/laurel/issuance/svgraster"
)

// signedJSONFunc returns a published credential's Open Badges 3.0 JSON with
// its embedded proof: the bytes /c/:id.json serves, and what a baked badge
// carries (the specification's "embedded proof" form of baking, so a
// verifier needs nothing but the image).
type signedJSONFunc func(ctx context.Context, id string) ([]byte, error)

// signedJSON is s's source of signed credential JSON: signing's Signed,
// which signs first when the ChangedJob has not run yet (a badge downloaded
// a moment after publishing is baked all the same).
func signedJSON(s *Service) signedJSONFunc {
	return func(ctx context.Context, id string) ([]byte, error) {
		js, _, err := s.Signing.Signed(ctx, id)
		return js, err
	}
}

// badge serves /c/:id/badge: the design's badge image with the signed
// credential baked in, as a download; 404 when nothing is signed (a Service
// without keys), 410 once revoked. ?format=png or ?format=svg asks for the
// other kind than the design's: an SVG design is drawn as a PNG, a PNG
// design wrapped in an SVG; both are baked.
func (p *public) badge(c *gin.Context) error {
	ctx := c.Request.Context()
	format := c.Query("format")
	if format != "" && format != "png" && format != "svg" {
		return apperr.Errorf(apperr.BadRequest, "format must be png or svg.")
	}
	cr, ok, err := p.visible(c)
	if err != nil {
		return err
	}
	if !ok {
		return p.notFound(c)
	}
	if err := p.refuseHidden(c, cr); err != nil {
		return err
	}
	g, err := p.s.Core.Group(ctx, cr.GroupID)
	if err != nil {
		return err
	}
	d, err := p.s.Core.Design(ctx, g.DesignID)
	if err != nil {
		return err
	}
	if d.Kind != issuance.Badge || len(d.Image) == 0 || p.signed == nil {
		return p.notFound(c)
	}
	if cr.State == issuance.Revoked {
		return p.gone(c, cr)
	}
	js, err := p.signed(ctx, cr.ID)
	if apperr.Is(err, apperr.NotFound) || errors.Is(err, signing.ErrSigningUnavailable) {
		return p.notFound(c) // nothing signed, nothing to bake
	}
	if err != nil {
		return err
	}
	img, ext := d.Image, imageExt(d.ImageType)
	switch {
	case format == "png" && ext == "svg":
		img, err = svgraster.PNG(d.Image, badgePNGSide)
	case format == "svg" && ext == "png":
		img, err = wrapPNG(d.Image)
	}
	if err != nil {
		return fmt.Errorf("badge of credential %s (design %d) as %s: %w", cr.ID, d.ID, format, err)
	}
	if format != "" {
		ext = format
	}
	var out []byte
	if ext == "svg" {
		out, err = baking.SVG(img, string(js))
	} else {
		out, err = baking.PNG(img, string(js))
	}
	if err != nil {
		return fmt.Errorf("bake badge of credential %s (design %d, %s): %w", cr.ID, d.ID, d.ImageType, err)
	}
	sum := sha256.Sum256(out)
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	// Served like the design image (sandboxed: an SVG opened directly cannot
	// run script on our origin), but revalidated: an amendment re-signs.
	c.Header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Header("Cache-Control", "no-cache")
	c.Header("ETag", etag)
	if c.GetHeader("If-None-Match") == etag {
		c.Status(http.StatusNotModified)
		return nil
	}
	p.count(c, cr.ID, insight.Badge)
	c.Header("Content-Disposition", `attachment; filename="badge-`+cr.ID+`.`+ext+`"`)
	c.Data(http.StatusOK, map[string]string{"svg": "image/svg+xml", "png": "image/png"}[ext], out)
	return nil
}

// badgePNGSide is the size of a PNG drawn from an SVG badge: large enough
// for a profile or print, as platforms ask for badge images of 400–600 px.
const badgePNGSide = 600

// wrapPNG is an SVG showing the PNG badge at its own size, to bake the
// credential into an SVG as well.
func wrapPNG(pngData []byte) ([]byte, error) {
	cfg, err := png.DecodeConfig(bytes.NewReader(pngData))
	if err != nil {
		return nil, fmt.Errorf("read png badge: %w", err)
	}
	return fmt.Appendf(nil, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d"><image width="%d" height="%d" href="data:image/png;base64,%s"/></svg>`,
		cfg.Width, cfg.Height, cfg.Width, cfg.Height, cfg.Width, cfg.Height, base64.StdEncoding.EncodeToString(pngData)), nil
}
