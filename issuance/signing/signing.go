// Package signing signs credentials as Open Badges 3.0: it keeps the
// issuer's credential keys (sealed, through internal/keystore), signs each public credential with a
// Data Integrity proof and a VC-JWT, signs the revocation status lists,
// builds the issuer's public documents (DID document, Profile, JWKs,
// Achievements) and verifies a credential as an outside verifier would.
//
// It owns the tables credential_signatures, credential_keys and
// status_lists, and reads credentials only through the issuance core.
// It is entered one way: Sign is the one function that writes a signature;
// the ChangedJob handler, delivery (before sending) and the public pages
// (on demand, through Signed) all go through it.
package signing

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/laurel-edu/laurel/internal/cache"
	"github.com/laurel-edu/laurel/internal/secret"
	"github.com/laurel-edu/laurel/issuance"
)

// Service signs credentials and serves what it signed.
type Service struct {
	DB      *sqlx.DB
	Core    *issuance.Service
	BaseURL string // public URL of this deployment, without a trailing slash
	// Keys (LAUREL_SECRET_KEY) seal the credential signing keys; without
	// them nothing is signed (ErrSigningUnavailable).
	Keys *secret.Keys
	// Issuer says who issues (name, website, logo); nil reads the
	// organisation settings (issuance.Service.Organisation).
	Issuer func(ctx context.Context) (IssuerIdentity, error)

	keysOnce sync.Once
	credKeys *CredentialKeys
	// status is statusLists' cache, by list: no expiry and no bound (one
	// entry per 131072 credentials), made on first use.
	status     *cache.TTL[int64, cachedList]
	statusOnce sync.Once
}

// New returns the signing service over core, sealing its keys with keys
// (nil: nothing is signed).
func New(core *issuance.Service, keys *secret.Keys) *Service {
	return &Service{DB: core.DB, Core: core, BaseURL: core.BaseURL, Keys: keys}
}

// now is the core's clock, so tests that move it move signing too.
func (s *Service) now() time.Time { return s.Core.Time() }

func (s *Service) logger() *slog.Logger { return s.Core.Logger() }

func (s *Service) base() string { return strings.TrimRight(s.BaseURL, "/") }

// Enabled reports whether credentials are signed: the service has secret
// keys to open its signing keys with.
func (s *Service) Enabled() bool { return s.Keys != nil }
