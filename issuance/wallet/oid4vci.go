package wallet

// OpenID for Verifiable Credential Issuance 1.0 (final), pre-authorized
// code flow: issuer and authorisation server metadata, the credential
// offer, and the token, nonce and credential endpoints.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/db"
	"github.com/laurel-edu/laurel/internal/jose"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/laurel-edu/laurel/issuance/openbadges"
)

// The credential configurations Laurel offers: the Open Badges 3.0
// credential with a Data Integrity proof, and as a VC-JWT.
const (
	ConfigLDP = "OpenBadgeCredential_ldp_vc"
	ConfigJWT = "OpenBadgeCredential_jwt_vc_json"
	// PreAuthGrant is the grant type of the pre-authorized code flow.
	PreAuthGrant = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
	proofTyp     = "openid4vci-proof+jwt"
)

// OAuth and OpenID4VCI error codes (RFC 6749 §5.2, OpenID4VCI 1.0 §8.3.1.2).
const (
	errInvalidRequest    = "invalid_request"
	errInvalidGrant      = "invalid_grant"
	errUnsupportedGrant  = "unsupported_grant_type"
	errInvalidToken      = "invalid_token"
	errInvalidCredReq    = "invalid_credential_request"
	errUnknownConfig     = "unknown_credential_configuration"
	errInvalidProof      = "invalid_proof"
	errInvalidNonce      = "invalid_nonce"
	errCredentialDenied  = "credential_request_denied"
	errServer            = "server_error"
	redisNoncePrefix     = "wallet:nonce:"
	maxCredentialRequest = 64 << 10
)

// protocolError is a refusal with an OAuth error code (the Reason) and
// the HTTP status of code.
func protocolError(code, reason, format string, args ...any) error {
	return apperr.Refusef(code, reason, format, args...)
}

// writeProtocolError answers err as RFC 6749 does: {"error",
// "error_description"}; an internal error is logged and answered
// server_error.
func writeProtocolError(c *gin.Context, err error) {
	code, status := web.Classify(c.Writer.Header(), c.Request, c.FullPath(), c.GetString(web.RequestIDKey), err)
	reason := apperr.Reason(err)
	if reason == "" {
		reason = errServer
		if code == apperr.NotFound {
			reason = errInvalidRequest
		}
	}
	if reason == errInvalidToken {
		c.Header("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	c.Header("Cache-Control", "no-store")
	c.AbortWithStatusJSON(status, gin.H{"error": reason, "error_description": apperr.Message(err)})
}

// protocol adapts a protocol handler.
func protocol(h func(c *gin.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h(c); err != nil {
			writeProtocolError(c, err)
		}
	}
}

// issuerMetadata is /.well-known/openid-credential-issuer.
func (s *Service) issuerMetadata(c *gin.Context) error {
	ctx := c.Request.Context()
	iss, err := s.Signing.Identity(ctx)
	if err != nil {
		return err
	}
	display := gin.H{"name": iss.Name, "locale": "en"}
	if iss.LogoURL != "" {
		display["logo"] = gin.H{"uri": iss.LogoURL, "alt_text": iss.Name}
	}
	binding := []string{"did:key", "did:jwk", "jwk"}
	proofs := gin.H{"jwt": gin.H{"proof_signing_alg_values_supported": []string{"ES256", "EdDSA"}}}
	types := []string{"VerifiableCredential", "OpenBadgeCredential"}
	credDisplay := []gin.H{{"name": "Open Badge", "locale": "en", "description": "A credential issued by " + iss.Name + "."}}
	c.Header("Cache-Control", "public, max-age=300")
	c.JSON(http.StatusOK, gin.H{
		"credential_issuer":   s.Issuer(),
		"credential_endpoint": s.Issuer() + "/wallet/credential",
		"nonce_endpoint":      s.Issuer() + "/wallet/nonce",
		"display":             []gin.H{display},
		"credential_configurations_supported": gin.H{
			ConfigLDP: gin.H{
				"format": "ldp_vc",
				"cryptographic_binding_methods_supported": binding,
				"credential_signing_alg_values_supported": []string{openbadges.Cryptosuite},
				"proof_types_supported":                   proofs,
				"credential_definition":                   gin.H{"@context": openbadges.CredentialContext, "type": types},
				"credential_metadata":                     gin.H{"display": credDisplay},
			},
			ConfigJWT: gin.H{
				"format": "jwt_vc_json",
				"cryptographic_binding_methods_supported": binding,
				"credential_signing_alg_values_supported": []string{"ES256"},
				"proof_types_supported":                   proofs,
				"credential_definition":                   gin.H{"type": types},
				"credential_metadata":                     gin.H{"display": credDisplay},
			},
		},
	})
	return nil
}

// authServerMetadata is /.well-known/oauth-authorization-server (RFC 8414):
// Laurel is its own authorisation server, for the pre-authorized code only.
func (s *Service) authServerMetadata(c *gin.Context) error {
	c.Header("Cache-Control", "public, max-age=300")
	c.JSON(http.StatusOK, gin.H{
		"issuer":                s.Issuer(),
		"token_endpoint":        s.Issuer() + "/wallet/token",
		"grant_types_supported": []string{PreAuthGrant},
		"pre-authorized_grant_anonymous_access_supported": true,
		"token_endpoint_auth_methods_supported":           []string{"none"},
	})
	return nil
}

// offerJSON serves the credential offer of a live offer (its
// credential_offer_uri).
func (s *Service) offerJSON(c *gin.Context) error {
	token := c.Query("t")
	o, err := s.liveOffer(c.Request.Context(), s.DB, token, false)
	if err != nil {
		return err
	}
	grant := gin.H{"pre-authorized_code": preAuthCode(token)}
	if o.TxCodeHash != nil {
		grant["tx_code"] = gin.H{"input_mode": "numeric", "length": 6,
			"description": "Enter the six-digit code we emailed you separately."}
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{
		"credential_issuer":            s.Issuer(),
		"credential_configuration_ids": []string{ConfigLDP, ConfigJWT},
		"grants":                       gin.H{PreAuthGrant: grant},
	})
	return nil
}

// token is the token endpoint: a pre-authorized code (and the transaction
// code, when the offer has one) for an access token. Each token spends one
// use of the offer.
func (s *Service) token(c *gin.Context) error {
	ctx := c.Request.Context()
	if gt := c.PostForm("grant_type"); gt != PreAuthGrant {
		if gt == "" {
			return protocolError(apperr.BadRequest, errInvalidRequest, "grant_type is missing.")
		}
		return protocolError(apperr.BadRequest, errUnsupportedGrant, "Only the pre-authorized code grant is supported.")
	}
	code := c.PostForm("pre-authorized_code")
	if code == "" {
		return protocolError(apperr.BadRequest, errInvalidRequest, "pre-authorized_code is missing.")
	}
	tx := c.PostForm("tx_code")
	access := randomToken()
	now := s.now()
	var wrongTx bool
	err := db.InTx(ctx, s.DB, func(dbtx *sqlx.Tx) error {
		const q = `SELECT ` + offerCols + ` FROM wallet_offers WHERE code_hash = $1 FOR UPDATE`
		var o offerRow
		switch err := dbtx.GetContext(ctx, &o, q, hash(code)); {
		case errors.Is(err, sql.ErrNoRows):
			return protocolError(apperr.BadRequest, errInvalidGrant, "The pre-authorized code is not valid.")
		case err != nil:
			return fmt.Errorf("token: offer: %w", err)
		}
		if !now.Before(o.ExpiresAt) {
			return protocolError(apperr.BadRequest, errInvalidGrant, "The offer has expired.")
		}
		if o.UsesLeft <= 0 {
			return protocolError(apperr.BadRequest, errInvalidGrant, "The offer has already been used.")
		}
		if o.TxCodeHash != nil && !checkTxCode(o.TxCodeHash, tx) {
			wrongTx = true
			return nil
		}
		if o.TxCodeHash == nil && tx != "" {
			return protocolError(apperr.BadRequest, errInvalidRequest, "This offer has no transaction code; send none.")
		}
		const use = `UPDATE wallet_offers SET uses_left = uses_left - 1 WHERE id = $1`
		if _, err := dbtx.ExecContext(ctx, use, o.ID); err != nil {
			return fmt.Errorf("token: spend offer %d: %w", o.ID, err)
		}
		const ins = `INSERT INTO wallet_tokens (token_hash, offer_id, expires_at) VALUES ($1, $2, $3)`
		if _, err := dbtx.ExecContext(ctx, ins, hash(access), o.ID, now.Add(tokenLifetime)); err != nil {
			return fmt.Errorf("token: store: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if wrongTx {
		// Counted outside the refused transaction; enough failures end the offer.
		const q = `UPDATE wallet_offers SET tx_failures = tx_failures + 1,
			uses_left = CASE WHEN tx_failures + 1 >= $2 THEN 0 ELSE uses_left END WHERE code_hash = $1`
		if _, err := s.DB.ExecContext(ctx, q, hash(code), maxTxFailures); err != nil {
			return fmt.Errorf("token: count failure: %w", err)
		}
		return protocolError(apperr.BadRequest, errInvalidGrant, "The transaction code is wrong.")
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"access_token": access, "token_type": "Bearer", "expires_in": int(tokenLifetime.Seconds())})
	return nil
}

// nonce is the nonce endpoint: a fresh single-use c_nonce.
func (s *Service) nonce(c *gin.Context) error {
	n := randomToken()
	if err := s.Redis.Set(c.Request.Context(), redisNoncePrefix+n, "1", nonceLifetime).Err(); err != nil {
		return fmt.Errorf("store c_nonce: %w", err)
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"c_nonce": n})
	return nil
}

// spendNonce consumes c_nonce n: false when unknown, used or stale.
func (s *Service) spendNonce(ctx context.Context, n string) (bool, error) {
	if n == "" {
		return false, nil
	}
	v, err := s.Redis.GetDel(ctx, redisNoncePrefix+n).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, fmt.Errorf("spend c_nonce: %w", err)
	}
	return v == "1", nil
}

// credentialRequest is the credential endpoint's body (1.0: proofs; the
// single proof of earlier drafts is accepted too).
type credentialRequest struct {
	ConfigurationID      string `json:"credential_configuration_id"`
	CredentialIdentifier string `json:"credential_identifier"`
	Format               string `json:"format"`
	Proofs               *struct {
		JWT []string `json:"jwt"`
	} `json:"proofs"`
	Proof *struct {
		ProofType string `json:"proof_type"`
		JWT       string `json:"jwt"`
	} `json:"proof"`
}

// proofClaims are the claims of a proof of possession.
type proofClaims struct {
	Aud   audience `json:"aud"`
	Nonce string   `json:"nonce"`
	Iat   *int64   `json:"iat"`
}

// audience is aud: a string or a list of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("aud is neither a string nor a list of strings")
	}
	*a = many
	return nil
}

// credential is the credential endpoint: an access token and a proof of
// possession for a credential bound to the prover's DID.
func (s *Service) credential(c *gin.Context) error {
	ctx := c.Request.Context()
	access, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	if !ok || access == "" {
		if strings.HasPrefix(c.GetHeader("Authorization"), "DPoP ") {
			return protocolError(apperr.Unauthorized, errInvalidToken, "DPoP is not supported: send the access token as a Bearer token.")
		}
		return protocolError(apperr.Unauthorized, errInvalidToken, "The access token is missing.")
	}
	var req credentialRequest
	body, err := readBody(c, maxCredentialRequest)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return protocolError(apperr.BadRequest, errInvalidCredReq, "The request is not a JSON object of the expected form.")
	}
	// The token is checked before anything else is looked at.
	offer, err := s.accessOffer(ctx, access)
	if err != nil {
		return err
	}
	var format string
	switch {
	case req.CredentialIdentifier != "":
		return protocolError(apperr.BadRequest, "unknown_credential_identifier", "Credential identifiers are not issued; name a credential_configuration_id.")
	case req.ConfigurationID == ConfigLDP:
		format = "ldp_vc"
	case req.ConfigurationID == ConfigJWT:
		format = "jwt_vc_json"
	case req.ConfigurationID == "" && req.Format != "":
		return protocolError(apperr.BadRequest, "unsupported_credential_format", "Name a credential_configuration_id: %s or %s.", ConfigLDP, ConfigJWT)
	case req.ConfigurationID == "":
		return protocolError(apperr.BadRequest, errInvalidCredReq, "credential_configuration_id is missing.")
	default:
		return protocolError(apperr.BadRequest, errUnknownConfig, "Unknown credential configuration %q.", req.ConfigurationID)
	}
	var jwts []string
	if req.Proofs != nil {
		jwts = req.Proofs.JWT
	} else if req.Proof != nil && req.Proof.ProofType == "jwt" {
		jwts = []string{req.Proof.JWT}
	}
	if len(jwts) != 1 {
		return protocolError(apperr.BadRequest, errInvalidProof, "Send exactly one jwt proof of possession (proofs.jwt).")
	}
	holder, err := s.checkProof(ctx, jwts[0])
	if err != nil {
		return err
	}
	cp, err := s.claim(ctx, offer.CredentialID, holder, "oid4vci", format, func(ctx context.Context, tx *sqlx.Tx) error {
		const q = `UPDATE wallet_tokens SET spent_at = $2 WHERE token_hash = $1 AND spent_at IS NULL`
		r, err := tx.ExecContext(ctx, q, hash(access), s.now())
		if err != nil {
			return fmt.Errorf("spend access token: %w", err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return protocolError(apperr.Unauthorized, errInvalidToken, "The access token has already been used.")
		}
		return nil
	})
	if err != nil {
		if apperr.Is(err, apperr.Gone) {
			return protocolError(apperr.Forbidden, errCredentialDenied, "%s", apperr.Message(err))
		}
		return err
	}
	var cred any = json.RawMessage(cp.JSON)
	if format == "jwt_vc_json" {
		cred = cp.JWT
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"credentials": []gin.H{{"credential": cred}}})
	return nil
}

// accessOffer is the offer of an unspent, unexpired access token.
func (s *Service) accessOffer(ctx context.Context, access string) (offerRow, error) {
	const q = `SELECT o.id, o.credential_id, o.tx_code_hash, o.tx_failures, o.challenge, o.uses_left, o.expires_at
		FROM wallet_tokens t JOIN wallet_offers o ON o.id = t.offer_id
		WHERE t.token_hash = $1 AND t.spent_at IS NULL AND t.expires_at > $2`
	var o offerRow
	switch err := s.DB.GetContext(ctx, &o, q, hash(access), s.now()); {
	case errors.Is(err, sql.ErrNoRows):
		return o, protocolError(apperr.Unauthorized, errInvalidToken, "The access token is not valid, used or expired.")
	case err != nil:
		return o, fmt.Errorf("access token: %w", err)
	}
	return o, nil
}

// checkProof verifies a jwt proof of possession and returns the holder's
// DID: typ openid4vci-proof+jwt, the key named by kid (did:key, did:jwk) or
// jwk, the signature, aud = the issuer, a fresh iat and a c_nonce from the
// nonce endpoint, spent here.
func (s *Service) checkProof(ctx context.Context, token string) (string, error) {
	h, _, err := jose.Parse([]byte(token))
	if err != nil {
		return "", protocolError(apperr.BadRequest, errInvalidProof, "The proof is not a JWT.")
	}
	if h.Typ != proofTyp {
		return "", protocolError(apperr.BadRequest, errInvalidProof, "The proof's typ must be %s.", proofTyp)
	}
	var holder string
	var pub any
	switch {
	case h.Kid != "" && len(h.JWK) > 0:
		return "", protocolError(apperr.BadRequest, errInvalidProof, "The proof names its key twice (kid and jwk): use one.")
	case h.Kid != "":
		if holder, pub, err = ResolveDID(h.Kid); err != nil {
			return "", protocolError(apperr.BadRequest, errInvalidProof, "The proof's kid: %v.", err)
		}
	case len(h.JWK) > 0:
		if holder, pub, err = jwkDID(json.RawMessage(h.JWK)); err != nil {
			return "", protocolError(apperr.BadRequest, errInvalidProof, "The proof's jwk: %v.", err)
		}
	default:
		return "", protocolError(apperr.BadRequest, errInvalidProof, "The proof names no key (kid or jwk).")
	}
	_, payload, err := jose.VerifyHolderJWS(token, pub)
	if err != nil {
		return "", protocolError(apperr.BadRequest, errInvalidProof, "The proof's signature does not verify with the key it names.")
	}
	var cl proofClaims
	if err := json.Unmarshal(payload, &cl); err != nil {
		return "", protocolError(apperr.BadRequest, errInvalidProof, "The proof's claims are not of the expected form.")
	}
	audOK := false
	for _, a := range cl.Aud {
		audOK = audOK || strings.TrimRight(a, "/") == s.Issuer()
	}
	if !audOK {
		return "", protocolError(apperr.BadRequest, errInvalidProof, "The proof's aud must be %s.", s.Issuer())
	}
	now := s.now()
	if cl.Iat == nil {
		return "", protocolError(apperr.BadRequest, errInvalidProof, "The proof has no iat.")
	}
	iat := time.Unix(*cl.Iat, 0)
	if iat.Before(now.Add(-proofMaxAge)) || iat.After(now.Add(time.Minute)) {
		return "", protocolError(apperr.BadRequest, errInvalidProof, "The proof's iat is not within the last five minutes.")
	}
	ok, err := s.spendNonce(ctx, cl.Nonce)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", protocolError(apperr.BadRequest, errInvalidNonce, "The proof's nonce is missing, used or expired: get a fresh c_nonce from the nonce endpoint.")
	}
	return holder, nil
}

// readBody reads at most limit bytes of the request body.
func readBody(c *gin.Context, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	var mb *http.MaxBytesError
	switch {
	case errors.As(err, &mb):
		return nil, apperr.Errorf(apperr.TooLarge, "The request is larger than %d KiB.", limit>>10)
	case err != nil:
		return nil, apperr.Errorf(apperr.BadRequest, "The request body could not be read.")
	}
	return b, nil
}
