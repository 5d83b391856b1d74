package lti

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/secret"
)

// ServiceToken returns an LTI Advantage access token for scopes on platform
// p: a client_credentials grant authenticated by an RS256 JWT assertion
// (iss = sub = client_id, aud = token URL, exp ≤ 5 min, jti). Tokens are
// cached in Redis per (platform, scopes) until 5 minutes before they expire,
// so every Laurel instance shares them.
func (t *Tool) ServiceToken(ctx context.Context, p *Platform, scopes ...string) (string, error) {
	if p.TokenURL == "" {
		return "", apperr.Errorf(apperr.Invalid, "Platform %q has no token URL: LTI services are unavailable.", p.Name)
	}
	sc := slices.Clone(scopes)
	slices.Sort(sc)
	sum := sha256.Sum256([]byte(strings.Join(sc, " ")))
	key := fmt.Sprintf("lti:svctoken:%d:%s", p.ID, hex.EncodeToString(sum[:8]))
	if tok, err := t.rdb.Get(ctx, key).Result(); err == nil {
		return tok, nil
	} else if !errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("service token cache: %w", err)
	}
	now := t.Now()
	assertion, err := t.toolKeys.Sign(ctx, map[string]any{
		"iss": p.ClientID, "sub": p.ClientID, "aud": p.TokenURL,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": secret.Token(18),
	})
	if err != nil {
		return "", err
	}
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
		"scope":                 {strings.Join(sc, " ")},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("service token for platform %d: %w", p.ID, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := t.HTTPClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("service token for platform %d: %w", p.ID, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("service token for platform %d: status %d: %s", p.ID, resp.StatusCode, platformErrorText(body))
	}
	var tr struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" {
		return "", fmt.Errorf("service token for platform %d: answer has no access_token", p.ID)
	}
	if tr.ExpiresIn <= 0 {
		tr.ExpiresIn = 3600
	}
	if ttl := time.Duration(tr.ExpiresIn)*time.Second - 5*time.Minute; ttl > 0 {
		if err := t.rdb.Set(ctx, key, tr.AccessToken, ttl).Err(); err != nil {
			return "", fmt.Errorf("service token cache: %w", err)
		}
	}
	return tr.AccessToken, nil
}

// Member is one context member from NRPS.
type Member struct {
	UserID             string   `json:"user_id"`
	Status             string   `json:"status"`
	Name               string   `json:"name"`
	GivenName          string   `json:"given_name"`
	FamilyName         string   `json:"family_name"`
	Email              string   `json:"email"`
	Picture            string   `json:"picture"`
	Roles              []string `json:"roles"`
	LISPersonSourcedID string   `json:"lis_person_sourcedid"`
	LegacyUserID       string   `json:"lti11_legacy_user_id"`
}

// MaxMemberPages bounds how many NRPS pages one call follows.
const MaxMemberPages = 500

var nextLinkRE = regexp.MustCompile(`<([^>]+)>\s*;\s*rel="?next"?`)

// Members returns every member of the context whose memberships URL a launch
// gave (Launch.NRPS), following Link rel="next" pages.
func (t *Tool) Members(ctx context.Context, p *Platform, membershipsURL string) ([]Member, error) {
	if membershipsURL == "" {
		return nil, apperr.Errorf(apperr.Invalid, "The platform offered no Names and Roles service for this context.")
	}
	tok, err := t.ServiceToken(ctx, p, ScopeNRPS)
	if err != nil {
		return nil, err
	}
	var out []Member
	next := membershipsURL
	for page := 0; next != ""; page++ {
		if page == MaxMemberPages {
			return nil, fmt.Errorf("members of %s: more than %d pages", membershipsURL, MaxMemberPages)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, next, nil)
		if err != nil {
			return nil, fmt.Errorf("members page %s: %w", next, err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "application/vnd.ims.lti-nrps.v2.membershipcontainer+json")
		resp, err := t.HTTPClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("members page %s: %w", next, err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("members page %s: status %d: %s", next, resp.StatusCode, platformErrorText(body))
		}
		var c struct {
			Members []Member `json:"members"`
		}
		if err := json.Unmarshal(body, &c); err != nil {
			return nil, fmt.Errorf("members page %s: %w", next, err)
		}
		out = append(out, c.Members...)
		next = ""
		for _, l := range resp.Header.Values("Link") {
			if m := nextLinkRE.FindStringSubmatch(l); m != nil {
				next = m[1]
			}
		}
	}
	return out, nil
}

// ContentItem is a deep linking content item (type ltiResourceLink for
// "My credential"). Custom parameters are launched with the link.
type ContentItem struct {
	Type   string            `json:"type"`
	Title  string            `json:"title,omitempty"`
	Text   string            `json:"text,omitempty"`
	URL    string            `json:"url,omitempty"`
	Custom map[string]string `json:"custom,omitempty"`
}

// DeepLinkResponse signs the LtiDeepLinkingResponse for a deep linking
// launch and returns the JWT and the return URL to POST it to (field "JWT").
func (t *Tool) DeepLinkResponse(ctx context.Context, l *Launch, items []ContentItem) (jwt, returnURL string, err error) {
	if l.DeepLinking == nil {
		return "", "", apperr.Errorf(apperr.Invalid, "This launch is not a deep linking request.")
	}
	now := t.Now()
	claims := map[string]any{
		"iss": l.Platform.ClientID, "aud": l.Platform.Issuer, "azp": l.Platform.ClientID,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "nonce": secret.Token(18),
		ClaimDeploymentID: l.DeploymentID, ClaimMessageType: MessageDeepLinkingResponse, ClaimVersion: Version,
		ClaimDeepLinkingItems: items,
	}
	if l.DeepLinking.Data != "" {
		claims[ClaimDeepLinkingData] = l.DeepLinking.Data
	}
	jwt, err = t.toolKeys.Sign(ctx, claims)
	if err != nil {
		return "", "", err
	}
	return jwt, l.DeepLinking.ReturnURL, nil
}

// DeepLinkPage is the data of lti_deeplink.html.
type DeepLinkPage struct {
	ReturnURL string
	JWT       string
}

// WriteDeepLinkResponse renders the page that auto-posts the signed deep
// linking response back to the platform.
func (h *Tool) WriteDeepLinkResponse(c *gin.Context, rd interface {
	Render(*gin.Context, int, string, any) error
}, l *Launch, items []ContentItem) error {
	jwt, ret, err := h.DeepLinkResponse(c.Request.Context(), l, items)
	if err != nil {
		return err
	}
	return rd.Render(c, http.StatusOK, "lti_deeplink.html", DeepLinkPage{ReturnURL: ret, JWT: jwt})
}
