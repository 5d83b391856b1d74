package public

import (
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance/insight"
)

// registerOpenBadges mounts the public Open Badges documents:
//
//	/.well-known/did.json, /did.json   the issuer's did:web DID document (Ed25519 Multikeys)
//	/issuer                            the issuer's Profile
//	/issuer/jwks                       the VC-JWT keys (JWKS)
//	/issuer/keys/:kid                  one VC-JWT key (JWK): what a VC-JWT's kid names
//	/achievements/:id, .../image       a group as an Achievement, and its design image
//	/status/:list                      a BitstringStatusListCredential
//
// /c/:id.json and /c/:id.jwt (and JSON by content negotiation on /c/:id)
// are served by the credential route, which shares its :id segment.
func (p *public) registerOpenBadges(r gin.IRouter) {
	r.GET("/.well-known/did.json", p.rd.Page(p.document(p.didJSON, "application/did+ld+json", "public, max-age=300")))
	// did:web maps a DID with a path to <path>/did.json: a deployment under
	// a path prefix (behind a proxy that strips it) resolves here.
	r.GET("/did.json", p.rd.Page(p.document(p.didJSON, "application/did+ld+json", "public, max-age=300")))
	r.GET("/issuer", p.rd.Page(p.document(p.profileJSON, "application/ld+json", "public, max-age=300")))
	r.GET("/issuer/jwks", p.rd.Page(p.document(p.jwksJSON, "application/jwk-set+json", "public, max-age=300")))
	r.GET("/issuer/keys/:kid", p.rd.Page(p.jwk))
	r.GET("/achievements/:id", p.rd.Page(p.achievementDoc))
	r.GET("/achievements/:id/image", p.rd.Page(p.achievementImage))
	r.GET("/status/:list", p.rd.Page(p.statusList))
}

func (p *public) didJSON(c *gin.Context) ([]byte, error) {
	return p.s.Signing.DIDDocument(c.Request.Context())
}
func (p *public) profileJSON(c *gin.Context) ([]byte, error) {
	return p.s.Signing.IssuerProfile(c.Request.Context())
}
func (p *public) jwksJSON(c *gin.Context) ([]byte, error) {
	return p.s.Signing.IssuerJWKS(c.Request.Context())
}

func (p *public) document(get func(*gin.Context) ([]byte, error), typ, cache string) web.HandlerFunc {
	return func(c *gin.Context) error {
		b, err := get(c)
		if err != nil {
			return p.docError(c, err)
		}
		writeDoc(c, b, typ, cache)
		return nil
	}
}

func writeDoc(c *gin.Context, b []byte, typ, cache string) {
	c.Header("Cache-Control", cache)
	c.Header("Access-Control-Allow-Origin", "*") // verifiers in browsers fetch these
	c.Header("X-Content-Type-Options", "nosniff")
	c.Data(http.StatusOK, typ, b)
}

// docError turns a missing document into the JSON API's 404 (machines ask
// for these) and lets other errors through to the error page.
func (p *public) docError(c *gin.Context, err error) error {
	if apperr.Is(err, apperr.NotFound) {
		c.Header("Cache-Control", "no-store")
		web.WriteJSONError(c, err)
		return nil
	}
	return err
}

func (p *public) jwk(c *gin.Context) error {
	b, err := p.s.Signing.IssuerJWK(c.Request.Context(), c.Param("kid"))
	if err != nil {
		return p.docError(c, err)
	}
	writeDoc(c, b, "application/jwk+json", "public, max-age=300")
	return nil
}

func (p *public) achievementDoc(c *gin.Context) error {
	b, err := p.s.Signing.AchievementDocument(c.Request.Context(), c.Param("id"))
	if err != nil {
		return p.docError(c, err)
	}
	writeDoc(c, b, "application/ld+json", "public, max-age=300")
	return nil
}

func (p *public) achievementImage(c *gin.Context) error {
	_, d, err := p.s.Core.PublicGroup(c.Request.Context(), c.Param("id"))
	if apperr.Is(err, apperr.NotFound) || (err == nil && len(d.Image) == 0) {
		return p.notFound(c)
	}
	if err != nil {
		return err
	}
	WriteImage(c, d.Image, d.ImageType, d.UpdatedAt.Unix())
	return nil
}

// statusList serves a status list: cacheable, but revalidated on every use
// (ETag), so a revocation shows on the next check.
func (p *public) statusList(c *gin.Context) error {
	n, err := strconv.ParseInt(c.Param("list"), 10, 64)
	if err != nil {
		return p.docError(c, apperr.Errorf(apperr.NotFound, "Status list %q does not exist.", c.Param("list")))
	}
	b, err := p.s.Signing.StatusList(c.Request.Context(), n)
	if err != nil {
		return p.docError(c, err)
	}
	etag := `"` + strconv.FormatUint(fnv64(b), 16) + `"`
	c.Header("ETag", etag)
	if match := c.GetHeader("If-None-Match"); match != "" && match == etag {
		c.Header("Cache-Control", "public, no-cache")
		c.Status(http.StatusNotModified)
		return nil
	}
	writeDoc(c, b, "application/vc+ld+json", "public, no-cache")
	return nil
}

func fnv64(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, x := range b {
		h ^= uint64(x)
		h *= 1099511628211
	}
	return h
}

// openBadgeFormat says which representation of /c/:id a request asks for:
// the ".json"/".jwt" suffix of the id, or (for the bare id) an Accept
// header preferring JSON to HTML. It returns the bare id and "json",
// "jwt" or "" for the page.
func openBadgeFormat(c *gin.Context) (string, string) {
	id := c.Param("id")
	if b, ok := strings.CutSuffix(id, ".json"); ok {
		return b, "json"
	}
	if b, ok := strings.CutSuffix(id, ".jwt"); ok {
		return b, "jwt"
	}
	if prefersJSON(c.GetHeader("Accept")) {
		return id, "json"
	}
	return id, ""
}

// prefersJSON reports whether accept ranks application/ld+json or
// application/json above text/html (a browser's */* ranks them equal, and
// the page wins ties).
func prefersJSON(accept string) bool {
	var html, js float64
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		switch mt {
		case "text/html", "application/xhtml+xml":
			html = max(html, q)
		case "application/ld+json", "application/json", "application/vc+ld+json":
			js = max(js, q)
		}
	}
	return js > html
}

// serveOpenBadge writes credential id's signed JSON or VC-JWT.
func (p *public) serveOpenBadge(c *gin.Context, id, format string) error {
	js, jwt, err := p.s.Signing.Signed(c.Request.Context(), id)
	if apperr.Is(err, apperr.NotFound) {
		c.Header("Cache-Control", "no-store")
		web.WriteJSONError(c, apperr.Errorf(apperr.NotFound, "Credential %q does not exist.", id))
		return nil
	}
	if err != nil {
		return err
	}
	c.Header("Vary", "Accept")
	p.count(c, strings.ToLower(id), insight.Verify)
	// An amendment re-signs: revalidate each time.
	if format == "jwt" {
		writeDoc(c, []byte(jwt), "text/plain; charset=utf-8", "no-cache")
		return nil
	}
	writeDoc(c, js, "application/ld+json", "no-cache")
	return nil
}
