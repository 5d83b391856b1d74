// Package canvassim is a Canvas platform simulator over real HTTP, for tests
// and for `laurel dev`'s sandbox: its own RSA keys and JWKS (with rotation),
// the OIDC auth endpoint that checks the tool's auth request and answers
// with Canvas's auto-submitting form_post of a signed id_token carrying
// Canvas's claim shapes and roles, a token endpoint that verifies the tool's
// JWT assertion, Names and Role Provisioning with 50-member pages and Link
// headers, LTI Dynamic Registration, deep linking returns, and a Canvas-like
// launch page with the post_message_forwarding storage frame.
//
// It deliberately does not use the tool's JOSE library: tokens are signed and
// verified with crypto/rsa here, so the tool is checked against an
// independent implementation.
//
// Other files of this package (liveevents.go, rest.go) add routes with
// Sim.Handle.
package canvassim

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"
)

// Role is a Canvas course role (or an account role) of a user.
type Role string

// Canvas roles; RoleURIs gives the LTI role URIs each sends.
const (
	Teacher      Role = "teacher"
	TA           Role = "ta"
	Designer     Role = "designer"
	Student      Role = "student"
	Observer     Role = "observer"
	TestStudent  Role = "test_student"
	AccountAdmin Role = "account_admin"
	SiteAdmin    Role = "site_admin"
)

// LTI role URIs, as Canvas sends them.
const (
	lisMembership = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
	lisInstPerson = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#"
	lisSysPerson  = "http://purl.imsglobal.org/vocab/lis/v2/system/person#"
)

// RoleURIs returns the roles claim Canvas sends for a launch by someone with
// this role (per the reference's table, with Canvas's system and
// institution roles alongside).
func RoleURIs(r Role) []string {
	user := lisSysPerson + "User"
	switch r {
	case Teacher:
		return []string{lisInstPerson + "Instructor", lisMembership + "Instructor", user}
	case TA:
		return []string{lisInstPerson + "Instructor", lisMembership + "Instructor",
			"http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant", user}
	case Designer:
		return []string{lisInstPerson + "Instructor", lisMembership + "ContentDeveloper", user}
	case Student:
		return []string{lisInstPerson + "Student", lisMembership + "Learner", user}
	case Observer:
		return []string{lisMembership + "Mentor", user}
	case TestStudent:
		return []string{lisMembership + "Learner", "http://purl.imsglobal.org/vocab/lti/system/person#TestUser", user}
	case AccountAdmin:
		return []string{lisInstPerson + "Administrator", user}
	case SiteAdmin:
		return []string{lisSysPerson + "SysAdmin", lisInstPerson + "Administrator", user}
	}
	return []string{user}
}

// membershipRoles are the NRPS roles of a course role (context roles only).
func membershipRoles(r Role) []string {
	switch r {
	case Teacher:
		return []string{lisMembership + "Instructor"}
	case TA:
		return []string{lisMembership + "Instructor", "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"}
	case Designer:
		return []string{lisMembership + "ContentDeveloper"}
	case Observer:
		return []string{lisMembership + "Mentor"}
	case Student, TestStudent:
		return []string{lisMembership + "Learner"}
	}
	return nil
}

// User is a Canvas user: ID is the Canvas (local) user id, LTIID the
// user.lti_id Canvas sends as sub.
type User struct {
	ID         string
	LTIID      string
	Name       string
	GivenName  string
	FamilyName string
	Email      string
	// AccountRole adds AccountAdmin or SiteAdmin roles to every launch.
	AccountRole Role
}

// Enrollment is a user's role in a course.
type Enrollment struct {
	UserID string
	Role   Role
	// Status is "Active" (default) or "Inactive" in NRPS.
	Status string
}

// Course is a Canvas course: ID the local course id, ContextID the opaque LTI
// context id.
type Course struct {
	ID          string
	ContextID   string
	Title       string
	Label       string
	Enrollments []Enrollment
}

// simKey is one of the platform's signing keys.
type simKey struct {
	kid  string
	priv *rsa.PrivateKey
}

// Sim is the simulated Canvas. Its exported fields configure it; change them
// before launches start (or under no concurrent use).
type Sim struct {
	mux *http.ServeMux
	srv *httptest.Server

	mu sync.Mutex
	// url is the public base URL (httptest URL, or where the handler is mounted).
	url string

	// Issuer is the platform issuer (default: the sim's URL).
	Issuer string
	// ClientID is the developer key id; DeploymentID the deployment.
	ClientID     string
	DeploymentID string
	// ToolLoginURL, RedirectURIs and ToolJWKSURL describe the registered tool.
	ToolLoginURL string
	RedirectURIs []string
	ToolJWKSURL  string
	// CustomFields maps custom parameter names to substitution variables.
	CustomFields map[string]string
	// StorageTarget is sent as lti_storage_target ("" to disable).
	StorageTarget string
	// GUID is tool_platform.guid (the root account's LTI guid).
	GUID string
	// ProductFamilyCode is tool_platform.product_family_code in launches
	// (default "canvas"; "moodle" makes the launches look like Moodle's).
	ProductFamilyCode string
	// NoNRPS leaves the Names and Roles service claim out of launches (set
	// it with SetNoNRPS once the simulator serves).
	NoNRPS bool
	// RegistrationToken, when set, is required by the openid configuration
	// and registration endpoints.
	RegistrationToken string
	// GrantScopes, when non-nil, is the scope the registration endpoint grants.
	GrantScopes []string
	// RegistrationErrors, when set, make the registration endpoint answer
	// 422 {"errors": [...]} as Canvas does.
	RegistrationErrors []string
	// Now is the sim's clock.
	Now func() time.Time
	// PageSize is the NRPS page size (Canvas: at most 50).
	PageSize int

	keys    []simKey // published; the last one signs
	users   map[string]*User
	courses map[string]*Course
	nextID  int

	tokens        map[string]issuedToken
	tokenRequests int
	jtis          map[string]bool
	lastAuth      map[string][]string
	deepLinks     []DeepLinkReturn
	nrpsRequests  int
}

type issuedToken struct {
	scopes  []string
	expires time.Time
}

// New returns a simulator that is not yet listening: call Start, or mount
// Handler on a server and call SetURL.
func New() *Sim {
	s := &Sim{
		mux: http.NewServeMux(), ClientID: "10000000000001", DeploymentID: "1:8865aa05b4b79b64a91a86042e43af5ea8ae79eb",
		CustomFields: map[string]string{
			"canvas_user_id": "$Canvas.user.id", "canvas_course_id": "$Canvas.course.id", "email": "$Person.email.primary",
		},
		StorageTarget: "post_message_forwarding", GUID: "sim" + randHex(8) + ":canvas-lms", ProductFamilyCode: "canvas",
		Now: time.Now, PageSize: 50,
		users: map[string]*User{}, courses: map[string]*Course{}, nextID: 100,
		tokens: map[string]issuedToken{}, jtis: map[string]bool{},
	}
	s.RotateKeys()
	s.routes()
	return s
}

// SetNoNRPS sets NoNRPS while the simulator serves.
func (s *Sim) SetNoNRPS(v bool) {
	s.mu.Lock()
	s.NoNRPS = v
	s.mu.Unlock()
}

// Start serves the simulator on a loopback port (httptest).
func (s *Sim) Start() *Sim {
	s.srv = httptest.NewServer(s.mux)
	s.SetURL(s.srv.URL)
	return s
}

// Close stops a started simulator.
func (s *Sim) Close() {
	if s.srv != nil {
		s.srv.Close()
	}
}

// SetURL sets the public base URL where Handler is reachable (no trailing
// slash); the Issuer follows it unless set explicitly.
func (s *Sim) SetURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u = strings.TrimRight(u, "/")
	if s.Issuer == "" || s.Issuer == s.url {
		s.Issuer = u
	}
	s.url = u
}

// URL is the simulator's base URL.
func (s *Sim) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// Handler serves every route; mount it at the URL given to SetURL (use
// http.StripPrefix when mounted under a path).
func (s *Sim) Handler() http.Handler { return s.mux }

// Handle adds a route to the simulator (for other files of the package).
func (s *Sim) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Endpoint URLs.
func (s *Sim) AuthURL() string  { return s.URL() + "/api/lti/authorize_redirect" }
func (s *Sim) TokenURL() string { return s.URL() + "/login/oauth2/token" }
func (s *Sim) JWKSURL() string  { return s.URL() + "/api/lti/security/jwks" }

// OpenIDConfigurationURL starts Dynamic Registration.
func (s *Sim) OpenIDConfigurationURL() string {
	return s.URL() + "/api/lti/security/openid-configuration"
}

// UseTool registers the tool's URLs (login, launch = redirect_uri, JWKS).
func (s *Sim) UseTool(loginURL, launchURL, jwksURL string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ToolLoginURL, s.RedirectURIs, s.ToolJWKSURL = loginURL, []string{launchURL}, jwksURL
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func newUUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// AddUser adds a user, filling the Canvas id, lti id and names when empty.
func (s *Sim) AddUser(u User) *User {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.ID == "" {
		s.nextID++
		u.ID = fmt.Sprint(s.nextID)
	}
	if u.LTIID == "" {
		u.LTIID = newUUID()
	}
	if u.Name == "" {
		u.Name = "User " + u.ID
	}
	if u.GivenName == "" && u.FamilyName == "" {
		if i := strings.LastIndexByte(u.Name, ' '); i > 0 {
			u.GivenName, u.FamilyName = u.Name[:i], u.Name[i+1:]
		} else {
			u.GivenName = u.Name
		}
	}
	if u.Email == "" {
		u.Email = "user" + u.ID + "@example.edu"
	}
	cp := u
	s.users[u.ID] = &cp
	return &cp
}

// AddCourse adds a course, filling its id, context id and label when empty.
func (s *Sim) AddCourse(c Course) *Course {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.ID == "" {
		s.nextID++
		c.ID = fmt.Sprint(s.nextID)
	}
	if c.ContextID == "" {
		c.ContextID = randHex(20)
	}
	if c.Title == "" {
		c.Title = "Course " + c.ID
	}
	if c.Label == "" {
		c.Label = "C" + c.ID
	}
	cp := c
	cp.Enrollments = slices.Clone(c.Enrollments)
	s.courses[c.ID] = &cp
	return &cp
}

// Enroll gives a user a role in a course.
func (s *Sim) Enroll(courseID, userID string, r Role) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.courses[courseID]
	if !ok {
		return fmt.Errorf("no course %s", courseID)
	}
	if _, ok := s.users[userID]; !ok {
		return fmt.Errorf("no user %s", userID)
	}
	c.Enrollments = append(c.Enrollments, Enrollment{UserID: userID, Role: r, Status: "Active"})
	return nil
}

// AddStudents adds n students to a course and returns them.
func (s *Sim) AddStudents(courseID string, n int) ([]*User, error) {
	out := make([]*User, 0, n)
	for i := 0; i < n; i++ {
		u := s.AddUser(User{Name: fmt.Sprintf("Student %03d Example", i+1)})
		if err := s.Enroll(courseID, u.ID, Student); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// User returns a copy of a user.
func (s *Sim) User(id string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return User{}, false
	}
	return *u, true
}

// Course returns a copy of a course.
func (s *Sim) Course(id string) (Course, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.courses[id]
	if !ok {
		return Course{}, false
	}
	cp := *c
	cp.Enrollments = slices.Clone(c.Enrollments)
	return cp, true
}

// RotateKeys adds a new signing key (which signs from now on); the old ones
// stay published. It returns the new kid.
func (s *Sim) RotateKeys() string {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	kid := time.Now().UTC().Format("2006-01-02T15:04:05Z") + "_" + randHex(4)
	s.mu.Lock()
	s.keys = append(s.keys, simKey{kid: kid, priv: priv})
	s.mu.Unlock()
	return kid
}

// ReplaceKeySameKid replaces the signing key with a new one under the same
// kid (a platform that reuses kids: caches keyed on kid go stale).
func (s *Sim) ReplaceKeySameKid() {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[len(s.keys)-1].priv = priv
}

// kid is the kid of the signing key.
func (s *Sim) kid() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[len(s.keys)-1].kid
}

// PublicKeyPEM returns the signing key's public key in PEM (the bytes an
// HS256 "key confusion" attack uses as its HMAC secret).
func (s *Sim) PublicKeyPEM() []byte {
	s.mu.Lock()
	k := s.keys[len(s.keys)-1].priv
	s.mu.Unlock()
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// jwks returns the published key set.
func (s *Sim) jwks() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]map[string]string, 0, len(s.keys))
	for _, k := range s.keys {
		keys = append(keys, map[string]string{
			"kty": "RSA", "kid": k.kid, "alg": "RS256", "use": "sig",
			"n": b64(k.priv.N.Bytes()), "e": b64(big.NewInt(int64(k.priv.E)).Bytes()),
		})
	}
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func encodeSegments(header, claims map[string]any) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	return b64(h) + "." + b64(c)
}

// Sign signs claims with the current key (RS256, kid).
func (s *Sim) Sign(claims map[string]any) string {
	s.mu.Lock()
	k := s.keys[len(s.keys)-1]
	s.mu.Unlock()
	return SignRS256(map[string]any{"typ": "JWT", "alg": "RS256", "kid": k.kid}, claims, k.priv)
}

// SignRS256 signs with any header and key (forged tokens for tests).
func SignRS256(header, claims map[string]any, key *rsa.PrivateKey) string {
	in := encodeSegments(header, claims)
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		panic(err)
	}
	return in + "." + b64(sig)
}

// SignHS256 signs with HMAC-SHA256 (the "key confusion" attack when the
// secret is the platform's public key).
func SignHS256(header, claims map[string]any, secret []byte) string {
	in := encodeSegments(header, claims)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(in))
	return in + "." + b64(m.Sum(nil))
}

// Unsigned returns an alg "none" token with an empty signature.
func Unsigned(header, claims map[string]any) string {
	return encodeSegments(header, claims) + "."
}

// Header returns a header naming the current kid with the given alg.
func (s *Sim) Header(alg string) map[string]any {
	return map[string]any{"typ": "JWT", "alg": alg, "kid": s.kid()}
}

// TokenRequests counts client_credentials token requests served.
func (s *Sim) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenRequests
}

// NRPSRequests counts membership pages served.
func (s *Sim) NRPSRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nrpsRequests
}
