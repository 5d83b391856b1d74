package canvassim

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Router is what the Live Events and REST additions need from a simulator:
// a way to add routes and the base URL it serves on. *Sim implements it.
type Router interface {
	Handle(pattern string, h http.Handler)
	URL() string
}

// liveEventsJWKSPath is where the simulator publishes its Live Events keys.
const liveEventsJWKSPath = "/api/live_events/jwks"

// shard is the simulated Canvas shard: global id = shard*10^13 + local id.
const shard = 2107

// globalID turns a local Canvas id into the global form Live Events metadata uses.
func globalID(local string) string {
	n, err := strconv.ParseInt(local, 10, 64)
	if err != nil {
		return local
	}
	return strconv.FormatInt(shard*10_000_000_000_000+n, 10)
}

// LiveEvents signs and delivers Canvas Live Events the way Canvas's HTTPS
// delivery does, with keys of its own (Canvas signs Live Events with keys
// separate from its LTI keys) published at liveEventsJWKSPath.
type LiveEvents struct {
	base    string
	host    string
	mu      sync.Mutex
	key     *rsa.PrivateKey
	kid     string
	jwks    []byte
	old     []map[string]string // previous keys, still published
	client  *http.Client
	seq     atomic.Int64
	fetches atomic.Int64
	// RootAccountGUID is the simulated root account's LTI guid
	// (tool_platform.guid in launches, root_account_lti_guid in events).
	RootAccountGUID string
	// Nested puts the event under an "event" claim instead of making it
	// the JWT's claims, to exercise tolerant parsers.
	Nested bool
}

// NewLiveEvents creates the Live Events signer for r and serves its JWKS.
func NewLiveEvents(r Router) (*LiveEvents, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("live events key: %w", err)
	}
	u, err := url.Parse(r.URL())
	if err != nil {
		return nil, fmt.Errorf("simulator url: %w", err)
	}
	l := &LiveEvents{
		base:            strings.TrimRight(r.URL(), "/"),
		host:            u.Host,
		key:             key,
		kid:             "live-events-" + strconv.FormatInt(time.Now().UnixNano(), 36),
		client:          &http.Client{Timeout: 30 * time.Second},
		RootAccountGUID: "VicYj3cu5BIFpoZhDVU4DZumnlBrWi1grgJEzADs." + u.Hostname(),
	}
	if l.jwks, err = l.publish(); err != nil {
		return nil, err
	}
	r.Handle(liveEventsJWKSPath, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		l.fetches.Add(1)
		l.mu.Lock()
		b := l.jwks
		l.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	}))
	return l, nil
}

// Rotate switches signing to a new key with a new kid; the previous key stays
// published, as Instructure's endpoint keeps previous, current and next.
func (l *LiveEvents) Rotate() error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.old = append(l.old, jwkOf(&l.key.PublicKey, l.kid))
	l.key, l.kid = key, "live-events-"+strconv.FormatInt(time.Now().UnixNano(), 36)
	l.jwks, err = l.publish()
	return err
}

// JWKSFetches counts GETs of the Live Events JWKS.
func (l *LiveEvents) JWKSFetches() int64 { return l.fetches.Load() }

// publish encodes the current and previous public keys as a JWK Set.
func (l *LiveEvents) publish() ([]byte, error) {
	keys := append([]map[string]string{jwkOf(&l.key.PublicKey, l.kid)}, l.old...)
	return json.Marshal(map[string]any{"keys": keys})
}

// jwkOf encodes a public key as Instructure's endpoint does: with kid, alg
// and use. Encoded with the standard library, so the tool's JOSE library is
// checked against an independent implementation.
func jwkOf(pub *rsa.PublicKey, kid string) map[string]string {
	enc := base64.RawURLEncoding.EncodeToString
	return map[string]string{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
		"n": enc(pub.N.Bytes()), "e": enc(big.NewInt(int64(pub.E)).Bytes())}
}

// JWKSURL is the URL of the Live Events JWKS (LAUREL_LIVE_EVENTS_JWKS_URL).
func (l *LiveEvents) JWKSURL() string { return l.base + liveEventsJWKSPath }

// Host is the metadata.hostname of the events: the simulator's host.
func (l *LiveEvents) Host() string { return l.host }

// Kid is the key id the events are signed with.
func (l *LiveEvents) Kid() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.kid
}

// Completion describes one student's course completion.
type Completion struct {
	CourseID    string // local Canvas course id ($Canvas.course.id)
	CourseName  string
	UserID      string // local Canvas user id ($Canvas.user.id)
	UserName    string
	UserEmail   string // "" leaves body.user.email out, as Canvas may
	CompletedAt time.Time
	// RequestID identifies the delivery; Canvas's retries repeat it. Empty:
	// a fresh one.
	RequestID string
}

// CourseCompleted builds a course_completed event shaped exactly like the
// reference payload: metadata with global ids and the simulator's hostname,
// body with local ids.
func (l *LiveEvents) CourseCompleted(c Completion) map[string]any {
	if c.RequestID == "" {
		c.RequestID = fmt.Sprintf("sim-%d-%d", time.Now().UnixNano(), l.seq.Add(1))
	}
	if c.CompletedAt.IsZero() {
		c.CompletedAt = time.Now()
	}
	user := map[string]any{"id": c.UserID, "name": c.UserName}
	if c.UserEmail != "" {
		user["email"] = c.UserEmail
	}
	return map[string]any{
		"metadata": map[string]any{
			"client_ip":             "127.0.0.1",
			"context_account_id":    globalID("79"),
			"context_id":            globalID(c.CourseID),
			"context_role":          "StudentEnrollment",
			"context_sis_source_id": "SIM." + c.CourseID,
			"context_type":          "Course",
			"developer_key_id":      "170000000056",
			"event_name":            "course_completed",
			"event_time":            time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
			"hostname":              l.host,
			"http_method":           "GET",
			"producer":              "canvas",
			"referrer":              nil,
			"request_id":            c.RequestID,
			"root_account_id":       globalID("1"),
			"root_account_lti_guid": l.RootAccountGUID,
			"root_account_uuid":     strings.Split(l.RootAccountGUID, ".")[0],
			"session_id":            "ef686f8ed684abf78cbfa1f6a58112b5",
			"time_zone":             "America/New_York",
			"url":                   l.base + "/api/v1/courses/" + c.CourseID + "/modules?include%5B%5D=items&per_page=99",
			"user_account_id":       globalID("1"),
			"user_agent":            "Mozilla/5.0 (canvassim)",
			"user_id":               globalID(c.UserID),
			"user_login":            c.UserEmail,
			"user_sis_id":           "SIS-" + c.UserID,
		},
		"body": map[string]any{
			"course": map[string]any{
				"account_id":    "79",
				"id":            c.CourseID,
				"name":          c.CourseName,
				"sis_source_id": "SIM." + c.CourseID,
			},
			"progress": map[string]any{
				"completed_at":                c.CompletedAt.UTC().Format("2006-01-02T15:04:05.000Z"),
				"next_requirement_url":        l.base + "/courses/" + c.CourseID + "/modules/items/12345",
				"requirement_completed_count": 6,
				"requirement_count":           6,
			},
			"user": user,
		},
	}
}

// Sign returns the event as a compact RS256 JWT signed with the Live Events
// key: the event's fields are the claims (or, with Nested, the "event"
// claim), plus iat, exp (5 minutes) and jti.
func (l *LiveEvents) Sign(event map[string]any) (string, error) {
	now := time.Now()
	claims := map[string]any{}
	if l.Nested {
		claims["event"] = event
	} else {
		for k, v := range event {
			claims[k] = v
		}
	}
	claims["iss"] = "https://canvas.instructure.com"
	claims["iat"] = now.Unix()
	claims["exp"] = now.Add(5 * time.Minute).Unix()
	claims["jti"] = fmt.Sprintf("%d-%d", now.UnixNano(), l.seq.Add(1))
	return l.SignClaims(claims)
}

// SignClaims signs arbitrary claims with the Live Events key (for tests that
// need a valid signature over odd content).
func (l *LiveEvents) SignClaims(claims map[string]any) (string, error) {
	l.mu.Lock()
	key, kid := l.key, l.kid
	l.mu.Unlock()
	return SignLiveEvent(map[string]any{"alg": "RS256", "typ": "JWT", "kid": kid}, claims, key)
}

// SignLiveEvent makes a compact RS256 JWS of header and claims with key
// (tests use it to forge tokens with other keys or headers).
func SignLiveEvent(header, claims map[string]any, key *rsa.PrivateKey) (string, error) {
	enc := base64.RawURLEncoding.EncodeToString
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := enc(h) + "." + enc(c)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign live event: %w", err)
	}
	return input + "." + enc(sig), nil
}

// Deliver POSTs a signed token to url as Canvas's HTTPS delivery does and
// returns the status and body of the answer.
func (l *LiveEvents) Deliver(ctx context.Context, url, token string) (int, []byte, error) {
	return post(ctx, l.client, url, "application/jwt", []byte(token), nil)
}

// DeliverCompletion builds, signs and delivers one course_completed event.
func (l *LiveEvents) DeliverCompletion(ctx context.Context, url string, c Completion) (int, []byte, error) {
	tok, err := l.Sign(l.CourseCompleted(c))
	if err != nil {
		return 0, nil, err
	}
	return l.Deliver(ctx, url, tok)
}

// DeliverUnsigned POSTs the event as raw JSON (signing switched off), with
// headers such as the shared secret.
func (l *LiveEvents) DeliverUnsigned(ctx context.Context, url string, event map[string]any, headers map[string]string) (int, []byte, error) {
	b, err := json.Marshal(event)
	if err != nil {
		return 0, nil, err
	}
	return post(ctx, l.client, url, "application/json", b, headers)
}

func post(ctx context.Context, c *http.Client, url, contentType string, body []byte, headers map[string]string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", contentType)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}
