// Package wallet lets a recipient claim a published credential into a
// digital wallet, bound to a DID the recipient controls: OpenID for
// Verifiable Credential Issuance 1.0 (pre-authorized code flow) and the
// Learner Credential Wallet's direct request and VC-API exchange. Each
// claim is a fresh copy signed by issuance/signing (SignForHolder), with
// the published credential's status entry, so revocation reaches it.
//
// It owns the tables wallet_group_settings, wallet_offers, wallet_tokens and
// wallet_claims; c_nonces live in Redis. It reads credentials and groups only
// through the issuance core.
package wallet

import (
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/laurel-edu/laurel/internal/secret"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance"
	"github.com/laurel-edu/laurel/issuance/signing"
)

//go:embed templates/*.html
var templatesFS embed.FS

// Templates are this package's pages, for web.NewRenderer.
var Templates = web.TemplateDir(templatesFS)

// Lifetimes of what the flows hand out.
const (
	// OfferLifetime bounds an offer: the recipient asks for a fresh one on
	// the credential page after that.
	OfferLifetime = 14 * 24 * time.Hour
	// tokenLifetime is an access token's: the wallet asks for the
	// credential right after the token.
	tokenLifetime = 10 * time.Minute
	// nonceLifetime is a c_nonce's.
	nonceLifetime = 5 * time.Minute
	// proofMaxAge is how old (by iat) a proof of possession may be.
	proofMaxAge = 5 * time.Minute
	// maxTxFailures wrong transaction codes end an offer.
	maxTxFailures = 5
)

// Service is the wallet room: offers, the OpenID4VCI endpoints, the
// Learner Credential Wallet exchanges and the claims they record.
type Service struct {
	DB      *sqlx.DB
	Core    *issuance.Service
	Signing *signing.Service
	Redis   *redis.Client
	// Keys seal an offer's links until its email is sent.
	Keys *secret.Keys
}

// New returns the wallet room over core and sg, keeping c_nonces in rdb.
func New(core *issuance.Service, sg *signing.Service, rdb *redis.Client, keys *secret.Keys) *Service {
	return &Service{DB: core.DB, Core: core, Signing: sg, Redis: rdb, Keys: keys}
}

func (s *Service) now() time.Time { return s.Core.Time() }

// Issuer is the credential issuer identifier (and authorisation server):
// the deployment's public URL.
func (s *Service) Issuer() string { return strings.TrimRight(s.Core.BaseURL, "/") }

// randomToken is 32 random bytes, base64url.
func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// hash is what the tables keep of a secret.
func hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// preAuthCode is the pre-authorized code of the offer whose link secret is
// token. Whoever holds the token can read the offer, code included, so
// deriving one from the other loses nothing and keeps one secret to mail.
func preAuthCode(token string) string {
	h := sha256.Sum256([]byte("laurel wallet pre-authorized code:" + token))
	return base64.RawURLEncoding.EncodeToString(h[:])
}
