package staff

import (
	"fmt"
	"html"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/auth"
	"github.com/laurel-edu/laurel/issuance"
)

// templateGalleryPage is /designs/new: "Create Badge Design" and "Create
// Certificate Design" start by choosing a template.
type templateGalleryPage struct {
	Title    string
	Sections []gallerySection
}

type gallerySection struct {
	Kind      issuance.DesignKind
	Heading   string
	Templates []issuance.DesignTemplate
}

// designGallery shows the templates of the kind asked for (both kinds when
// none is), each opening the design form filled from it.
func (u *ui) designGallery(c *gin.Context, kind string) error {
	page := templateGalleryPage{Title: "Choose a template"}
	for _, k := range []issuance.DesignKind{issuance.Certificate, issuance.Badge} {
		if kind != "" && kind != string(k) {
			continue
		}
		s := gallerySection{Kind: k, Heading: "Create Certificate Design", Templates: issuance.DesignTemplates(k)}
		if k == issuance.Badge {
			s.Heading = "Create Badge Design"
		}
		page.Sections = append(page.Sections, s)
	}
	if len(page.Sections) == 1 {
		page.Title = page.Sections[0].Heading
	}
	return u.rd.Render(c, http.StatusOK, "staff_design_templates.html", page)
}

// templatePreview is GET /designs/templates/:layout/preview.svg: the
// template's thumbnail, drawn here (a badge: its very image), in the
// colours asked for (?primary=&secondary=, #rrggbb) or the template's own.
func (u *ui) templatePreview(c *gin.Context) error {
	if _, err := require(c, auth.ViewCredentials); err != nil {
		return err
	}
	t, ok := issuance.TemplateFor(issuance.Layout(c.Param("layout")))
	if !ok {
		return apperr.Errorf(apperr.NotFound, "There is no such template.")
	}
	primary, secondary := c.Query("primary"), c.Query("secondary")
	if !issuance.ValidColor(primary) {
		primary = t.Primary
	}
	if !issuance.ValidColor(secondary) {
		secondary = t.Secondary
	}
	var svg []byte
	if t.Kind == issuance.Badge {
		svg = issuance.BadgeSVG(t.Layout, primary, secondary)
	} else {
		svg = certificateThumbnail(t, primary, secondary)
	}
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "private, max-age=3600")
	c.Data(http.StatusOK, "image/svg+xml", svg)
	return nil
}

// certificateThumbnail draws a certificate layout in miniature, with the
// proportions certpdf uses (an A4 landscape page in mm).
func certificateThumbnail(t issuance.DesignTemplate, primary, secondary string) []byte {
	const serif, sans = `'DejaVu Serif',Georgia,serif`, `'DejaVu Sans',Arial,sans-serif`
	var b strings.Builder
	text := func(x, y, size float64, fill, family, s string) {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="%.1f" fill="%s" font-family="%s" text-anchor="middle">%s</text>`,
			x, y, size, fill, family, html.EscapeString(s))
	}
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 297 210" width="297" height="210">`)
	b.WriteString(`<rect width="297" height="210" fill="#ffffff"/>`)
	titleY, nameFamily, nameY, titleFamily, titleSize, titleFill := 74.0, serif, 108.0, serif, 14.0, primary
	switch t.Layout {
	case issuance.LayoutModern:
		fmt.Fprintf(&b, `<rect width="297" height="46" fill="%s"/><rect y="46" width="297" height="2.5" fill="%s"/><rect y="206" width="297" height="4" fill="%s"/>`, primary, secondary, secondary)
		titleY, nameFamily, titleFamily, titleFill, nameY = 28, sans, sans, "#ffffff", 100
	case issuance.LayoutMinimal:
		b.WriteString(`<rect x="10" y="10" width="277" height="190" fill="none" stroke="#d9dde2" stroke-width="0.6"/>`)
		fmt.Fprintf(&b, `<rect x="133.5" y="60" width="30" height="1.6" fill="%s"/>`, secondary)
		titleFamily, titleSize = sans, 10
	default:
		fmt.Fprintf(&b, `<rect x="8" y="8" width="281" height="194" fill="none" stroke="%s" stroke-width="4"/>`, primary)
		fmt.Fprintf(&b, `<rect x="14" y="14" width="269" height="182" fill="none" stroke="%s" stroke-width="0.8"/>`, secondary)
	}
	text(148.5, titleY, titleSize, titleFill, titleFamily, t.Title)
	text(148.5, nameY-17, 5.5, "#5b6875", sans, "This certifies that")
	text(148.5, nameY, 15, "#1d2733", nameFamily, "Alex Example")
	ruleW := 90.0
	if t.Layout == issuance.LayoutMinimal {
		ruleW = 30
	}
	fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="0.8" fill="%s"/>`, 148.5-ruleW/2, nameY+4, ruleW, secondary)
	text(148.5, nameY+18, 6, "#1d2733", sans, "has earned Example Achievement.")
	text(148.5, 178, 4.5, "#5b6875", sans, "Issued by your organisation")
	b.WriteString(`<rect x="253" y="166" width="24" height="24" fill="none" stroke="#1d2733" stroke-width="1"/>`)
	b.WriteString(`<rect x="257" y="170" width="6" height="6" fill="#1d2733"/><rect x="267" y="170" width="6" height="6" fill="#1d2733"/><rect x="257" y="180" width="6" height="6" fill="#1d2733"/>`)
	b.WriteString(`</svg>`)
	return []byte(b.String())
}
