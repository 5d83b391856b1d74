package wallet

// The recipient's pages: the wallet link page (QR code and links) that the
// email leads to, and the "email me a wallet link" action of the
// credential page.

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	"rsc.io/qr"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance"
)

// Register mounts the wallet routes: the protocol endpoints (JSON, called
// by wallets, no session), the recipient's pages and the credential page's
// request for a wallet link.
func (s *Service) Register(r gin.IRoutes, rd *web.Renderer) {
	r.GET("/.well-known/openid-credential-issuer", protocol(s.issuerMetadata))
	r.GET("/.well-known/oauth-authorization-server", protocol(s.authServerMetadata))
	r.GET("/wallet/offer", protocol(s.offerJSON))
	r.POST("/wallet/token", protocol(s.token))
	r.POST("/wallet/nonce", protocol(s.nonce))
	r.POST("/wallet/credential", protocol(s.credential))
	r.POST("/wallet/lcw", web.API(s.lcwDirect))
	r.POST("/wallet/exchange", web.API(s.exchange))
	r.GET("/wallet/claim", rd.Page(s.page(rd)))
	r.GET("/wallet/claim/qr.png", rd.Page(s.qrPNG))
	r.POST("/c/:id/wallet-link", rd.Page(s.sendLink))
	r.GET("/c/:id/wallet", rd.Page(s.emailStart(rd)))
	r.POST("/c/:id/wallet", rd.Page(s.emailOffer))
}

// pageView is what the wallet link page shows.
type pageView struct {
	Issuer     string
	Credential issuance.Credential
	Group      issuance.Group
	// OfferLink is openid-credential-offer://…, which html/template would
	// otherwise refuse as an unknown scheme; Laurel builds it.
	OfferLink template.URL
	QRURL     string
	LCWLink   string // "" when the offer needs a transaction code
	TxCode    bool
	ExpiresAt time.Time
	UsesLeft  int
}

// page is the wallet link page of a live offer.
func (s *Service) page(rd *web.Renderer) web.HandlerFunc {
	return func(c *gin.Context) error {
		ctx := c.Request.Context()
		token := c.Query("t")
		o, err := s.liveOffer(ctx, s.DB, token, false)
		if err != nil {
			return err
		}
		cr, err := s.Core.Credential(ctx, o.CredentialID)
		if err != nil {
			return err
		}
		g, err := s.Core.Group(ctx, cr.GroupID)
		if err != nil {
			return err
		}
		iss, err := s.Signing.Identity(ctx)
		if err != nil {
			return err
		}
		v := pageView{Issuer: iss.Name, Credential: cr, Group: g, OfferLink: template.URL(s.OfferLink(token)),
			QRURL: "/wallet/claim/qr.png?t=" + url.QueryEscape(token), TxCode: o.TxCodeHash != nil, ExpiresAt: o.ExpiresAt, UsesLeft: o.UsesLeft}
		if !v.TxCode {
			v.LCWLink = s.LCWLink(token, o.Challenge)
		}
		c.Header("Cache-Control", "no-store")
		c.Header("Referrer-Policy", "no-referrer")
		return rd.Render(c, http.StatusOK, "wallet_claim.html", v)
	}
}

// LCWLink is the Learner Credential Wallet's universal link for a direct
// request of the offer whose secret is token.
func (s *Service) LCWLink(token, challenge string) string {
	q := url.Values{"issuer": {s.Issuer()}, "vc_request_url": {s.Issuer() + "/wallet/lcw?t=" + url.QueryEscape(token)},
		"challenge": {challenge}, "auth_type": {"bearer"}}
	return "https://lcw.app/request.html?" + q.Encode()
}

// qrPNG is the QR code of a live offer's link.
func (s *Service) qrPNG(c *gin.Context) error {
	token := c.Query("t")
	if _, err := s.liveOffer(c.Request.Context(), s.DB, token, false); err != nil {
		return err
	}
	code, err := qr.Encode(s.OfferLink(token), qr.M)
	if err != nil {
		return fmt.Errorf("wallet offer QR code: %w", err)
	}
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, "image/png", code.PNG())
	return nil
}

// linkInterval is how often the credential page may email a wallet link
// for one credential.
const linkInterval = 10 * time.Minute

// sendLink emails a fresh offer to the credential's recipient: only the
// address on the credential receives it, so asking from the public page
// gives nobody else the offer.
func (s *Service) sendLink(c *gin.Context) error {
	ctx := c.Request.Context()
	id := c.Param("id")
	if !issuance.ValidID(id) {
		return apperr.Errorf(apperr.NotFound, "Credential %q does not exist.", id)
	}
	ok, err := s.Redis.SetNX(ctx, "wallet:link:"+id, "1", linkInterval).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("wallet link rate limit: %w", err)
	}
	if !ok {
		return apperr.Errorf(apperr.RateLimited, "A wallet link was emailed for this credential a few minutes ago. Check the recipient's inbox, or try again in ten minutes.")
	}
	if _, err := s.CreateOffer(ctx, "system", id, true); err != nil {
		s.Redis.Del(ctx, "wallet:link:"+id)
		return err
	}
	c.Set(web.FlashKey, "")
	c.Redirect(http.StatusSeeOther, "/c/"+id+"?wallet=sent")
	return nil
}

// EmailLink is the wallet link of credential id's emails to email: its
// key is a MAC of both, so only the address the credential was sent to
// holds it, and it stops working when staff change the address. Each use
// makes a fresh offer. Without secret keys it is "".
func (s *Service) EmailLink(id, email string) string {
	if s.Keys == nil {
		return ""
	}
	return s.Issuer() + "/c/" + id + "/wallet?k=" + s.emailKey(id, email)
}

func (s *Service) emailKey(id, email string) string {
	mac := s.Keys.MAC([]byte("wallet-email-link:" + id + ":" + strings.ToLower(strings.TrimSpace(email))))
	return base64.RawURLEncoding.EncodeToString(mac[:18])
}

// emailLinkCredential is the published credential an email link names,
// once its key matches the credential's current address.
func (s *Service) emailLinkCredential(c *gin.Context, key string) (issuance.Credential, error) {
	id := c.Param("id")
	notFound := apperr.Errorf(apperr.NotFound, "This wallet link is not valid any more. Ask for a new one on your credential's page.")
	if !issuance.ValidID(id) || s.Keys == nil {
		return issuance.Credential{}, notFound
	}
	cr, err := s.Core.Credential(c.Request.Context(), id)
	if apperr.Is(err, apperr.NotFound) {
		return issuance.Credential{}, notFound
	}
	if err != nil {
		return issuance.Credential{}, err
	}
	if subtle.ConstantTimeCompare([]byte(key), []byte(s.emailKey(cr.ID, cr.Recipient.Email))) != 1 {
		return issuance.Credential{}, notFound
	}
	if cr.State == issuance.Revoked {
		return issuance.Credential{}, apperr.Errorf(apperr.Gone, "This credential has been revoked, so it cannot be added to a wallet.")
	}
	if cr.State != issuance.Published {
		return issuance.Credential{}, notFound
	}
	return cr, nil
}

// startView is the page an email's wallet link opens.
type startView struct {
	Issuer     string
	Credential issuance.Credential
	Group      issuance.Group
	Key        string
}

// emailStart is the page an email's wallet link opens: a button makes the
// offer (a link scanner that only reads the page makes none).
func (s *Service) emailStart(rd *web.Renderer) web.HandlerFunc {
	return func(c *gin.Context) error {
		key := c.Query("k")
		cr, err := s.emailLinkCredential(c, key)
		if err != nil {
			return err
		}
		g, err := s.Core.Group(c.Request.Context(), cr.GroupID)
		if err != nil {
			return err
		}
		iss, err := s.Signing.Identity(c.Request.Context())
		if err != nil {
			return err
		}
		c.Header("Cache-Control", "no-store")
		c.Header("Referrer-Policy", "no-referrer")
		return rd.Render(c, http.StatusOK, "wallet_start.html", startView{Issuer: iss.Name, Credential: cr, Group: g, Key: key})
	}
}

// emailOffer makes a fresh offer from an email's wallet link and shows it;
// a transaction code, when the group asks for one, is emailed separately.
func (s *Service) emailOffer(c *gin.Context) error {
	cr, err := s.emailLinkCredential(c, c.PostForm("k"))
	if err != nil {
		return err
	}
	offers, err := s.createOffers(c.Request.Context(), "system", []string{cr.ID}, mailCode)
	if err != nil {
		return err
	}
	c.Redirect(http.StatusSeeOther, ClaimPath(offers[0].Token))
	return nil
}
