package public

import (
	"context"
	"embed"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/cache"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/certpdf"
	"github.com/laurel-edu/laurel/issuance/insight"
	"github.com/laurel-edu/laurel/issuance/reminders"
	"github.com/laurel-edu/laurel/issuance/signing"
)

// Templates holds the public credential pages and the credential design
// partial (_credential_design.html) that the staff preview shares; the app
// passes its "templates" directory to web.NewRenderer.
//
//go:embed templates/*.html
var templatesFS embed.FS

// Templates are this package's pages, for web.NewRenderer.
var Templates = web.TemplateDir(templatesFS)

// Service serves the public pages of credentials and the public Open
// Badges documents.
type Service struct {
	Core *issuance.Service
	// Reminders are the groups' expiry settings and the renewal requests
	// (the credential page's "Ask to renew" link and its page).
	Reminders *reminders.Service
	Signing   *signing.Service
	// Wallets shows the credential page's "Email me a wallet link" block
	// (issuance/wallet serves its action).
	Wallets bool
	// Recipients is recipient self-service (nil: none): a credential its
	// recipient hid shows the public only that it is valid.
	Recipients Recipients
	// Counter counts views, downloads and clicks (issuance/insight); nil
	// counts nothing, and the page links LinkedIn and the share sites
	// directly.
	Counter Counter
}

// Counter counts what people do with a published credential.
type Counter interface {
	Count(r *http.Request, credentialID string, k insight.Kind)
}

// New returns the public pages over core and signing.
func New(core *issuance.Service, rem *reminders.Service, sg *signing.Service) *Service {
	return &Service{Core: core, Reminders: rem, Signing: sg}
}

func (s *Service) now() time.Time { return s.Core.Time() }

func (s *Service) logger() *slog.Logger { return s.Core.Logger() }

// CredentialView is what the public credential page (and the staff preview,
// which uses the same template) shows.
type CredentialView struct {
	Credential issuance.Credential
	Group      issuance.Group
	Design     issuance.Design // without image bytes
	// Issuer is the organisation's name; Organisation the rest of its
	// identity (website, logo, language).
	Issuer       string
	Organisation issuance.Organisation
	URL          string
	// ImageURL / LogoURL serve the design's badge image and logo ("" when
	// none); a design without its own logo shows the organisation's.
	ImageURL, LogoURL string
	IssuedOn          string // formatted for people
	ExpiresOn         string // "" when it never expires
	Expired           bool
	// Fields lists the custom attributes in the group's order; Printed what a
	// certificate prints, in the design's order.
	Fields  []ViewField
	Printed []ViewField
	// Links are the Fields keys whose values are web links (validated
	// http or https), shown as links.
	Links map[string]bool
	// Preview marks the staff preview of a credential (possibly unpublished).
	Preview bool
	// Verification is what the public page checked (nil in the preview).
	Verification *signing.Verification
	// JSONURL and JWTURL are the signed credential's downloads.
	JSONURL, JWTURL string
	// Wallet shows the wallet block (a published credential, wallets on);
	// WalletSent says a wallet link was just emailed.
	Wallet, WalletSent bool
	// RenewURL is the "Ask to renew" link ("" for none).
	RenewURL string
	// Counted sends the LinkedIn and share links through Laurel's own
	// redirects (/c/:id/go/...), which count the click.
	Counted bool
	// Own marks the page its proven recipient sees; HiddenFromPublic that
	// the recipient hid it (only they see these details).
	Own, HiddenFromPublic bool
	// Slots are the image attributes the certificate design places (a
	// signature, say), public ones with an image only, left to right.
	Slots []SlotView
}

// FirstName is how the page greets a possible recipient.
func (v CredentialView) FirstName() string {
	if f := strings.Fields(v.Credential.Recipient.Name); len(f) > 0 {
		return f[0]
	}
	return ""
}

// SlotView is one placed image: where, its caption (the attribute's
// label) and the link that serves it ("" in a sample preview, which draws
// the caption alone).
type SlotView struct {
	Position, Key, Caption, URL string
	// Version changes with the image (for the PDF's cache key).
	Version int64
}

// ViewField is one labelled value on a credential.
type ViewField struct{ Key, Label, Value string }

// View assembles what the credential page shows for c. preview is for the
// staff preview: image links then go to the staff design routes, which also
// serve designs of unpublished credentials.
func (s *Service) View(ctx context.Context, c issuance.Credential, preview bool) (CredentialView, error) {
	g, err := s.Core.Group(ctx, c.GroupID)
	if err != nil {
		return CredentialView{}, err
	}
	d, err := s.Core.Design(ctx, g.DesignID)
	if err != nil {
		return CredentialView{}, err
	}
	o, err := s.Core.Organisation(ctx)
	if err != nil {
		return CredentialView{}, err
	}
	iss, err := s.Signing.Identity(ctx) // the organisation's name unless signing.Service.Issuer says otherwise
	if err != nil {
		return CredentialView{}, err
	}
	v := CredentialView{Credential: c, Group: g, Issuer: iss.Name, Organisation: o, URL: s.Core.CredentialURL(c.ID),
		JSONURL: s.Core.CredentialURL(c.ID) + ".json", JWTURL: s.Core.CredentialURL(c.ID) + ".jwt",
		IssuedOn: c.IssuedOn.Format(issuance.HumanDate), Expired: c.Expired(s.now()), Preview: preview, Counted: s.Counter != nil}
	if c.ExpiresOn != nil {
		v.ExpiresOn = c.ExpiresOn.Format(issuance.HumanDate)
	}
	base := "/c/" + c.ID
	if preview {
		base = "/designs/" + strconv.FormatInt(d.ID, 10)
	}
	if len(d.Image) > 0 {
		v.ImageURL = base + "/image"
	}
	if len(d.Logo) > 0 {
		v.LogoURL = base + "/logo"
	} else if o.LogoURL != "" {
		v.LogoURL = o.LogoURL
	}
	d.Image, d.Logo = nil, nil
	v.Design = d
	if !preview {
		v.RenewURL = s.renewURL(ctx, c)
	}
	// The page, the staff preview of it and the PDF are public: they show
	// only what the group makes public, whatever the design ticks print.
	for _, a := range c.VisibleValues(g, issuance.AudiencePublic) {
		v.Fields = append(v.Fields, ViewField{Key: a.Key, Label: a.Label, Value: a.Display()})
		if a.Type == issuance.URLAttr {
			if v.Links == nil {
				v.Links = map[string]bool{}
			}
			v.Links[a.Key] = true
		}
	}
	for _, k := range d.PrintedAttributes {
		if !g.Visible(k, issuance.AudiencePublic) {
			continue
		}
		if f, ok := v.Field(k); ok && f.Value != "" {
			v.Printed = append(v.Printed, f)
		}
	}
	if v.Slots, err = s.slots(ctx, c, g, d, preview); err != nil {
		return CredentialView{}, err
	}
	return v, nil
}

// slots are the image attributes design d places on c's certificate: only
// public image attributes of c's group that hold an image (Group.Visible,
// the rule every surface obeys).
func (s *Service) slots(ctx context.Context, c issuance.Credential, g issuance.Group, d issuance.Design, preview bool) ([]SlotView, error) {
	if d.Kind != issuance.Certificate || len(d.ImageSlots) == 0 {
		return nil, nil
	}
	imgs, err := s.Core.GroupImages(ctx, g.ID)
	if err != nil {
		return nil, err
	}
	var out []SlotView
	for _, pos := range issuance.ImageSlots {
		key := d.ImageSlots[pos]
		if key == "" || !g.Visible(key, issuance.AudiencePublic) {
			continue
		}
		for _, a := range g.ImageAttributes() {
			if a.Key != key {
				continue
			}
			for _, im := range imgs {
				if im.Key == key {
					u := "/c/" + c.ID + "/images/" + key
					if preview {
						u = "/groups/" + strconv.FormatInt(g.ID, 10) + "/images/" + key
					}
					out = append(out, SlotView{Position: pos, Key: key, Caption: a.Label, URL: u + "?v=" + strconv.FormatInt(im.UpdatedAt.Unix(), 10),
						Version: im.UpdatedAt.UnixNano()})
				}
			}
		}
	}
	return out, nil
}

// Field returns the standard or custom attribute key of the credential.
func (v CredentialView) Field(key string) (ViewField, bool) {
	c := v.Credential
	switch key {
	case "recipient_name":
		return ViewField{key, "Recipient", c.Recipient.Name}, true
	case "recipient_email":
		return ViewField{key, "Recipient email", c.Recipient.Email}, true
	case "issued_on":
		return ViewField{key, "Issued on", v.IssuedOn}, true
	case "expires_on":
		return ViewField{key, "Expires on", v.ExpiresOn}, true
	case "group_name":
		return ViewField{key, "Achievement", v.Group.Name}, true
	case "course_name":
		return ViewField{key, "Course", v.Group.CourseName}, true
	case "credential_id":
		return ViewField{key, "Credential ID", c.ID}, true
	}
	for _, f := range v.Fields {
		if f.Key == key {
			return f, true
		}
	}
	return ViewField{}, false
}

// Register mounts the public credential page /c/:id, its design
// images /c/:id/image and /c/:id/logo, and the organisation's logo
// /organisation/logo. They need no sign-in; an unpublished or unknown ID
// gets the same 404 page, so IDs cannot be probed.
func (s *Service) Register(r gin.IRouter, rd *web.Renderer) {
	p := &public{s: s, rd: rd, pdfs: cache.New[string, []byte](0, 256, nil), signed: signedJSON(s)}
	r.GET("/c/:id", rd.Page(p.credential))
	r.GET("/c/:id/badge", rd.Page(p.badge))
	r.GET("/c/:id/image", rd.Page(p.image("image")))
	r.GET("/c/:id/logo", rd.Page(p.image("logo")))
	r.GET("/c/:id/images/:key", rd.Page(p.slotImage))
	r.GET("/organisation/logo", rd.Page(p.organisationLogo))
	r.GET("/fonts/certificate-serif.ttf", certificateFont(certpdf.SerifTTF))
	r.GET("/fonts/certificate-sans.ttf", certificateFont(certpdf.SansTTF))
	p.registerOpenBadges(r)
	p.registerRenew(r)
	p.registerClicks(r)
}

// certificateFont serves one of the certificate PDF's typefaces, so the web
// certificate is set in the same faces as the PDF (DejaVu: its licence
// allows redistribution; it is in issuance/certpdf/fonts).
func certificateFont(ttf []byte) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=31536000, immutable")
		c.Header("X-Content-Type-Options", "nosniff")
		c.Data(http.StatusOK, "font/ttf", ttf)
	}
}

// organisationLogo serves the issuer's logo: public, as Open Badges issuer
// profiles and certificates link it.
func (p *public) organisationLogo(c *gin.Context) error {
	b, typ, updated, err := p.s.Core.OrganisationLogo(c.Request.Context())
	if err != nil {
		return err
	}
	if len(b) == 0 {
		return apperr.Errorf(apperr.NotFound, "The organisation has no logo.")
	}
	WriteImage(c, b, typ, updated.Unix())
	return nil
}

type public struct {
	s  *Service
	rd *web.Renderer
	// pdfs keeps recently rendered certificates: rendering one with a CJK
	// name embeds (a subset of) a 3.4 MB font and takes tens of
	// milliseconds, while a certificate changes only when its credential,
	// group or design does. Entries are keyed by those versions (the ETag),
	// so an amendment is never served stale and no expiry is needed; the
	// least recently used entry goes first.
	pdfs   *cache.TTL[string, []byte]
	signed signedJSONFunc
}

// visible loads a credential the public may see (published or revoked).
func (p *public) visible(c *gin.Context) (issuance.Credential, bool, error) {
	return p.visibleID(c.Request.Context(), c.Param("id"))
}

// visibleID loads credential id if the public may see it.
func (p *public) visibleID(ctx context.Context, id string) (issuance.Credential, bool, error) {
	cr, err := p.s.Core.Credential(ctx, strings.ToLower(id))
	if apperr.Is(err, apperr.NotFound) || (err == nil && cr.State == issuance.Unpublished) {
		return issuance.Credential{}, false, nil
	}
	if err != nil {
		return issuance.Credential{}, false, err
	}
	return cr, true, nil
}

func (p *public) notFound(c *gin.Context) error {
	c.Header("Cache-Control", "no-store")
	return p.rd.Render(c, http.StatusNotFound, "public_not_found.html", nil)
}

func (p *public) credential(c *gin.Context) error {
	if id, ok := strings.CutSuffix(c.Param("id"), ".pdf"); ok {
		return p.pdf(c, id)
	}
	if id, format := openBadgeFormat(c); format != "" {
		return p.serveOpenBadge(c, id, format)
	}
	if c.Query("src") == "email" {
		return p.fromEmail(c)
	}
	cr, ok, err := p.visible(c)
	if err != nil {
		return err
	}
	if !ok {
		return p.notFound(c)
	}
	if cr.Erased() {
		return p.erased(c, cr)
	}
	hidden, own, err := p.privacy(c, cr)
	if err != nil {
		return err
	}
	ver, err := p.s.Signing.Verify(c.Request.Context(), cr)
	if err != nil {
		// The page still shows the credential, without claiming it verified.
		p.s.logger().Error("public page: cannot verify credential", "credential", cr.ID, "err", err)
		ver = signing.Verification{Problem: "The signature could not be checked just now; try again later."}
	}
	if hidden && !own {
		return p.hidden(c, cr, ver)
	}
	v, err := p.s.View(c.Request.Context(), cr, false)
	if err != nil {
		return err
	}
	v.Verification = &ver
	v.Wallet = p.s.Wallets && cr.State == issuance.Published && !v.Expired
	v.WalletSent = v.Wallet && c.Query("wallet") == "sent"
	v.Own, v.HiddenFromPublic = own, hidden
	c.Header("Vary", "Accept")
	// Amendments and revocations must show at once: no caching. The
	// recipient's own view is personal: not stored at all.
	cache := "no-cache"
	if own {
		cache = "no-store"
	}
	c.Header("Cache-Control", cache)
	p.count(c, cr.ID, insight.View)
	return p.rd.Render(c, http.StatusOK, "public_credential.html", v)
}

func (p *public) image(which string) web.HandlerFunc {
	return func(c *gin.Context) error {
		cr, ok, err := p.visible(c)
		if err != nil {
			return err
		}
		if !ok {
			return p.notFound(c)
		}
		g, err := p.s.Core.Group(c.Request.Context(), cr.GroupID)
		if err != nil {
			return err
		}
		d, err := p.s.Core.Design(c.Request.Context(), g.DesignID)
		if err != nil {
			return err
		}
		b, typ := d.Image, d.ImageType
		if which == "logo" {
			b, typ = d.Logo, d.LogoType
		}
		if len(b) == 0 {
			return p.notFound(c)
		}
		WriteImage(c, b, typ, d.UpdatedAt.Unix())
		return nil
	}
}

// slotImage serves an image its certificate places (a signature, say): only
// one the credential's view shows, so a non-public attribute stays hidden.
func (p *public) slotImage(c *gin.Context) error {
	ctx := c.Request.Context()
	cr, ok, err := p.visible(c)
	if err != nil {
		return err
	}
	if !ok || cr.Erased() {
		return p.notFound(c)
	}
	v, err := p.s.View(ctx, cr, false)
	if err != nil {
		return err
	}
	for _, sl := range v.Slots {
		if sl.Key == c.Param("key") {
			im, err := p.s.Core.GroupImageOf(ctx, v.Group.ID, sl.Key)
			if err != nil {
				return err
			}
			WriteImage(c, im.Image, im.Type, im.UpdatedAt.Unix())
			return nil
		}
	}
	return p.notFound(c)
}

// WriteImage serves a stored design image. SVG is served sandboxed, so a
// hostile SVG opened directly cannot run script on our origin.
func WriteImage(c *gin.Context, b []byte, typ string, version int64) {
	c.Header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Header("Cache-Control", "public, max-age=300")
	c.Header("ETag", fmt.Sprintf(`"%d-%d"`, version, len(b)))
	c.Data(http.StatusOK, typ, b)
}

// erased is the page of a credential whose recipient was erased: only that
// it was revoked, and when; no name, group details or attributes.
func (p *public) erased(c *gin.Context, cr issuance.Credential) error {
	iss, err := p.s.Signing.Identity(c.Request.Context())
	if err != nil {
		return err
	}
	c.Header("Cache-Control", "no-cache")
	return p.rd.Render(c, http.StatusOK, "public_erased.html", struct {
		Credential issuance.Credential
		Issuer     string
	}{cr, iss.Name})
}
