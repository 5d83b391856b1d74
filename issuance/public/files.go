package public

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/certpdf"
	"github.com/laurel-edu/laurel/issuance/insight"
)

// The downloadable forms of a published credential: the certificate PDF
// (/c/:id.pdf, certificate designs) and the baked badge (/c/:id/badge,
// badge designs: the design's PNG or SVG with the signed credential in it).
// Both are links in the email, never attachments (attached PDFs hurt
// deliverability).

func (s *Service) certificate(ctx context.Context, v CredentialView) (certpdf.Certificate, error) {
	out := v.certificate()
	if v.LogoURL != "" { // the view drops image bytes; the logo is needed here
		d, err := s.Core.Design(ctx, v.Design.ID)
		if err != nil {
			return certpdf.Certificate{}, err
		}
		out.Logo, out.LogoType = d.Logo, d.LogoType
		if len(out.Logo) == 0 { // the design has none: the view shows the organisation's
			if out.Logo, out.LogoType, _, err = s.Core.OrganisationLogo(ctx); err != nil {
				return certpdf.Certificate{}, err
			}
		}
	}
	for i, sl := range v.Slots {
		im, err := s.Core.GroupImageOf(ctx, v.Group.ID, sl.Key)
		if err != nil {
			return certpdf.Certificate{}, err
		}
		out.Slots[i].Image, out.Slots[i].Type = im.Image, im.Type
	}
	return out, nil
}

// certificate is what v's certificate prints (without the logo's bytes).
func (v CredentialView) certificate() certpdf.Certificate {
	out := certpdf.Certificate{Title: v.Design.Title, Recipient: v.Credential.Recipient.Name, Achievement: v.Group.Name,
		Course: v.Group.CourseName, Issuer: v.Issuer, IssuedOn: v.IssuedOn, ExpiresOn: v.ExpiresOn,
		CredentialID: v.Credential.ID, URL: v.URL, Primary: v.Design.PrimaryColor, Secondary: v.Design.SecondaryColor,
		Created: v.Credential.IssuedOn, Layout: string(v.Design.Layout)}
	for _, sl := range v.Slots {
		out.Slots = append(out.Slots, certpdf.Slot{Position: sl.Position, Caption: sl.Caption})
	}
	if v.Credential.PublishedAt != nil {
		out.Created = *v.Credential.PublishedAt
	}
	for _, f := range v.Printed {
		if f.Key != "recipient_name" { // the name is the certificate's centre already
			out.Fields = append(out.Fields, certpdf.Field{Label: f.Label, Value: f.Value})
		}
	}
	return out
}

// version names what a credential's downloads are drawn from.
func (v CredentialView) version() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s|%s|%d|%d|%d|%s", v.Credential.ID, v.Credential.State, v.Credential.UpdatedAt.UnixNano(),
		v.Group.UpdatedAt.UnixNano(), v.Design.UpdatedAt.UnixNano(), v.Issuer)
	for _, sl := range v.Slots { // a new signature image is a new certificate
		fmt.Fprintf(h, "|%s=%d", sl.Key, sl.Version)
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// gone is the answer to a download of a revoked credential: its page says
// why. It goes through the page renderer (410) and is not cached.
func (p *public) gone(c *gin.Context, cr issuance.Credential) error {
	c.Header("Cache-Control", "no-store")
	return apperr.Errorf(apperr.Gone, "This credential was revoked, so it can no longer be downloaded. Its page says why: %s",
		p.s.Core.CredentialURL(cr.ID))
}

// pdf serves /c/:id.pdf for a credential with a certificate design.
func (p *public) pdf(c *gin.Context, id string) error {
	ctx := c.Request.Context()
	cr, ok, err := p.visibleID(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		return p.notFound(c)
	}
	if err := p.refuseHidden(c, cr); err != nil {
		return err
	}
	v, err := p.s.View(ctx, cr, false)
	if err != nil {
		return err
	}
	if v.Design.Kind != issuance.Certificate {
		return p.notFound(c) // a badge has no certificate
	}
	if cr.State == issuance.Revoked {
		return p.gone(c, cr)
	}
	etag := `"` + v.version() + `"`
	c.Header("ETag", etag)
	c.Header("Cache-Control", "no-cache") // revalidate: amendments show at once
	if c.GetHeader("If-None-Match") == etag {
		c.Status(http.StatusNotModified)
		return nil
	}
	b, ok := p.pdfs.Get(etag)
	if !ok {
		cert, err := p.s.certificate(ctx, v)
		if err != nil {
			return err
		}
		var unc *certpdf.UncoveredError
		if b, err = certpdf.Render(cert); errors.As(err, &unc) {
			c.Header("Cache-Control", "no-store")
			return apperr.Errorf(apperr.Invalid, "This certificate cannot be made into a PDF: the fonts Laurel ships cannot draw %q. "+
				"The credential page shows it in full: %s", string(unc.Runes), v.URL)
		}
		if err != nil {
			return err
		}
		p.pdfs.Set(etag, b)
	}
	p.count(c, cr.ID, insight.PDF)
	c.Header("Content-Disposition", `inline; filename="certificate-`+cr.ID+`.pdf"`)
	c.Header("X-Content-Type-Options", "nosniff")
	c.Data(http.StatusOK, "application/pdf", b)
	return nil
}

// LinkedInURL is LinkedIn's documented "Add to profile" link for a
// certification, filled with this credential.
func (v CredentialView) LinkedInURL() string {
	q := url.Values{}
	q.Set("startTask", "CERTIFICATION_NAME")
	q.Set("name", v.Group.Name)
	q.Set("organizationName", v.Issuer)
	q.Set("issueYear", strconv.Itoa(v.Credential.IssuedOn.Year()))
	q.Set("issueMonth", strconv.Itoa(int(v.Credential.IssuedOn.Month())))
	if e := v.Credential.ExpiresOn; e != nil {
		q.Set("expirationYear", strconv.Itoa(e.Year()))
		q.Set("expirationMonth", strconv.Itoa(int(e.Month())))
	}
	q.Set("certUrl", v.URL)
	q.Set("certId", v.Credential.ID)
	return "https://www.linkedin.com/profile/add?" + q.Encode()
}

// Downloads are the credential's downloadable forms that exist for it: the
// signed credential (JSON) and, for a badge design, the baked badge once it
// is signed; for a certificate design, the PDF when its fonts can draw it.
func (v CredentialView) Downloads() []issuance.Link {
	if v.Preview || v.Credential.State != issuance.Published {
		return nil
	}
	var out []issuance.Link
	signed := v.Verification != nil && v.Verification.Signed
	if v.Design.Kind == issuance.Certificate && len(v.certificate().Uncovered()) == 0 {
		out = append(out, issuance.Link{Label: "Certificate (PDF)", URL: v.URL + ".pdf"})
	}
	if signed && v.Design.Kind == issuance.Badge && v.ImageURL != "" {
		// Both kinds, baked: PNG for profiles and documents, SVG to scale.
		for _, f := range []string{"png", "svg"} {
			out = append(out, issuance.Link{Label: "Badge image with the credential baked in (" + strings.ToUpper(f) + ")", URL: v.URL + "/badge?format=" + f})
		}
	}
	if signed {
		out = append(out, issuance.Link{Label: "Signed credential (Open Badges 3.0 JSON)", URL: v.JSONURL})
	}
	return out
}

// imageExt is the file extension of a design image type.
func imageExt(typ string) string {
	if typ == "image/svg+xml" {
		return "svg"
	}
	return "png"
}
